/**
 * The autoscaler's decisions on synthetic series of requests in flight, one sample a second on a
 * clock the test advances: a load step, noise around a constant (seeded), a ramp down, the range's
 * clamps, the scale-down delay and a hot swap's hand-over. No real time passes.
 */
import { describe, expect, it } from 'vitest'
import { mulberry32, normal } from '../../src/random.js'
import { Autoscaler, InFlight, type ScaleDecision } from '../../src/serving/autoscaler.js'
import { type AutoscalingConfig, autoscalingSchema } from '../../src/serving/settings.js'

/** One replica is meant to hold 10 × 0.5 = 5 requests: round numbers keep the expected values exact. */
const config = (over: Partial<AutoscalingConfig> = {}): AutoscalingConfig =>
  autoscalingSchema.parse({ max_replicas: 16, target_in_flight: 10, target_utilization: 0.5, ...over })

/** Feed `series` one sample a second (the first at t = 1 s); the count after each tick and the decisions. */
function drive(scaler: Autoscaler, series: readonly number[], t0 = 0) {
  const counts: number[] = []
  const decisions: ScaleDecision[] = []
  series.forEach((v, i) => {
    const d = scaler.tick(t0 + (i + 1) * 1000, v)
    if (d) decisions.push(d)
    counts.push(scaler.replicas)
  })
  return { counts, decisions }
}

/** How often the direction of successive decisions changes (up then down counts one). */
const directionChanges = (ds: readonly ScaleDecision[]) =>
  ds.filter((d, i) => i > 0 && d.direction !== ds[i - 1]?.direction).length

const constant = (v: number, n: number) => new Array<number>(n).fill(v)

