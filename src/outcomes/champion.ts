/**
 * The champion vs challenger report of a pipeline version with a `random_split` or `shadow` step:
 * per arm, the outcome metrics with their intervals (the rows whose outcome arrived) and the request
 * latency; between the champion and each other model, the always-valid sequential test on the
 * rule's metric (independent arms for a split, the rows both predicted for a shadow) and the drift
 * between their predictions (the assay statistics: PSI, KS, Wasserstein-1, Jensen–Shannon).
 *
 * Latency is the log's `latency_ms` of each row: a request's time from arrival to its answer. A
 * split's arm is the model that answered the row, so each arm has its own. A shadow runs every model
 * on every request and the champion answers: its rows' latency is the whole pipeline's, with the
 * challengers in it, and a challenger has no latency of its own in the log (`shared: true`).
 */
import { computeAssay, prepareBaseline, summarizerSchema } from '../assays/assay.js'
import { quantile } from '../assays/stats.js'
import { errorMessage } from '../errors.js'
import type { InferenceLog } from '../logs/inference-log.js'
import type { Step } from '../pipeline/steps.js'
import { type ClassifierMetrics, classifierMetrics, type RegressorMetrics, regressorMetrics } from './metrics.js'
import { type Contest, findContest, type PromotionRule, rowScores } from './promotion-spec.js'
import type { ArmSamples, Samples } from './samples.js'
import { compareIndependent, comparePaired, type SequentialTest, scoreSums } from './sequential.js'
import type { OutcomeSpec } from './spec.js'

/** Rows of the log read for latency at most (the first of the range). */
const LATENCY_ROWS = 100_000

interface ArmReport {
  model: string
  role: 'champion' | 'challenger' | 'other'
  shadow: boolean
  /** Logged rows of the arm in the range. */
  rows: number
  /** Of those, rows whose outcome arrived. */
  labeled: number
  metrics: ClassifierMetrics | RegressorMetrics | null
  /** Why there are no metrics (no outcome yet, predictions that are not probabilities…). */
  note: string | null
  latency: { shared: boolean; rows: number; p50_ms: number | null; p99_ms: number | null }
}

interface DriftReport {
  /** The value compared per row: P(class 1), the top-class probability, or the predicted value. */
  value: string
  psi: number
  ks: { statistic: number; p_value: number }
  wasserstein: number
  jensen_shannon: number
}

interface Comparison {
  champion: string
  model: string
  /** A shadow's models predicted the same rows: the test is paired. */
  paired: boolean
  test: SequentialTest | null
  drift: DriftReport | null
  note: string | null
}

export interface ChallengerReport {
  workspace: string
  pipeline: string
  version: number
  contest: Contest | null
  /** Why there is no contest, or what limited the report. */
  note: string | null
  range: { start: number; end: number }
  /** Rows read, and whether the bounded scan stopped before the range's end. */
  rows: number
  truncated: boolean
  metric: PromotionRule['metric']
  confidence: number
  arms: ArmReport[]
  comparisons: Comparison[]
}

/** What a report reads. */
export interface ReportInput {
  workspace: string
  pipeline: string
  version: number
  steps: readonly Step[]
  spec: OutcomeSpec
  /** The rule's champion, challenger, metric, confidence, tau and min_samples (its defaults without a rule). */
  rule: Pick<PromotionRule, 'champion' | 'challenger' | 'metric' | 'confidence' | 'tau' | 'min_samples'>
  samples: Samples
  range: { start: number; end: number }
  /** `latency_ms` per arm (model), when read. */
  latency?: Map<string, Float64Array>
}

/** The arms of `version` in `samples`, by model. */
function armsOf(samples: Samples, version: number): Map<string, ArmSamples> {
  return new Map(samples.arms.filter((a) => a.version === version).map((a) => [a.arm, a]))
}

