/**
 * The live view's per-second accounting with an injected clock: rates over a window that includes
 * the second in progress, errors by class, latency per stage, rows per arm, the minute's series,
 * and slots reused (and pipelines forgotten) after a minute. Expected values are worked out by hand.
 */
import { describe, expect, it } from 'vitest'
import { LiveStats } from '../../src/live/stats.js'

const T0 = 1_800_000_000_000 // a whole second, ms since the epoch

function clock(start = T0) {
  let now = start
  return { now: () => now, at: (ms: number) => (now = start + ms) }
}

const answered = (rows: number, total: number, queue: number, rowModels: string[]) => ({
  code: 200,
  rows,
  timings: { total, queue },
  rowModels,
})

describe('live stats', () => {
  it('rates over the window count the second in progress as the fraction elapsed', () => {
    const c = clock()
    const live = new LiveStats(c.now)
    c.at(0)
    live.request('w', 'p', answered(3, 2, 0.5, ['a:1', 'a:1', 'a:1']))
    c.at(4_200)
    live.request('w', 'p', answered(5, 4, 1, ['a:1', 'b:2', 'a:1', 'b:2', 'b:2']))
    live.request('w', 'p', { code: 400, rows: 0 })
    live.request('w', 'p', { code: 499, rows: 0 })
    live.request('w', 'p', { code: 500, rows: 0 })
    live.request('w', 'p', { code: 399, rows: 0 }) // not an error
    c.at(9_500)
    // Window 10 s at 9.5 s: seconds 0..9, 9 whole ones and half of the tenth.
    const s = live.snapshot('w', 'p', 10)
    expect(s.window_seconds).toBe(10)
    expect(s.requests_per_second).toBeCloseTo(6 / 9.5, 12)
    expect(s.rows_per_second).toBeCloseTo(8 / 9.5, 12)
    expect(s.client_errors_per_second).toBeCloseTo(2 / 9.5, 12)
    expect(s.server_errors_per_second).toBeCloseTo(1 / 9.5, 12)
    // a:1 answered 3 + 2 rows, b:2 answered 3: a first.
    expect(s.arms).toEqual([
      { model: 'a:1', rows_per_second: 5 / 9.5, share: 5 / 8 },
      { model: 'b:2', rows_per_second: 3 / 9.5, share: 3 / 8 },
    ])
    expect(s.latency.total.count).toBe(2)
    expect(s.latency.total.mean_ms).toBe(3)
    expect(s.latency.queue.mean_ms).toBe(0.75)
    expect(s.latency.model).toEqual({ count: 0, mean_ms: null, p50_ms: null, p99_ms: null })
    // Window 5 s at 9.5 s: seconds 5..9 — only the requests of second 4 are outside.
    const short = live.snapshot('w', 'p', 5)
    expect(short.requests_per_second).toBe(0)
    // Window 6 s: seconds 4..9 hold the five requests of second 4.
    expect(live.snapshot('w', 'p', 6).requests_per_second).toBeCloseTo(5 / 5.5, 12)
  })

  it('reads latency quantiles per stage within the histogram’s 4.5%', () => {
    const c = clock()
    const live = new LiveStats(c.now)
    // 99 quick requests of 1 ms and one slow one of 80 ms; batches of 0.2 / 3 / 0.1 ms and one of 0.4 / 9 / 0.3.
    for (let i = 0; i < 99; i++) live.request('w', 'p', answered(1, 1, 0.1, ['m:1']))
    live.request('w', 'p', answered(1, 80, 60, ['m:1']))
    live.batch('w', 'p', { pre: 0.2, model: 3, post: 0.1 })
    live.batch('w', 'p', { pre: 0.2, model: 3, post: 0.1 })
    live.batch('w', 'p', { pre: 0.4, model: 9, post: 0.3 })
    c.at(999)
    const s = live.snapshot('w', 'p', 10)
    expect(s.latency.total.count).toBe(100)
    expect(s.latency.total.p50_ms as number).toBeGreaterThan(0.955)
    expect(s.latency.total.p50_ms as number).toBeLessThan(1.045)
    // The 99th of 100 is still 1 ms; the slow request only shows as the maximum would.
    expect(s.latency.total.p99_ms as number).toBeLessThan(1.045)
    expect(s.latency.total.mean_ms).toBeCloseTo((99 + 80) / 100, 12)
    expect(s.latency.model.count).toBe(3)
    expect(s.latency.model.p50_ms as number).toBeGreaterThan(2.865)
    expect(s.latency.model.p50_ms as number).toBeLessThan(3.135)
    expect(s.latency.model.p99_ms as number).toBeGreaterThan(8.595)
    expect(s.latency.model.p99_ms as number).toBeLessThan(9.405)
    expect(s.latency.model.mean_ms).toBeCloseTo(5, 12)
    expect(s.latency.pre.mean_ms).toBeCloseTo(0.8 / 3, 12)
    expect(s.latency.post.mean_ms).toBeCloseTo(0.5 / 3, 12)
  })

  it('carries the last minute second by second, and forgets what is older', () => {
    const c = clock()
    const live = new LiveStats(c.now)
    c.at(2_100)
    live.request('w', 'p', answered(4, 2, 1, ['m:1', 'm:1', 'm:1', 'm:1']))
    live.request('w', 'p', { code: 503, rows: 0 })
    c.at(59_000)
    let s = live.snapshot('w', 'p', 10)
    expect(s.series).toHaveLength(60)
    expect(s.series[0]?.time).toBe(T0)
    expect(s.series[59]?.time).toBe(T0 + 59_000)
    expect(s.series[2]).toMatchObject({ time: T0 + 2_000, requests: 2, rows: 4, errors: 1 })
    expect(s.series[3]).toEqual({ time: T0 + 3_000, requests: 0, rows: 0, errors: 0, p99_ms: null })
    // A minute later second 2's slot is second 62's: the old counts are gone, the new ones alone.
    c.at(62_400)
    live.request('w', 'p', answered(1, 2, 1, ['m:1']))
    s = live.snapshot('w', 'p', 60)
    expect(s.series[0]?.time).toBe(T0 + 3_000)
    expect(s.series[59]).toMatchObject({ time: T0 + 62_000, requests: 1, rows: 1, errors: 0 })
    expect(s.series.reduce((n, p) => n + p.requests, 0)).toBe(1)
  })

  it('orders arms by rows, ties by name, and counts a split answer row by row', () => {
    const c = clock()
    const live = new LiveStats(c.now)
    live.request('w', 'p', answered(3, 1, 0, ['c:1', 'a:1', 'c:1'])) // first and last alike, not all
    live.request('w', 'p', answered(4, 1, 0, ['b:1', 'b:1', 'b:1', 'b:1']))
    live.request('w', 'p', answered(1, 1, 0, ['a:1']))
    live.request('w', 'p', answered(0, 1, 0, []))
    c.at(1_000)
    // b 4 rows; a and c 2 each, a first by name.
    expect(live.snapshot('w', 'p', 2).arms.map((a) => [a.model, a.share])).toEqual([
      ['b:1', 0.5],
      ['a:1', 0.25],
      ['c:1', 0.25],
    ])
  })

  it('never counts a slot a minute old as the second that reuses it', () => {
    const c = clock()
    const live = new LiveStats(c.now)
    c.at(2_500)
    live.request('w', 'p', answered(6, 1, 0, ['m:1', 'm:1', 'm:1', 'm:1', 'm:1', 'm:1']))
    c.at(62_500) // second 62 would reuse second 2's slot; nothing has been written to it yet
    const s = live.snapshot('w', 'p', 60)
    expect(s.series[59]).toEqual({ time: T0 + 62_000, requests: 0, rows: 0, errors: 0, p99_ms: null })
    expect(s.rows_per_second).toBe(0)
    expect(s.latency.total.count).toBe(0)
  })

  it('forgets an idle pipeline at a minute, not a second before', () => {
    const c = clock()
    const live = new LiveStats(c.now)
    live.request('w', 'a', { code: 200, rows: 1 }) // second 0, the first sweep
    c.at(60_000)
    live.request('w', 'b', { code: 200, rows: 1 }) // sweep at 60: 'a' idle 60 s, forgotten
    expect(live.tracked()).toBe(1)
    c.at(61_000)
    live.request('w', 'c', { code: 200, rows: 1 }) // sweeps again only a minute after the last
    c.at(119_000)
    live.request('w', 'd', { code: 200, rows: 1 })
    expect(live.tracked()).toBe(3)
    c.at(120_000)
    live.request('w', 'e', { code: 200, rows: 1 }) // sweep at 120: 'b' idle 60 s goes, 'c' idle 59 s stays
    expect(live.tracked()).toBe(3) // c, d, e
  })

  it('keeps pipelines apart and forgets one idle for a minute', () => {
    const c = clock()
    const live = new LiveStats(c.now)
    live.request('w', 'a', answered(2, 1, 0, ['x:1', 'x:1']))
    live.request('v', 'a', answered(7, 1, 0, ['y:1', 'y:1', 'y:1', 'y:1', 'y:1', 'y:1', 'y:1']))
    c.at(500)
    expect(live.snapshot('w', 'a', 2).rows_per_second).toBeCloseTo(2 / 1.5, 12)
    expect(live.snapshot('v', 'a', 2).rows_per_second).toBeCloseTo(7 / 1.5, 12)
    expect(live.snapshot('w', 'none', 2).requests_per_second).toBe(0)
    expect(live.tracked()).toBe(2)
    c.at(30_000)
    live.request('w', 'a', { code: 200, rows: 0 })
    c.at(75_000) // 'v/a' idle for 75 s, 'w/a' for 45 s
    live.request('w', 'b', { code: 200, rows: 0 })
    expect(live.tracked()).toBe(2)
    expect(live.snapshot('v', 'a', 60).requests_per_second).toBe(0)
  })

  it('clamps the window to 2..60 seconds, so a rate never divides by a sliver of a second', () => {
    const c = clock()
    const live = new LiveStats(c.now)
    live.request('w', 'p', { code: 200, rows: 3 })
    c.at(0)
    const s = live.snapshot('w', 'p', 0)
    expect(s.window_seconds).toBe(2)
    expect(s.rows_per_second).toBe(3) // 3 rows over one whole second and none of the next
    expect(live.snapshot('w', 'p', 600).window_seconds).toBe(60)
  })
})
