/**
 * Service-level objectives as a service: the deployed version's objectives are watched, each
 * request is counted on its way out ({@link PipelineAccount}), the counts are written to the store
 * every few seconds in one-minute buckets, and every tick each series is evaluated from the store
 * ({@link PlanEvaluator}) and its alerts started or resolved ({@link SloAlerts}).
 */
import { Webhooks } from '../assays/webhooks.js'
import { errorMessage, InvalidConfigError, NotFoundError } from '../errors.js'
import type { Logger } from '../logger.js'
import type { OutboundPolicy } from '../outbound/policy.js'
import type { Store } from '../store/types.js'
import { PipelineAccount, type SeriesCount, type SloEvent } from './accounting.js'
import { type ResolveReason, SloAlerts } from './alerts.js'
import { alertViews, PlanEvaluator, type SloStatus } from './evaluate.js'
import { MINUTE_MS, parseSlo, type Slo, type SloPlan, sloSchema } from './spec.js'

export interface SloServiceDeps {
  store: Store
  logger: Logger
  /** Every webhook URL is checked by it when a version is created, and each alert is sent through it. */
  outbound: OutboundPolicy
  webhookAttempts: number
  /** First retry delay; doubles per attempt. */
  webhookBaseDelayMs?: number
  /** The clock (tests inject one). */
  now?: () => number
}

interface Watched {
  account: PipelineAccount
  evaluator: PlanEvaluator
  /** Split arms with stored buckets, per latency objective measured per arm (read once, at watch). */
  storedArms: Map<string, string[]>
  prunedAt: number
}

/** How often a pipeline's buckets past retention are removed. */
const PRUNE_MS = 3_600_000

export class SloService {
  /** By workspace, then pipeline: the request path finds its pipeline without building a key. */
  private readonly watched = new Map<string, Map<string, Watched>>()
  private readonly alerts: SloAlerts
  private readonly now: () => number
  /** The last tick's figures, for the Prometheus gauges. */
  private latest = new Map<Watched, SloStatus>()
  private timers: NodeJS.Timeout[] = []
  private working: Promise<void> | undefined
  private readonly webhooks: Webhooks
  /**
   * Whether this process evaluates objectives and sends alerts (see {@link setEvaluating}); every
   * process counts its own requests.
   */
  private evaluating = true

  constructor(private readonly deps: SloServiceDeps) {
    this.now = deps.now ?? Date.now
    this.webhooks = new Webhooks({
      outbound: deps.outbound,
      logger: deps.logger,
      attempts: deps.webhookAttempts,
      baseDelayMs: deps.webhookBaseDelayMs ?? 1000,
    })
    this.alerts = new SloAlerts(deps.store.slo, this.webhooks, deps.logger)
  }

  /**
   * Validate a version's `slo` (400 on a bad field, a webhook the outbound policy refuses, or an
   * objective whose name an earlier version gave another indicator: its stored counts would mix
   * units); the JSON to keep.
   */
  async check(raw: unknown, earlier: readonly unknown[]): Promise<Slo> {
    const { slo } = parseSlo(raw)
    for (const e of earlier) {
      const before = sloSchema.safeParse(e)
      if (!before.success) continue
      for (const o of slo.objectives) {
        const was = before.data.objectives.find((x) => x.name === o.name)
        if (was && was.indicator !== o.indicator)
          throw new InvalidConfigError(
            `slo.objectives: '${o.name}' measured ${was.indicator} in an earlier version; its counts are kept by name, so give this ${o.indicator} objective a new name`,
          )
      }
    }
    await Promise.all(slo.alerting.webhooks.map((url) => this.deps.outbound.check(url)))
    return slo
  }

