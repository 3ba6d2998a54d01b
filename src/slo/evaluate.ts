/**
 * Evaluating a deployed version's objectives from the store: per series, the tally over the time
 * window and over each alert window, the attainment, the budget left, the burn rates, and the
 * alerts its rules fire now. A window is its last whole minutes and, for latency and availability,
 * the minute in progress (a throughput minute counts once it has ended). The sums over the ended
 * minutes are slid forward from one evaluation to the next, so a 30-day window costs two short
 * reads a tick, not 43,200 rows.
 */
import type { SloAlertRecord, SloSeriesKey, SloStore } from '../store/types.js'
import { attainment, budgetRemaining, burnRate, type Firing, firing, type Tally } from './burn.js'
import { MINUTE_MS, type Objective, type SloPlan } from './spec.js'

/** One series' figures: the whole pipeline (arm null) or one split arm. */
export interface SeriesStatus {
  arm: string | null
  good: number
  total: number
  attainment: number | null
  error_budget_remaining: number | null
  /** Burn rate over each alert window and the objective's time window, by duration. */
  burn_rates: Record<string, number>
  /** The alerts firing on the series, page first. */
  alerts: Array<{ severity: string; since: string; rule: Record<string, unknown> }>
}

interface ObjectiveStatus {
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

/** A series as evaluated, with the alerts its rules fire now. */
export interface Evaluated {
  key: SloSeriesKey
  objective: Objective
  series: SeriesStatus
  fires: Firing[]
}

/** A window's sum over the ended minutes [from, to), and when it was last read whole. */
interface WindowSum extends Tally {
  from: number
  to: number
  readAt: number
}

/** How long a window's sum is slid forward before it is read whole again (a bound on any drift). */
const RESUM_MS = 3_600_000

/** The objectives of one watched pipeline version, evaluated against its store. */
export class PlanEvaluator {
  /** By series and window. */
  private readonly sums = new Map<string, WindowSum>()

  constructor(
    private readonly store: SloStore,
    readonly workspace: string,
    readonly pipeline: string,
    readonly version: number,
    readonly plan: SloPlan,
  ) {}

  /** Drop the slid sums: minutes they hold may be written again (a failed write is retried). */
  reset(): void {
    this.sums.clear()
  }

  /**
   * Every series' figures at `now`. `arms` lists the split arms of a latency objective measured
   * per arm; `alertsOf` the alerts firing on a series.
   */
  async evaluate(
    now: number,
    arms: (objective: string) => Promise<string[]>,
    alertsOf: (key: SloSeriesKey) => SloAlertRecord[],
  ): Promise<{ status: SloStatus; evaluated: Evaluated[] }> {
    const { plan, workspace, pipeline } = this
    const minute = now - (now % MINUTE_MS)
    const windows = new Map<string, number>([[plan.slo.time_window, plan.windowMs]])
    for (const r of plan.rules) windows.set(r.long, r.longMs).set(r.short, r.shortMs)
    const objectives: ObjectiveStatus[] = []
    const evaluated: Evaluated[] = []
    for (const o of plan.slo.objectives) {
      const floor = floorOf(o)
      const perArm = o.indicator === 'latency' && plan.slo.per_arm ? await arms(o.name) : []
      const series: SeriesStatus[] = []
      for (const arm of ['', ...perArm.filter((a) => a !== '')]) {
        const key = { workspace, pipeline, objective: o.name, arm }
        const byMs = new Map<number, Tally>()
        for (const ms of new Set(windows.values())) byMs.set(ms, await this.window(key, minute, ms, floor))
        const whole = byMs.get(plan.windowMs) as Tally
        const burn = (ms: number) => burnRate(byMs.get(ms) as Tally, o.target)
        const s: SeriesStatus = {
          arm: arm === '' ? null : arm,
          good: whole.good,
          total: whole.total,
          attainment: attainment(whole),
          error_budget_remaining: budgetRemaining(whole, o.target),
          burn_rates: Object.fromEntries([...windows].map(([name, ms]) => [name, burn(ms)])),
          alerts: alertViews(alertsOf(key)),
        }
        series.push(s)
        evaluated.push({ key, objective: o, series: s, fires: firing(plan.rules, burn) })
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
      version: this.version,
      time_window: plan.slo.time_window,
      evaluated_at: new Date(now).toISOString(),
      objectives,
    }
    return { status, evaluated }
  }

  /**
   * The time window's events cumulated from its start at each of about `points` steps (the error
   * budget's burn-down), over the same minutes as {@link evaluate}'s time window.
   */
  async history(o: Objective, arm: string, now: number, points: number) {
    const minute = now - (now % MINUTE_MS)
    const floor = floorOf(o)
    const from = minute - this.plan.windowMs
    const to = floor === undefined ? minute + MINUTE_MS : minute
    const stepMs = Math.max(MINUTE_MS, Math.ceil((to - from) / points / MINUTE_MS) * MINUTE_MS)
    const key = { workspace: this.workspace, pipeline: this.pipeline, objective: o.name, arm }
    const rows = await this.store.history(key, from, to, stepMs, floor)
    const byStart = new Map(rows.map((r) => [r.start, r]))
    let good = 0
    let total = 0
    const steps: Array<{ end: number; good: number; total: number }> = []
    for (let start = from; start < to; start += stepMs) {
      good += byStart.get(start)?.good ?? 0
      total += byStart.get(start)?.total ?? 0
      steps.push({ end: Math.min(now, to, start + stepMs), good, total })
    }
    return steps
  }

  /** The tally of a window of `ms` ending at the minute in progress `minute`. */
  private async window(key: SloSeriesKey, minute: number, ms: number, floor?: number): Promise<Tally> {
    const ended = await this.endedMinutes(key, minute - ms, minute, floor)
    if (floor !== undefined) return ended
    const current = await this.store.tally(key, minute, minute + MINUTE_MS)
    return { good: ended.good + current.good, total: ended.total + current.total }
  }

  /**
   * The sum over the ended minutes [from, to): the last evaluation's slid forward (the minutes
   * that ended since added, those that left the window taken away), or read whole when there is
   * none, it does not overlap, or it is an hour old. Ended minutes do not change once written: the
   * service writes what it counted before it evaluates, and a failed write resets the sums.
   */
  private async endedMinutes(key: SloSeriesKey, from: number, to: number, floor?: number): Promise<Tally> {
    const k = `${key.objective}\0${key.arm}\0${to - from}`
    const last = this.sums.get(k)
    let sum: WindowSum
    if (last && last.from <= from && last.to <= to && from < last.to && to - last.readAt < RESUM_MS) {
      const added = await this.store.tally(key, last.to, to, floor)
      const left = await this.store.tally(key, last.from, from, floor)
      sum = {
        from,
        to,
        readAt: last.readAt,
        good: last.good + added.good - left.good,
        total: last.total + added.total - left.total,
      }
    } else sum = { from, to, readAt: to, ...(await this.store.tally(key, from, to, floor)) }
    this.sums.set(k, sum)
    return { good: sum.good, total: sum.total }
  }
}

/** Alerts firing as a series' status shows them. */
export function alertViews(records: readonly SloAlertRecord[]): SeriesStatus['alerts'] {
  return records.map((a) => ({
    severity: a.severity,
    since: new Date(a.since).toISOString(),
    rule: (a.detail as { rule?: Record<string, unknown> }).rule ?? {},
  }))
}

/** A throughput objective's floor per minute; undefined for the objectives counted per request. */
function floorOf(o: Objective): number | undefined {
  return o.indicator === 'throughput' ? o.value * (MINUTE_MS / 1000) : undefined
}
