/**
 * The assay scheduler on its own (src/assays/scheduler.ts), over an in-memory store and a recorded
 * `runWindow`: which windows a tick scores (from the grid's start, or after the last stored result,
 * on the grid or off it), the per-tick budget shared round by round and oldest first, inactive and
 * too-narrow assays left alone, what it says about catching up, and its timer (one tick at a time,
 * a failed tick logged, stopped for good), driven by fake timers. Window times are written out by
 * hand as offsets from T (2023-11-14T22:13:20.000Z).
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { AssayLimits } from '../../src/assays/definition.js'
import { AssayScheduler } from '../../src/assays/scheduler.js'
import type { AssayResultRecord } from '../../src/store/types.js'
import { MemoryAssays, recordingLogger, storeOf } from './assay-fakes.js'

const T = 1_700_000_000_000
const iso = (offsetMs: number) => new Date(T + offsetMs).toISOString()

const limits = (maxTickWindows: number): AssayLimits => ({
  minWindowMs: 1000,
  maxRunWindows: 1000,
  maxTickWindows,
  maxRequestValues: 1000,
  maxWebhooks: 2,
})

const result = (assayId: number, start: number, end: number): AssayResultRecord => ({
  assayId,
  windowStart: start,
  windowEnd: end,
  score: 0,
  status: 'ok',
  result: {},
  createdAt: '2024-05-01T00:00:00.000Z',
})

/** A scheduler over an in-memory store whose `runWindow` stores a result and records `[id, start - T, end - T]`. */
function harness(maxTickWindows = 100) {
  const mem = new MemoryAssays()
  const { logger, lines } = recordingLogger()
  const runs: Array<[number, number, number]> = []
  let gate: Promise<void> | undefined
  const scheduler = new AssayScheduler({
    store: storeOf(mem),
    logger,
    limits: limits(maxTickWindows),
    runWindow: async (a, start, end) => {
      runs.push([a.id, start - T, end - T])
      await gate
      await mem.putResult(result(a.id, start, end))
    },
  })
  const define = (window: Record<string, unknown>, active = true) =>
    mem.add({
      workspace: 'default',
      pipeline: 'p',
      name: `a${mem.rows.length + 1}`,
      config: { name: 'a', pipeline: 'p', iopath: 'in.x', baseline: { values: 4 }, window },
      baseline: Float64Array.from([1, 2, 3, 4]),
      active,
    })
  /** Hold every `runWindow` until the returned function is called. */
  const hold = () => {
    let release = () => {}
    gate = new Promise<void>((r) => {
      release = r
    })
    return () => {
      gate = undefined
      release()
    }
  }
  return { mem, scheduler, runs, lines, define, hold }
}

afterEach(() => {
  vi.useRealTimers()
})

