/**
 * Choosing how a model runs on the GPU, by measurement: the candidate paths (onnxruntime-web
 * plain, onnxruntime-web with graph capture, lastmile's own kernels, and native onnxruntime on
 * the CPU when the backend was left to lastmile) are loaded, checked against the baseline's
 * outputs on the same rows, and timed interleaved, host in and host out, at the deployment's batch
 * sizes. A candidate replaces the baseline (today's path) only when it is no slower at any batch
 * size measured and at least {@link MIN_GAIN} faster overall, so measuring never makes a
 * deployment slower than the baseline by more than the measurement's own noise.
 *
 * @example
 * const { session, report } = await measurePaths(ort, [captured, kernels], { batches: [1, 256], budgetMs: 2000 })
 */
import { errorMessage } from '../errors.js'
import { mulberry32, uniform } from '../random.js'
import type { HostTensor } from './tensor.js'
import type { Feeds, GpuPathReport, ModelSession, PathName, PathTiming } from './types.js'

/** A candidate must beat the baseline's geometric-mean time by this share to replace it. */
const MIN_GAIN = 0.1
/** Timed rounds at most (each runs every candidate once at every batch size). */
const MAX_ROUNDS = 15
/** Output agreement with the baseline: |a − b| ≤ this × max |baseline| of the output. */
const AGREEMENT = 1e-3
/** Trial rows made up for every batch size together hold at most this many bytes (a model's input shape is the uploader's). */
const MAX_TRIAL_BYTES = 2 ** 30

/** A way to run the model, and how to load it. */
export interface Candidate {
  path: PathName
  load(): Promise<ModelSession>
}

export interface MeasureOptions {
  /** Batch sizes to time (the deployment's: 1 and its largest batch). */
  batches: readonly number[]
  /** Time for the timed rounds, in ms, after loading and a checked first run of each candidate. */
  budgetMs: number
  /** Clock in ms (tests inject one). */
  now?: () => number
  /**
   * How long a candidate other than the baseline may take to load and pass its checked runs, and
   * then each timed run, before it is left out: max(10 s, 5 × the budget) by default.
   */
  deadlineMs?: number
}

/**
 * Load `baseline` and `others`, time them and keep the fastest (see the module comment). The
 * baseline's failure to load is the caller's error; any other candidate's failure is reported in
 * its timing and leaves it out. Every session but the returned one is released.
 */
export async function measurePaths(
  baseline: Candidate,
  others: readonly Candidate[],
  opts: MeasureOptions,
): Promise<{ session: ModelSession; report: GpuPathReport }> {
  const now = opts.now ?? (() => performance.now())
  const base = await baseline.load()
  const batches = [...new Set(opts.batches)].sort((a, b) => a - b)
  const feeds = syntheticFeeds(base, batches)
  if (typeof feeds === 'string' || others.length === 0) {
    const reason = others.length === 0 ? 'no other path can run this model' : (feeds as string)
    return { session: base, report: single(baseline.path, others, reason) }
  }
  const sessions = new Map<PathName, ModelSession>([[baseline.path, base]])
  const timings = new Map<PathName, PathTiming>([[baseline.path, { path: baseline.path }]])
  const reference = new Map<number, Record<string, HostTensor>>()
  try {
    for (const b of batches) reference.set(b, await base.run(feeds.get(b) as Feeds))
  } catch (e) {
    return {
      session: base,
      report: single(baseline.path, others, `the baseline failed a trial run: ${errorMessage(e)}`),
    }
  }
  const deadline = opts.deadlineMs ?? Math.max(10_000, 5 * opts.budgetMs)
  for (const c of others) {
    timings.set(c.path, { path: c.path })
    let s: ModelSession | undefined
    const loadAndCheck = async () => {
      s = await c.load()
      for (const b of batches) agree(await s.run(feeds.get(b) as Feeds), reference.get(b) as Record<string, HostTensor>)
    }
    const loading = loadAndCheck()
    try {
      await within(loading, deadline, 'loading and checking it')
      sessions.set(c.path, s as unknown as ModelSession)
    } catch (e) {
      timings.set(c.path, { path: c.path, error: errorMessage(e).split('\n')[0] as string })
      // A load past the deadline is released once it settles.
      void loading.then(
        () => s?.release().catch(() => {}),
        () => s?.release().catch(() => {}),
      )
    }
  }
  const samples = new Map<string, number[]>()
  const start = now()
  for (let round = 0; round < MAX_ROUNDS && (round === 0 || now() - start < opts.budgetMs); round++) {
    for (const b of batches) {
      for (const [path, s] of sessions) {
        const t0 = now()
        const run = s.run(feeds.get(b) as Feeds)
        try {
          await (path === baseline.path ? run : within(run, deadline, `a run of ${b} rows`))
        } catch (e) {
          sessions.delete(path)
          if (path !== baseline.path) void run.then(release(s), release(s))
          timings.set(path, { path, error: `failed while timed: ${errorMessage(e).split('\n')[0]}` })
          continue
        }
        const key = `${path} ${b}`
        samples.set(key, [...(samples.get(key) ?? []), now() - t0])
      }
    }
  }
  for (const path of sessions.keys()) {
    const ms = Object.fromEntries(batches.map((b) => [String(b), median(samples.get(`${path} ${b}`) ?? [])]))
    timings.set(path, { path, ms, score: geomean(Object.values(ms)) })
  }
  const report = choosePath(baseline.path, [...timings.values()], batches)
  for (const [path, s] of sessions) if (path !== report.chosen) await s.release().catch(() => {})
  return { session: sessions.get(report.chosen) ?? base, report }
}