  /**
   * Measure a deployed version's objectives, carrying on what was counted of those that stay; an
   * alert on a series this version no longer measures is resolved. Without objectives, stop.
   */
  async watch(workspace: string, pipeline: string, version: number, slo: unknown): Promise<void> {
    if (slo === null || slo === undefined) return this.unwatch(workspace, pipeline, 'objective_removed')
    const plan = parseSlo(slo)
    const was = this.get(workspace, pipeline)
    await this.flushOne(was)
    const storedArms = new Map<string, string[]>()
    if (plan.slo.per_arm)
      for (const o of plan.slo.objectives)
        if (o.indicator === 'latency')
          storedArms.set(o.name, await this.deps.store.slo.arms(workspace, pipeline, o.name))
    const w: Watched = {
      account: new PipelineAccount(workspace, pipeline, plan, was?.account),
      evaluator: new PlanEvaluator(this.deps.store.slo, workspace, pipeline, version, plan),
      storedArms,
      prunedAt: 0,
    }
    const ws = this.watched.get(workspace) ?? this.watched.set(workspace, new Map()).get(workspace)
    ws?.set(pipeline, w)
    const old = was ? this.latest.get(was) : undefined
    if (was) this.latest.delete(was)
    if (old) this.latest.set(w, old) // the gauges keep their series until the next tick
    const measured = (objective: string, arm: string) => {
      const o = plan.slo.objectives.find((x) => x.name === objective)
      return o !== undefined && (arm === '' || (o.indicator === 'latency' && plan.slo.per_arm))
    }
    if (this.evaluating)
      await this.alerts.resolveWhere(
        workspace,
        pipeline,
        (a) => !measured(a.objective, a.arm),
        'objective_removed',
        this.now(),
      )
    await this.alerts.load(workspace, pipeline)
  }

  /**
   * Stop measuring (undeployed, deleted): what was counted is written, its alerts resolved by the
   * process that evaluates (`resolve`: whether this one resolves them anyway).
   */
  async unwatch(
    workspace: string,
    pipeline: string,
    reason: ResolveReason = 'undeployed',
    resolve = this.evaluating,
  ): Promise<void> {
    const w = this.get(workspace, pipeline)
    await this.flushOne(w)
    this.watched.get(workspace)?.delete(pipeline)
    if (w) this.latest.delete(w)
    if (resolve) await this.alerts.resolveWhere(workspace, pipeline, () => true, reason, this.now())
  }

  /**
   * Among processes sharing a store, one evaluates the objectives and sends alerts (it holds the
   * lease, see src/server/singletons.ts); the others only count. One that takes over reads the
   * alerts firing from the store first, so it neither forgets nor repeats them.
   */
  async setEvaluating(on: boolean): Promise<void> {
    if (on) for (const w of this.all()) await this.alerts.load(w.account.workspace, w.account.pipeline)
    this.evaluating = on
  }

  /** Count one request of a pipeline (nothing when it has no objectives). The hot path: memory only. */
  record(workspace: string, pipeline: string, e: SloEvent): void {
    this.watched.get(workspace)?.get(pipeline)?.account.record(e, this.now())
  }

  /** Write what was counted, every `flushMs`; evaluate the objectives and alert every `tickMs`. */
  start(flushMs: number, tickMs: number): void {
    const run = (what: () => Promise<unknown>) => () => {
      this.working ??= what()
        .then(() => undefined)
        .catch((e) => this.deps.logger.error('slo accounting failed', { error: errorMessage(e) }))
        .finally(() => {
          this.working = undefined
        })
    }
    this.timers = [
      setInterval(
        run(() => this.flush()),
        flushMs,
      ),
      setInterval(
        run(() => (this.evaluating ? this.tick() : this.flush())),
        tickMs,
      ),
    ]
    for (const t of this.timers) t.unref()
  }

