/**
 * Counting a pipeline's objectives on the request path: each answered or refused request adds its
 * good and total events to the current minute's bucket of each objective, in memory, until the
 * service writes them to the store (every few seconds, and at stop). Also the counts since the
 * process started, for Prometheus' counters: requests for latency and availability, and for
 * throughput the minutes that ended.
 */

import type { SloBucket, SloSeriesKey } from '../store/types.js'
import { MINUTE_MS, type SloPlan } from './spec.js'

/** What the request path saw of one request. */
export interface SloEvent {
  /** The HTTP status answered. */
  code: number
  /** From the request's arrival to its answer's encoding, in ms. */
  ms: number
  /** Rows the request carried (0 when it failed before they were decoded). */
  rows: number
  /** The model that answered each row (split arms), when answered. */
  rowModels?: readonly string[]
}

/** Good and total counts of one series. */
export interface SeriesCount {
  key: SloSeriesKey
  good: number
  total: number
}

const answered = (code: number) => code >= 200 && code < 300

/** The counts of one deployed pipeline's objectives. */
export class PipelineAccount {
  /** Buckets not yet written, by objective, arm and minute. */
  private pending = new Map<string, SloBucket>()
  /** Since the process started, by objective and arm. */
  readonly sinceStart = new Map<string, SeriesCount>()
  /** The throughput objectives' minute in progress: offered and answered rows. */
  private readonly openSlices = new Map<string, { minute: number; offered: number; answered: number }>()

  constructor(
    readonly workspace: string,
    readonly pipeline: string,
    readonly plan: SloPlan,
  ) {}

  record(e: SloEvent, now: number): void {
    const minute = now - (now % MINUTE_MS)
    const ok = answered(e.code)
    for (const o of this.plan.slo.objectives) {
      if (o.indicator === 'availability') {
        this.count(o.name, '', minute, e.code < 500 ? 1 : 0, 1, 1)
      } else if (o.indicator === 'latency') {
        if (!ok) continue
        const good = e.ms <= o.value ? 1 : 0
        this.count(o.name, '', minute, good, 1, 1)
        if (this.plan.slo.per_arm && e.rowModels)
          for (const arm of new Set(e.rowModels)) this.count(o.name, arm, minute, good, 1, 1)
      } else {
        this.count(o.name, '', minute, ok ? e.rows : 0, e.rows, 0)
        this.slice(o.name, minute, ok ? e.rows : 0, e.rows)
      }
    }
  }

  /** Add to the minute's bucket; `events` of them count at once toward the Prometheus counters. */
  private count(objective: string, arm: string, minute: number, good: number, total: number, events: number): void {
    const k = `${objective}\0${arm}\0${minute}`
    const b = this.pending.get(k)
    if (b) {
      b.good += good
      b.total += total
    } else {
      const key = { workspace: this.workspace, pipeline: this.pipeline, objective, arm }
      this.pending.set(k, { ...key, minute, good, total })
    }
    if (events > 0) this.addSinceStart(objective, arm, good, events)
  }

  private addSinceStart(objective: string, arm: string, good: number, total: number): void {
    const k = `${objective}\0${arm}`
    const c = this.sinceStart.get(k)
    if (c) {
      c.good += good
      c.total += total
    } else
      this.sinceStart.set(k, {
        key: { workspace: this.workspace, pipeline: this.pipeline, objective, arm },
        good,
        total,
      })
  }

  /** Rows of a throughput objective's minute; a minute that ended becomes a time slice. */
  private slice(objective: string, minute: number, answeredRows: number, offered: number): void {
    this.closeSlices(minute, objective)
    const s = this.openSlices.get(objective)
    if (s) {
      s.offered += offered
      s.answered += answeredRows
    } else this.openSlices.set(objective, { minute, offered, answered: answeredRows })
  }

  /**
   * Close the throughput minutes that ended before `minute` (of one objective, or all): a minute
   * whose clients sent at least the floor's rows is an event, a good one when as many were answered.
   */
  closeSlices(minute: number, only?: string): void {
    for (const o of this.plan.slo.objectives) {
      if (o.indicator !== 'throughput' || (only !== undefined && o.name !== only)) continue
      const s = this.openSlices.get(o.name)
      if (!s || s.minute >= minute) continue
      this.openSlices.delete(o.name)
      const need = o.value * (MINUTE_MS / 1000)
      if (s.offered >= need) this.addSinceStart(o.name, '', s.answered >= need ? 1 : 0, 1)
    }
  }

  /** The buckets counted since the last call, handed over for writing. */
  take(): SloBucket[] {
    const out = [...this.pending.values()]
    this.pending = new Map()
    return out
  }

  /** Buckets whose writing failed, counted again (added to what came meanwhile). */
  giveBack(buckets: readonly SloBucket[]): void {
    for (const b of buckets) {
      const k = `${b.objective}\0${b.arm}\0${b.minute}`
      const now = this.pending.get(k)
      if (now) {
        now.good += b.good
        now.total += b.total
      } else this.pending.set(k, { ...b })
    }
  }
}
