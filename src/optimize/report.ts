/**
 * A tuning run's report, from what the search measured: the table, the points that failed, and the
 * recommendation with the deploy settings that run it (the deployment's own batching with the
 * point's size and delay, so a deploy with them keeps the rest).
 */
import type { BackendName } from '../engine/types.js'
import type { BatchingConfig, SessionSettings } from '../serving/settings.js'
import type { TuningPoint } from './grid.js'
import type { PointMeasure } from './measure.js'
import type { OptimizeRequest } from './request.js'
import type { Measured, SearchResult } from './search.js'

/** One measured point. */
interface TuningRow extends TuningPoint, PointMeasure {
  meets_target: boolean
}

/** What a deploy takes to run a point. */
interface TuningSettings {
  engine: BackendName
  batching: BatchingConfig
  session: SessionSettings
}

export interface TuningReport {
  pipeline_version: number
  target_p99_ms: number
  concurrency: number
  rows_per_request: number
  rows: OptimizeRequest['rows']
  search: OptimizeRequest['search']
  grid_points: number
  max_points: number
  measured_points: number
  truncated: boolean
  seconds: number
  budget_s: number
  table: TuningRow[]
  failed: Array<TuningPoint & { error: string }>
  recommendation: (TuningRow & { settings: TuningSettings }) | null
  applied: boolean
  apply_error?: string
}

/**
 * A report as the store holds it. Runs stored before the GPU path axis existed have no `gpu_path`
 * in their points: their webgpu points ran onnxruntime-web plain (`ort`); cpu and wasm have none.
 */
export function storedReport(stored: unknown): TuningReport | null {
  const r = stored as TuningReport | null
  if (!r) return null
  const withPath = <T extends { backend: TuningPoint['backend']; gpu_path?: TuningPoint['gpu_path'] }>(p: T): T => ({
    ...p,
    gpu_path: p.gpu_path ?? (p.backend === 'webgpu' ? 'ort' : null),
  })
  return {
    ...r,
    table: r.table.map(withPath),
    failed: r.failed.map(withPath),
    recommendation: r.recommendation && withPath(r.recommendation),
  }
}

/** The deploy settings that run `p`, from the deployment's `batching` (its GPU path named: a deploy measures none). */
function settingsOf(p: TuningPoint, batching: BatchingConfig): TuningSettings {
  const session: SessionSettings = { graph_optimization: p.graph_optimization }
  if (p.threads !== null) session.threads = p.threads
  if (p.gpu_path !== null) session.gpu_path = p.gpu_path
  return {
    engine: p.backend,
    batching: { ...batching, max_batch_size: p.max_batch_size, max_queue_delay_ms: p.max_queue_delay_ms },
    session,
  }
}

/** A measured point as a row of the table. */
function row(m: Measured<PointMeasure> & { result: PointMeasure }, target: number): TuningRow {
  return { ...m.point, ...m.result, meets_target: m.result.p99_ms <= target }
}

/** The report of a search. */
export function tuningReport(a: {
  req: OptimizeRequest
  version: number
  gridPoints: number
  maxPoints: number
  budgetS: number
  seconds: number
  batching: BatchingConfig
  result: SearchResult<PointMeasure>
}): TuningReport {
  const { req, result } = a
  const target = req.target_p99_ms
  const best = result.best
  return {
    pipeline_version: a.version,
    target_p99_ms: target,
    concurrency: req.concurrency,
    rows_per_request: req.rows_per_request,
    rows: req.rows,
    search: req.search,
    grid_points: a.gridPoints,
    max_points: a.maxPoints,
    measured_points: result.measured.length,
    truncated: result.truncated,
    seconds: a.seconds,
    budget_s: a.budgetS,
    table: result.measured.flatMap((m) => (m.result ? [row(m, target)] : [])),
    failed: result.measured.flatMap((m) => (m.error !== undefined ? [{ ...m.point, error: m.error }] : [])),
    recommendation: best ? { ...row(best, target), settings: settingsOf(best.point, a.batching) } : null,
    applied: false,
  }
}
