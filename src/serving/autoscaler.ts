/**
 * How many replicas a deployment needs, from the requests it holds: Knative's KPA, on requests
 * in flight (admitted and not yet answered). Pure decisions over samples and times the caller
 * gives (src/serving/deployment.ts samples once a second), so the tests drive it with synthetic
 * series and no clock.
 *
 * Each tick adds a sample, the mean in-flight count since the previous tick ({@link InFlight}).
 * Two averages are kept: over the stable window (60 s by default) and over the panic window (6 s).
 * One replica is meant to hold `target_in_flight × target_utilization` requests, so a load needs
 * ceil(average / that) replicas, clamped to [min_replicas, max_replicas].
 *
 * - Panic: when the panic average reaches `panic_threshold` times what the current replicas are
 *   meant to hold, the count follows the panic average, up only, until a whole stable window has
 *   passed without that condition.
 * - Otherwise the stable average decides: up as soon as it needs more replicas; down only once
 *   the samples cover a whole stable window, only as far as the stable average with
 *   {@link SCALE_DOWN_HEADROOM} allows (hysteresis: a load hovering at a boundary between two
 *   counts does not flap between them), and, with `scale_down_delay_s`, only to the most that
 *   any tick of that delay allowed.
 */
import type { AutoscalingConfig } from './settings.js'

/**
 * A scale-down to n replicas needs the stable average at or under n × this share of their
 * target: between that and the target itself, the count stays where it is.
 */
const SCALE_DOWN_HEADROOM = 0.8

/** Decisions a deployment's status keeps, newest last. */
export const DECISIONS_KEPT = 20

/** One change of the replica count, with what drove it. */
export interface ScaleDecision {
  /** When, as the caller's clock gave it (ms; the deployment's is ms since the epoch). */
  time: number
  from: number
  to: number
  direction: 'up' | 'down'
  /** Which average decided: panic (the short window, up only) or stable. */
  mode: 'panic' | 'stable'
  /** In words, e.g. "panic: in-flight avg 37.2 over 6 s ≥ 2× target (1 replica × 5.6)". */
  reason: string
  /** Mean requests in flight over the stable window and over the panic window. */
  stable_in_flight: number
  panic_in_flight: number
}

/** What the autoscaler sees now, for the deployment's status. */
export interface AutoscalerView {
  desired_replicas: number
  panic: boolean
  stable_in_flight: number
  panic_in_flight: number
}

interface Sample {
  time: number
  value: number
}

/** The state a successor (a hot swap to a new version) takes over, so scaling goes on where it was. */
export interface AutoscalerHistory {
  replicas: number
  since: number
  samples: readonly Sample[]
  panicUntil: number | undefined
  wanted: readonly Sample[]
}

const round1 = (v: number) => Math.round(v * 10) / 10
const plural = (n: number) => `${n} replica${n === 1 ? '' : 's'}`

export class Autoscaler {
  private readonly samples: Sample[] = []
  /** Counts the stable average allowed at each tick, for `scale_down_delay_s`. */
  private readonly wanted: Sample[] = []
  /** While in panic: until when it lasts, unless the condition holds again. */
  private panicUntil: number | undefined
  /** When the samples began: no scale-down before they cover a stable window. */
  private readonly since: number
  private current: number
  private stableAvg = 0
  private panicAvg = 0

  /**
   * @param replicas the count now; clamped to the configured range.
   * @param now the caller's clock (ms).
   * @param history a predecessor's state ({@link Autoscaler.history}): its samples and count.
   */
  constructor(
    readonly config: AutoscalingConfig,
    replicas: number,
    now: number,
    history?: AutoscalerHistory,
  ) {
    this.current = this.clamp(replicas)
    this.since = history?.since ?? now
    if (history) {
      this.samples.push(...history.samples)
      this.wanted.push(...history.wanted)
      this.panicUntil = history.panicUntil
    }
  }

  /** The count the autoscaler wants now. */
  get replicas(): number {
    return this.current
  }

  /** Requests one replica is meant to hold. */
  get perReplica(): number {
    return this.config.target_in_flight * this.config.target_utilization
  }

  history(): AutoscalerHistory {
    return {
      replicas: this.current,
      since: this.since,
      samples: [...this.samples],
      panicUntil: this.panicUntil,
      wanted: [...this.wanted],
    }
  }

  view(now: number): AutoscalerView {
    return {
      desired_replicas: this.current,
      panic: this.inPanic(now),
      stable_in_flight: round1(this.stableAvg),
      panic_in_flight: round1(this.panicAvg),
    }
  }

