/**
 * The inference log route's filters over HTTP: a pipeline version's rows, one arm's rows of a
 * split, the rows whose checks failed, together, and a bad filter refused with a 400 naming it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LastmileClient } from '../../src/client/client.js'
import { GraphBuilder } from '../../src/onnx/builder.js'
import { type RunningServer, startServer } from '../../src/server/serve.js'
import { doubler, testConfig } from '../helpers/server.js'

/** y = k·x for x float32 [N, 2]: the same inputs and outputs as the doubler, other bytes. */
function times(k: number): Uint8Array {
  const g = new GraphBuilder('times')
  const x = g.input('x', 'float32', ['N', 2])
  g.output(g.node('Mul', [x, g.constant('k', 'float32', [1], [k])]), 'float32', ['N', 2], 'y')
  return g.toModel()
}

describe('the inference log filtered', () => {
  let server: RunningServer
  let lm: LastmileClient
  const rows = async (query: Parameters<LastmileClient['logs']>[2]) =>
    (await (await lm.logs('default', 'p', query)).json()) as Record<string, unknown>[]
  const firstX = (r: Record<string, unknown>[]) => r.map((row) => (row['in.x'] as number[])[0])

  beforeAll(async () => {
    server = await startServer(testConfig({ inferenceLog: { flushMs: 60_000 } }))
    lm = new LastmileClient({ url: server.url })
    await lm.uploadModel('default', 'a', doubler(2))
    await lm.uploadModel('default', 'b', times(3))
    await lm.putPipeline('default', 'p', [{ model: 'a' }])
    await lm.deploy('default', 'p')
    await lm.inferRecords('default', 'p', [{ x: [1, 0] }, { x: [2, 0] }]) // version 1
    // Version 2: rows keyed 'to-b' to b, the others to a, and a check failing for x[0] > 10.
    await lm.putPipeline('default', 'p', [
      { key_split: { key: 'k', options: { 'to-b': 'b' }, default: 'a' } },
      { validations: { small: 'in.x[0] <= 10' } }, // fails for x[0] > 10
    ])
    await lm.inferRecords('default', 'p', [
      { x: [11, 0], k: 'to-b' },
      { x: [12, 0], k: 'other' },
      { x: [3, 0], k: 'to-b' },
    ])
  })
  afterAll(() => server?.close())

  it('answers only the rows a version, a model or failed checks name', async () => {
    expect(firstX(await rows({}))).toEqual([1, 2, 11, 12, 3])
    expect(firstX(await rows({ pipeline_version: 1 }))).toEqual([1, 2])
    expect(firstX(await rows({ model: 'b:1' }))).toEqual([11, 3])
    expect(firstX(await rows({ model: 'a:1' }))).toEqual([1, 2, 12])
    expect(firstX(await rows({ check_failures: true }))).toEqual([11, 12])
    expect(firstX(await rows({ pipeline_version: 2, model: 'b:1', check_failures: true }))).toEqual([11])
    expect(await rows({ pipeline_version: 3 })).toEqual([])
    // A limit pages on through the rows that pass.
    const first = await lm.logs('default', 'p', { model: 'a:1', limit: 2 })
    expect(firstX((await first.json()) as Record<string, unknown>[])).toEqual([1, 2])
    const next = /[?&]cursor=([\d.]+)/.exec(first.headers.get('link') ?? '')?.[1]
    expect(next).toBeDefined()
    expect(firstX(await rows({ model: 'a:1', cursor: next }))).toEqual([12])
  })

  it('refuses a filter that is not one, naming it', async () => {
    for (const [q, name] of [
      ['pipeline_version=abc', 'pipeline_version'],
      ['pipeline_version=0', 'pipeline_version'],
      ['check_failures=yes', 'check_failures'],
    ]) {
      const res = await fetch(`${server.url}/v1/workspaces/default/pipelines/p/logs?${q}`)
      expect(res.status, q).toBe(400)
      expect(((await res.json()) as { error: { message: string } }).error.message, q).toContain(`'${name}'`)
    }
  })
})
