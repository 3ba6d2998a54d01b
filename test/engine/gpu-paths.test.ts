/**
 * Choosing a GPU path by measurement, with timings injected: fake sessions advance a fake clock by
 * the milliseconds each path is said to take at each batch size, so the rule is checked on exact
 * numbers whatever the machine's speed. Expected choices and ratios are worked out by hand here.
 */
import { describe, expect, it, vi } from 'vitest'
import { type Candidate, choosePath, measurePaths } from '../../src/engine/gpu-paths.js'
import type { HostTensor, TensorSpec } from '../../src/engine/tensor.js'
import type { Feeds, ModelSession, Outputs, PathName, PathTiming } from '../../src/engine/types.js'

const INPUTS: TensorSpec[] = [{ name: 'x', dtype: 'float32', shape: ['N', 3] }]

interface Fake {
  /** ms per run by batch size; a list gives successive runs at that size their times in turn. */
  ms: Record<number, number | number[]>
  /** Added to every output value (a path that computes something else). */
  skew?: number
  /** Output values replaced by index (a path that disagrees in one place). */
  replace?: Record<number, number>
  /** Answer with these dims instead of [rows, 1]. */
  dims?: number[]
  /** Finish loading only after this many real ms. */
  slowLoadMs?: number
  failLoad?: boolean
  /** Fail the nth run (1-based). */
  failRun?: number
  /** Never finish loading, or never finish the nth run (1-based). */
  hangLoad?: boolean
  hangRun?: number
}

/** A clock, fake sessions that advance it, and what was released. */
function rig(fakes: Partial<Record<PathName, Fake>>, inputs: TensorSpec[] = INPUTS) {
  let t = 1000
  const released: PathName[] = []
  const runs: Record<string, number> = {}
  const perBatch: Record<string, number> = {}
  /** Each path's latest output values. */
  const outs: Partial<Record<PathName, Float32Array>> = {}
  const session = (path: PathName, f: Fake): ModelSession => ({
    backend: path === 'cpu' ? 'cpu' : 'webgpu',
    inputs,
    outputs: [{ name: 'y', dtype: 'float32', shape: ['N', 1] }],
    activeBackend: () => (path === 'cpu' ? 'cpu' : 'webgpu'),
    async run(feeds: Feeds): Promise<Outputs> {
      runs[path] = (runs[path] ?? 0) + 1
      if (f.failRun === runs[path]) throw new Error(`${path} broke`)
      if (f.hangRun === runs[path]) await new Promise(() => {})
      const x = feeds.x as HostTensor<'float32'>
      const rows = x.dims[0] as number
      const key = `${path} ${rows}`
      perBatch[key] = (perBatch[key] ?? 0) + 1
      const ms = f.ms[rows] ?? 1
      t += Array.isArray(ms) ? (ms[((perBatch[key] as number) - 1) % ms.length] as number) : ms
      // y = the row's weighted sum: every path computes the same function unless skewed
      const y = new Float32Array(rows)
      for (let r = 0; r < rows; r++) {
        y[r] = 1 * (x.data[r * 3] as number) - 2 * (x.data[r * 3 + 1] as number) + 0.5 * (x.data[r * 3 + 2] as number)
        y[r] = (y[r] as number) + (f.skew ?? 0)
      }
      for (const [i, v] of Object.entries(f.replace ?? {})) y[Number(i)] = v
      outs[path] = y
      return { y: { dtype: 'float32', dims: f.dims ?? [rows, 1], data: y } }
    },
    async release() {
      released.push(path)
    },
  })
  const candidate = (path: PathName): Candidate => ({
    path,
    load: async () => {
      const f = fakes[path] as Fake
      if (f.failLoad) throw new Error(`${path} cannot load this model`)
      if (f.hangLoad) await new Promise(() => {})
      if (f.slowLoadMs) await new Promise((r) => setTimeout(r, f.slowLoadMs))
      return session(path, f)
    },
  })
  return { now: () => t, released, runs, outs, candidate }
}

