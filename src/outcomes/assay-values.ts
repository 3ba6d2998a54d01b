/**
 * Outcome metrics as values an assay watches "like any other column": one value per labeled row
 * of the answering arms, from the log joined with its outcomes over the assay's window
 * (samples.ts). The server hands {@link outcomeAssayValues} to the assay service as its derived
 * values (AssayServiceDeps.derived), so that assays need not know how outcomes are joined.
 */
import type { DerivedValues } from '../assays/service.js'
import { InvalidConfigError, NotFoundError } from '../errors.js'
import type { InferenceLog } from '../logs/inference-log.js'
import type { OutcomeStore } from '../store/types.js'
import { LOG_LOSS_EPS } from './metrics.js'
import { type ArmSamples, armSamples } from './samples.js'
import { type OutcomeSpec, settingsOf } from './spec.js'

/** The per-row values of an outcome iopath that assays watch. */
const OUTCOME_IOPATHS = ['outcome.correct', 'outcome.error', 'outcome.abs_error', 'outcome.log_loss'] as const

type OutcomeIopath = (typeof OUTCOME_IOPATHS)[number]

/** Whether an assay's iopath is one of {@link OUTCOME_IOPATHS}. */
const isOutcomeIopath = (iopath: string): iopath is OutcomeIopath =>
  (OUTCOME_IOPATHS as readonly string[]).includes(iopath)

/**
 * One value per labeled row of the answering arms (shadow challengers left out), oldest first:
 * `outcome.correct` 1 when a classifier's top class (the first on ties) is the outcome, else 0;
 * `outcome.log_loss` −ln of the outcome's probability, clipped to [ε, 1 − ε] as metrics.ts does;
 * `outcome.error` a regressor's predicted − actual, `outcome.abs_error` its absolute value.
 */
async function outcomeValues(
  log: InferenceLog,
  outcomes: OutcomeStore,
  ws: string,
  pipeline: string,
  spec: OutcomeSpec,
  iopath: OutcomeIopath,
  start: number,
  end: number,
): Promise<Float64Array> {
  const { arms } = await armSamples(log, outcomes, ws, pipeline, spec, start, end)
  const rows: Array<[number, number]> = [] // time, value
  for (const a of arms) {
    if (a.shadow) continue
    a.outcomes.forEach((y, i) => {
      if (!Number.isNaN(y)) rows.push([a.time[i] as number, rowValue(a, i, y, iopath)])
    })
  }
  rows.sort((x, y) => x[0] - y[0])
  return Float64Array.from(rows, (r) => r[1])
}

/** Whether an outcome iopath is of the settings' task. */
const ofTask = (iopath: OutcomeIopath, spec: OutcomeSpec) =>
  (iopath === 'outcome.correct' || iopath === 'outcome.log_loss') === (spec.task === 'classification')

/** Refuse an outcome iopath of the other task. */
function checkOutcomeIopath(iopath: OutcomeIopath, spec: OutcomeSpec): void {
  const classifier = iopath === 'outcome.correct' || iopath === 'outcome.log_loss'
  if (!ofTask(iopath, spec))
    throw new InvalidConfigError(
      `iopath '${iopath}' is for ${classifier ? 'classifiers' : 'regressors'}; the pipeline's outcome settings say ${spec.task}`,
    )
}

function rowValue(a: ArmSamples, i: number, y: number, iopath: OutcomeIopath): number {
  const p = a.predictions.subarray(i * a.width, (i + 1) * a.width)
  if (iopath === 'outcome.error') return (p[0] as number) - y
  if (iopath === 'outcome.abs_error') return Math.abs((p[0] as number) - y)
  if (iopath === 'outcome.log_loss')
    return -Math.log(Math.min(Math.max(p[y] as number, LOG_LOSS_EPS), 1 - LOG_LOSS_EPS))
  let top = 0
  for (let k = 1; k < p.length; k++) if ((p[k] as number) > (p[top] as number)) top = k
  return top === y ? 1 : 0
}

/**
 * The assay service's source of outcome values: accepts {@link OUTCOME_IOPATHS}; at definition an
 * iopath is checked against the pipeline's outcome settings (a 400 without settings, or for the
 * other task); a window is read with {@link outcomeValues}, and is empty (the assay stores
 * `no_data`) once the settings are deleted or changed to the other task: a scheduled assay never
 * fails the scheduler's tick.
 */
export function outcomeAssayValues(outcomes: OutcomeStore, log: InferenceLog): DerivedValues {
  return {
    accepts: isOutcomeIopath,
    async check(ws: string, pipeline: string, iopath: string): Promise<void> {
      const spec = await settingsOf(outcomes, ws, pipeline).catch((e: unknown) => {
        throw e instanceof NotFoundError ? new InvalidConfigError(e.message) : e
      })
      checkOutcomeIopath(iopath as OutcomeIopath, spec)
    },
    async values(ws: string, pipeline: string, iopath: string, start: number, end: number): Promise<Float64Array> {
      const spec = await settingsOf(outcomes, ws, pipeline).catch((e: unknown) => {
        if (e instanceof NotFoundError) return undefined
        throw e
      })
      if (!spec || !ofTask(iopath as OutcomeIopath, spec)) return new Float64Array(0)
      return outcomeValues(log, outcomes, ws, pipeline, spec, iopath as OutcomeIopath, start, end)
    },
  }
}