/** The rows of `arm` whose outcome arrived: labels (or values) and their predictions. */
function labeled(arm: ArmSamples): { outcomes: Float64Array; predictions: Float64Array } {
  const keep: number[] = []
  for (let i = 0; i < arm.outcomes.length; i++) if (!Number.isNaN(arm.outcomes[i] as number)) keep.push(i)
  const predictions = new Float64Array(keep.length * arm.width)
  for (const [k, r] of keep.entries())
    predictions.set(arm.predictions.subarray(r * arm.width, (r + 1) * arm.width), k * arm.width)
  return { outcomes: Float64Array.from(keep, (r) => arm.outcomes[r] as number), predictions }
}

/** The outcome metrics of an arm's labeled rows, or why there are none. */
function armMetrics(arm: ArmSamples, spec: OutcomeSpec, confidence: number) {
  const { outcomes, predictions } = labeled(arm)
  if (outcomes.length === 0) return { labeled: 0, metrics: null, note: 'no outcome has arrived for its rows' }
  try {
    const metrics =
      spec.task === 'classification'
        ? classifierMetrics(outcomes, predictions, arm.width, confidence)
        : regressorMetrics(outcomes, predictions, confidence)
    return { labeled: outcomes.length, metrics, note: null }
  } catch (e) {
    return { labeled: outcomes.length, metrics: null, note: errorMessage(e) }
  }
}

/** Exact p50 and p99 (type 7) of an arm's latencies. */
function latencyOf(values: Float64Array | undefined, shared: boolean): ArmReport['latency'] {
  if (!values || values.length === 0) return { shared, rows: 0, p50_ms: null, p99_ms: null }
  const sorted = Float64Array.from(values).sort()
  return { shared, rows: sorted.length, p50_ms: quantile(sorted, 0.5), p99_ms: quantile(sorted, 0.99) }
}

/** The value drift compares per row: P(class 1) of a binary classifier, the top-class probability, or the value. */
function driftValues(arm: ArmSamples, task: OutcomeSpec['task']): Float64Array {
  const w = arm.width
  return Float64Array.from({ length: arm.outcomes.length }, (_, i) => {
    const row = arm.predictions.subarray(i * w, (i + 1) * w)
    if (task === 'regression') return row[0] as number
    return w === 2 ? (row[1] as number) : Math.max(...row)
  })
}

const DRIFT_SUMMARIZER = summarizerSchema.parse({ num_bins: 10 })

/** The assay statistics of the challenger's predictions against the champion's as the baseline. */
function drift(champion: ArmSamples, other: ArmSamples, task: OutcomeSpec['task']): DriftReport {
  const baseline = prepareBaseline(driftValues(champion, task), DRIFT_SUMMARIZER)
  const r = computeAssay(baseline, driftValues(other, task), DRIFT_SUMMARIZER, { alert_threshold: 0.25 })
  const value = task === 'regression' ? 'prediction' : champion.width === 2 ? 'p(class 1)' : 'top-class probability'
  return { value, psi: r.score, ks: r.ks, wasserstein: r.wasserstein, jensen_shannon: r.jensen_shannon }
}

/**
 * The rows a shadow challenger and its champion both predicted, as index pairs: the challenger's
 * rows are the champion's where it answered, in the log's order, so a walk of both in step pairs
 * each with the next champion row of the same time and outcome.
 */
export function pairRows(champion: ArmSamples, challenger: ArmSamples): Array<[number, number]> {
  const pairs: Array<[number, number]> = []
  const same = (a: number, b: number) => a === b || (Number.isNaN(a) && Number.isNaN(b))
  let i = 0
  for (let j = 0; j < challenger.time.length; j++) {
    let k = i
    while (
      k < champion.time.length &&
      !(
        champion.time[k] === challenger.time[j] &&
        same(champion.outcomes[k] as number, challenger.outcomes[j] as number)
      )
    )
      k++
    if (k === champion.time.length) continue // no partner: left out
    pairs.push([k, j])
    i = k + 1
  }
  return pairs
}

/**
 * The sequential test of `other` against `champion` on the rule's metric: paired on the rows both
 * scored for a shadow ({@link pairRows}), else as independent arms.
 */
