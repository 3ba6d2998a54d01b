/** A store holding one record of every kind, for tests that read rows back or change them by hand. */
import type { ExplanationRecord, JobRecord, Store } from '../../src/store/types.js'

/** A job record: `over` on top of uneven defaults. */
export const job = (over: Partial<JobRecord> & Pick<JobRecord, 'id'>): JobRecord => ({
  workspace: 'default',
  pipeline: 'p',
  status: 'queued',
  format: 'csv',
  inputPath: `/in/${over.id}.csv`,
  inputBytes: 17,
  options: { maxErrorShare: 0.25, chunkRows: 300, batchRows: 30 },
  rowsTotal: null,
  rowsDone: 0,
  chunksDone: 0,
  errorCount: 0,
  errors: [],
  error: null,
  attempts: 0,
  createdBy: null,
  createdAt: '2026-01-01T00:00:00.000Z',
  startedAt: null,
  finishedAt: null,
  ...over,
})

/** An explanation record: `over` on top of uneven defaults. */
export const explanation = (over: Partial<ExplanationRecord> & Pick<ExplanationRecord, 'id'>): ExplanationRecord => ({
  workspace: 'default',
  pipeline: 'p',
  method: 'shap',
  request: { rows: [[1, 2]] },
  status: 'running',
  error: null,
  attempts: 0,
  report: null,
  summary: null,
  createdAt: '2026-01-01T00:00:00.000Z',
  finishedAt: null,
  ...over,
})

/** Add one record to each table of `store` (one workspace, `default`); returns the assay's id. */
export async function seedStore(store: Store): Promise<{ assayId: number }> {
  const meta = { inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 4] }], outputs: [] }
  await store.models.add({ workspace: 'default', name: 'm', sha256: 'a'.repeat(64), size: 10, ...meta })
  await store.pipelines.add('default', 'p', [{ model: 'm:1' }])
  await store.deployments.put({ workspace: 'default', pipeline: 'p', version: 1, config: {}, deployedAt: 'now' })
  await store.apiKeys.add({
    id: 'k1',
    workspace: 'default',
    name: 'ci',
    role: 'viewer',
    hash: 'h'.repeat(64),
    createdAt: 'now',
  })
  const assay = await store.assays.add({
    workspace: 'default',
    pipeline: 'p',
    name: 'drift',
    config: { iopath: 'in.x[0]' },
    baseline: Float64Array.of(1, 2),
    active: true,
  })
  await store.assays.putResult({
    assayId: assay.id,
    windowStart: 0,
    windowEnd: 10,
    score: 0.5,
    status: 'ok',
    result: {},
    createdAt: 'now',
  })
  await store.jobs.add(
    job({
      id: 'j1',
      inputPath: '/in.csv',
      inputBytes: 5,
      options: { maxErrorShare: 0.1, chunkRows: 100, batchRows: 10 },
      createdAt: 'now',
    }),
  )
  await store.explanations.add(explanation({ id: 'e1', request: {}, createdAt: 'now' }))
  await store.optimizations.add({
    id: 'o1',
    workspace: 'default',
    pipeline: 'p',
    version: 1,
    status: 'succeeded',
    request: { target_p99_ms: 10 },
    report: { table: [] },
    error: null,
    createdAt: 'now',
    finishedAt: 'later',
  })
  await store.outcomes.putSpec('default', 'p', { task: 'regression', output: 'y' })
  await store.promotion.putRule({ workspace: 'default', pipeline: 'p', config: { confidence: 0.9 }, updatedAt: 'now' })
  await store.promotion.addDecision({
    workspace: 'default',
    pipeline: 'p',
    time: 'now',
    action: 'promote',
    detail: { applied: true },
  })
  return { assayId: assay.id }
}
