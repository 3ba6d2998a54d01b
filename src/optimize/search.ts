/**
 * The search over the grid: which points to measure, as a pure function of an injected `measure`,
 * so it can be checked against a brute-force sweep on landscapes built for the purpose.
 *
 * The objective: the most rows/s among points whose p99 meets the target. A point that misses it
 * scores its negative p99 (below every point that meets it, and the lower its p99, the better), so
 * the search walks toward the target before it has met it.
 *
 * The quick search exploits what measured serving looks like: rows/s rises with the batch size and
 * then levels off, latency rises with the batch and the queue delay, threads speed up with
 * diminishing returns, and the graph optimization level is a small factor. The GPU paths of
 * `webgpu` load and run differently (one session, captured sessions per batch bucket, our own
 * kernels), so each is a lane of its own: tuned as a backend is, compared and dropped as backends
 * are. Per lane (a backend, or `webgpu` with one GPU path), in rounds so that every lane gets its
 * first measures before any gets its last:
 * 1. batch sizes from the smallest, doubling, until two in a row bring no gain (the throughput's
 *    plateau, or the latency target passed), then the knee: the smallest batch within 3% of the
 *    best, which leaves latency for a delay; a lane then below half the leader's best is dropped;
 * 2. queue delays at that batch, the same way;
 * 3. thread counts (`cpu`): the powers of two and the two largest, then a climb to the neighbours
 *    of the best;
 * 4. graph optimization levels from the most optimized down, until one brings no gain; a lane
 *    then below 0.8× the leader's best is dropped;
 * 5. coordinate descent from the best point: its neighbours in batch and delay together, in
 *    threads, in level, moving while one is better (within 1%, the lower p99 counts as better);
 * 6. while points are left, the same with steps of two, then from the runners-up.
 * It never measures more than `maxPoints` points (the default caller gives 10% of the grid), and
 * stops early when `stop()` says the time is up.
 */
import { errorMessage } from '../errors.js'
import { type Grid, gpuPathAxis, gridPoints, laneKey, pointKey, type TuningPoint, threadAxis } from './grid.js'

/** What measuring a point gives (at least). */
export interface PointResult {
  rows_per_s: number
  p50_ms: number
  p99_ms: number
}

/** A point measured: its result, or why it could not be. */
export type Measured<R extends PointResult> =
  | { point: TuningPoint; result: R; error?: undefined }
  | { point: TuningPoint; result?: undefined; error: string }

export interface SearchOptions {
  /** The p99 latency a recommendation must meet, in ms. */
  targetP99Ms: number
  /** Points measured at most (failed ones count). */
  maxPoints: number
  /** Whether to stop now (the time budget): checked before each point, and a point that fails once it says so is not recorded. */
  stop?: () => boolean
}

export interface SearchResult<R extends PointResult> {
  /** In the order measured. */
  measured: Array<Measured<R>>
  /** The measured point with the most rows/s that meets the target; undefined when none does. */
  best: (Measured<R> & { result: R }) | undefined
  /** Whether `maxPoints` or `stop()` ended the search before its plan did. */
  truncated: boolean
}

/** A lane of the search: a backend, and on `webgpu` one GPU path (see {@link laneKey}). */
type Lane = Pick<TuningPoint, 'backend' | 'gpu_path'>

/** A relative gain smaller than this is no gain (noise) in the sweeps of steps 1 and 2. */
const GAIN = 0.01
/** How far below a batch sweep's best its knee may be (step 1). */
const KNEE = 0.03
/** Descents from the runners-up in step 6, at most. */
const RESTARTS = 5
/** Points in a row without gain that end a sweep. */
const PATIENCE = 2

/** The search's score of a result: rows/s when it meets the target, else −p99 (below any that does). */
function score(r: PointResult, targetP99Ms: number): number {
  return r.p99_ms <= targetP99Ms ? r.rows_per_s : -r.p99_ms
}

/** Whether score `a` beats `b` by more than `gain` of `b`'s size. */
function beats(a: number, b: number, gain: number): boolean {
  return a > b + gain * Math.abs(b)
}

/** The point of `measured` with the most rows/s meeting the target. */
function bestOf<R extends PointResult>(measured: ReadonlyArray<Measured<R>>, target: number) {
  let best: (Measured<R> & { result: R }) | undefined
  for (const m of measured) {
    if (!m.result || m.result.p99_ms > target) continue
    if (!best || m.result.rows_per_s > best.result.rows_per_s) best = m as Measured<R> & { result: R }
  }
  return best
}

