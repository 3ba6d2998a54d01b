/**
 * The promotion rule's evaluator: every `interval_s` it looks at each rule's pipeline as deployed,
 * and when the deployed version holds a contest (a split or a shadow with a champion and a
 * challenger) it decides:
 * - `rollback` when an alert fires for it: the latest window of an active assay of the pipeline
 *   scored `alert` (a window that started after the version was created), or an objective's alert
 *   on the challenger's arm; or when the sequential test finds the champion better;
 * - `promote` when the test finds the challenger better at the rule's confidence;
 * - otherwise it holds (kept in memory as the latest evaluation, not stored).
 * A promotion or a rollback creates a version whose contest step is the kept model alone, deployed
 * by hot swap (the rule's `report_only` stores and sends the decision and changes nothing). Every
 * decision is stored with its evidence (the test, the metrics per arm, the alert) and POSTed to the
 * rule's webhooks. The contest ends with it: the rule waits for the next challenger, which it may
 * deploy itself (`auto_challenger`: a newer version of the deployed model, as a shadow or a canary).
 *
 * The test is the mixture SPRT of sequential.ts: its p-value stays valid however often it is read,
 * which is what checking every interval needs. Runs as singleton work under the 'promotion' lease.
 */
import { Webhooks } from '../assays/webhooks.js'
import { errorMessage, InvalidConfigError, NotFoundError } from '../errors.js'
import type { Logger } from '../logger.js'
import type { OutboundPolicy } from '../outbound/policy.js'
import { parseSteps, type Step } from '../pipeline/steps.js'
import type { DecisionRecord, PromotionRuleRecord } from '../store/types.js'
import {
  type ChallengerDeps,
  type ChallengerRequest,
  deployChallenger,
  type ReportQuery,
  reportOf,
} from './challenger.js'
import { type ChallengerReport, challengerReport } from './champion.js'
import { firedAlert } from './promotion-alerts.js'
import { type Contest, findContest, metricFits, type PromotionRule, parseRule, settle } from './promotion-spec.js'
import { armSamples, type Samples } from './samples.js'
import { type OutcomeSpec, outcomeSpecSchema } from './spec.js'

export interface PromotionDeps extends ChallengerDeps {
  logger: Logger
  /** Every webhook URL is checked by it when a rule is set, and each decision is sent through it. */
  outbound: OutboundPolicy
  webhookAttempts: number
  /** First retry delay; doubles per attempt. */
  webhookBaseDelayMs?: number
  /** The clock (tests inject one). */
  now?: () => number
  /** How arms' samples are read: {@link armSamples} over the log and the outcomes (tests inject theirs). */
  readSamples?: (workspace: string, pipeline: string, spec: OutcomeSpec, start: number, end: number) => Promise<Samples>
}

/** Where a rule stood at its latest evaluation (in memory, in the process that evaluates). */
export interface Evaluation {
  time: string
  /** The deployed version looked at, or null when the pipeline is not deployed. */
  version: number | null
  state: 'not_deployed' | 'no_contest' | 'no_outcome_settings' | 'collecting' | 'undecided' | 'decided' | 'failed'
  note: string | null
  contest: Contest | null
  test: ChallengerReport['comparisons'][number]['test']
}

/** How often rules are looked at for being due. */
const TICK_MS = 1000

const keyOf = (workspace: string, pipeline: string) => `${workspace}/${pipeline}`

export class PromotionService {
  private readonly webhooks: Webhooks
  private readonly now: () => number
  private readonly latest = new Map<string, Evaluation>()
  private readonly nextAt = new Map<string, number>()
  private timer: NodeJS.Timeout | undefined
  private ticking: Promise<void> | undefined
  /** The tick in progress, which the next one waits for. */
  private queue: Promise<void> = Promise.resolve()

  private readonly readSamples: NonNullable<PromotionDeps['readSamples']>

  constructor(private readonly deps: PromotionDeps) {
    this.now = deps.now ?? Date.now
    this.readSamples =
      deps.readSamples ??
      ((ws, p, spec, start, end) => armSamples(deps.log, deps.store.outcomes, ws, p, spec, start, end))
    this.webhooks = new Webhooks({
      outbound: deps.outbound,
      logger: deps.logger,
      attempts: deps.webhookAttempts,
      baseDelayMs: deps.webhookBaseDelayMs ?? 1000,
    })
  }

