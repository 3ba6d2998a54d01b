/**
 * Service-level objectives as a service: the deployed version's objectives are watched, each
 * request is counted on its way out ({@link PipelineAccount}), the counts are written to the store
 * every few seconds in one-minute buckets, and every tick each series' burn rates are computed
 * from the store and the workbook's multiwindow rules decide whether it alerts: a webhook when an
 * alert starts, changes severity or resolves, kept in the store so a restart neither repeats nor
 * forgets one.
 */

import { Webhooks } from '../assays/webhooks.js'
import { errorMessage, NotFoundError } from '../errors.js'
import type { Logger } from '../logger.js'
import type { OutboundPolicy } from '../outbound/policy.js'
import type { SloAlertRecord, SloSeriesKey, Store } from '../store/types.js'
import { PipelineAccount, type SeriesCount, type SloEvent } from './accounting.js'
import { attainment, budgetRemaining, burnRate, type Firing, firing, type Tally } from './burn.js'
import { MINUTE_MS, type Objective, parseSlo, type Slo, type SloPlan } from './spec.js'

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

/** One series' figures: the whole pipeline (arm null) or one split arm. */
export interface SeriesStatus {
  arm: string | null
  good: number
  total: number
  attainment: number | null
  error_budget_remaining: number | null
  /** Burn rate over each alert window and the objective's time window, by duration. */
  burn_rates: Record<string, number>
  alert: { severity: string; since: string; rule: Record<string, unknown> } | null
}

export interface ObjectiveStatus {
  name: string
  indicator: Objective['indicator']
  op: 'lte' | 'gte' | null
  value: number | null
  target: number
  budgeting_method: 'occurrences' | 'timeslices'
  series: SeriesStatus[]
}

export interface SloStatus {
  workspace: string
  pipeline: string
  version: number
  time_window: string
  evaluated_at: string
  objectives: ObjectiveStatus[]
}

const seriesKey = (k: SloSeriesKey) => `${k.workspace}\0${k.pipeline}\0${k.objective}\0${k.arm}`

interface Watched {
  version: number
  account: PipelineAccount
  /** Sums over the ended minutes of each window, by series and window, slid forward at each evaluation. */
  sums: Map<string, WindowSum>
}

/** A window's sum over the ended minutes [from, to), and when it was last read whole from the store. */
interface WindowSum extends Tally {
  from: number
  to: number
  readAt: number
}

/** How long a window's sum is slid forward before it is read whole again (a bound on any drift). */
const RESUM_MS = 3_600_000

export class SloService {
  /** By workspace, then pipeline: the request path finds its pipeline without building a key. */
  private readonly watched = new Map<string, Map<string, Watched>>()
  private readonly webhooks: Webhooks
  private readonly now: () => number
  /** Alerts firing, by series. */
  private readonly firing = new Map<string, SloAlertRecord>()
  /** The last tick's figures, for the Prometheus gauges. */
  private latest: SloStatus[] = []
  private timers: NodeJS.Timeout[] = []
  private working: Promise<void> | undefined

  constructor(private readonly deps: SloServiceDeps) {
    this.now = deps.now ?? Date.now
    this.webhooks = new Webhooks({
      outbound: deps.outbound,
      logger: deps.logger,
      attempts: deps.webhookAttempts,
      baseDelayMs: deps.webhookBaseDelayMs ?? 1000,
    })
  }

  /** Validate a version's `slo` (400 on a bad field or a webhook the outbound policy refuses); the JSON to keep. */
  async check(raw: unknown): Promise<Slo> {
    const { slo } = parseSlo(raw)
    await Promise.all(slo.alerting.webhooks.map((url) => this.deps.outbound.check(url)))
    return slo
  }

  /** Measure a deployed version's objectives (none: stop measuring the pipeline). */
  async watch(workspace: string, pipeline: string, version: number, slo: unknown): Promise<void> {
    if (slo === null || slo === undefined) {
      await this.unwatch(workspace, pipeline)
      return
    }
    const plan = parseSlo(slo)
    await this.unwatch(workspace, pipeline)
    const ws = this.watched.get(workspace) ?? this.watched.set(workspace, new Map()).get(workspace)
    ws?.set(pipeline, { version, account: new PipelineAccount(workspace, pipeline, plan), sums: new Map() })
    const names = new Set(plan.slo.objectives.map((o) => o.name))
    for (const a of await this.deps.store.slo.alerts(workspace, pipeline)) {
      if (names.has(a.objective)) this.firing.set(seriesKey(a), a)
      else await this.deps.store.slo.clearAlert(a) // an objective this version no longer has
    }
  }