/** Measure every point of the grid (brute force), unless `stop()` says the time is up. */
export async function exhaustiveSearch<R extends PointResult>(
  grid: Grid,
  measure: (p: TuningPoint) => Promise<R>,
  opts: SearchOptions,
): Promise<SearchResult<R>> {
  const measured: Array<Measured<R>> = []
  let truncated = false
  for (const point of gridPoints(grid)) {
    if (measured.length >= opts.maxPoints || opts.stop?.()) {
      truncated = true
      break
    }
    try {
      measured.push({ point, result: await measure(point) })
    } catch (e) {
      if (opts.stop?.()) {
        truncated = true
        break
      }
      measured.push({ point, error: errorMessage(e) })
    }
  }
  return { measured, best: bestOf(measured, opts.targetP99Ms), truncated }
}

/** The quick search (see the module's comment). */
export async function quickSearch<R extends PointResult>(
  grid: Grid,
  measure: (p: TuningPoint) => Promise<R>,
  opts: SearchOptions,
): Promise<SearchResult<R>> {
  const target = opts.targetP99Ms
  const seen = new Map<string, Measured<R>>()
  const measured: Array<Measured<R>> = []
  let truncated = false
  /** Each lane's best point so far and its score. */
  const incumbent = new Map<string, { point: TuningPoint; score: number; p99: number }>()
  const failed = new Set<string>()

  /** The score of `point`, measured once; undefined when it cannot be (failed, or the cap or time reached). */
  const at = async (point: TuningPoint): Promise<number | undefined> => {
    const key = pointKey(point)
    const known = seen.get(key)
    if (!known) {
      if (truncated || measured.length >= opts.maxPoints || opts.stop?.()) {
        truncated = true
        return undefined
      }
      let m: Measured<R>
      try {
        m = { point, result: await measure(point) }
      } catch (e) {
        // A point the time's end cut short is not a point that failed.
        if (opts.stop?.()) {
          truncated = true
          return undefined
        }
        m = { point, error: errorMessage(e) }
      }
      seen.set(key, m)
      measured.push(m)
      const lane = laneKey(point)
      if (!m.result) {
        // A lane whose first point fails (a model its backend or GPU path cannot load) is not tried further.
        if (!measured.some((x) => x.result && laneKey(x.point) === lane)) failed.add(lane)
        return undefined
      }
      const s = score(m.result, target)
      const inc = incumbent.get(lane)
      // Within noise of the incumbent, the point with the lower p99 leads: it leaves more room under
      // the target for the next moves (a larger batch on the plateau only adds latency).
      const p99 = m.result.p99_ms
      if (!inc || beats(s, inc.score, GAIN) || (!beats(inc.score, s, GAIN) && p99 < inc.p99))
        incumbent.set(lane, { point, score: s, p99 })
      return s
    }
    return known.result ? score(known.result, target) : undefined
  }

  /** Measure `values` of one axis from the incumbent, in order, until `patience` points in a row bring no gain. */
  const sweep = async <K extends keyof TuningPoint>(
    b: string,
    axis: K,
    values: ReadonlyArray<TuningPoint[K]>,
    patience = PATIENCE,
  ) => {
    let since = 0
    for (const v of values) {
      const inc = incumbent.get(b)
      if (!inc || truncated || failed.has(b)) return
      if (inc.point[axis] === v) continue
      const before = inc.score
      const s = await at({ ...inc.point, [axis]: v })
      if (s !== undefined && beats(s, before, GAIN)) since = 0
      else if (++since >= patience) return
    }
  }

  /** Move the incumbent to a neighbour (index ±1) on `axis`, or on both axes at once, while it moves. */
  const climb = async <K extends keyof TuningPoint, L extends keyof TuningPoint>(
    b: string,
    axis: K,
    values: ReadonlyArray<TuningPoint[K]>,
    other?: { axis: L; values: ReadonlyArray<TuningPoint[L]> },
    radius = 1,
  ) => {
    const steps = Array.from({ length: 2 * radius + 1 }, (_, i) => i - radius)
    let moved = false
    for (;;) {
      const inc = incumbent.get(b)
      if (!inc || truncated || failed.has(b)) return moved
      const i = values.indexOf(inc.point[axis])
      const k = other ? other.values.indexOf(inc.point[other.axis]) : 0
      for (const di of steps) {
        for (const dk of other ? steps : [0]) {
          const vi = values[i + di]
          const vk = other?.values[k + dk]
          if ((di === 0 && dk === 0) || vi === undefined || (other && vk === undefined)) continue
          await at({ ...inc.point, [axis]: vi, ...(other ? { [other.axis]: vk } : {}) })
        }
      }
      if (incumbent.get(b) === inc) return moved
      moved = true
    }
  }

  /** Drop the lanes whose best is below `share` of the leader's best meeting the target. */
  const prune = (from: string[], share: number) => {
    const lead = Math.max(...from.map((b) => incumbent.get(b)?.score ?? Number.NEGATIVE_INFINITY))
    if (!(lead > 0)) return from.filter((b) => !failed.has(b))
    return from.filter((b) => !failed.has(b) && (incumbent.get(b)?.score ?? Number.NEGATIVE_INFINITY) >= share * lead)
  }

  /** Each lane's backend and GPU path, by its key, in the grid's order. */
  const lanes = new Map<string, Lane>()
  for (const backend of grid.backends)
    for (const gpu_path of gpuPathAxis(grid, backend)) lanes.set(laneKey({ backend, gpu_path }), { backend, gpu_path })
  /** The thread axis of a lane. */
  const threadsOf = (b: string) => threadAxis(grid, (lanes.get(b) as Lane).backend)
  let active = [...lanes.keys()]
  const opt = grid.graphOptimizations.includes('all')
    ? 'all'
    : (grid.graphOptimizations.at(-1) as TuningPoint['graph_optimization'])
  // 1. Batch sizes, from session defaults: the most threads, the fullest optimization, no delay.
  for (const b of active) {
    const start: TuningPoint = {
      ...(lanes.get(b) as Lane),
      max_batch_size: grid.batchSizes[0] as number,
      max_queue_delay_ms: grid.queueDelaysMs[0] as number,
      threads: threadsOf(b).at(-1) as number | null,
      graph_optimization: opt,
    }
    if ((await at(start)) === undefined) continue
    await sweep(b, 'max_batch_size', grid.batchSizes.slice(1))
    // The knee: the smallest batch within KNEE of the sweep's best leaves the most room for a delay.
    const inc = incumbent.get(b)
    if (inc && inc.score > 0) {
      const knee = measured.find(
        (m) =>
          m.result &&
          laneKey(m.point) === b &&
          m.point.max_batch_size < inc.point.max_batch_size &&
          score(m.result, target) >= (1 - KNEE) * inc.score,
      )
      if (knee?.result)
        incumbent.set(b, { point: knee.point, score: score(knee.result, target), p99: knee.result.p99_ms })
    }
  }
  active = prune(active, 0.5)
  // 2. Queue delays.
  for (const b of active) await sweep(b, 'max_queue_delay_ms', grid.queueDelaysMs)
  // 3. Threads: powers of two and the largest, then the neighbours of the best.
  for (const b of active) {
    const axis = threadsOf(b)
    if (axis.length < 2) continue
    // The largest and the one below it: cores − 1 often wins, the server's own threads taking the last.
    const coarse = axis.filter((t, i) => t !== null && (i >= axis.length - 2 || (t & (t - 1)) === 0))
    for (const t of coarse) {
      const inc = incumbent.get(b)
      if (!inc || truncated) break
      await at({ ...inc.point, threads: t })
    }
    await climb(b, 'threads', axis)
  }
  // 4. Graph optimization levels, from the most optimized down.
  for (const b of active) await sweep(b, 'graph_optimization', [...grid.graphOptimizations].reverse(), 1)
  active = prune(active, 0.8)
  const descend = async (b: string, radius: number) => {
    for (let moved = true; moved && !truncated; ) {
      moved = false
      const delays = { axis: 'max_queue_delay_ms' as const, values: grid.queueDelaysMs }
      if (await climb(b, 'max_batch_size', grid.batchSizes, delays, radius)) moved = true
      if (await climb(b, 'threads', threadsOf(b), undefined, radius)) moved = true
      if (radius === 1 && (await climb(b, 'graph_optimization', grid.graphOptimizations))) moved = true
    }
  }
  // 5. Coordinate descent on the neighbours of each lane's best (batch and delay together), until none moves.
  for (const b of active) await descend(b, 1)
  // 6. With points left, the same from the best with steps of two, then from the runners-up.
  for (const b of active) await descend(b, 2)
  const starts = new Set<string>()
  for (let round = 0; round < RESTARTS && !truncated; round++) {
    const next = measured
      .filter((m) => m.result && active.includes(laneKey(m.point)) && !starts.has(pointKey(m.point)))
      .sort((x, y) => score(y.result as R, target) - score(x.result as R, target))[0]
    if (!next?.result) break
    starts.add(pointKey(next.point))
    const lane = laneKey(next.point)
    incumbent.set(lane, { point: next.point, score: score(next.result, target), p99: next.result.p99_ms })
    await descend(lane, 1)
  }
  return { measured, best: bestOf(measured, target), truncated }
}