  /** Set a pipeline's rule (400 naming a bad field or a webhook the outbound policy refuses); the rule kept. */
  async putRule(workspace: string, pipeline: string, raw: unknown): Promise<PromotionRuleRecord> {
    const rule = parseRule(raw)
    const { store } = this.deps
    if ((await store.pipelines.versions(workspace, pipeline)).length === 0)
      throw new NotFoundError(`no pipeline '${pipeline}' in workspace '${workspace}'`)
    const spec = outcomeSpecSchema.safeParse((await store.outcomes.getSpec(workspace, pipeline))?.config)
    if (spec.success && !metricFits(rule.metric, spec.data.task))
      throw new InvalidConfigError(
        `promotion rule: metric '${rule.metric}' does not fit the pipeline's ${spec.data.task} outcomes`,
      )
    await Promise.all(rule.webhooks.map((url) => this.deps.outbound.check(url)))
    const record = { workspace, pipeline, config: rule, updatedAt: new Date(this.now()).toISOString() }
    await this.deps.store.promotion.putRule(record)
    this.nextAt.delete(keyOf(workspace, pipeline)) // evaluated at the next tick under the new rule
    return record
  }

  async getRule(workspace: string, pipeline: string): Promise<PromotionRuleRecord> {
    const r = await this.deps.store.promotion.getRule(workspace, pipeline)
    if (!r) throw new NotFoundError(`pipeline '${pipeline}' has no promotion rule`)
    return r
  }

  async deleteRule(workspace: string, pipeline: string): Promise<void> {
    if (!(await this.deps.store.promotion.deleteRule(workspace, pipeline)))
      throw new NotFoundError(`pipeline '${pipeline}' has no promotion rule`)
    this.latest.delete(keyOf(workspace, pipeline))
    this.nextAt.delete(keyOf(workspace, pipeline))
  }

  /** The champion vs challenger report of a version, with this process's latest evaluation of the rule. */
  async report(
    workspace: string,
    pipeline: string,
    q: ReportQuery,
  ): Promise<ChallengerReport & { evaluation: Evaluation | null }> {
    const report = await reportOf(this.deps, workspace, pipeline, q, this.now())
    return { ...report, evaluation: this.evaluation(workspace, pipeline) ?? null }
  }

  /** Put a model beside the deployed one as a shadow or a canary (a new version, hot-swapped in). */
  challenger(workspace: string, pipeline: string, req: ChallengerRequest) {
    return deployChallenger(this.deps, workspace, pipeline, req)
  }

  /** The latest evaluation of a pipeline's rule here, if this process evaluated it. */
  evaluation(workspace: string, pipeline: string): Evaluation | undefined {
    return this.latest.get(keyOf(workspace, pipeline))
  }

  /** Look at the rules every second; each is evaluated once its interval has passed. */
  start(tickMs = TICK_MS): Promise<void> {
    this.timer = setInterval(() => {
      this.ticking ??= this.tick()
        .catch((e) => this.deps.logger.error('promotion tick failed', { error: errorMessage(e) }))
        .finally(() => {
          this.ticking = undefined
        })
    }, tickMs)
    this.timer.unref()
    return Promise.resolve()
  }

  async stop(): Promise<void> {
    clearInterval(this.timer)
    this.timer = undefined
    await this.idle()
  }

  /** Resolves when the tick in progress and pending webhook deliveries have finished. */
  async idle(): Promise<void> {
    await this.ticking
    await this.webhooks.idle()
  }

  /**
   * Evaluate every rule that is due at `now` (the timer calls it; tests call it with their clock).
   * Ticks run one after the other: two evaluations of a rule never act at once.
   */
  tick(now = this.now()): Promise<void> {
    const next = this.queue.then(() => this.evaluateDue(now))
    this.queue = next.catch(() => undefined)
    return next
  }