export function contestTest(
  champion: ArmSamples,
  other: ArmSamples,
  rule: ReportInput['rule'],
  paired: boolean,
): SequentialTest {
  const a = rowScores(rule.metric, champion.predictions, champion.width, champion.outcomes)
  const b = rowScores(rule.metric, other.predictions, other.width, other.outcomes)
  const opts = { alpha: 1 - rule.confidence, minSamples: rule.min_samples, ...(rule.tau ? { tau: rule.tau } : {}) }
  if (paired) {
    const d: number[] = []
    for (const [i, j] of pairRows(champion, other)) {
      const x = (b[j] as number) - (a[i] as number)
      if (!Number.isNaN(x)) d.push(x)
    }
    return comparePaired(scoreSums(d), opts)
  }
  const scored = (x: Float64Array) => x.filter((v) => !Number.isNaN(v))
  return compareIndependent(scoreSums(scored(a)), scoreSums(scored(b)), opts)
}

/** The report of one version's contest, from samples already read. */
export function challengerReport(input: ReportInput): ChallengerReport {
  const { rule, spec, samples } = input
  const found = findContest(input.steps, rule)
  const base = {
    workspace: input.workspace,
    pipeline: input.pipeline,
    version: input.version,
    range: input.range,
    rows: samples.rows,
    truncated: samples.truncated,
    metric: rule.metric,
    confidence: rule.confidence,
  }
  if ('none' in found) return { ...base, contest: null, note: found.none, arms: [], comparisons: [] }
  const arms = armsOf(samples, input.version)
  const armReports: ArmReport[] = found.models.map((model) => {
    const arm = arms.get(model)
    const role = model === found.champion ? 'champion' : model === found.challenger ? 'challenger' : 'other'
    const shared = found.kind === 'shadow'
    const latency = latencyOf(input.latency?.get(shared ? found.champion : model), shared)
    if (!arm)
      return {
        model,
        role,
        shadow: shared && role !== 'champion',
        rows: 0,
        labeled: 0,
        metrics: null,
        note: 'no logged rows',
        latency,
      }
    return {
      model,
      role,
      shadow: arm.shadow,
      rows: arm.outcomes.length,
      ...armMetrics(arm, spec, rule.confidence),
      latency,
    }
  })
  const champion = arms.get(found.champion)
  const comparisons: Comparison[] = found.models
    .filter((m) => m !== found.champion)
    .map((model) => {
      const other = arms.get(model)
      const paired = found.kind === 'shadow'
      const c = { champion: found.champion, model, paired }
      if (!champion || !other)
        return { ...c, test: null, drift: null, note: `no logged rows of ${champion ? model : found.champion}` }
      let test: SequentialTest | null = null
      let d: DriftReport | null = null
      const notes: string[] = []
      try {
        test = contestTest(champion, other, rule, paired)
      } catch (e) {
        notes.push(`test: ${errorMessage(e)}`)
      }
      try {
        d = drift(champion, other, spec.task)
      } catch (e) {
        notes.push(`drift: ${errorMessage(e)}`)
      }
      return { ...c, test, drift: d, note: notes.length ? notes.join('; ') : null }
    })
  return { ...base, contest: found, note: null, arms: armReports, comparisons }
}

/**
 * `latency_ms` of a version's logged rows per answering model, from the first {@link LATENCY_ROWS}
 * rows of the range.
 */
export async function readLatency(
  log: InferenceLog,
  workspace: string,
  pipeline: string,
  version: number,
  range: { start: number; end: number },
): Promise<Map<string, Float64Array>> {
  const rows = await log.query(workspace, pipeline, {
    start: range.start,
    end: range.end,
    limit: LATENCY_ROWS,
    columns: ['model', 'latency_ms'],
    where: { pipelineVersion: version },
  })
  const by = new Map<string, number[]>()
  for (const r of rows) {
    const model = r.model
    const ms = Number(r.latency_ms)
    if (typeof model !== 'string' || !Number.isFinite(ms)) continue
    const list = by.get(model) ?? by.set(model, []).get(model)
    list?.push(ms)
  }
  return new Map([...by].map(([m, v]) => [m, Float64Array.from(v)]))
}