describe('choosePath: the rule on timings alone', () => {
  const timing = (path: PathName, ms: Record<string, number>, score: number): PathTiming => ({ path, ms, score })

  it('takes a path faster at every batch size and by more than 10% overall', () => {
    // baseline 2 and 8 ms: geometric mean 4; captured 1 and 8 ms: sqrt(8) = 2.828 → 1.41× as fast
    const r = choosePath(
      'ort',
      [timing('ort', { 1: 2, 256: 8 }, 4), timing('captured', { 1: 1, 256: 8 }, Math.sqrt(8))],
      [1, 256],
    )
    expect(r.chosen).toBe('captured')
    expect(r.baseline).toBe('ort')
    expect(r.how).toBe('measured')
    expect(r.reason).toContain('1.41×')
  })

  it('keeps the baseline when a path is faster overall but slower at one batch size', () => {
    // kernels: 0.5 and 9 ms, geometric mean 2.12 (half the baseline's), but 9 > 8 at batch 256
    const r = choosePath(
      'ort',
      [timing('ort', { 1: 2, 256: 8 }, 4), timing('kernels', { 1: 0.5, 256: 9 }, Math.sqrt(4.5))],
      [1, 256],
    )
    expect(r.chosen).toBe('ort')
  })

  it('keeps the baseline when the gain is under 10%', () => {
    // 1.9 and 7.6 ms: geometric mean 3.8 = 0.95 × 4
    const r = choosePath(
      'ort',
      [timing('ort', { 1: 2, 256: 8 }, 4), timing('kernels', { 1: 1.9, 256: 7.6 }, 3.8)],
      [1, 256],
    )
    expect(r.chosen).toBe('ort')
    // exactly 10% faster is enough: 1.8 and 7.2 → 3.6 = 0.9 × 4
    expect(
      choosePath('ort', [timing('ort', { 1: 2, 256: 8 }, 4), timing('kernels', { 1: 1.8, 256: 7.2 }, 3.6)], [1, 256])
        .chosen,
    ).toBe('kernels')
  })

  it('takes the fastest of several eligible paths, and never one that failed', () => {
    const r = choosePath(
      'ort',
      [
        timing('ort', { 1: 2, 256: 8 }, 4),
        { path: 'cpu', error: 'failed while timed: boom' },
        timing('captured', { 1: 1, 256: 8 }, Math.sqrt(8)),
        timing('kernels', { 1: 1, 256: 4 }, 2),
      ],
      [1, 256],
    )
    expect(r.chosen).toBe('kernels')
    expect(r.candidates.map((c) => c.path)).toEqual(['ort', 'cpu', 'captured', 'kernels'])
  })

  it('keeps the baseline when it could not be timed', () => {
    const r = choosePath('ort', [{ path: 'ort', error: 'no samples' }, timing('kernels', { 1: 1 }, 1)], [1])
    expect(r.chosen).toBe('ort')
    expect(r.reason).toContain('could not be timed')
  })
})

