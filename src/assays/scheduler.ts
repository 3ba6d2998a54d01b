/**
 * The assay scheduler: every tick it scores the windows that have ended since each active
 * assay's last stored one, at most `maxTickWindows` per tick over all assays, so a long downtime
 * is caught up over several ticks (and said so in the log and the assay's `schedule`) instead of
 * in one unbounded burst.
 */
import { errorMessage } from '../errors.js'
import type { Logger } from '../logger.js'
import type { AssayRecord, AssayResultRecord, Store } from '../store/types.js'
import { type AssayLimits, checkWindow, type WindowGrid, windowOf, windowsIn } from './definition.js'

/** Where the scheduler stands with one assay (shown with the assay). */
export interface ScheduleState {
  /** Start of the next window it will score (ISO 8601). */
  next_window_start: string
  /** Windows that have ended and are not scored yet. */
  windows_behind: number
  /** More windows were due than one tick scores: they are scored over the next ticks, oldest first. */
  catching_up: boolean
}

export interface SchedulerDeps {
  store: Store
  logger: Logger
  limits: AssayLimits
  /** Score, store and alert one window. */
  runWindow(a: AssayRecord, start: number, end: number): Promise<unknown>
}

export class AssayScheduler {
  private timer: NodeJS.Timeout | undefined
  private ticking: Promise<void> | undefined
  private readonly states = new Map<number, ScheduleState>()

  constructor(private readonly deps: SchedulerDeps) {}

  /** Tick every `tickMs` (one tick at a time; a slow one delays the next). */
  start(tickMs: number): void {
    this.timer = setInterval(() => {
      this.ticking ??= this.tick()
        .catch((e) => this.deps.logger.error('assay scheduler tick failed', { error: errorMessage(e) }))
        .finally(() => {
          this.ticking = undefined
        })
    }, tickMs)
    this.timer.unref()
  }

  stop(): void {
    clearInterval(this.timer)
  }

  /** Resolves when the tick in progress has finished. */
  async idle(): Promise<void> {
    await this.ticking
  }

  state(id: number): ScheduleState | undefined {
    return this.states.get(id)
  }

  forget(id: number): void {
    this.states.delete(id)
  }

  /**
   * Score windows that have ended by `now`. The tick's budget is shared round by round: each due
   * assay's oldest window, oldest first, so one assay's backlog never starves the others.
   */
  async tick(now = Date.now()): Promise<void> {
    const due: Array<{ a: AssayRecord; w: WindowGrid; next: number; behind: number }> = []
    for (const a of await this.deps.store.assays.list()) {
      if (!a.active) continue
      const w = windowOf(a)
      try {
        checkWindow(w, this.deps.limits) // defined when the minimum was lower
      } catch (e) {
        this.deps.logger.warn('assay skipped by the scheduler', { assay: a.id, error: errorMessage(e) })
        continue
      }
      const done = await this.deps.store.assays.results(a.id)
      // The first scheduled window after the last stored one (manual runs may sit off the grid).
      const last = done.length > 0 ? (done[done.length - 1] as AssayResultRecord).windowStart : w.start - 1
      const next = last < w.start ? w.start : w.start + (Math.floor((last - w.start) / w.interval) + 1) * w.interval
      due.push({ a, w, next, behind: windowsIn(next, now, w) })
    }
    let budget = this.deps.limits.maxTickWindows
    for (let round = due.filter((d) => d.behind > 0); budget > 0 && round.length > 0; ) {
      round.sort((x, y) => x.next - y.next)
      for (const d of round.slice(0, budget)) {
        await this.deps.runWindow(d.a, d.next, d.next + d.w.width)
        d.next += d.w.interval
        d.behind--
        budget--
      }
      round = round.filter((d) => d.behind > 0)
    }
    for (const d of due) this.note(d.a.id, d.next, d.behind)
  }

  /** Keep the assay's state; log when it starts and when it finishes catching up. */
  private note(id: number, next: number, behind: number): void {
    const was = this.states.get(id)?.catching_up ?? false
    const catching_up = behind > 0
    this.states.set(id, { next_window_start: new Date(next).toISOString(), windows_behind: behind, catching_up })
    if (catching_up && !was) {
      this.deps.logger.warn('assay scheduler catching up', {
        assay: id,
        windows_behind: behind,
        windows_per_tick: this.deps.limits.maxTickWindows,
      })
    } else if (!catching_up && was) this.deps.logger.info('assay scheduler caught up', { assay: id })
  }
}