  private async evaluateDue(now: number): Promise<void> {
    for (const r of await this.deps.store.promotion.rules()) {
      const key = keyOf(r.workspace, r.pipeline)
      if ((this.nextAt.get(key) ?? now) > now) continue
      let rule: PromotionRule
      try {
        rule = parseRule(r.config)
      } catch (e) {
        // Changed behind the store's back: said once a minute, not at every tick.
        this.deps.logger.error('promotion rule skipped', { pipeline: key, error: errorMessage(e) })
        this.nextAt.set(key, now + 60_000)
        continue
      }
      this.nextAt.set(key, now + rule.interval_s * 1000)
      try {
        this.latest.set(key, await this.evaluate(r.workspace, r.pipeline, rule, now))
      } catch (e) {
        this.deps.logger.error('promotion rule not evaluated', { pipeline: key, error: errorMessage(e) })
        this.latest.set(key, { ...this.blank(now, null), state: 'failed', note: errorMessage(e) })
      }
    }
  }

  private blank(now: number, version: number | null): Evaluation {
    return { time: new Date(now).toISOString(), version, state: 'no_contest', note: null, contest: null, test: null }
  }

  /** One evaluation of a pipeline under its rule, acting on what it decides. */
  async evaluate(workspace: string, pipeline: string, rule: PromotionRule, now: number): Promise<Evaluation> {
    const { store } = this.deps
    const deployed = (await store.deployments.list(workspace)).find((d) => d.pipeline === pipeline)
    if (!deployed) return { ...this.blank(now, null), state: 'not_deployed', note: 'the pipeline is not deployed' }
    const version = await store.pipelines.get(workspace, pipeline, deployed.version)
    if (!version) return { ...this.blank(now, deployed.version), state: 'not_deployed', note: 'no such version' }
    const steps = parseSteps(version.steps)
    const contest = findContest(steps, rule)
    if ('none' in contest) {
      const auto = rule.auto_challenger && (await this.autoChallenger(workspace, pipeline, steps, rule.auto_challenger))
      return { ...this.blank(now, version.version), note: auto ? `challenger ${auto} deployed` : contest.none }
    }
    const since = Date.parse(version.createdAt)
    const alert = await firedAlert(this.deps.store, workspace, pipeline, contest, rule, since)
    const at: Evaluation = { ...this.blank(now, version.version), contest }
    // The evidence: an alert rolls back even when the outcomes cannot be read.
    let report: Awaited<ReturnType<PromotionService['contestReport']>>
    let failure: string | null = null
    try {
      report = await this.contestReport(workspace, pipeline, version.version, steps, rule, since, now)
    } catch (e) {
      failure = `outcomes not read: ${errorMessage(e)}`
    }
    const comparison = report?.comparisons.find((c) => c.model === contest.challenger)
    const test = comparison?.test ?? null
    const evidence = { test, arms: report?.arms ?? [], alert: alert ?? null, note: failure ?? comparison?.note ?? null }
    if (alert) {
      await this.decide(workspace, pipeline, version, steps, contest, rule, 'rollback', `${alert.kind}_alert`, evidence)
      return { ...at, state: 'decided', note: `rollback: ${alert.kind} alert`, test }
    }
    if (failure) return { ...at, state: 'failed', note: failure }
    if (!report) return { ...at, state: 'no_outcome_settings', note: 'the pipeline has no outcome settings' }
    if (!metricFits(rule.metric, report.spec.task))
      return { ...at, state: 'failed', note: `metric ${rule.metric} does not fit a ${report.spec.task} task` }
    if (test?.verdict === 'challenger_better' || test?.verdict === 'champion_better') {
      const promote = test.verdict === 'challenger_better'
      await this.decide(
        workspace,
        pipeline,
        version,
        steps,
        contest,
        rule,
        promote ? 'promote' : 'rollback',
        test.verdict,
        evidence,
      )
      return { ...at, state: 'decided', note: test.verdict, test }
    }
    const few = !test || test.n[0] < rule.min_samples || test.n[1] < rule.min_samples
    return { ...at, state: few ? 'collecting' : 'undecided', note: evidence.note, test }
  }

