/**
 * Measuring one point of the grid: the pipeline's models loaded in sessions of the run's own (never
 * the live deployment's replicas) with the point's backend, threads, GPU path and graph optimization
 * level (as a deploy with them would load them: the `captured` path's buckets from its batch size),
 * behind a {@link DynamicBatcher} of its own with the point's batching, driven by a closed loop of
 * clients that each send one request and send the next when it is answered.
 *
 * Time is cut into windows. A point is stable, Perf Analyzer's rule, when its last three windows'
 * rows/s, and their mean latencies, are each within 10% (max/min ≤ 1.1); its result is those three
 * windows together (the mean of their rows/s, the p50 and p99 of their requests). A point that does
 * not settle within `maxWindows` gives its last three, marked unstable. Memory is the process's
 * resident set (RSS) at its highest during the point, less the RSS before the run loaded its first
 * session: the sessions and batches the point holds, plus whatever else the process grew by meanwhile.
 *
 * While the live deployment has rows waiting for a batch (its queue is behind), the clients pause
 * for a window and the windows measured so far are dropped: live traffic comes first.
 */
import type { Engine } from '../engine/engine.js'
import { concatRows, sliceRows } from '../engine/rows.js'
import type { AnyTensor } from '../engine/tensor.js'
import type { Columns } from '../engine/types.js'
import { PipelineRunner, type RunnerDeps } from '../pipeline/runner.js'
import { compileStages, parseSteps } from '../pipeline/steps.js'
import { DynamicBatcher } from '../serving/batcher.js'
import { loadOptions } from '../serving/deployment.js'
import { batchingSchema } from '../serving/settings.js'
import type { TuningPoint } from './grid.js'
import type { PointResult } from './search.js'

/** The tolerance of the stability rule: max/min of the last three windows ≤ 1 + this. */
const STABILITY = 0.1
/** Windows the stability rule looks at. */
const STABLE_WINDOWS = 3

/** One window of a point's measure. */
export interface Window {
  /** Rows answered in the window, per second. */
  rows_per_s: number
  /** Mean latency of the requests answered in the window, in ms. */
  mean_ms: number
}

/** Whether the last {@link STABLE_WINDOWS} windows agree within {@link STABILITY} on rows/s and mean latency. */
export function isStable(windows: readonly Window[], tolerance = STABILITY): boolean {
  if (windows.length < STABLE_WINDOWS) return false
  const last = windows.slice(-STABLE_WINDOWS)
  const within = (values: number[]) => {
    const lo = Math.min(...values)
    return lo > 0 && Math.max(...values) / lo <= 1 + tolerance
  }
  return within(last.map((w) => w.rows_per_s)) && within(last.map((w) => w.mean_ms))
}

/** What measuring a point gives. */
export interface PointMeasure extends PointResult {
  /** Peak RSS during the point less the RSS before the run's first session, in bytes (≥ 0). */
  memory_bytes: number
  /** Windows measured (paused ones not counted). */
  windows: number
  /** Whether the last three windows met the stability rule. */
  stable: boolean
}

export interface BenchOptions {
  engine: Engine
  /** The pipeline version's steps, model references pinned. */
  steps: unknown[]
  /** Each model's bytes by pinned reference. */
  models: Record<string, Uint8Array>
  /** The requests the clients send, in turn. */
  requests: Columns[]
  /** Clients of the closed loop. */
  concurrency: number
  windowMs: number
  maxWindows: number
  /** Whether live traffic is waiting now (the run pauses while it is). */
  busy: () => boolean
  /** Whether the run's time is up: the point in progress is given up. */
  stop: () => boolean
}

/** The point was given up because the run's time is up. */
class OutOfTime extends Error {}

interface Completion {
  end: number
  ms: number
  rows: number
}

/** Measures points, one at a time, on sessions of its own (one set at a time, released between). */
export class Bench {
  private readonly baselineRss = process.memoryUsage().rss
  private session: { key: string; runner: PipelineRunner } | undefined

  constructor(private readonly o: BenchOptions) {}

  /**
   * The runner with `p`'s sessions: loaded on first use, the previous one released. A GPU path is
   * always named (`auto` would measure the paths again, and could pick another than the point's);
   * the `captured` path's sessions depend on the batch size too (one per bucket up to it).
   */
  private async runner(p: TuningPoint): Promise<PipelineRunner> {
    if ((p.backend === 'webgpu') !== (p.gpu_path !== null)) {
      throw new Error(`a ${p.backend} point has ${p.gpu_path === null ? 'no' : 'a'} GPU path`)
    }
    const buckets = p.gpu_path === 'captured' ? p.max_batch_size : '-'
    const key = `${p.backend}|${p.threads ?? '-'}|${p.graph_optimization}|${p.gpu_path ?? '-'}|${buckets}`
    if (this.session?.key === key) return this.session.runner
    await this.release()
    const { engine, models } = this.o
    const session = {
      ...(p.threads !== null ? { threads: p.threads } : {}),
      graph_optimization: p.graph_optimization,
      ...(p.gpu_path !== null ? { gpu_path: p.gpu_path } : {}),
    }
    const options = {
      backend: p.backend,
      ...loadOptions(session),
      ...(p.gpu_path === 'captured' ? { maxBatch: p.max_batch_size } : {}),
    }
    const deps: RunnerDeps = {
      load: async (ref) => engine.load(models[ref] as Uint8Array, options),
      ...(p.backend === 'webgpu' ? { gpu: await engine.gpu() } : {}),
    }
    const runner = await PipelineRunner.build(compileStages(parseSteps(this.o.steps)), deps)
    this.session = { key, runner }
    return runner
  }

