/**
 * INT64 and UINT64 values through the pandas-records route, through a listening server: the JSON
 * answer writes them exactly, as the Arrow answer and the OIP one do (it rounded them past 2^53:
 * 9223372036854775807 came back as 9223372036854776000, 2^53 + 1 as 2^53). Read back three
 * ways: the answer's text, lastmile's client (bigints), and Debian's pandas the way Wallaroo's SDK
 * reads it (test/python/pandas_int64_roundtrip.py). With LASTMILE_REQUIRE_TOOLS=1 (CI) a missing
 * pandas fails the pandas test; otherwise it is skipped with the reason.
 */
import { rmSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LastmileClient } from '../../src/client/client.js'
import { GraphBuilder } from '../../src/onnx/builder.js'
import { type RunningServer, startServer } from '../../src/server/serve.js'
import { needPandas, runPython } from '../helpers/python.js'
import { tempDir, testConfig } from '../helpers/server.js'

const SCRIPT = new URL('../python/pandas_int64_roundtrip.py', import.meta.url).pathname

/** i2 = i (INT64 [N]) and u2 = u (UINT64 [N]): one value a row, as pandas columns hold them. */
function wideInts(): Uint8Array {
  const g = new GraphBuilder('wide_ints')
  g.output(g.node('Identity', [g.input('i', 'int64', ['N'])]), 'int64', ['N'], 'i2')
  g.output(g.node('Identity', [g.input('u', 'uint64', ['N'])]), 'uint64', ['N'], 'u2')
  return g.toModel()
}

/** y = x for INT64 [N, 2]: a list per row. */
function int64Pairs(): Uint8Array {
  const g = new GraphBuilder('pairs')
  g.output(g.node('Identity', [g.input('x', 'int64', ['N', 2])]), 'int64', ['N', 2], 'y')
  return g.toModel()
}

const RECORDS = { 'content-type': 'application/json; format=pandas-records' }

describe('64-bit integers in pandas-records answers', () => {
  let server: RunningServer
  let lm: LastmileClient
  const dataDir = tempDir()

  beforeAll(async () => {
    server = await startServer(testConfig({ dataDir }))
    lm = new LastmileClient({ url: server.url })
    await lm.uploadModel('default', 'wide_ints', wideInts())
    await lm.uploadModel('default', 'pairs', int64Pairs())
    for (const name of ['wide_ints', 'pairs']) {
      await lm.putPipeline('default', name, [{ model: name }])
      await lm.deploy('default', name)
    }
  })
  afterAll(async () => {
    await server?.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  const infer = async (name: string, body: string, query = '') => {
    const res = await fetch(`${server.url}/v1/workspaces/default/pipelines/${name}/infer${query}`, {
      method: 'POST',
      headers: RECORDS,
      body,
    })
    expect(res.status).toBe(200)
    return res.text()
  }

  it('writes the extremes and 2^53 + 1 exactly, nested and flat, scalars and lists', async () => {
    const nested = await infer(
      'wide_ints',
      '[{"i":9223372036854775807,"u":18446744073709551615},{"i":-9223372036854775808,"u":9007199254740993}]',
    )
    expect(nested).toContain(
      '"in":{"i":9223372036854775807,"u":18446744073709551615},"out":{"i2":9223372036854775807,"u2":18446744073709551615}',
    )
    expect(nested).toContain(
      '"in":{"i":-9223372036854775808,"u":9007199254740993},"out":{"i2":-9223372036854775808,"u2":9007199254740993}',
    )

    const flat = await infer(
      'pairs',
      '[{"x":[9007199254740993,-9007199254740993]},{"x":[9223372036854775807,-1]}]',
      '?dataset.separator=.',
    )
    expect(flat).toContain('"in.x":[9007199254740993,-9007199254740993],"out.y":[9007199254740993,-9007199254740993]')
    expect(flat).toContain('"in.x":[9223372036854775807,-1],"out.y":[9223372036854775807,-1]')
    // The answer is still JSON with the rest of its fields, and small values stay plain numbers.
    const rows = JSON.parse(await infer('pairs', '[{"x":[1,-2]}]', '?dataset.separator=.')) as Record<string, unknown>[]
    expect(rows[0]).toMatchObject({ 'in.x': [1, -2], 'out.y': [1, -2], check_failures: [] })
    expect(typeof rows[0]?.time).toBe('number')
  })

  it("reads back exactly through lastmile's client, as bigints past 2^53", async () => {
    const rows = await lm.inferRecords('default', 'pairs', [{ x: [5, -6] }])
    expect(rows[0]?.['out.y']).toEqual([5, -6])
    // JSON.stringify cannot write a bigint: the request goes out as text through the client's fetch.
    const exact = new LastmileClient({
      url: server.url,
      fetch: (url, init) => fetch(url, { ...init, body: '[{"x":[9223372036854775807,9007199254740993]}]' }),
    })
    const [row] = await exact.inferRecords('default', 'pairs', [])
    expect(row?.['in.x']).toEqual([9223372036854775807n, 9007199254740993n])
    expect(row?.['out.y']).toEqual([9223372036854775807n, 9007199254740993n])
  })

  it('round-trips a pandas DataFrame of int64 and uint64 extremes the way Wallaroo reads it', async (ctx) => {
    needPandas(ctx)
    const { code, output } = await runPython(SCRIPT, `${server.url}/v1/workspaces/default/pipelines/wide_ints/infer`)
    expect(output).toContain('pandas int64 round trip: ok')
    expect(code).toBe(0)
  })
})