  /** The contest's report over the version's rows so far, or undefined without outcome settings. */
  private async contestReport(
    workspace: string,
    pipeline: string,
    version: number,
    steps: Step[],
    rule: PromotionRule,
    since: number,
    now: number,
  ) {
    const record = await this.deps.store.outcomes.getSpec(workspace, pipeline)
    if (!record) return undefined
    const spec = outcomeSpecSchema.parse(record.config)
    const range = { start: since, end: now + 1 }
    const samples = await this.readSamples(workspace, pipeline, spec, range.start, range.end)
    return { ...challengerReport({ workspace, pipeline, version, steps, spec, rule, samples, range }), spec }
  }

  /**
   * Deploy the newest version of the deployed model as its challenger, when the deployed version is
   * one model step and that version is newer and was never judged; the challenger's reference.
   */
  private async autoChallenger(
    workspace: string,
    pipeline: string,
    steps: Step[],
    how: NonNullable<PromotionRule['auto_challenger']>,
  ): Promise<string | undefined> {
    const { store, logger } = this.deps
    const single = steps.filter((s) => 'model' in s)
    if (single.length !== 1 || steps.some((s) => 'models' in s || 'key_split' in s)) return undefined
    const [name, version] = (single[0] as { model: string }).model.split(':') as [string, string]
    const newest = (await store.models.versions(workspace, name)).at(-1)
    if (!newest || newest.version <= Number(version)) return undefined
    const ref = `${name}:${newest.version}`
    const judged = await store.promotion.decisions(workspace, pipeline, 1000)
    if (judged.some((d) => d.detail.challenger === ref)) return undefined
    try {
      await deployChallenger(this.deps, workspace, pipeline, { model: ref, ...how })
      logger.info('challenger deployed by the promotion rule', { workspace, pipeline, challenger: ref, mode: how.mode })
      return ref
    } catch (e) {
      logger.error('challenger not deployed', { workspace, pipeline, challenger: ref, error: errorMessage(e) })
      return undefined
    }
  }

  /**
   * Store and send a decision; act on it unless the rule only reports. A decision the rule only
   * recommended, or that failed, is stored once per version (not again at every interval).
   */
  private async decide(
    workspace: string,
    pipeline: string,
    version: { version: number; slo: unknown },
    steps: Step[],
    contest: Contest,
    rule: PromotionRule,
    action: 'promote' | 'rollback',
    reason: string,
    evidence: Record<string, unknown>,
  ): Promise<void> {
    const kept = action === 'promote' ? contest.challenger : contest.champion
    let newVersion: number | null = null
    let error: string | null = null
    if (rule.action === 'promote') {
      try {
        newVersion = (await this.deps.putPipeline(workspace, pipeline, settle(steps, contest, kept), version.slo))
          .version
      } catch (e) {
        error = errorMessage(e)
        this.deps.logger.error('promotion decision not applied', { workspace, pipeline, action, error })
      }
    }
    const detail = {
      applied: newVersion !== null,
      reason,
      version: version.version,
      new_version: newVersion,
      kind: contest.kind,
      champion: contest.champion,
      challenger: contest.challenger,
      kept,
      metric: rule.metric,
      confidence: rule.confidence,
      error,
      ...evidence,
    }
    if (newVersion === null) {
      const [last] = await this.deps.store.promotion.decisions(workspace, pipeline, 1)
      if (last && last.action === action && last.detail.version === version.version && last.detail.applied === false)
        return
    }
    const time = new Date(this.now()).toISOString()
    const d = await this.deps.store.promotion.addDecision({ workspace, pipeline, time, action, detail })
    this.deps.logger.info('promotion decision', { workspace, pipeline, action, reason, applied: detail.applied })
    this.send(d, rule)
  }

  /** POST a decision to the rule's webhooks (through the outbound policy, retried; never blocks). */
  private send(d: DecisionRecord, rule: PromotionRule): void {
    if (rule.webhooks.length === 0) return
    const payload = JSON.stringify({ event: 'promotion.decision', ...decisionJson(d) })
    this.webhooks.post(rule.webhooks, payload, { workspace: d.workspace, pipeline: d.pipeline, decision: d.id })
  }
}

/** A decision as the API and the webhooks show it. */
export function decisionJson(d: DecisionRecord) {
  return { id: d.id, workspace: d.workspace, pipeline: d.pipeline, time: d.time, action: d.action, ...d.detail }
}
