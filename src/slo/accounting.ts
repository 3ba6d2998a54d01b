/**
 * Counting a pipeline's objectives on the request path: each answered or refused request adds its
 * good and total events to the current minute's bucket of each objective, in memory, until the
 * service writes them to the store (every few seconds, and at stop). Also the counts since the
 * process started, for Prometheus' counters: requests for latency and availability, and for
 * throughput the minutes that ended. The request path touches only numbers in arrays made when the
 * minute began: no string is built and nothing is allocated per request (but a new arm's bucket).
 */
import type { SloBucket, SloSeriesKey } from '../store/types.js'
import { MINUTE_MS, type Objective, type SloPlan } from './spec.js'

/** What the request path saw of one request. */
export interface SloEvent {
  /** The HTTP status answered. */
  code: number
  /** From the request's arrival to its answer's encoding, in ms. */
  ms: number
  /** Rows the request carried (0 when it failed before they were decoded). */
  rows: number
  /** The model that answered each row (split arms), when answered. */
  rowModels?: readonly string[] | undefined
}

/** Good and total counts of one series. */
export interface SeriesCount {
  key: SloSeriesKey
  good: number
  total: number
}

/** One objective's counts: the current minute's buckets, and its series since the process started. */
interface Counter {
  objective: Objective
  /** The whole pipeline's bucket of the current minute. */
  bucket: SloBucket
  /** Split arms' buckets of the current minute (latency objectives measured per arm). */
  arms: Map<string, SloBucket> | undefined
  sinceStart: SeriesCount
  armsSinceStart: Map<string, SeriesCount>
  /** Throughput: rows offered and answered in the current minute, all of it (the bucket is flushed in parts). */
  offered: number
  answered: number
}

export class PipelineAccount {
  private minute = Number.NEGATIVE_INFINITY
  private readonly counters: Counter[]
  /** Buckets of ended minutes and flushed parts, waiting to be written. */
  private written: SloBucket[] = []

  /**
   * `previous`: the account this one replaces (a redeploy, a hot swap), its buckets already taken:
   * objectives of the same name and indicator carry on its counts since the process started and
   * its minute in progress, so Prometheus' counters never go down and no throughput minute is lost.
   */
  constructor(
    readonly workspace: string,
    readonly pipeline: string,
    readonly plan: SloPlan,
    previous?: PipelineAccount,
  ) {
    this.minute = previous?.minute ?? this.minute
    this.counters = plan.slo.objectives.map((objective) => {
      const was = previous?.counters.find(
        (c) => c.objective.name === objective.name && c.objective.indicator === objective.indicator,
      )
      const perArm = plan.slo.per_arm && objective.indicator === 'latency'
      return {
        objective,
        bucket: this.bucketOf(objective.name, '', this.minute),
        arms: perArm ? new Map() : undefined,
        sinceStart: was?.sinceStart ?? { key: this.keyOf(objective.name, ''), good: 0, total: 0 },
        armsSinceStart: (perArm ? was?.armsSinceStart : undefined) ?? new Map(),
        offered: was?.offered ?? 0,
        answered: was?.answered ?? 0,
      }
    })
  }

  /** The arms that answered rows of an objective since the process started. */
  armsOf(objective: string): string[] {
    return [...(this.counters.find((c) => c.objective.name === objective)?.armsSinceStart.keys() ?? [])]
  }

  record(e: SloEvent, now: number): void {
    const minute = now - (now % MINUTE_MS)
    if (minute !== this.minute) this.closeMinute(minute)
    const ok = e.code >= 200 && e.code < 300
    for (const c of this.counters) {
      const o = c.objective
      if (o.indicator === 'throughput') {
        c.bucket.total += e.rows
        c.offered += e.rows
        if (ok) {
          c.bucket.good += e.rows
          c.answered += e.rows
        }
        continue
      }
      if (o.indicator === 'latency' && !ok) continue
      const good = o.indicator === 'latency' ? (e.ms <= o.value ? 1 : 0) : e.code < 500 ? 1 : 0
      c.bucket.good += good
      c.bucket.total++
      c.sinceStart.good += good
      c.sinceStart.total++
      if (c.arms && e.rowModels && e.rowModels.length > 0) this.countArms(c, e.rowModels, good)
    }
  }

  /** A latency event for each arm that answered rows of the request (once per arm). */
  private countArms(c: Counter, rowModels: readonly string[], good: number): void {
    const first = rowModels[0] as string
    // Stryker disable next-line ArrowFunction,ConditionalExpression,EqualityOperator: a request of one arm skips building a Set; the Set holds the same arms
    const arms = rowModels.every((m) => m === first) ? [first] : new Set(rowModels)
    for (const arm of arms) {
      let b = c.arms?.get(arm)
      if (!b) {
        b = this.bucketOf(c.objective.name, arm, this.minute)
        c.arms?.set(arm, b)
      }
      b.good += good
      b.total++
      let s = c.armsSinceStart.get(arm)
      if (!s) {
        s = { key: this.keyOf(c.objective.name, arm), good: 0, total: 0 }
        c.armsSinceStart.set(arm, s)
      }
      s.good += good
      s.total++
    }
  }

  /**
   * Close the current minute once `minute` has begun (a request of a later minute, or the service's
   * tick): its buckets wait to be written, and each throughput minute whose clients sent at least
   * the floor's rows is an event, a good one when as many were answered.
   */
  closeMinute(minute: number): void {
    if (minute <= this.minute) return
    for (const c of this.counters) {
      this.hand(c)
      if (c.objective.indicator === 'throughput' && this.minute > Number.NEGATIVE_INFINITY) {
        const need = c.objective.value * (MINUTE_MS / 1000)
        if (c.offered >= need) {
          c.sinceStart.total++
          if (c.answered >= need) c.sinceStart.good++
        }
      }
      c.offered = 0
      c.answered = 0
      c.bucket = this.bucketOf(c.objective.name, '', minute)
      c.arms?.clear()
    }
    this.minute = minute
  }

  /** Move what a counter's buckets hold to the written list, leaving them at 0. */
  private hand(c: Counter): void {
    for (const b of [c.bucket, ...(c.arms?.values() ?? [])]) {
      if (b.total === 0 && b.good === 0) continue
      this.written.push({ ...b })
      b.good = 0
      b.total = 0
    }
  }

  /** The buckets counted since the last call, handed over for writing. */
  take(): SloBucket[] {
    for (const c of this.counters) this.hand(c)
    const out = this.written
    this.written = []
    return out
  }

  /** Buckets whose writing failed, to be written with the next ones (the store adds counts up). */
  giveBack(buckets: readonly SloBucket[]): void {
    this.written.push(...buckets)
  }

  /** Counts since the process started, per series. */
  sinceStart(): SeriesCount[] {
    return this.counters.flatMap((c) => [c.sinceStart, ...c.armsSinceStart.values()])
  }

  private keyOf(objective: string, arm: string): SloSeriesKey {
    return { workspace: this.workspace, pipeline: this.pipeline, objective, arm }
  }

  private bucketOf(objective: string, arm: string, minute: number): SloBucket {
    return { ...this.keyOf(objective, arm), minute, good: 0, total: 0 }
  }
}
