/**
 * What each deployed pipeline is doing right now, second by second, for the live view: requests,
 * rows, errors, latency per stage (histograms: src/live/histogram.ts) and rows per model arm, kept
 * for the last minute in a ring of one-second slots. Recording is a few increments per request or
 * batch; a snapshot sums the slots of its window. Nothing here is stored: a restart starts empty.
 */
import { BUCKETS, bucketOf, quantile } from './histogram.js'

/** Seconds kept: the series a snapshot carries, and the longest window it can sum. */
export const HISTORY_SECONDS = 60

/** The shortest window: a whole second besides the one in progress, so a rate never divides by ~0. */
export const MIN_WINDOW_SECONDS = 2

/** Request-level stages (per request) then batch-level ones (per batch run). */
const STAGES = ['total', 'queue', 'pre', 'model', 'post'] as const
type Stage = (typeof STAGES)[number]
const STAGE_INDEX: Record<Stage, number> = { total: 0, queue: 1, pre: 2, model: 3, post: 4 }

/** One second of one pipeline. */
interface Slot {
  /** Which second (ms since the epoch / 1000, floored); -1 when never used. */
  second: number
  requests: number
  rows: number
  clientErrors: number
  serverErrors: number
  /** Observations per stage. */
  counts: Float64Array
  /** Sums per stage, in ms (for means). */
  sums: Float64Array
  /** Histograms, stage by stage: STAGES.length × BUCKETS. */
  hist: Uint32Array
  /** Rows answered per model arm ("name:version"). */
  arms: Map<string, number>
}

function emptySlot(): Slot {
  return {
    second: -1,
    requests: 0,
    rows: 0,
    clientErrors: 0,
    serverErrors: 0,
    counts: new Float64Array(STAGES.length),
    sums: new Float64Array(STAGES.length),
    hist: new Uint32Array(STAGES.length * BUCKETS),
    arms: new Map(),
  }
}

/** A stage's latency over a window, in ms; null fields without observations. */
interface StageLatency {
  count: number
  mean_ms: number | null
  p50_ms: number | null
  p99_ms: number | null
}

/** One second of the series a snapshot carries. */
interface SecondPoint {
  /** The second's start, ms since the epoch. */
  time: number
  requests: number
  rows: number
  errors: number
  p99_ms: number | null
}

/** A pipeline's activity over the last `window_seconds` (the second in progress included). */
export interface LiveSnapshot {
  time: number
  window_seconds: number
  requests_per_second: number
  rows_per_second: number
  client_errors_per_second: number
  server_errors_per_second: number
  latency: Record<Stage, StageLatency>
  /** Rows per second per model arm, largest first, with its share of the window's rows. */
  arms: Array<{ model: string; rows_per_second: number; share: number }>
  /** The last HISTORY_SECONDS seconds, oldest first, the one in progress last. */
  series: SecondPoint[]
}

class PipelineStats {
  readonly slots: Slot[] = Array.from({ length: HISTORY_SECONDS }, emptySlot)
  lastSecond = -1

  /** The slot of `second`, emptied first if it last held an older second. */
  slot(second: number): Slot {
    const s = this.slots[second % HISTORY_SECONDS] as Slot
    if (s.second !== second) {
      s.second = second
      s.requests = s.rows = s.clientErrors = s.serverErrors = 0
      s.counts.fill(0)
      s.sums.fill(0)
      s.hist.fill(0)
      s.arms.clear()
    }
    if (second > this.lastSecond) this.lastSecond = second
    return s
  }
}

function observe(s: Slot, stage: Stage, ms: number): void {
  const i = STAGE_INDEX[stage]
  s.counts[i] = (s.counts[i] as number) + 1
  s.sums[i] = (s.sums[i] as number) + ms
  const b = i * BUCKETS + bucketOf(ms)
  s.hist[b] = (s.hist[b] as number) + 1
}

export class LiveStats {
  private readonly pipelines = new Map<string, PipelineStats>()

  constructor(private readonly now: () => number = Date.now) {}

  private of(workspace: string, pipeline: string): PipelineStats {
    const key = `${workspace}\0${pipeline}`
    let p = this.pipelines.get(key)
    if (!p) {
      p = new PipelineStats()
      this.pipelines.set(key, p)
    }
    return p
  }