  /** Stop the timers; write what was counted; wait for webhooks in flight. Alerts stay as they are. */
  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t)
    await this.working
    await this.flush()
    await this.webhooks.idle()
  }

  /** Resolves when the timers' work and pending webhook deliveries have finished (tests). */
  async idle(): Promise<void> {
    await this.working
    await this.webhooks.idle()
  }

  /** Write every pipeline's counted buckets to the store. */
  async flush(): Promise<void> {
    for (const w of this.all()) await this.flushOne(w)
  }

  private async flushOne(w: Watched | undefined): Promise<void> {
    if (!w) return
    const buckets = w.account.take()
    if (buckets.length === 0) return
    try {
      await this.deps.store.slo.add(buckets)
    } catch (e) {
      w.account.giveBack(buckets) // written at the next flush
      w.evaluator.reset() // into minutes the slid sums may already hold
      throw e
    }
  }

  /** Write, evaluate every watched pipeline (alerting on changes), and drop buckets past retention. */
  async tick(): Promise<void> {
    await this.flush()
    const now = this.now()
    for (const w of this.all()) {
      const { workspace, pipeline, plan } = w.account
      w.account.closeMinute(now - (now % MINUTE_MS))
      const { status, evaluated } = await this.evaluate(w, now)
      for (const e of evaluated) {
        const ctx = {
          version: status.version,
          indicator: e.objective.indicator,
          target: e.objective.target,
          time_window: status.time_window,
          webhooks: plan.slo.alerting.webhooks,
          figures: {
            burn_rates: e.series.burn_rates,
            attainment: e.series.attainment,
            error_budget_remaining: e.series.error_budget_remaining,
          },
        }
        await this.alerts.update(e.key, e.fires, ctx, now)
        e.series.alerts = alertViews(this.alerts.of(e.key))
      }
      if (now - w.prunedAt >= PRUNE_MS) {
        await this.deps.store.slo.prune(workspace, pipeline, now - plan.retentionMs)
        w.prunedAt = now
      }
      if (this.get(workspace, pipeline) === w) this.latest.set(w, status) // not undeployed meanwhile
    }
  }

  /** A deployed pipeline's objectives as they stand now. */
  async status(workspace: string, pipeline: string): Promise<SloStatus> {
    const w = this.require(workspace, pipeline)
    await this.flushOne(w)
    return (await this.evaluate(w, this.now())).status
  }

  /** The plan of a watched pipeline (its parsed objectives), for charts and rules. */
  plan(workspace: string, pipeline: string): { version: number; plan: SloPlan } {
    const w = this.require(workspace, pipeline)
    return { version: w.evaluator.version, plan: w.account.plan }
  }

  /** An objective's events over its time window, cumulated from its start at each of about `points` steps. */
  async history(workspace: string, pipeline: string, objective: string, arm: string, points: number) {
    const w = this.require(workspace, pipeline)
    const o = w.account.plan.slo.objectives.find((x) => x.name === objective)
    if (!o) throw new NotFoundError(`pipeline '${pipeline}' has no objective '${objective}'`)
    await this.flushOne(w)
    return { objective: o, steps: await w.evaluator.history(o, arm, this.now(), points) }
  }

  /** Counts since the process started, per series (Prometheus' counters). */
  counts(): SeriesCount[] {
    return this.all().flatMap((w) => w.account.sinceStart())
  }

  /** The last tick's figures (Prometheus' gauges). */
  latestStatus(): SloStatus[] {
    return [...this.latest.values()]
  }

  /** Forget a deleted pipeline's counts (its alerts resolved first). */
  async forget(workspace: string, pipeline: string): Promise<void> {
    await this.unwatch(workspace, pipeline, 'pipeline_deleted', true)
    await this.deps.store.slo.forget(workspace, pipeline)
  }

  private evaluate(w: Watched, now: number) {
    const arms = async (objective: string) => [
      ...new Set([...(w.storedArms.get(objective) ?? []), ...w.account.armsOf(objective)]),
    ]
    return w.evaluator.evaluate(now, arms, (key) => this.alerts.of(key))
  }

  private get(workspace: string, pipeline: string): Watched | undefined {
    return this.watched.get(workspace)?.get(pipeline)
  }

  private require(workspace: string, pipeline: string): Watched {
    const w = this.get(workspace, pipeline)
    if (!w)
      throw new NotFoundError(`pipeline '${pipeline}' is not deployed with objectives: PUT its steps with an "slo"`)
    return w
  }

  private all(): Watched[] {
    return [...this.watched.values()].flatMap((ws) => [...ws.values()])
  }
}