describe('autoscaler', () => {
  it('panics within seconds of a step from 1× to 8× of one replica and reaches 8 replicas', () => {
    const scaler = new Autoscaler(config(), 1, 0)
    const { counts, decisions } = drive(scaler, [...constant(5, 120), ...constant(40, 120)])
    expect(counts.slice(0, 120).every((c) => c === 1)).toBe(true) // 1×: one replica, no decision
    // First tick after the step: the panic window holds five samples of 5 and one of 40, mean
    // 65 / 6 = 10.83 ≥ 2 × (1 replica × 5): panic, to ceil(10.83 / 5) = 3.
    expect(decisions[0]).toMatchObject({ time: 121_000, from: 1, to: 3, direction: 'up', mode: 'panic' })
    expect(decisions[0]?.reason).toBe('panic: in-flight avg 10.8 over 6 s ≥ 2× target (1 replica × 5)')
    expect(decisions[0]?.panic_in_flight).toBe(10.8)
    // Panic follows the panic window up: 8 once it holds only the new load (40 / 5), by t = 126 s.
    const at8 = counts.indexOf(8)
    expect(at8 + 1).toBeLessThanOrEqual(126)
    expect(Math.max(...counts)).toBe(8)
    expect(counts.slice(at8).every((c) => c === 8)).toBe(true)
    expect(decisions.every((d) => d.direction === 'up')).toBe(true)
  })

  it('scales up from the stable window alone when the load grows too slowly to panic', () => {
    const scaler = new Autoscaler(config(), 2, 0)
    // 2 replicas hold 10; 12 for a minute is 1.2× their target: no panic (2×), but 3 replicas needed.
    const { decisions } = drive(scaler, [...constant(8, 60), ...constant(12, 60)])
    expect(decisions.length).toBe(1)
    expect(decisions[0]).toMatchObject({ from: 2, to: 3, mode: 'stable', direction: 'up' })
    expect(decisions[0]?.reason).toMatch(/^stable: in-flight avg 10\.\d over 60 s needs 3 replicas \(target 5 each\)$/)
  })

  it('changes direction at most once in 5 minutes of noisy constant load (10 seeds, 5 levels)', () => {
    // Levels on a boundary between two counts (15 = 3 × 5, 20 = 4 × 5) and between them; noise
    // with a standard deviation of 30% of the level, a new draw each second.
    for (const level of [15, 17.5, 20, 33, 50]) {
      for (let seed = 1; seed <= 10; seed++) {
        const series = Array.from(normal(mulberry32(seed), 300, level, 0.3 * level), (v) => Math.max(0, v))
        const { counts, decisions } = drive(new Autoscaler(config(), 1, 0), series)
        expect(directionChanges(decisions), `level ${level}, seed ${seed}`).toBeLessThanOrEqual(1)
        // It settles where the level needs: at least ceil(level / 5), at most ceil(level / 4) + 1.
        const last = counts.at(-1) as number
        expect(last).toBeGreaterThanOrEqual(Math.ceil(level / 5))
        expect(last).toBeLessThanOrEqual(Math.ceil(level / 4) + 1)
      }
    }
  })

  it('follows a ramp down one step at a time, never under what the last stable window needs', () => {
    const ramp = Array.from({ length: 300 }, (_, i) => 40 - (36 * i) / 299) // 40 to 4 in 5 minutes
    const series = [...constant(40, 60), ...ramp, ...constant(4, 120)]
    const { counts, decisions } = drive(new Autoscaler(config(), 8, 0), series)
    expect(decisions.length).toBeGreaterThan(0)
    expect(decisions.every((d) => d.direction === 'down' && d.mode === 'stable' && d.to === d.from - 1)).toBe(true)
    for (let i = 0; i < series.length; i++) {
      const window = series.slice(Math.max(0, i - 59), i + 1)
      const needs = Math.ceil(window.reduce((a, b) => a + b, 0) / window.length / 5)
      expect(counts[i], `tick ${i + 1}`).toBeGreaterThanOrEqual(needs)
    }
    expect(counts.at(-1)).toBe(1) // 4 in flight fits one replica with headroom (4 ≤ 0.8 × 5)
    expect(decisions[0]?.reason).toMatch(
      /^stable: in-flight avg [\d.]+ over 60 s fits 7 replicas \(at most 80% of target 5 each\)$/,
    )
  })

  it('does not scale down before its samples cover a stable window', () => {
    const { decisions } = drive(new Autoscaler(config(), 6, 0), constant(0, 120))
    expect(decisions[0]).toMatchObject({ time: 60_000, from: 6, to: 1, direction: 'down' })
  })

  it('stays within min_replicas and max_replicas', () => {
    const c = config({ min_replicas: 2, max_replicas: 4 })
    expect(new Autoscaler(c, 1, 0).replicas).toBe(2)
    expect(new Autoscaler(c, 10, 0).replicas).toBe(4)
    const idle = drive(new Autoscaler(c, 2, 0), constant(0, 300))
    expect(idle.decisions).toEqual([])
    const flood = drive(new Autoscaler(c, 2, 0), [...constant(1000, 120), ...constant(0, 240)])
    expect(Math.max(...flood.counts)).toBe(4)
    expect(Math.min(...flood.counts)).toBe(2)
    expect(flood.decisions.map((d) => [d.from, d.to])).toEqual([
      [2, 4],
      [4, 2],
    ])
  })

  it('in panic only scales up; the scale-down comes from the stable window a stable window later', () => {
    const series = [...constant(5, 60), ...constant(60, 10), ...constant(5, 180)]
    const { decisions } = drive(new Autoscaler(config(), 1, 0), series)
    const ups = decisions.filter((d) => d.direction === 'up')
    const downs = decisions.filter((d) => d.direction === 'down')
    expect(ups.every((d) => d.mode === 'panic')).toBe(true)
    expect(downs.length).toBeGreaterThan(0)
    expect(downs.every((d) => d.mode === 'stable')).toBe(true)
    // The burst's first tick (61 s) was in panic condition; panic lasts a stable window after the last.
    expect((downs[0] as ScaleDecision).time).toBeGreaterThanOrEqual(121_000)
    expect(decisions.findIndex((d) => d.direction === 'down')).toBe(ups.length) // every up before any down
  })

  it('with scale_down_delay_s, scales down only to the most any tick of the delay allowed', () => {
    // 40 in flight for two minutes, then none: the stable average falls by 40/60 a second. Without a
    // delay, 7 replicas fit 18 s after the drop (40 × 42/60 = 28 ≤ 7 × 0.8 × 5 = 28; at 17 s, 28.7 does not).
    const series = [...constant(40, 120), ...constant(0, 120)]
    const now = drive(new Autoscaler(config(), 8, 0), series).decisions
    expect(now[0]).toMatchObject({ time: 138_000, from: 8, to: 7 })
    // With 30 s, once the 30 ticks since the last that needed 8 (17 s after the drop) all allow 7.
    const later = drive(new Autoscaler(config({ scale_down_delay_s: 30 }), 8, 0), series).decisions
    expect(later[0]).toMatchObject({ time: 167_000, from: 8, direction: 'down' })
    expect(later[0]?.reason).toMatch(/, for 30 s\)$/)
  })

  it('a successor takes over the count and the samples (a hot swap under load does not scale down)', () => {
    const first = new Autoscaler(config(), 1, 0)
    drive(first, constant(40, 90))
    expect(first.replicas).toBe(8)
    const next = new Autoscaler(config(), 1, 90_000, first.history())
    expect(next.replicas).toBe(1) // the count is the caller's: Deployment starts at the predecessor's
    const taken = new Autoscaler(config(), first.replicas, 90_000, first.history())
    expect(drive(taken, constant(40, 60), 90_000).decisions).toEqual([])
    expect(taken.view(150_000)).toMatchObject({ desired_replicas: 8, stable_in_flight: 40, panic_in_flight: 40 })
  })
})

describe('in-flight sampling', () => {
  it('is the mean count over the interval, weighted by time', () => {
    const f = new InFlight(0)
    f.add(0)
    f.add(250)
    f.done(500) // 1 for 250 ms, 2 for 250 ms, 1 for 500 ms: (250 + 500 + 500) / 1000
    expect(f.sample(1000)).toBe(1.25)
    expect(f.now).toBe(1)
    f.done(1500)
    expect(f.sample(2000)).toBe(0.5)
    expect(f.sample(2000)).toBe(0) // no time passed: the count now
  })
})
