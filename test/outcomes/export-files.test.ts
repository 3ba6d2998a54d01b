/**
 * Training-set files: a classifier's set with labels (outcomes sent as names and as indices),
 * cut at the row limit and written in small row groups; an empty range; downloads that name
 * anything but an export of the pipeline (`../x`, absolute paths, another pipeline's file, a
 * record, an unknown name) refused; a write that fails leaves nothing behind and the server
 * exporting; and what a crash leaves (a temporary file, a file without its record) removed at the
 * next start while complete exports stay, private.
 */
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { emptyParquet, openParquet, parquetStream } from '../../src/jobs/io/parquet.js'
import { readFooter } from '../../src/jobs/io/parquet-footer.js'
import { silentLogger } from '../../src/logger.js'
import { OutboundPolicy } from '../../src/outbound/policy.js'
import { TrainingSets } from '../../src/outcomes/export.js'
import type { ParquetEncoder, TrainingSetRecord } from '../../src/outcomes/export-record.js'
import { type BuiltServer, buildServer } from '../../src/server/serve.js'
import { tidyDataDir } from '../../src/store/data-dir.js'
import { SqliteStore } from '../../src/store/sqlite-store.js'
import { logisticRegression, torchTabular } from '../fixtures/models.js'
import { clientFor, post, tempDir, testConfig } from '../helpers/server.js'

const fixture = logisticRegression(3)
const tabular = torchTabular(9)
/** torchTabular's P(class 1) in float64 from its weights: normalise, embed, Gemm, ReLU, Gemm, sigmoid. */
function tabularProb(num: number[], cat: number): number {
  const p = tabular.params
  const dense = (d: { in: number; out: number; w: Float32Array; b: Float32Array }, x: number[]) =>
    Array.from({ length: d.out }, (_, o) =>
      x.reduce((sum, v, i) => sum + v * (d.w[o * d.in + i] as number), d.b[o] as number),
    )
  const norm = num.map((v, j) => (Math.fround(v) - (p.mean[j] as number)) / (p.std[j] as number))
  const emb = Array.from({ length: p.embDim }, (_, k) => p.embedding[cat * p.embDim + k] as number)
  const h = dense(p.fc1, [...norm, ...emb]).map((v) => Math.max(0, v))
  return 1 / (1 + Math.exp(-(dense(p.fc2, h)[0] as number)))
}
const PARQUET: ParquetEncoder = { stream: parquetStream, empty: emptyParquet }
/** Seven rows of 12 features in three requests. */
const REQUESTS = [
  { id: 'one', rows: 3 },
  { id: 'two', rows: 2 },
  { id: 'three', rows: 2 },
].map((r, k) => ({ ...r, x: Array.from({ length: r.rows * 12 }, (_, j) => Math.sin(7 * k + j) * 1.5) }))

