/**
 * Training sets exported by a server: a linear regression is deployed, answers OIP requests with
 * and without ids, gets outcomes for some rows; each export is read back with the project's own
 * Parquet reader and every row checked against what was sent (inputs), an independent float64
 * computation of the model (outputs) and the outcomes given, with `labeled_only` on and off.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openParquet } from '../../src/jobs/io/parquet.js'
import { silentLogger } from '../../src/logger.js'
import type { TrainingSetRecord } from '../../src/outcomes/export-record.js'
import { type BuiltServer, buildServer } from '../../src/server/serve.js'
import { linearRegression } from '../fixtures/models.js'
import { clientFor, post, testConfig } from '../helpers/server.js'

const fixture = linearRegression(11)
const F = fixture.params.features
/** y = x·w + b in float64, from the fixture's weights (the model computes it in float32). */
const predict = (x: number[]) => x.reduce((s, v, j) => s + v * (fixture.params.w[j] as number), fixture.params.b)

/** The requests sent: id (or none) and rows of 8 inputs; values chosen so none is exact in float32 twice. */
const REQUESTS: Array<{ id?: string; rows: number[][] }> = [
  { id: 'req-a', rows: [0, 1, 2].map((r) => Array.from({ length: F }, (_, j) => 0.1 * (r + 1) - 0.03 * j)) },
  { id: 'req-b', rows: [0, 1].map((r) => Array.from({ length: F }, (_, j) => -1.7 + 0.37 * r + 0.011 * j * j)) },
  { rows: [0, 1].map((r) => Array.from({ length: F }, (_, j) => 2.5 - r - 0.2 * j)) },
  { id: 'req-c', rows: [[...Array.from({ length: F }, (_, j) => (j % 2 ? 1e-3 : -3.25))]] },
]
/** Outcomes given for some rows (request id, row, value): req-a row 1 is left without one. */
const OUTCOMES = [
  { id: 'req-a', row: 0, outcome: 0.25 },
  { id: 'req-a', row: 2, outcome: -4 },
  { id: 'req-b', row: 1, outcome: 17.5 },
  { id: 'req-c', row: 0, outcome: 1e-9 },
]

