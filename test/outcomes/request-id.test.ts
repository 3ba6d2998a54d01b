/**
 * Requests in pandas-records and Arrow name themselves with `X-Request-Id`, as OIP requests do with
 * `id`: the log keeps the id with each row, feedback joins on it, and the metrics count those rows.
 * An id over 256 bytes is refused with a 400 that says so. The model is y = x·w + b (a fixture),
 * so the errors are worked out here in float64.
 */
import { tableFromArrays, tableToIPC } from '@uwdata/flechette'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { silentLogger } from '../../src/logger.js'
import { type BuiltServer, buildServer } from '../../src/server/serve.js'
import { linearRegression } from '../fixtures/models.js'
import { clientFor, post, testConfig } from '../helpers/server.js'

const fixture = linearRegression(5)
const F = fixture.params.features
const predict = (x: number[]) => x.reduce((s, v, j) => s + v * (fixture.params.w[j] as number), fixture.params.b)
const P = '/v1/workspaces/default/pipelines/reg'

describe('X-Request-Id on the pipeline inference route', () => {
  let s: BuiltServer

  beforeAll(async () => {
    s = await buildServer(testConfig(), { log: silentLogger })
    const lm = clientFor(s.app)
    await lm.uploadModel('default', 'reg', fixture.bytes)
    await lm.putPipeline('default', 'reg', [{ model: 'reg' }])
    await lm.deploy('default', 'reg')
    await lm.putOutcomeSettings('default', 'reg', { task: 'regression', output: 'y' })
  })
  afterAll(() => s.shutdown())

  it('logs the header with each row of records and Arrow requests, and feedback joins on it', async () => {
    // Values exact in float32, so the model's inputs are the ones written here.
    const records = [0, 1].map((r) => Array.from({ length: F }, (_, j) => 0.5 * r - 0.25 * j))
    const arrow = [Array.from({ length: F }, (_, j) => (j % 2 ? 1.5 : -2))]
    const asRecords = await s.app.request(`${P}/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json; format=pandas-records', 'x-request-id': 'rec-1' },
      body: JSON.stringify(records.map((x) => ({ x }))),
    })
    expect(asRecords.status).toBe(200)
    const ipc = tableToIPC(tableFromArrays({ x: arrow }), { format: 'stream' }) as Uint8Array
    const asArrow = await s.app.request(`${P}/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.apache.arrow.stream', 'x-request-id': 'arrow-1' },
      body: ipc,
    })
    expect(asArrow.status).toBe(200)
    await s.deps.inferenceLog.flush()
    const logged = (await (await clientFor(s.app).logs('default', 'reg')).json()) as Array<Record<string, unknown>>
    expect(logged.map((r) => [r.request_id, r.request_row])).toEqual([
      ['rec-1', 0],
      ['rec-1', 1],
      ['arrow-1', 0],
    ])
    // Outcomes off by +1 (rec-1 row 0), −3 (rec-1 row 1) and +0.5 (arrow-1 row 0).
    const off = [1, -3, 0.5]
    const xs = [...records, ...arrow]
    const ids: Array<[string, number]> = [
      ['rec-1', 0],
      ['rec-1', 1],
      ['arrow-1', 0],
    ]
    const outcomes = ids.map(([id, row], i) => ({ id, row, outcome: predict(xs[i] as number[]) + (off[i] as number) }))
    const fed = await s.app.request(`${P}/feedback`, post({ outcomes }))
    expect(await fed.json()).toEqual({ accepted: 3, updated: 0 })
    const m = await clientFor(s.app).outcomeMetrics('default', 'reg', {
      start: Date.now() - 60_000,
      end: Date.now() + 1000,
    })
    const arms = m.windows.flatMap((w) => w.arms)
    expect(arms).toHaveLength(1)
    const realized = arms[0]?.realized as { n: number; mae: { value: number }; bias: { value: number } }
    expect(realized.n).toBe(3)
    // predicted − actual = −off: MAE (1 + 3 + 0.5) / 3 = 1.5, bias (−1 + 3 − 0.5) / 3 = 0.5.
    expect(realized.mae.value).toBeCloseTo(1.5, 5)
    expect(realized.bias.value).toBeCloseTo(0.5, 5)
  })

  it('refuses an X-Request-Id over 256 bytes of UTF-8, saying so', async () => {
    const res = await s.app.request(`${P}/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json; format=pandas-records', 'x-request-id': 'é'.repeat(129) },
      body: JSON.stringify([{ x: Array.from({ length: F }, () => 0) }]),
    })
    expect(res.status).toBe(400)
    expect(await res.text()).toContain('x-request-id has 258 bytes of UTF-8; at most 256 are accepted')
  })
})