describe('training-set files', () => {
  let s: BuiltServer
  let start = 0
  const dirs: string[] = []
  const exporter = (over: Partial<ConstructorParameters<typeof TrainingSets>[0]> = {}) => {
    const dir = tempDir('lastmile-exports-')
    dirs.push(dir)
    return new TrainingSets({
      store: s.deps.store,
      log: s.deps.inferenceLog,
      logger: silentLogger,
      outbound: new OutboundPolicy(testConfig().outbound),
      parquet: PARQUET,
      dir,
      maxRows: 1_000_000,
      holder: 'test',
      webhookAttempts: 1,
      ...over,
    })
  }
  /** Run an export to its end: its record, as listed. */
  const run = async (t: TrainingSets, pipeline: string, range = { start, end: Date.now() + 1000 }) => {
    const { file } = await t.request('default', pipeline, range)
    await t.idle()
    return (await t.list('default', pipeline)).find((r) => r.file === file) as TrainingSetRecord
  }

  beforeAll(async () => {
    s = await buildServer(testConfig(), { log: silentLogger })
    const lm = clientFor(s.app)
    for (const name of ['clf', 'twin']) {
      await lm.uploadModel('default', name, fixture.bytes)
      await lm.putPipeline('default', name, [{ model: name }])
      await lm.deploy('default', name)
    }
    start = Date.now() - 1
    for (const r of REQUESTS) {
      const res = await s.app.request(
        '/v2/models/clf/infer',
        post({ id: r.id, inputs: [{ name: 'x', datatype: 'FP32', shape: [r.rows, 12], data: r.x }] }),
      )
      expect(res.status).toBe(200)
    }
    const spec = { task: 'classification', output: 'prob', labels: ['no', 'yes'], retraining: { labeled_only: false } }
    for (const name of ['clf', 'twin']) {
      const res = await s.app.request(`/v1/workspaces/default/pipelines/${name}/outcomes`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(spec),
      })
      expect(res.status).toBe(200)
    }
    // As names and as indices: `one` row 0 is yes, row 2 no; `two` row 1 is 1 (yes); `three` row 0 is 0 (no).
    const feedback = await s.app.request(
      '/v1/workspaces/default/pipelines/clf/feedback',
      post({
        outcomes: [
          { id: 'one', row: 0, outcome: 'yes' },
          { id: 'one', row: 2, outcome: 'no' },
          { id: 'two', row: 1, outcome: 1 },
          { id: 'three', row: 0, outcome: 0 },
        ],
      }),
    )
    expect(feedback.status).toBe(200)
  })
  afterAll(async () => {
    await s.shutdown()
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  })

  it('cuts the read at the row limit and writes row groups of at most the chunk size', async () => {
    const t = exporter({ maxRows: 5, chunkRows: 2 })
    const record = await run(t, 'clf')
    expect(record).toMatchObject({ status: 'done', rows: 5, read_rows: 5, labeled_rows: 3, truncated: true })
    expect(record.schema.slice(-3)).toEqual([
      { name: 'out.prob', type: 'list<double>' },
      { name: 'outcome', type: 'double' },
      { name: 'outcome_label', type: 'string' },
    ])
    const path = join(t.folder('default', 'clf'), record.file)
    const handle = await open(path)
    const footer = await readFooter(handle, (await handle.stat()).size, record.file)
    await handle.close()
    expect(footer.rows).toBe(5)
    expect(footer.groups.length).toBeGreaterThanOrEqual(3)
    for (const g of footer.groups) expect(g.rows).toBeLessThanOrEqual(2)
    const reader = await openParquet(path)
    const c = (await reader.next(100))?.columns ?? {}
    await reader.close()
    expect(c.request_id).toEqual(['one', 'one', 'one', 'two', 'two'])
    expect(Array.from(c.request_row as Int32Array)).toEqual([0, 1, 2, 0, 1])
    expect(c.outcome).toEqual([1, null, 0, null, 1])
    expect(c.outcome_label).toEqual(['yes', null, 'no', null, 'yes'])
    // The probabilities the logistic regression gives each row, from its weights in float64.
    const { w, b } = fixture.params.layer
    const probs = (c['out.prob'] as Float64Array[]).map((p) => Array.from(p))
    const xs = REQUESTS.flatMap((r) => Array.from({ length: r.rows }, (_, i) => r.x.slice(12 * i, 12 * i + 12)))
    for (const [i, p] of probs.entries()) {
      const z = (xs[i] as number[]).reduce((sum, v, j) => sum + Math.fround(v) * (w[j] as number), b[0] as number)
      expect(p).toHaveLength(1)
      expect(Math.abs((p[0] as number) - 1 / (1 + Math.exp(-z)))).toBeLessThan(1e-6)
    }
    expect(Date.parse(record.last_row_time as string)).toBe(Number((c.time as ArrayLike<number>)[4]))
  })

  it('joins outcomes on a key input (INT64), one outcome for every row with its value', async () => {
    const lm = clientFor(s.app)
    await lm.uploadModel('default', 'tab', tabular.bytes)
    await lm.putPipeline('default', 'tab', [{ model: 'tab' }])
    await lm.deploy('default', 'tab')
    const cats = [0, 3, 3, 1, 4]
    const nums = cats.map((c, i) => [0.5 * i - 1, c / 3, 0.1 - 0.25 * i, 1.125 + c])
    const from = Date.now() - 1
    const res = await s.app.request(
      '/v2/models/tab/infer',
      post({
        inputs: [
          { name: 'num', datatype: 'FP32', shape: [5, 4], data: nums.flat() },
          { name: 'cat', datatype: 'INT64', shape: [5], data: cats },
        ],
      }),
    )
    expect(res.status).toBe(200)
    const put = await s.app.request('/v1/workspaces/default/pipelines/tab/outcomes', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ task: 'classification', output: 'prob', key: 'cat' }),
    })
    expect(put.status).toBe(200)
    const feedback = await s.app.request(
      '/v1/workspaces/default/pipelines/tab/feedback',
      post({
        outcomes: [
          { key: 3, outcome: 1 },
          { key: '0', outcome: 0 },
          { key: 2, outcome: 1 },
        ],
      }),
    )
    expect(feedback.status).toBe(200)
    const t = exporter()
    const record = await run(t, 'tab', { start: from, end: Date.now() + 1000 })
    expect(record).toMatchObject({ status: 'done', rows: 3, labeled_rows: 3, read_rows: 5, labeled_only: true })
    const reader = await openParquet(join(t.folder('default', 'tab'), record.file))
    const c = (await reader.next(100))?.columns ?? {}
    await reader.close()
    const kept = [0, 1, 2] // cat 0, 3, 3: the rows whose key has an outcome
    expect((c['in.cat'] as Float64Array[]).map((v) => Array.from(v))).toEqual(kept.map((i) => [cats[i]]))
    expect((c['in.num'] as Float64Array[]).map((v) => Array.from(v))).toEqual(
      kept.map((i) => (nums[i] as number[]).map(Math.fround)),
    )
    expect(Array.from(c.outcome as Float64Array)).toEqual([0, 1, 1])
    expect(c.request_id).toEqual([null, null, null])
    for (const [k, p] of (c['out.prob'] as Float64Array[]).entries()) {
      const i = kept[k] as number
      expect(Math.abs((p[0] as number) - tabularProb(nums[i] as number[], cats[i] as number))).toBeLessThan(1e-6)
    }
  })

  it('writes the schema and no rows for a range without rows', async () => {
    const t = exporter()
    const record = await run(t, 'clf', { start: 1000, end: 2000 })
    expect(record).toMatchObject({ status: 'done', rows: 0, read_rows: 0, truncated: false, last_row_time: null })
    const reader = await openParquet(join(t.folder('default', 'clf'), record.file))
    expect(reader.totalRows).toBe(0)
    expect(reader.schema.map((f) => f.name)).toEqual(record.schema.map((f) => f.name))
    await reader.close()
  })

  it('downloads only an export of the pipeline, by the name the server gave it', async () => {
    const lm = clientFor(s.app)
    const { file } = await lm.exportTrainingSet('default', 'clf', { start, end: Date.now() + 1000 })
    await s.deps.trainingSets.idle()
    const [listed] = await lm.trainingSets('default', 'clf')
    expect(listed).toMatchObject({ file, status: 'done', rows: 7 })
    const download = await lm.downloadTrainingSet('default', 'clf', file)
    expect((await download.arrayBuffer()).byteLength).toBe(listed?.bytes)
    const base = '/v1/workspaces/default/pipelines'
    const stem = file.replace(/\.parquet$/, '')
    const refused = [
      `${base}/clf/training-sets/..%2Ftwin%2F${file}`,
      `${base}/clf/training-sets/%2Fetc%2Fpasswd`,
      `${base}/clf/training-sets/${stem}.json`,
      `${base}/clf/training-sets/${stem}.parquet.tmp`,
      `${base}/clf/training-sets/x.parquet`,
    ]
    for (const path of refused) expect([path, (await s.app.request(path)).status]).toEqual([path, 400])
    // Names of the right form that name no export of this pipeline.
    // (`…/training-sets/..` is resolved by the URL itself, to a path no route has.)
    const unknown = [
      `${base}/twin/training-sets/${file}`,
      `${base}/clf/training-sets/20200101T000000Z-0123abcd.parquet`,
      `${base}/clf/training-sets/..`,
    ]
    for (const path of unknown) expect([path, (await s.app.request(path)).status]).toEqual([path, 404])
    // A file whose record was never written (a crash between the two) is not served.
    const folder = s.deps.trainingSets.folder('default', 'clf')
    writeFileSync(join(folder, '20200101T000000Z-feedf00d.parquet'), 'PAR1')
    expect((await s.app.request(`${base}/clf/training-sets/20200101T000000Z-feedf00d.parquet`)).status).toBe(404)
  })

  it('logs a failed write, leaves no file behind and exports again afterwards', async () => {
    const failing: ParquetEncoder = {
      async *stream(chunks, rows) {
        // The first piece is written, then the disk fills: a partial temporary file.
        for await (const piece of parquetStream(chunks, rows)) {
          yield piece
          throw new Error('disk full')
        }
      },
      empty: emptyParquet,
    }
    const t = exporter({ parquet: failing, chunkRows: 1 })
    const failed = await run(t, 'clf')
    expect(failed).toMatchObject({ status: 'failed', error: 'disk full' })
    expect(readdirSync(t.folder('default', 'clf'))).toEqual([])
    expect(((await s.app.request('/v1/workspaces/default/pipelines/clf')) as Response).status).toBe(200)
    const ok = await run(exporter(), 'clf')
    expect(ok.status).toBe('done')
  })

  it('removes at start what a crash left in the exports folder, and keeps complete exports private', async () => {
    const data = tempDir()
    dirs.push(data)
    const folder = join(data, 'exports', 'default', 'p')
    mkdirSync(folder, { recursive: true, mode: 0o755 })
    const names = {
      partial: '20261201T000000Z-00000001.parquet.tmp',
      unrecorded: '20261201T000000Z-00000002.parquet',
      recordTmp: '20261201T000000Z-00000003.json.tmp',
      complete: '20261201T000000Z-00000004.parquet',
      record: '20261201T000000Z-00000004.json',
    }
    for (const n of Object.values(names)) writeFileSync(join(folder, n), 'x', { mode: 0o644 })
    const store = SqliteStore.open(data)
    try {
      const report = await tidyDataDir(data, store, silentLogger)
      expect(report.removed.sort()).toEqual(
        [names.partial, names.recordTmp, names.unrecorded].map((n) => join('exports', 'default', 'p', n)).sort(),
      )
    } finally {
      await store.close()
    }
    expect(readdirSync(folder).sort()).toEqual([names.record, names.complete].sort())
    expect(statSync(join(folder, names.complete)).mode & 0o777).toBe(0o600)
    expect(statSync(folder).mode & 0o777).toBe(0o700)
  })
})