describe('training sets exported from a server', () => {
  let s: BuiltServer
  const P = '/v1/workspaces/default/pipelines/reg/training-sets'
  let start = 0
  /** Set the pipeline's outcome settings through their route. */
  const settings = async (spec: Record<string, unknown>) => {
    const res = await s.app.request('/v1/workspaces/default/pipelines/reg/outcomes', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(spec),
    })
    expect(res.status).toBe(200)
  }

  beforeAll(async () => {
    s = await buildServer(testConfig(), { log: silentLogger })
    const lm = clientFor(s.app)
    await lm.uploadModel('default', 'reg', fixture.bytes)
    await lm.putPipeline('default', 'reg', [{ model: 'reg' }])
    await lm.deploy('default', 'reg')
    start = Date.now() - 1
    for (const r of REQUESTS) {
      const res = await s.app.request(
        '/v2/models/reg/infer',
        post({
          ...(r.id ? { id: r.id } : {}),
          inputs: [{ name: 'x', datatype: 'FP32', shape: [r.rows.length, F], data: r.rows.flat() }],
        }),
      )
      expect(res.status).toBe(200)
    }
    await settings({ task: 'regression', output: 'y' })
    const feedback = await s.app.request(
      '/v1/workspaces/default/pipelines/reg/feedback',
      post({ outcomes: OUTCOMES.map((o) => ({ id: o.id, row: o.row, outcome: o.outcome })) }),
    )
    expect(await feedback.json()).toEqual({ accepted: 4, updated: 0 })
  })
  afterAll(() => s.shutdown())

  /** Export `[start, now]` and wait for it: its record and the rows read back, as objects. */
  async function exportAll(): Promise<{ record: TrainingSetRecord; rows: Array<Record<string, unknown>> }> {
    const res = await s.app.request(P, post({ start, end: Date.now() + 1000 }))
    expect(res.status).toBe(202)
    const running = (await res.json()) as TrainingSetRecord
    expect(running.status).toBe('running')
    expect(res.headers.get('location')).toBe(running.url)
    await s.deps.trainingSets.idle()
    const list = (await (await s.app.request(P)).json()) as TrainingSetRecord[]
    const record = list.find((r) => r.file === running.file) as TrainingSetRecord
    expect(record).toMatchObject({ status: 'done', reason: 'request', assay: null, error: null })
    const download = await s.app.request(running.url)
    expect(download.status).toBe(200)
    expect(download.headers.get('content-type')).toBe('application/vnd.apache.parquet')
    const bytes = new Uint8Array(await download.arrayBuffer())
    expect(bytes.length).toBe(record.bytes)
    const path = join(s.deps.trainingSets.folder('default', 'reg'), record.file)
    expect(Buffer.from(bytes).equals(await readFile(path))).toBe(true)
    const reader = await openParquet(path)
    expect(reader.schema.map((f) => f.name)).toEqual(record.schema.map((f) => f.name))
    expect(reader.totalRows).toBe(record.rows)
    const chunk = await reader.next(1000)
    await reader.close()
    const columns = chunk?.columns ?? {}
    const names = Object.keys(columns)
    const rows = Array.from({ length: chunk?.rows ?? 0 }, (_, i) =>
      Object.fromEntries(names.map((n) => [n, (columns[n] as ArrayLike<unknown>)[i]])),
    )
    return { record, rows }
  }

  /** What each logged row must hold, in the order sent. */
  const expected = REQUESTS.flatMap((r) =>
    r.rows.map((x, row) => ({
      request_id: r.id ?? null,
      request_row: r.id ? row : null,
      x: x.map(Math.fround),
      outcome: OUTCOMES.find((o) => o.id === r.id && o.row === row)?.outcome ?? null,
    })),
  )

  function check(rows: Array<Record<string, unknown>>, want: typeof expected): void {
    expect(rows.map((r) => [r.request_id, r.request_row])).toEqual(want.map((w) => [w.request_id, w.request_row]))
    for (const [i, row] of rows.entries()) {
      const w = want[i] as (typeof expected)[number]
      expect(Array.from(row['in.x'] as Float64Array)).toEqual(w.x)
      const y = Array.from(row['out.y'] as Float64Array)
      expect(y).toHaveLength(1)
      expect(Math.abs((y[0] as number) - predict(w.x))).toBeLessThan(1e-5 * (1 + Math.abs(predict(w.x))))
      expect(row.outcome).toBe(w.outcome)
      expect(row.model).toBe('reg:1')
      expect(row.pipeline_version).toBe(1)
      expect(row.time as number).toBeGreaterThanOrEqual(start)
    }
  }

  it('exports only the labeled rows by default, each as it was sent, predicted and labeled', async () => {
    const { record, rows } = await exportAll()
    expect(record.schema).toEqual([
      { name: 'time', type: 'timestamp[ms, tz=UTC]' },
      { name: 'pipeline_version', type: 'int32' },
      { name: 'model', type: 'string' },
      { name: 'request_id', type: 'string' },
      { name: 'request_row', type: 'int32' },
      { name: 'in.x', type: 'list<double>' },
      { name: 'out.y', type: 'list<double>' },
      { name: 'outcome', type: 'double' },
    ])
    expect(record).toMatchObject({ labeled_only: true, rows: 4, labeled_rows: 4, read_rows: 8, truncated: false })
    check(
      rows,
      expected.filter((w) => w.outcome !== null),
    )
  })

  it('exports every row of the range with labeled_only off, null outcomes where none arrived', async () => {
    await settings({ task: 'regression', output: 'y', retraining: { labeled_only: false } })
    const { record, rows } = await exportAll()
    expect(record).toMatchObject({ labeled_only: false, rows: 8, labeled_rows: 4, read_rows: 8 })
    check(rows, expected)
  })

  it('refuses a second export of the pipeline while one runs, and a range that ends before it starts', async () => {
    const first = await s.app.request(P, post({ start, end: Date.now() + 1000 }))
    const second = await s.app.request(P, post({ start, end: Date.now() + 1000 }))
    expect([first.status, second.status]).toEqual([202, 409])
    await s.deps.trainingSets.idle()
    const backwards = await s.app.request(P, post({ start: 2000, end: 1000 }))
    expect(backwards.status).toBe(400)
    const noSpec = await s.app.request(
      '/v1/workspaces/default/pipelines/other/training-sets',
      post({ start, end: 1e13 }),
    )
    expect(noSpec.status).toBe(404)
  })
})