  /**
   * One tick at `now` (ms) with `inFlight`, the mean requests in flight since the previous tick;
   * the decision when the count changes.
   */
  tick(now: number, inFlight: number): ScaleDecision | undefined {
    const c = this.config
    const stableMs = c.stable_window_s * 1000
    const delayMs = c.scale_down_delay_s * 1000
    this.samples.push({ time: now, value: inFlight })
    while ((this.samples[0] as Sample).time <= now - stableMs) this.samples.shift()
    this.stableAvg = mean(this.samples, now - stableMs)
    this.panicAvg = mean(this.samples, now - c.panic_window_s * 1000)
    const per = this.perReplica
    const from = this.current
    const stable = `in-flight avg ${round1(this.stableAvg)} over ${c.stable_window_s} s`
    // The fewest replicas the stable average fits with headroom, remembered over the delay.
    this.wanted.push({ time: now, value: this.clamp(Math.ceil(this.stableAvg / (per * SCALE_DOWN_HEADROOM))) })
    while ((this.wanted[0] as Sample).time <= now - delayMs && this.wanted.length > 1) this.wanted.shift()

    const panicking = this.panicAvg >= c.panic_threshold * from * per
    if (panicking) this.panicUntil = now + stableMs
    if (this.inPanic(now)) {
      const to = Math.max(from, this.clamp(Math.ceil(this.panicAvg / per)))
      const panic = `in-flight avg ${round1(this.panicAvg)} over ${c.panic_window_s} s`
      return this.decide(
        now,
        to,
        'panic',
        panicking
          ? `${panic} ≥ ${c.panic_threshold}× target (${plural(from)} × ${round1(per)})`
          : `${panic} needs ${plural(to)} (target ${round1(per)} each; in panic for another ${Math.ceil(((this.panicUntil as number) - now) / 1000)} s)`,
      )
    }
    this.panicUntil = undefined
    const up = this.clamp(Math.ceil(this.stableAvg / per))
    if (up > from) return this.decide(now, up, 'stable', `${stable} needs ${plural(up)} (target ${round1(per)} each)`)
    // Down only once the samples cover a whole stable window (and the delay).
    const down = Math.max(...this.wanted.map((w) => w.value))
    if (down >= from || now - this.since < Math.max(stableMs, delayMs)) return undefined
    return this.decide(
      now,
      down,
      'stable',
      `${stable} fits ${plural(down)} (at most ${Math.round(SCALE_DOWN_HEADROOM * 100)}% of target ${round1(per)} each${delayMs > 0 ? `, for ${c.scale_down_delay_s} s` : ''})`,
    )
  }

  private inPanic(now: number): boolean {
    return this.panicUntil !== undefined && now < this.panicUntil
  }

  private decide(now: number, to: number, mode: 'panic' | 'stable', why: string): ScaleDecision | undefined {
    const from = this.current
    if (to === from) return undefined
    this.current = to
    return {
      time: now,
      from,
      to,
      direction: to > from ? 'up' : 'down',
      mode,
      reason: `${mode}: ${why}`,
      stable_in_flight: round1(this.stableAvg),
      panic_in_flight: round1(this.panicAvg),
    }
  }

  private clamp(n: number): number {
    return Math.min(this.config.max_replicas, Math.max(this.config.min_replicas, n))
  }
}

/** Mean of the samples taken after `after` (0 without any). */
function mean(samples: readonly Sample[], after: number): number {
  let sum = 0
  let n = 0
  for (const s of samples) {
    if (s.time > after) {
      sum += s.value
      n++
    }
  }
  return n === 0 ? 0 : sum / n
}

/**
 * Requests in flight, and their mean over time between samples (a request in flight for half of
 * the interval counts a half): what the autoscaler is given each tick.
 */
export class InFlight {
  private count = 0
  private area = 0
  private changedAt: number
  private sampledAt: number

  constructor(now: number) {
    this.changedAt = now
    this.sampledAt = now
  }

  /** Requests in flight now. */
  get now(): number {
    return this.count
  }

  add(now: number): void {
    this.advance(now)
    this.count++
  }

  done(now: number): void {
    this.advance(now)
    this.count--
  }

  /** The mean count since the previous sample (the current count when no time passed). */
  sample(now: number): number {
    this.advance(now)
    const span = now - this.sampledAt
    const avg = span > 0 ? this.area / span : this.count
    this.area = 0
    this.sampledAt = now
    return avg
  }

  private advance(now: number): void {
    this.area += this.count * (now - this.changedAt)
    this.changedAt = now
  }
}