  /**
   * One answered or refused request: its HTTP `code`, the `rows` it answered, and, when answered,
   * its queue and total times and the model that answered each row.
   */
  request(
    workspace: string,
    pipeline: string,
    r: { code: number; rows: number; timings?: { queue: number; total: number }; rowModels?: readonly string[] },
  ): void {
    const second = Math.floor(this.now() / 1000)
    this.sweep(second)
    const s = this.of(workspace, pipeline).slot(second)
    s.requests++
    s.rows += r.rows
    if (r.code >= 500) s.serverErrors++
    else if (r.code >= 400) s.clientErrors++
    if (r.timings) {
      observe(s, 'total', r.timings.total)
      observe(s, 'queue', r.timings.queue)
    }
    const models = r.rowModels
    if (!models || models.length === 0) return
    // Most answers come from one model: count them in one step.
    const first = models[0] as string
    // Stryker disable next-line all: a shortcut; the loop below counts the same rows one by one
    if (models[models.length - 1] === first && models.every((m) => m === first)) {
      s.arms.set(first, (s.arms.get(first) ?? 0) + models.length)
      return
    }
    for (const m of models) s.arms.set(m, (s.arms.get(m) ?? 0) + 1)
  }

  /** One batch run: its pre, model and post times in ms. */
  batch(workspace: string, pipeline: string, t: { pre: number; model: number; post: number }): void {
    const s = this.of(workspace, pipeline).slot(Math.floor(this.now() / 1000))
    observe(s, 'pre', t.pre)
    observe(s, 'model', t.model)
    observe(s, 'post', t.post)
  }

  /** The pipeline's activity over the last `windowSeconds` (2..HISTORY_SECONDS), and the minute's series. */
  snapshot(workspace: string, pipeline: string, windowSeconds = 10): LiveSnapshot {
    const window = Math.min(Math.max(MIN_WINDOW_SECONDS, Math.floor(windowSeconds)), HISTORY_SECONDS)
    const now = this.now()
    const second = Math.floor(now / 1000)
    const p = this.pipelines.get(`${workspace}\0${pipeline}`)
    // The window's whole seconds and the fraction of the one in progress.
    const elapsed = window - 1 + (now - second * 1000) / 1000
    let requests = 0
    let rows = 0
    let clientErrors = 0
    let serverErrors = 0
    const counts = new Float64Array(STAGES.length)
    const sums = new Float64Array(STAGES.length)
    const hist = new Uint32Array(STAGES.length * BUCKETS)
    const arms = new Map<string, number>()
    const series: SecondPoint[] = []
    for (let k = second - HISTORY_SECONDS + 1; k <= second; k++) {
      const s = p?.slots[k % HISTORY_SECONDS]
      const live = s !== undefined && s.second === k
      const total = live ? (s.counts[0] as number) : 0
      series.push({
        time: k * 1000,
        requests: live ? s.requests : 0,
        rows: live ? s.rows : 0,
        errors: live ? s.clientErrors + s.serverErrors : 0,
        p99_ms: live ? quantile(s.hist, 0, total, 0.99) : null,
      })
      if (!live || k <= second - window) continue
      requests += s.requests
      rows += s.rows
      clientErrors += s.clientErrors
      serverErrors += s.serverErrors
      for (let i = 0; i < STAGES.length; i++) {
        counts[i] = (counts[i] as number) + (s.counts[i] as number)
        sums[i] = (sums[i] as number) + (s.sums[i] as number)
      }
      for (let b = 0; b < hist.length; b++) hist[b] = (hist[b] as number) + (s.hist[b] as number)
      for (const [m, n] of s.arms) arms.set(m, (arms.get(m) ?? 0) + n)
    }
    const latency = {} as Record<Stage, StageLatency>
    STAGES.forEach((stage, i) => {
      const n = counts[i] as number
      latency[stage] = {
        count: n,
        mean_ms: n ? (sums[i] as number) / n : null,
        p50_ms: quantile(hist, i * BUCKETS, n, 0.5),
        p99_ms: quantile(hist, i * BUCKETS, n, 0.99),
      }
    })
    const armRows = [...arms.values()].reduce((a, b) => a + b, 0)
    return {
      time: now,
      window_seconds: window,
      requests_per_second: requests / elapsed,
      rows_per_second: rows / elapsed,
      client_errors_per_second: clientErrors / elapsed,
      server_errors_per_second: serverErrors / elapsed,
      latency,
      arms: [...arms]
        // Stryker disable next-line EqualityOperator: arms are map keys, never equal, so < and <= order alike
        .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
        .map(([model, n]) => ({ model, rows_per_second: n / elapsed, share: n / armRows })),
      series,
    }
  }

  /** Pipelines tracked now (those with traffic in the last HISTORY_SECONDS). */
  tracked(): number {
    return this.pipelines.size
  }

  private lastSweep = -1

  /** Once a minute, forget pipelines without traffic for a minute (an undeployed one, a deleted one). */
  private sweep(second: number): void {
    if (second - this.lastSweep < HISTORY_SECONDS) return
    this.lastSweep = second
    for (const [key, p] of this.pipelines) if (second - p.lastSecond >= HISTORY_SECONDS) this.pipelines.delete(key)
  }
}