  /** Release the sessions held. */
  async release(): Promise<void> {
    const s = this.session
    this.session = undefined
    await s?.runner.release()
  }

  /** Measure `p` (see the module's comment). Throws {@link OutOfTime} when the run's time ends first. */
  async measure(p: TuningPoint): Promise<PointMeasure> {
    const runner = await this.runner(p)
    const batching = batchingSchema.parse({
      max_batch_size: p.max_batch_size,
      max_queue_delay_ms: p.max_queue_delay_ms,
      timeout_ms: 600_000,
    })
    const batcher = new DynamicBatcher((feeds) => runner.runTimed(feeds), batching)
    const requests = this.o.requests
    const done: Completion[] = []
    let stopped = false
    let failure: unknown
    let resume: Promise<void> | undefined
    let next = 0
    const client = async () => {
      while (!stopped) {
        if (resume) await resume
        const feeds = requests[next++ % requests.length] as Columns
        const rows = (Object.values(feeds)[0] as AnyTensor).dims[0] as number
        const t0 = performance.now()
        try {
          await batcher.submit(feeds, rows)
        } catch (e) {
          failure ??= e
          stopped = true
          return
        }
        const end = performance.now()
        done.push({ end, ms: end - t0, rows })
        // The next request comes as an event, as over a socket: a backend whose runs resolve without
        // one (wasm) would otherwise keep the loop in microtasks, and starve timers and live requests.
        await new Promise<void>((r) => setImmediate(r))
      }
    }
    // Warm the batch shape this point forms at most (a first run compiles; on the GPU, shaders): no
    // larger than the rows the clients hold at once.
    const perRequest = (Object.values(requests[0] as Columns)[0] as AnyTensor).dims[0] as number
    await runner.runTimed(batchOf(requests, Math.min(p.max_batch_size, this.o.concurrency * perRequest)))
    const clients = Array.from({ length: this.o.concurrency }, client)
    const windows: Window[] = []
    const latencies: number[][] = []
    let peakRss = process.memoryUsage().rss
    let measured = 0
    try {
      while (!stopped && measured < this.o.maxWindows) {
        if (this.o.stop()) throw new OutOfTime('the run is out of time')
        if (this.o.busy()) {
          let go = () => {}
          resume = new Promise<void>((r) => {
            go = r
          })
          await sleep(this.o.windowMs)
          windows.length = 0
          latencies.length = 0
          done.length = 0
          resume = undefined
          go()
          continue
        }
        const from = performance.now()
        await sleep(this.o.windowMs)
        const to = performance.now()
        const mine = done.splice(0)
        peakRss = Math.max(peakRss, process.memoryUsage().rss)
        measured++
        const rows = mine.reduce((n, c) => n + c.rows, 0)
        const ms = mine.map((c) => c.ms)
        windows.push({
          rows_per_s: (1000 * rows) / (to - from),
          mean_ms: ms.length ? ms.reduce((a, b) => a + b, 0) / ms.length : Number.POSITIVE_INFINITY,
        })
        latencies.push(ms)
        if (isStable(windows)) break
      }
    } finally {
      stopped = true
      await Promise.all(clients)
      await batcher.drain()
    }
    if (failure) throw failure
    if (latencies.slice(-STABLE_WINDOWS).every((l) => l.length === 0)) {
      throw new Error(`no request was answered in ${STABLE_WINDOWS} windows of ${this.o.windowMs} ms`)
    }
    const last = windows.slice(-STABLE_WINDOWS)
    const sorted = latencies
      .slice(-STABLE_WINDOWS)
      .flat()
      .sort((a, b) => a - b)
    return {
      rows_per_s: last.reduce((a, w) => a + w.rows_per_s, 0) / Math.max(1, last.length),
      p50_ms: quantile(sorted, 0.5),
      p99_ms: quantile(sorted, 0.99),
      memory_bytes: Math.max(0, peakRss - this.baselineRss),
      windows: measured,
      stable: isStable(windows),
    }
  }
}

/** The `q`-quantile of ascending, non-empty `sorted` (nearest rank). */
export function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number
}

/** `rows` rows taken from the requests in turn, as one batch. */
function batchOf(requests: readonly Columns[], rows: number): Columns {
  const parts: Columns[] = []
  let have = 0
  for (let i = 0; have < rows; i++) {
    const r = requests[i % requests.length] as Columns
    const n = Math.min(rows - have, (Object.values(r)[0] as AnyTensor).dims[0] as number)
    parts.push(Object.fromEntries(Object.entries(r).map(([k, t]) => [k, sliceRows(t, 0, n)])))
    have += n
  }
  const first = parts[0] as Columns
  return Object.fromEntries(Object.keys(first).map((k) => [k, concatRows(parts.map((p) => p[k] as AnyTensor))]))
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))
