/**
 * The outcome metrics of a pipeline over time: its log range joined with its outcomes
 * (samples.ts), cut into windows, and per window, pipeline version and arm the realized metrics
 * over the rows whose outcome arrived (metrics.ts) and, for a classifier, the performance
 * estimated from the model's own probabilities over every row, labeled or not (cbpe.ts), side by
 * side.
 */
import { InvalidConfigError, InvalidInputError } from '../errors.js'
import type { InferenceLog } from '../logs/inference-log.js'
import type { OutcomeStore } from '../store/types.js'
import { type EstimatedPerformance, estimatePerformance } from './cbpe.js'
import { type ClassifierMetrics, classifierMetrics, type RegressorMetrics, regressorMetrics } from './metrics.js'
import { type ArmSamples, armSamples, type Samples } from './samples.js'
import type { OutcomeSpec } from './spec.js'

/** Windows one report may have. */
export const MAX_REPORT_WINDOWS = 1000

/** One arm of one pipeline version in one window. */
interface ArmReport {
  version: number
  arm: string
  shadow: boolean
  /** Rows logged. */
  rows: number
  /** Rows whose outcome arrived. */
  labeled: number
  /** Over the labeled rows; null without any. */
  realized: ClassifierMetrics | RegressorMetrics | null
  /** A classifier's CBPE over every row; null for a regressor or without rows. */
  estimated: EstimatedPerformance | null
  /** Why no metrics could be computed (predictions that are no probabilities, say); absent when they were. */
  error?: string
}

interface WindowReport {
  start: number
  end: number
  arms: ArmReport[]
}

export interface OutcomeReport {
  windows: WindowReport[]
  /** Of the join (see {@link Samples}). */
  rows: number
  truncated: boolean
  skipped: number
  unknown: number
}

/** Rows of `a` (indices) in each window of `windowMs` from `start`. */
function rowsByWindow(a: ArmSamples, start: number, windowMs: number, windows: number): number[][] {
  const out: number[][] = Array.from({ length: windows }, () => [])
  a.time.forEach((t, i) => {
    const w = Math.floor((t - start) / windowMs)
    if (w >= 0 && w < windows) (out[w] as number[]).push(i)
  })
  return out
}

/** The metrics of rows `rows` of arm `a`. */
function armReport(a: ArmSamples, rows: number[], spec: OutcomeSpec): ArmReport {
  const labeled = rows.filter((i) => !Number.isNaN(a.outcomes[i] as number))
  const base = { version: a.version, arm: a.arm, shadow: a.shadow, rows: rows.length, labeled: labeled.length }
  const take = (idx: number[]) => {
    const out = new Float64Array(idx.length * a.width)
    for (const [k, i] of idx.entries()) out.set(a.predictions.subarray(i * a.width, (i + 1) * a.width), k * a.width)
    return out
  }
  try {
    const actual = Float64Array.from(labeled, (i) => a.outcomes[i] as number)
    let realized: ArmReport['realized'] = null
    if (labeled.length > 0)
      realized =
        spec.task === 'regression'
          ? regressorMetrics(actual, take(labeled))
          : classifierMetrics(actual, take(labeled), a.width)
    const estimated =
      spec.task === 'classification' && rows.length > 0 ? estimatePerformance(take(rows), a.width) : null
    return { ...base, realized, estimated }
  } catch (e) {
    if (!(e instanceof InvalidInputError)) throw e
    return { ...base, realized: null, estimated: null, error: `output '${spec.output}': ${e.message}` }
  }
}

/**
 * The report of `[start, end)` in windows of `windowMs` (the last one cut at `end`): at most
 * {@link MAX_REPORT_WINDOWS} windows (a 400 past them) over at most the rows one join reads.
 */
export async function outcomeReport(
  log: InferenceLog,
  outcomes: OutcomeStore,
  ws: string,
  pipeline: string,
  spec: OutcomeSpec,
  q: { start: number; end: number; windowMs: number },
): Promise<OutcomeReport> {
  const windows = windowCount(q)
  const samples = await armSamples(log, outcomes, ws, pipeline, spec, q.start, q.end)
  const perArm = samples.arms.map((a) => [a, rowsByWindow(a, q.start, q.windowMs, windows)] as const)
  const out: WindowReport[] = []
  for (let w = 0; w < windows; w++) {
    const start = q.start + w * q.windowMs
    const arms: ArmReport[] = []
    for (const [a, byWindow] of perArm) {
      const rows = byWindow[w] as number[]
      if (rows.length === 0) continue
      arms.push(armReport(a, rows, spec))
      // A million rows take seconds of metrics: other requests are served between the arms' reports.
      await new Promise<void>((r) => setImmediate(r))
    }
    out.push({ start, end: Math.min(q.end, start + q.windowMs), arms })
  }
  const { rows, truncated, skipped, unknown } = samples
  return { windows: out, rows, truncated, skipped, unknown }
}

/** The windows of a range, checked: a positive range, and at most {@link MAX_REPORT_WINDOWS}. */
export function windowCount(q: { start: number; end: number; windowMs: number }): number {
  if (!(q.end > q.start)) throw new InvalidConfigError('"end" must be after "start"')
  if (!(q.windowMs >= 1000)) throw new InvalidConfigError('the window must be at least 1 second')
  const windows = Math.ceil((q.end - q.start) / q.windowMs)
  if (windows > MAX_REPORT_WINDOWS)
    throw new InvalidConfigError(
      `the range holds ${windows} windows of ${q.windowMs / 1000} s; at most ${MAX_REPORT_WINDOWS} per report: widen the window or narrow the range`,
    )
  return windows
}