describe('the windows a tick scores', () => {
  it('scores every window ended since the grid start, oldest first, and keeps where it stands', async () => {
    const h = harness()
    const a = await h.define({ width: '1s', start: T })
    await h.scheduler.tick(T + 3500)
    expect(h.runs).toEqual([
      [a.id, 0, 1000],
      [a.id, 1000, 2000],
      [a.id, 2000, 3000],
    ])
    expect(h.scheduler.state(a.id)).toEqual({
      next_window_start: '2023-11-14T22:13:23.000Z',
      windows_behind: 0,
      catching_up: false,
    })
    expect(h.lines).toEqual([])
  })

  it('steps by the interval, a window ending at the tick included', async () => {
    const h = harness()
    const a = await h.define({ width: '3s', interval: '1s', start: T })
    await h.scheduler.tick(T + 5000)
    expect(h.runs).toEqual([
      [a.id, 0, 3000],
      [a.id, 1000, 4000],
      [a.id, 2000, 5000],
    ])
    expect(h.scheduler.state(a.id)?.next_window_start).toBe(iso(3000))
  })

  it('scores nothing before the first window has ended', async () => {
    const h = harness()
    const a = await h.define({ width: '1s', start: T })
    await h.scheduler.tick(T + 999)
    expect(h.runs).toEqual([])
    expect(h.scheduler.state(a.id)).toEqual({ next_window_start: iso(0), windows_behind: 0, catching_up: false })
  })

  it('goes on after the last stored window on the grid', async () => {
    const h = harness()
    const a = await h.define({ width: '1s', start: T })
    await h.mem.putResult(result(a.id, T, T + 1000))
    await h.mem.putResult(result(a.id, T + 1000, T + 2000))
    await h.scheduler.tick(T + 4000)
    expect(h.runs).toEqual([
      [a.id, 2000, 3000],
      [a.id, 3000, 4000],
    ])
  })

  it('takes a stored window exactly at the grid start as scored', async () => {
    const h = harness()
    const a = await h.define({ width: '1s', start: T })
    await h.mem.putResult(result(a.id, T, T + 1000))
    await h.scheduler.tick(T + 2000)
    expect(h.runs).toEqual([[a.id, 1000, 2000]])
  })

  it('goes on at the next grid window after a manual run off the grid', async () => {
    const h = harness()
    const a = await h.define({ width: '1s', start: T })
    await h.mem.putResult(result(a.id, T + 1500, T + 2500))
    await h.scheduler.tick(T + 3000)
    expect(h.runs).toEqual([[a.id, 2000, 3000]])
  })

  it('starts at the grid start after a manual run before it', async () => {
    const h = harness()
    const a = await h.define({ width: '1s', start: T })
    await h.mem.putResult(result(a.id, T - 5000, T - 4000))
    await h.scheduler.tick(T + 1500)
    expect(h.runs).toEqual([[a.id, 0, 1000]])
  })

  it('leaves inactive assays alone', async () => {
    const h = harness()
    const off = await h.define({ width: '1s', start: T }, false)
    const on = await h.define({ width: '1s', start: T })
    await h.scheduler.tick(T + 1000)
    expect(h.runs).toEqual([[on.id, 0, 1000]])
    expect(h.scheduler.state(off.id)).toBeUndefined()
  })

  it('skips an assay narrower than the minimum, saying why, and scores the others', async () => {
    const h = harness()
    const narrow = await h.define({ width: '10ms', start: T })
    const fine = await h.define({ width: '1s', start: T })
    await h.scheduler.tick(T + 1000)
    expect(h.runs).toEqual([[fine.id, 0, 1000]])
    expect(h.scheduler.state(narrow.id)).toBeUndefined()
    expect(h.lines).toEqual([
      {
        level: 'warn',
        msg: 'assay skipped by the scheduler',
        fields: {
          assay: narrow.id,
          error: 'window width 10 ms is below the minimum of 1000 ms (LASTMILE_ASSAY_MIN_WINDOW_MS)',
        },
      },
    ])
  })

  it('forgets one assay on request, keeping the others', async () => {
    const h = harness()
    const a = await h.define({ width: '1s', start: T })
    const b = await h.define({ width: '1s', start: T })
    await h.scheduler.tick(T + 1000)
    h.scheduler.forget(a.id)
    expect(h.scheduler.state(a.id)).toBeUndefined()
    expect(h.scheduler.state(b.id)).toEqual({ next_window_start: iso(1000), windows_behind: 0, catching_up: false })
  })
})