/**
 * The rule, on timings alone: the fastest candidate (geometric mean over the batch sizes) that is
 * no slower than the baseline at every batch size and at least {@link MIN_GAIN} faster overall;
 * else the baseline.
 */
export function choosePath(
  baseline: PathName,
  timings: readonly PathTiming[],
  batches: readonly number[],
): GpuPathReport {
  const base = timings.find((t) => t.path === baseline)
  const report = (chosen: PathName, reason: string): GpuPathReport => ({
    chosen,
    baseline,
    how: 'measured',
    batches: [...batches],
    candidates: [...timings],
    reason,
  })
  if (!base?.ms || base.score === undefined)
    return report(baseline, `the baseline could not be timed: ${base?.error ?? 'no samples'}`)
  const baseMs = base.ms
  const baseScore = base.score
  const eligible = timings
    .filter((t) => t.path !== baseline && t.ms && t.score !== undefined)
    .filter((t) => batches.every((b) => (t.ms?.[String(b)] ?? Number.POSITIVE_INFINITY) <= (baseMs[String(b)] ?? 0)))
    .filter((t) => (t.score as number) <= (1 - MIN_GAIN) * baseScore)
    .sort((a, b) => (a.score as number) - (b.score as number))
  const best = eligible[0]
  if (!best)
    return report(
      baseline,
      `no path was at least ${MIN_GAIN * 100}% faster than ${baseline} and no slower at every batch size`,
    )
  const gain = baseScore / (best.score as number)
  return report(
    best.path,
    `${best.path} is ${gain.toFixed(2)}× as fast as ${baseline} (geometric mean over batches ${batches.join(', ')})`,
  )
}

/** `p`, or an error once `ms` have passed (`p` goes on; the caller cleans up after it). */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took more than ${ms} ms`)), ms)
  })
  try {
    return await Promise.race([p, late])
  } finally {
    clearTimeout(timer)
  }
}

function release(s: ModelSession): () => void {
  return () => void s.release().catch(() => {})
}

/** A report for a model that was not measured. */
function single(path: PathName, others: readonly Candidate[], reason: string): GpuPathReport {
  return {
    chosen: path,
    baseline: path,
    how: others.length === 0 ? 'single' : 'unmeasured',
    batches: [],
    candidates: [{ path }],
    reason,
  }
}

/**
 * Seeded rows for each batch size, or why none are made: an input is not float32 with static dims
 * past the batch, or the rows would hold more than {@link MAX_TRIAL_BYTES}.
 */
function syntheticFeeds(s: ModelSession, batches: readonly number[]): Map<number, Feeds> | string {
  const fixed = s.inputs.every((i) => i.dtype === 'float32' && i.shape.slice(1).every((d) => typeof d === 'number'))
  if (!fixed || s.inputs.length === 0) return unmeasurable(s)
  const perRow = s.inputs.reduce((n, i) => n + (i.shape.slice(1) as number[]).reduce((x, y) => x * y, 4), 0)
  const bytes = perRow * batches.reduce((a, b) => a + b, 0)
  if (!(bytes <= MAX_TRIAL_BYTES)) {
    return `trial rows (batches ${batches.join(', ')}) would take ${bytes} bytes (at most ${MAX_TRIAL_BYTES}), so none were made`
  }
  const rand = mulberry32(20)
  return new Map(
    batches.map((b) => [
      b,
      Object.fromEntries(
        s.inputs.map((i) => {
          const dims = [b, ...(i.shape.slice(1) as number[])]
          return [
            i.name,
            {
              dtype: 'float32',
              dims,
              data: uniform(
                rand,
                dims.reduce((x, y) => x * y, 1),
              ),
            },
          ]
        }),
      ) as Feeds,
    ]),
  )
}

function unmeasurable(s: ModelSession): string {
  return `inputs ${s.inputs.map((i) => `${i.name} ${i.dtype}[${i.shape.join(',')}]`).join(', ')} are not all float32 with fixed dims past the batch, so no trial rows could be made`
}

/** Throw unless every output of `got` matches `want` (names, dims, values within {@link AGREEMENT}). */
function agree(got: Record<string, HostTensor>, want: Record<string, HostTensor>): void {
  for (const [name, w] of Object.entries(want)) {
    const g = got[name]
    if (!g || g.dims.join() !== w.dims.join()) {
      throw new Error(`output '${name}' has dims [${g?.dims.join(',') ?? 'none'}], the baseline [${w.dims.join(',')}]`)
    }
    const a = g.data as ArrayLike<number | bigint>
    const b = w.data as ArrayLike<number | bigint>
    // The scale is the largest finite |value|: a NaN or ±inf among the outputs must not make it NaN or ∞.
    let scale = 0
    for (let i = 0; i < b.length; i++) {
      const v = Math.abs(Number(b[i]))
      if (Number.isFinite(v) && v > scale) scale = v
    }
    for (let i = 0; i < b.length; i++) {
      const [x, y] = [Number(a[i]), Number(b[i])]
      if (x === y || (Number.isNaN(x) && Number.isNaN(y))) continue
      if (!(Math.abs(x - y) <= AGREEMENT * scale)) {
        throw new Error(`output '${name}' differs from the baseline's at ${i}: ${x} vs ${y}`)
      }
    }
  }
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  if (s.length === 0) return Number.NaN
  const m = s.length >> 1
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2
}

function geomean(xs: readonly number[]): number {
  return Math.exp(xs.reduce((a, x) => a + Math.log(Math.max(x, 1e-6)), 0) / xs.length)
}
