/**
 * A challenger for a deployed pipeline: a new model put beside the deployed one, as a shadow (it
 * predicts every row, the champion answers) or a canary (a `random_split` sending it `weight`% of
 * the rows), in a new version deployed by hot swap; and the champion vs challenger report of a
 * version, read from the log and the outcomes.
 */
import { z } from 'zod'
import { parseTime } from '../assays/time.js'
import { ConflictError, InvalidRequestError, NotFoundError } from '../errors.js'
import type { InferenceLog } from '../logs/inference-log.js'
import { parseSteps, type Step } from '../pipeline/steps.js'
import type { Store } from '../store/types.js'
import { type ChallengerReport, challengerReport, readLatency } from './champion.js'
import { modelRef, parseRule, promotionRuleSchema } from './promotion-spec.js'
import { armSamples } from './samples.js'
import { outcomeSpecSchema } from './spec.js'

export const challengerRequestSchema = z
  .object({
    /** The challenger: `name` (its latest version) or `name:version`. */
    model: modelRef,
    /** `shadow`: it predicts every row beside the champion, which answers; `canary`: it answers `weight`% of rows. */
    mode: z.enum(['shadow', 'canary']).default('shadow'),
    /** A canary's share of the rows, in percent. */
    weight: z.number().gt(0).lt(100).default(10),
  })
  .strict()

export type ChallengerRequest = z.infer<typeof challengerRequestSchema>

/**
 * The steps with their one model step turned into a shadow of `challenger` or a split giving it
 * `weight`%; refused (InvalidRequestError, saying why) unless the steps have exactly one model step
 * and no other routing (a split, a shadow, several models).
 */
export function withChallenger(
  steps: readonly Step[],
  challenger: string,
  req: Omit<ChallengerRequest, 'model'>,
): Step[] {
  const routed = steps.findIndex((s) => 'models' in s || 'random_split' in s || 'key_split' in s || 'shadow' in s)
  if (routed >= 0)
    throw new InvalidRequestError(
      `the deployed version's step ${routed} is a ${Object.keys(steps[routed] as object)[0]} step: a challenger joins a version whose models are one model step; settle the current contest first`,
    )
  const at = steps.flatMap((s, i) => ('model' in s ? [i] : []))
  if (at.length !== 1)
    throw new InvalidRequestError(
      `the deployed version has ${at.length} model steps: a challenger is put beside a version's one model step`,
    )
  const i = at[0] as number
  const champion = (steps[i] as { model: string }).model
  if (champion === challenger) throw new InvalidRequestError(`'${challenger}' is already the deployed model`)
  const step: Step =
    req.mode === 'shadow'
      ? { shadow: { champion, challengers: [challenger] } }
      : {
          random_split: {
            weights: [
              [100 - req.weight, champion],
              [req.weight, challenger],
            ],
          },
        }
  return steps.map((s, k) => (k === i ? step : s))
}

/** What the challenger functions read and write through. */
export interface ChallengerDeps {
  store: Store
  log: InferenceLog
  /**
   * Create a version of the pipeline from `steps` with the objectives `slo` (null: none), deployed
   * by hot swap when the pipeline is deployed: the registry's `putPipeline`.
   */
  putPipeline(workspace: string, pipeline: string, steps: Step[], slo: unknown): Promise<{ version: number }>
}

/** The deployed version of a pipeline; ConflictError when it is not deployed. */
async function deployedVersion(deps: ChallengerDeps, workspace: string, pipeline: string) {
  const d = (await deps.store.deployments.list(workspace)).find((x) => x.pipeline === pipeline)
  if (!d) throw new ConflictError(`pipeline '${pipeline}' is not deployed: deploy it before adding a challenger`)
  const v = await deps.store.pipelines.get(workspace, pipeline, d.version)
  if (!v) throw new NotFoundError(`no version ${d.version} of pipeline '${pipeline}'`)
  return v
}

/**
 * Put `model` beside the deployed version's model as a shadow or a canary: a new version, deployed
 * by hot swap. The model reference is pinned here (its latest version when none is given).
 */
export async function deployChallenger(
  deps: ChallengerDeps,
  workspace: string,
  pipeline: string,
  req: ChallengerRequest,
): Promise<{ version: number; steps: Step[] }> {
  const current = await deployedVersion(deps, workspace, pipeline)
  const [name, v] = req.model.split(':') as [string, string | undefined]
  const versions = await deps.store.models.versions(workspace, name)
  const version = v === undefined ? versions[versions.length - 1]?.version : Number(v)
  if (version === undefined || !versions.some((m) => m.version === version))
    throw new InvalidRequestError(
      `no model '${req.model}' in workspace '${workspace}'${versions.length ? ` (versions: ${versions.map((m) => m.version).join(', ')})` : ''}`,
    )
  const steps = withChallenger(parseSteps(current.steps), `${name}:${version}`, req)
  const put = await deps.putPipeline(workspace, pipeline, steps, current.slo)
  return { version: put.version, steps }
}

/** Which version and range a report covers (query parameters). */
export interface ReportQuery {
  version?: number | undefined
  start?: string | undefined
  end?: string | undefined
}

/**
 * The champion vs challenger report of a version (the deployed one by default, else the latest),
 * over `[start, end)` (from the version's creation to now by default), under the pipeline's rule
 * (or the rule's defaults).
 */
export async function reportOf(
  deps: ChallengerDeps,
  workspace: string,
  pipeline: string,
  q: ReportQuery,
  now: number,
): Promise<ChallengerReport> {
  const { store } = deps
  const all = await store.pipelines.versions(workspace, pipeline)
  if (all.length === 0) throw new NotFoundError(`no pipeline '${pipeline}' in workspace '${workspace}'`)
  const deployed = (await store.deployments.list(workspace)).find((d) => d.pipeline === pipeline)?.version
  const number = q.version ?? deployed ?? all[all.length - 1]?.version
  const record = all.find((r) => r.version === number)
  if (!record) throw new NotFoundError(`no version ${number} of pipeline '${pipeline}'`)
  const specRecord = await store.outcomes.getSpec(workspace, pipeline)
  if (!specRecord)
    throw new NotFoundError(
      `pipeline '${pipeline}' has no outcome settings: set them before asking for its challengers`,
    )
  const spec = outcomeSpecSchema.parse(specRecord.config)
  const ruleRecord = await store.promotion.getRule(workspace, pipeline)
  const rule = ruleRecord ? parseRule(ruleRecord.config) : promotionRuleSchema.parse({})
  const range = {
    start: q.start === undefined ? Date.parse(record.createdAt) : parseTime(q.start),
    end: q.end === undefined ? now + 1 : parseTime(q.end),
  }
  if (!(range.end > range.start)) throw new InvalidRequestError('"end" must be after "start"')
  const samples = await armSamples(deps.log, store.outcomes, workspace, pipeline, spec, range.start, range.end)
  const latency = await readLatency(deps.log, workspace, pipeline, record.version, range)
  const steps = parseSteps(record.steps)
  return challengerReport({ workspace, pipeline, version: record.version, steps, spec, rule, samples, range, latency })
}