describe("a tick's budget", () => {
  it('goes to the oldest due windows first, whatever order the assays are listed in', async () => {
    const h = harness(2)
    const late = await h.define({ width: '1s', start: T + 200 })
    const early = await h.define({ width: '1s', start: T })
    const middle = await h.define({ width: '1s', start: T + 100 })
    await h.scheduler.tick(T + 1200)
    expect(h.runs).toEqual([
      [early.id, 0, 1000],
      [middle.id, 100, 1100],
    ])
    expect(h.scheduler.state(late.id)).toEqual({ next_window_start: iso(200), windows_behind: 1, catching_up: true })
    expect(h.scheduler.state(early.id)).toEqual({ next_window_start: iso(1000), windows_behind: 0, catching_up: false })
  })

  it('is shared round by round: one window of each due assay before a second of any', async () => {
    const h = harness(10)
    const a = await h.define({ width: '1s', start: T }) // 3 due: 0, 1, 2 s
    const b = await h.define({ width: '2s', start: T + 500 }) // 1 due: 0.5 s
    await h.scheduler.tick(T + 3000)
    expect(h.runs).toEqual([
      [a.id, 0, 1000],
      [b.id, 500, 2500],
      [a.id, 1000, 2000],
      [a.id, 2000, 3000],
    ])
  })

  it('stops mid-round when spent', async () => {
    const h = harness(3)
    const a = await h.define({ width: '1s', start: T })
    const b = await h.define({ width: '2s', start: T + 500 })
    await h.scheduler.tick(T + 3000)
    expect(h.runs).toEqual([
      [a.id, 0, 1000],
      [b.id, 500, 2500],
      [a.id, 1000, 2000],
    ])
    expect(h.scheduler.state(a.id)).toEqual({ next_window_start: iso(2000), windows_behind: 1, catching_up: true })
    expect(h.scheduler.state(b.id)).toEqual({ next_window_start: iso(2500), windows_behind: 0, catching_up: false })
  })

  it('says once when an assay starts catching up and once when it has caught up', async () => {
    const h = harness(2)
    const a = await h.define({ width: '1s', start: T })
    const now = T + 5000 // 5 windows due
    await h.scheduler.tick(now)
    expect(h.lines).toEqual([
      {
        level: 'warn',
        msg: 'assay scheduler catching up',
        fields: { assay: a.id, windows_behind: 3, windows_per_tick: 2 },
      },
    ])
    await h.scheduler.tick(now)
    expect(h.lines).toHaveLength(1)
    expect(h.scheduler.state(a.id)).toEqual({ next_window_start: iso(4000), windows_behind: 1, catching_up: true })
    await h.scheduler.tick(now)
    expect(h.lines.slice(1)).toEqual([{ level: 'info', msg: 'assay scheduler caught up', fields: { assay: a.id } }])
    await h.scheduler.tick(now)
    expect(h.lines).toHaveLength(2)
    expect(h.runs.map((r) => r[1])).toEqual([0, 1000, 2000, 3000, 4000])
  })
})

describe("the scheduler's timer", () => {
  it('ticks every tickMs from start, at the time of the tick', async () => {
    vi.useFakeTimers()
    vi.setSystemTime(T + 3500)
    const h = harness()
    const a = await h.define({ width: '1s', start: T })
    h.scheduler.start(1000)
    await vi.advanceTimersByTimeAsync(999)
    expect(h.mem.listCalls).toBe(0)
    await vi.advanceTimersByTimeAsync(1)
    await h.scheduler.idle()
    expect(h.mem.listCalls).toBe(1)
    // At T + 4.5 s: four windows have ended.
    expect(h.runs).toEqual([
      [a.id, 0, 1000],
      [a.id, 1000, 2000],
      [a.id, 2000, 3000],
      [a.id, 3000, 4000],
    ])
    h.scheduler.stop()
  })

  it('logs a failed tick and tries again at the next', async () => {
    vi.useFakeTimers()
    const h = harness()
    h.mem.failList = new Error('database is locked')
    h.scheduler.start(1000)
    await vi.advanceTimersByTimeAsync(1000)
    await h.scheduler.idle()
    expect(h.lines).toEqual([
      { level: 'error', msg: 'assay scheduler tick failed', fields: { error: 'database is locked' } },
    ])
    await vi.advanceTimersByTimeAsync(1000)
    await h.scheduler.idle()
    expect(h.mem.listCalls).toBe(2)
    expect(h.lines).toHaveLength(2)
    h.scheduler.stop()
  })

  it('runs one tick at a time: a slow tick delays the next, and idle waits for it', async () => {
    vi.useFakeTimers()
    vi.setSystemTime(T + 1000)
    const h = harness()
    await h.define({ width: '1s', start: T })
    const release = h.hold()
    h.scheduler.start(1000)
    await vi.advanceTimersByTimeAsync(1000)
    expect(h.runs).toHaveLength(1) // the tick waits in runWindow
    await vi.advanceTimersByTimeAsync(3000)
    expect(h.mem.listCalls).toBe(1)
    let idle = false
    const waiting = h.scheduler.idle().then(() => {
      idle = true
    })
    await vi.advanceTimersByTimeAsync(0)
    expect(idle).toBe(false)
    release()
    await waiting
    expect(idle).toBe(true)
    await vi.advanceTimersByTimeAsync(1000)
    await h.scheduler.idle()
    expect(h.mem.listCalls).toBe(2)
    h.scheduler.stop()
  })

  it('ticks no more once stopped', async () => {
    vi.useFakeTimers()
    const h = harness()
    h.scheduler.start(1000)
    await vi.advanceTimersByTimeAsync(1000)
    await h.scheduler.idle()
    h.scheduler.stop()
    await vi.advanceTimersByTimeAsync(5000)
    expect(h.mem.listCalls).toBe(1)
  })
})