  /** Stop measuring (undeployed); what was counted is written first. */
  async unwatch(workspace: string, pipeline: string): Promise<void> {
    await this.flushOne(this.get(workspace, pipeline))
    this.watched.get(workspace)?.delete(pipeline)
    this.latest = this.latest.filter((s) => s.workspace !== workspace || s.pipeline !== pipeline)
    for (const [key, a] of this.firing)
      if (a.workspace === workspace && a.pipeline === pipeline) this.firing.delete(key)
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
        run(() => this.tick()),
        tickMs,
      ),
    ]
    for (const t of this.timers) t.unref()
  }

  /** Stop the timers; write what was counted; wait for webhooks in flight. */
  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t)
    await this.working
    await this.flush()
    await this.webhooks.idle()
  }

  /** Resolves when pending webhook deliveries have finished (tests). */
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
      w.sums.clear() // into minutes the sums may already hold
      throw e
    }
  }

  /** Write, evaluate every watched pipeline (alerting on changes), and drop buckets past retention. */
  async tick(): Promise<void> {
    await this.flush()
    const now = this.now()
    const latest: SloStatus[] = []
    for (const w of this.all()) {
      const { workspace, pipeline, plan } = w.account
      w.account.closeMinute(now - (now % MINUTE_MS))
      const { status, fires } = await this.evaluate(workspace, pipeline, w, now)
      for (const o of status.objectives)
        for (const s of o.series) await this.alertOnChange(plan, status, o, s, fires.get(s) ?? null, now)
      await this.deps.store.slo.prune(workspace, pipeline, now - plan.retentionMs)
      if (this.get(workspace, pipeline) === w) latest.push(status) // not undeployed meanwhile
    }
    this.latest = latest
  }

  /** A deployed pipeline's objectives as they stand now. */
  async status(workspace: string, pipeline: string): Promise<SloStatus> {
    const w = this.require(workspace, pipeline)
    await this.flushOne(w)
    return (await this.evaluate(workspace, pipeline, w, this.now())).status
  }

  /** The plan of a watched pipeline (its parsed objectives), for charts and rules. */
  plan(workspace: string, pipeline: string): { version: number; plan: SloPlan } {
    const w = this.require(workspace, pipeline)
    return { version: w.version, plan: w.account.plan }
  }

  /**
   * Attainment over the time window, cumulated from its start at each of `points` steps (the
   * error budget's burn-down), for one series.
   */
  async history(
    workspace: string,
    pipeline: string,
    objective: string,
    arm: string,
    points: number,
  ): Promise<{ objective: Objective; steps: Array<{ end: number; good: number; total: number }> }> {
    const { plan } = this.plan(workspace, pipeline)
    const o = plan.slo.objectives.find((x) => x.name === objective)
    if (!o) throw new NotFoundError(`pipeline '${pipeline}' has no objective '${objective}'`)
    await this.flushOne(this.get(workspace, pipeline))
    const now = this.now()
    const minute = now - (now % MINUTE_MS)
    const stepMs = Math.max(MINUTE_MS, Math.ceil(plan.windowMs / points / MINUTE_MS) * MINUTE_MS)
    const to = o.indicator === 'throughput' ? minute : minute + MINUTE_MS
    const from = to - Math.ceil(plan.windowMs / stepMs) * stepMs
    const key = { workspace, pipeline, objective, arm }
    const rows = await this.deps.store.slo.history(key, from, to, stepMs, floorOf(o))
    const byStart = new Map(rows.map((r) => [r.start, r]))
    let good = 0
    let total = 0
    const steps: Array<{ end: number; good: number; total: number }> = []
    for (let start = from; start < to; start += stepMs) {
      good += byStart.get(start)?.good ?? 0
      total += byStart.get(start)?.total ?? 0
      steps.push({ end: Math.min(now, start + stepMs), good, total })
    }
    return { objective: o, steps }
  }

  /** Counts since the process started, per series (Prometheus' counters). */
  counts(): SeriesCount[] {
    return this.all().flatMap((w) => w.account.sinceStart())
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

  /** The last tick's figures (Prometheus' gauges). */
  latestStatus(): readonly SloStatus[] {
    return this.latest
  }

  /** Forget a deleted pipeline's counts and alerts. */
  async forget(workspace: string, pipeline: string): Promise<void> {
    await this.unwatch(workspace, pipeline)
    await this.deps.store.slo.forget(workspace, pipeline)
  }

  /** Each series' figures from the store, and the rule that fires on it now (if any). */
  private async evaluate(
    workspace: string,
    pipeline: string,
    w: Watched,
    now: number,
  ): Promise<{ status: SloStatus; fires: Map<SeriesStatus, Firing | null> }> {
    const { plan } = w.account
    const minute = now - (now % MINUTE_MS)
    const windows = new Map<string, number>([[plan.slo.time_window, plan.windowMs]])
    for (const r of plan.rules) windows.set(r.long, r.longMs).set(r.short, r.shortMs)
    const objectives: ObjectiveStatus[] = []
    const fires = new Map<SeriesStatus, Firing | null>()
    for (const o of plan.slo.objectives) {
      const floor = floorOf(o)
      // A window is its last whole minutes, and for ratios the minute in progress too (time slices count once ended).
      const tallyOver = async (key: SloSeriesKey, ms: number): Promise<Tally> => {
        const ended = await this.endedMinutes(w, key, minute - ms, minute, floor)
        if (floor !== undefined) return ended
        const now = await this.deps.store.slo.tally(key, minute, minute + MINUTE_MS)
        return { good: ended.good + now.good, total: ended.total + now.total }
      }
      const arms =
        o.indicator === 'latency' && plan.slo.per_arm ? await this.deps.store.slo.arms(workspace, pipeline, o.name) : []
      const series: SeriesStatus[] = []
      for (const arm of ['', ...arms.filter((a) => a !== '')]) {
        const key = { workspace, pipeline, objective: o.name, arm }
        const byMs = new Map<number, Tally>()
        for (const ms of new Set(windows.values())) byMs.set(ms, await tallyOver(key, ms))
        const whole = byMs.get(plan.windowMs) as Tally
        const burn = (ms: number) => burnRate(byMs.get(ms) as Tally, o.target)
        const alert = this.firing.get(seriesKey(key))
        const s: SeriesStatus = {
          arm: arm === '' ? null : arm,
          good: whole.good,
          total: whole.total,
          attainment: attainment(whole),
          error_budget_remaining: budgetRemaining(whole, o.target),
          burn_rates: Object.fromEntries([...windows].map(([name, ms]) => [name, burn(ms)])),
          alert: alert
            ? { severity: alert.severity, since: new Date(alert.since).toISOString(), rule: alert.detail }
            : null,
        }
        series.push(s)
        fires.set(s, firing(plan.rules, burn))
      }
      objectives.push({
        name: o.name,
        indicator: o.indicator,
        op: 'op' in o ? o.op : null,
        value: 'value' in o ? o.value : null,
        target: o.target,
        budgeting_method: floor === undefined ? 'occurrences' : 'timeslices',
        series,
      })
    }
    const status = {
      workspace,
      pipeline,
      version: w.version,
      time_window: plan.slo.time_window,
      evaluated_at: new Date(now).toISOString(),
      objectives,
    }
    return { status, fires }
  }

  /**
   * The sum over the ended minutes [from, to) of a series: the last evaluation's sum slid forward
   * (the minutes that ended since added, those that left the window taken away: two short reads),
   * or read whole when there is none, it does not overlap, or it is an hour old. Ended minutes do
   * not change once written (a failed write clears the sums).
   */
  private async endedMinutes(w: Watched, key: SloSeriesKey, from: number, to: number, floor?: number): Promise<Tally> {
    const k = `${key.objective}\0${key.arm}\0${to - from}`
    const last = w.sums.get(k)
    let sum: WindowSum
    if (last && last.from <= from && last.to <= to && from < last.to && to - last.readAt < RESUM_MS) {
      const added = await this.deps.store.slo.tally(key, last.to, to, floor)
      const left = await this.deps.store.slo.tally(key, last.from, from, floor)
      sum = {
        from,
        to,
        readAt: last.readAt,
        good: last.good + added.good - left.good,
        total: last.total + added.total - left.total,
      }
    } else sum = { from, to, readAt: to, ...(await this.deps.store.slo.tally(key, from, to, floor)) }
    w.sums.set(k, sum)
    return { good: sum.good, total: sum.total }
  }

  /** Start, change or resolve a series' alert; POST what changed to the webhooks. */
  private async alertOnChange(
    plan: SloPlan,
    st: SloStatus,
    o: ObjectiveStatus,
    s: SeriesStatus,
    f: Firing | null,
    now: number,
  ): Promise<void> {
    const key = { workspace: st.workspace, pipeline: st.pipeline, objective: o.name, arm: s.arm ?? '' }
    const k = seriesKey(key)
    const was = this.firing.get(k)
    if (f === null && was === undefined) return
    if (f !== null && was?.severity === f.severity) return
    const detail: Record<string, unknown> = f === null ? (was?.detail ?? {}) : f.rule
    if (f === null) {
      await this.deps.store.slo.clearAlert(key)
      this.firing.delete(k)
      s.alert = null
    } else {
      const record = { ...key, severity: f.severity, since: now, detail }
      await this.deps.store.slo.putAlert(record)
      this.firing.set(k, record)
      s.alert = { severity: f.severity, since: new Date(now).toISOString(), rule: detail }
    }
    const payload = {
      event: f === null ? 'slo.resolved' : 'slo.alert',
      workspace: st.workspace,
      pipeline: st.pipeline,
      version: st.version,
      objective: o.name,
      indicator: o.indicator,
      arm: s.arm,
      target: o.target,
      time_window: st.time_window,
      severity: f?.severity ?? was?.severity ?? null,
      rule: f?.rule ?? null,
      burn_rates: s.burn_rates,
      attainment: s.attainment,
      error_budget_remaining: s.error_budget_remaining,
      at: new Date(now).toISOString(),
    }
    this.deps.logger.warn(f === null ? 'slo alert resolved' : 'slo alert', {
      workspace: st.workspace,
      pipeline: st.pipeline,
      objective: o.name,
      arm: s.arm,
      severity: payload.severity,
    })
    this.webhooks.post(plan.slo.alerting.webhooks, JSON.stringify(payload), {
      pipeline: st.pipeline,
      objective: o.name,
    })
  }
}

/** A throughput objective's floor per minute; undefined for the objectives counted per request. */
function floorOf(o: Objective): number | undefined {
  return o.indicator === 'throughput' ? o.value * (MINUTE_MS / 1000) : undefined
}
