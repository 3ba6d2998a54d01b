/**
 * lastmile's own typed client reads what its server answers, through a listening server and real
 * fetch: OIP answers holding the `NaN`, `Infinity` and `-Infinity` literals the server writes as
 * Triton does (it threw SyntaxError on them, JSON.parse being its parser), and INT64 values past
 * 2^53 exactly, as bigints (JSON.parse rounded them), in OIP and pandas-records answers.
 */
import { rmSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LastmileClient } from '../../src/client/client.js'
import { GraphBuilder } from '../../src/onnx/builder.js'
import { type RunningServer, startServer } from '../../src/server/serve.js'
import { tempDir, testConfig } from '../helpers/server.js'

/** sqrt(x), log(x) and 1/x of a float32 [N]: x = -1, 0 and 4 give NaN, -Infinity and Infinity from finite inputs. */
function nonFiniteMaker(): Uint8Array {
  const g = new GraphBuilder('non_finite')
  const x = g.input('x', 'float32', ['N'])
  g.output(g.node('Sqrt', [x]), 'float32', ['N'], 'root')
  g.output(g.node('Log', [x]), 'float32', ['N'], 'log')
  g.output(g.node('Reciprocal', [x]), 'float32', ['N'], 'inverse')
  return g.toModel()
}

/** y = x for INT64 [N, 2]. */
function int64Identity(): Uint8Array {
  const g = new GraphBuilder('id_int64')
  const x = g.input('x', 'int64', ['N', 2])
  g.output(g.node('Identity', [x]), 'int64', ['N', 2], 'y')
  return g.toModel()
}

describe("lastmile's client reads the server's answers exactly", () => {
  let server: RunningServer
  let lm: LastmileClient
  const dataDir = tempDir()

  beforeAll(async () => {
    server = await startServer(testConfig({ dataDir }))
    lm = new LastmileClient({ url: server.url })
    await lm.uploadModel('default', 'non_finite', nonFiniteMaker())
    await lm.uploadModel('default', 'id_int64', int64Identity())
    // The default non_finite_inputs ("refuse") checks inputs only: these inputs are finite.
    for (const name of ['non_finite', 'id_int64']) {
      await lm.putPipeline('default', name, [{ model: name }])
      await lm.deploy('default', name)
    }
  })
  afterAll(async () => {
    await server?.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  it('returns NaN, -Infinity and Infinity outputs of an OIP answer instead of throwing on its literals', async () => {
    const raw = await fetch(`${server.url}/v2/models/non_finite/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"inputs":[{"name":"x","shape":[3],"datatype":"FP32","data":[-1,0,4]}]}',
    })
    // What the client has to read: the literals, as Triton's server writes them.
    expect(await raw.text()).toContain('"data":[NaN,-Infinity,1.3862943649291992]')

    const answer = await lm.inferOip('non_finite', {
      inputs: [{ name: 'x', shape: [3], datatype: 'FP32', data: [-1, 0, 4] }],
    })
    const data = (name: string) => answer.outputs.find((o) => o.name === name)?.data
    expect(data('root')).toEqual([Number.NaN, 0, 2])
    expect(data('log')).toEqual([Number.NaN, Number.NEGATIVE_INFINITY, Math.fround(Math.log(4))])
    expect(data('inverse')).toEqual([-1, Number.POSITIVE_INFINITY, 0.25])
  })

  it('returns INT64 outputs past 2^53 as exact bigints, and small ones as numbers', async () => {
    const answer = await lm.inferOip('id_int64', {
      inputs: [{ name: 'x', shape: [2, 2], datatype: 'INT64', data: [1, -7, 2, 3] }],
    })
    expect(answer.outputs[0]?.data).toEqual([1, -7, 2, 3])

    // The request carries the extremes as exact JSON text (JSON.stringify cannot write a bigint).
    const res = await fetch(`${server.url}/v2/models/id_int64/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"inputs":[{"name":"x","shape":[2,2],"datatype":"INT64","data":[9223372036854775807,-9223372036854775808,9007199254740993,5]}]}',
    })
    expect(await res.text()).toContain('"data":[9223372036854775807,-9223372036854775808,9007199254740993,5]')
    const viaClient = new LastmileClient({
      url: server.url,
      // The same request through the client's reader: only its body differs from what inferOip sends.
      fetch: (url, init) =>
        fetch(url, {
          ...init,
          body: '{"inputs":[{"name":"x","shape":[2,2],"datatype":"INT64","data":[9223372036854775807,-9223372036854775808,9007199254740993,5]}]}',
        }),
    })
    const exact = await viaClient.inferOip('id_int64', { inputs: [] })
    expect(exact.outputs[0]?.data).toEqual([9223372036854775807n, -9223372036854775808n, 9007199254740993n, 5])
  })
})