describe('measurePaths: loading, checking and timing the candidates', () => {
  it('serves with the fastest path, reports each one and releases the others', async () => {
    const r = rig({
      ort: { ms: { 1: 3, 64: 12 } },
      captured: { ms: { 1: 0.5, 64: 6 } },
      kernels: { ms: { 1: 1, 64: 4 } },
    })
    const { session, report } = await measurePaths(
      r.candidate('ort'),
      [r.candidate('captured'), r.candidate('kernels')],
      {
        batches: [64, 1, 64],
        budgetMs: 500,
        now: r.now,
      },
    )
    // geometric means: ort sqrt(36) = 6, captured sqrt(3) = 1.73, kernels 2
    expect(report.chosen).toBe('captured')
    expect(report.batches).toEqual([1, 64])
    const ms = Object.fromEntries(report.candidates.map((c) => [c.path, c.ms]))
    expect(ms).toEqual({ ort: { 1: 3, 64: 12 }, captured: { 1: 0.5, 64: 6 }, kernels: { 1: 1, 64: 4 } })
    expect(report.candidates.find((c) => c.path === 'captured')?.score).toBeCloseTo(Math.sqrt(3), 12)
    expect(r.released.sort()).toEqual(['kernels', 'ort'])
    expect(await session.run({ x: { dtype: 'float32', dims: [1, 3], data: new Float32Array([1, 1, 2]) } })).toEqual({
      y: { dtype: 'float32', dims: [1, 1], data: new Float32Array([0]) },
    })
  })

  it('leaves out a path that cannot load, one whose outputs differ and one that fails while timed', async () => {
    const r = rig({
      ort: { ms: { 1: 4, 8: 8 } },
      captured: { ms: { 1: 1, 8: 1 }, failLoad: true },
      kernels: { ms: { 1: 1, 8: 1 }, skew: 0.25 },
      cpu: { ms: { 1: 1, 8: 1 }, failRun: 4 },
    })
    const { report } = await measurePaths(
      r.candidate('ort'),
      ['captured', 'kernels', 'cpu'].map((p) => r.candidate(p as PathName)),
      {
        batches: [1, 8],
        budgetMs: 1000,
        now: r.now,
      },
    )
    expect(report.chosen).toBe('ort')
    const error = (p: PathName) => report.candidates.find((c) => c.path === p)?.error ?? ''
    expect(error('captured')).toContain('cannot load this model')
    expect(error('kernels')).toMatch(/output 'y' differs from the baseline's at 0/)
    // two checked runs, then the first timed round's two runs: the 4th fails
    expect(error('cpu')).toBe('failed while timed: cpu broke')
    expect(r.released.sort()).toEqual(['cpu', 'kernels'])
  })

  it('times rounds until the budget is spent, at least one and at most 15', async () => {
    // each round runs both paths at both sizes: 2 + 2 + 1 + 1 = 6 ms of fake time
    const r = rig({ ort: { ms: { 1: 2, 4: 2 } }, kernels: { ms: { 1: 1, 4: 1 } } })
    await measurePaths(r.candidate('ort'), [r.candidate('kernels')], { batches: [1, 4], budgetMs: 18, now: r.now })
    // checked runs: 2 each; rounds start at 0, 6, 12 ms (< 18; at 18 the budget is spent) → 3 rounds of 2 runs each
    expect(r.runs).toEqual({ ort: 2 + 6, kernels: 2 + 6 })
    const once = rig({ ort: { ms: { 1: 2 } }, kernels: { ms: { 1: 1 } } })
    await measurePaths(once.candidate('ort'), [once.candidate('kernels')], { batches: [1], budgetMs: 0, now: once.now })
    expect(once.runs).toEqual({ ort: 1 + 1, kernels: 1 + 1 })
    const many = rig({ ort: { ms: { 1: 2 } }, kernels: { ms: { 1: 1 } } })
    await measurePaths(many.candidate('ort'), [many.candidate('kernels')], {
      batches: [1],
      budgetMs: 1e9,
      now: many.now,
    })
    expect(many.runs).toEqual({ ort: 1 + 15, kernels: 1 + 15 })
  })

  it('does not measure a model whose inputs cannot be made up, and loads nothing else', async () => {
    const r = rig({ ort: { ms: { 1: 1 } }, kernels: { ms: { 1: 0.1 } } }, [
      { name: 'x', dtype: 'int64', shape: ['N', 3] },
    ])
    const { report } = await measurePaths(r.candidate('ort'), [r.candidate('kernels')], {
      batches: [1],
      budgetMs: 100,
      now: r.now,
    })
    expect(report).toMatchObject({ chosen: 'ort', how: 'unmeasured' })
    expect(report.reason).toContain('x int64[N,3]')
    expect(r.runs).toEqual({})
    const fixed = rig({ ort: { ms: { 1: 1 } } }, [{ name: 'x', dtype: 'float32', shape: ['N', 'F'] }])
    const alone = await measurePaths(fixed.candidate('ort'), [], { batches: [1], budgetMs: 1, now: fixed.now })
    expect(alone.report).toEqual({
      chosen: 'ort',
      baseline: 'ort',
      how: 'single',
      batches: [],
      candidates: [{ path: 'ort' }],
      reason: 'no other path can run this model',
    })
    // one float input and one that is not: still no trial rows
    const mixed = rig({ ort: { ms: { 1: 1 } }, kernels: { ms: { 1: 0.1 } } }, [
      { name: 'x', dtype: 'float32', shape: ['N', 3] },
      { name: 'k', dtype: 'float32', shape: ['N', 'K'] },
    ])
    const m = await measurePaths(mixed.candidate('ort'), [mixed.candidate('kernels')], {
      batches: [1],
      budgetMs: 1,
      now: mixed.now,
    })
    expect(m.report).toMatchObject({ how: 'unmeasured', candidates: [{ path: 'ort' }] })
    expect(m.report.reason).toContain('k float32[N,K]')
    expect(mixed.runs).toEqual({})
  })

  it('keeps the baseline, unmeasured, when its own trial run fails, and loads nothing else', async () => {
    const r = rig({ ort: { ms: { 1: 1 }, failRun: 1 }, kernels: { ms: { 1: 0.1 } } })
    const { report, session } = await measurePaths(r.candidate('ort'), [r.candidate('kernels')], {
      batches: [1],
      budgetMs: 10,
      now: r.now,
    })
    expect(report).toMatchObject({
      chosen: 'ort',
      how: 'unmeasured',
      reason: 'the baseline failed a trial run: ort broke',
    })
    expect(r.runs).toEqual({ ort: 1 })
    expect(r.released).toEqual([])
    expect(session.backend).toBe('webgpu')
  })

  it('reports median times, serves with the chosen session itself, and says why the baseline stayed', async () => {
    // kernels' runs at batch 1 take 5, 1, 3 and 2 ms in turn: median of the four timed runs (2 + 3) / 2
    const r = rig({ ort: { ms: { 1: 9 } }, kernels: { ms: { 1: [7, 5, 1, 3, 2] } } })
    const { report, session } = await measurePaths(r.candidate('ort'), [r.candidate('kernels')], {
      batches: [1],
      budgetMs: 40,
      now: r.now,
    })
    // rounds of 9 + (5, 1, 3, 2) ms start at 0, 14, 24, 36 (< 40)
    expect(report.candidates.find((c) => c.path === 'kernels')?.ms).toEqual({ 1: 2.5 })
    expect(report.chosen).toBe('kernels')
    expect(r.released).toEqual(['ort'])
    const before = r.runs.kernels
    await session.run({ x: { dtype: 'float32', dims: [1, 3], data: new Float32Array([1, 0, 0]) } })
    expect(r.runs.kernels).toBe((before as number) + 1)
    const slow = rig({ ort: { ms: { 1: 2 } }, kernels: { ms: { 1: 1.9 } } })
    const kept = await measurePaths(slow.candidate('ort'), [slow.candidate('kernels')], {
      batches: [1],
      budgetMs: 0,
      now: slow.now,
    })
    expect(kept.report.reason).toBe('no path was at least 10% faster than ort and no slower at every batch size')
  })

  it("checks each path's outputs against the baseline's: dims, and values within 1e-3 of the largest", async () => {
    const check = async (f: Partial<Fake>) => {
      const r = rig({ ort: { ms: { 8: 4 } }, kernels: { ms: { 8: 1 }, ...f } })
      const { report } = await measurePaths(r.candidate('ort'), [r.candidate('kernels')], {
        batches: [8],
        budgetMs: 0,
        now: r.now,
      })
      return { error: report.candidates.find((c) => c.path === 'kernels')?.error, y: r.outs.ort as Float32Array }
    }
    const { error, y } = await check({})
    expect(error).toBeUndefined()
    expect((await check({ dims: [8, 2] })).error).toBe("output 'y' has dims [8,2], the baseline [8,1]")
    // Off by 0.9 and 1.1 thousandths of the largest |y|, at the row with the smallest |y| (not the first)
    const largest = Math.max(...Array.from(y, Math.abs))
    const at = Array.from(y, Math.abs).indexOf(Math.min(...Array.from(y, Math.abs)))
    expect(at).not.toBe(0)
    const off = (k: number) => ({ replace: { [at]: (y[at] as number) + k * largest } })
    expect((await check(off(0.0009))).error).toBeUndefined()
    expect((await check(off(0.0011))).error).toMatch(new RegExp(`^output 'y' differs from the baseline's at ${at}: `))
    // NaN and ±inf where the baseline has them too agree, and leave the scale to the finite values
    const special = { 2: Number.NaN, 5: Number.POSITIVE_INFINITY, 6: Number.NEGATIVE_INFINITY }
    const both = rig({ ort: { ms: { 8: 4 }, replace: special }, kernels: { ms: { 8: 1 }, replace: special } })
    const agreed = await measurePaths(both.candidate('ort'), [both.candidate('kernels')], {
      batches: [8],
      budgetMs: 0,
      now: both.now,
    })
    expect(agreed.report.candidates.find((c) => c.path === 'kernels')?.error).toBeUndefined()
    const infOff = rig({
      ort: { ms: { 8: 4 }, replace: { 5: Number.POSITIVE_INFINITY } },
      kernels: { ms: { 8: 1 }, replace: { 5: Number.POSITIVE_INFINITY, [at]: (y[at] as number) + 0.5 } },
    })
    const found = await measurePaths(infOff.candidate('ort'), [infOff.candidate('kernels')], {
      batches: [8],
      budgetMs: 0,
      now: infOff.now,
    })
    expect(found.report.candidates.find((c) => c.path === 'kernels')?.error).toMatch(/differs from the baseline's at /)
    expect((await check({ replace: { 3: Number.NaN } })).error).toMatch(
      /^output 'y' differs from the baseline's at 3: NaN vs /,
    )
  })

  it('does not make up trial rows too large to hold (a hostile input shape), and loads nothing else', async () => {
    // [N, 2^33] float32: 32 GiB a row. Made up anyway, the rows would throw (or exhaust memory)
    // after the baseline loaded, and the baseline would be lost, never released.
    const r = rig({ ort: { ms: { 1: 1 } }, kernels: { ms: { 1: 0.1 } } }, [
      { name: 'x', dtype: 'float32', shape: ['N', 2 ** 33] },
    ])
    const { session, report } = await measurePaths(r.candidate('ort'), [r.candidate('kernels')], {
      batches: [1, 64],
      budgetMs: 100,
      now: r.now,
    })
    expect(report).toMatchObject({ chosen: 'ort', how: 'unmeasured' })
    expect(report.reason).toBe(
      'trial rows (batches 1, 64) would take 2233382993920 bytes (at most 1073741824), so none were made',
    )
    expect(session.backend).toBe('webgpu')
    expect(r.runs).toEqual({})
    expect(r.released).toEqual([])
  })

  it('leaves out a path that never finishes loading, or never finishes a timed run, once its deadline passes', async () => {
    const r = rig({
      ort: { ms: { 1: 2 } },
      captured: { ms: { 1: 1 }, hangLoad: true },
      // one checked run, then the second (the first timed one) never returns
      kernels: { ms: { 1: 1 }, hangRun: 2 },
    })
    const { report, session } = await measurePaths(
      r.candidate('ort'),
      [r.candidate('captured'), r.candidate('kernels')],
      {
        batches: [1],
        budgetMs: 10,
        now: r.now,
        deadlineMs: 50,
      },
    )
    expect(report.chosen).toBe('ort')
    const error = (p: PathName) => report.candidates.find((c) => c.path === p)?.error
    expect(error('captured')).toBe('loading and checking it took more than 50 ms')
    expect(error('kernels')).toBe('failed while timed: a run of 1 rows took more than 50 ms')
    expect(session.backend).toBe('webgpu')
  })

  it('releases a path whose load finishes after its deadline, once it finishes', async () => {
    const r = rig({ ort: { ms: { 1: 2 } }, captured: { ms: { 1: 1 }, slowLoadMs: 100 } })
    const { report } = await measurePaths(r.candidate('ort'), [r.candidate('captured')], {
      batches: [1],
      budgetMs: 10,
      now: r.now,
      deadlineMs: 20,
    })
    expect(report.chosen).toBe('ort')
    expect(report.candidates.find((c) => c.path === 'captured')?.error).toBe(
      'loading and checking it took more than 20 ms',
    )
    await vi.waitFor(() => expect(r.released).toEqual(['captured']), { timeout: 30_000, interval: 20 })
  })
})
