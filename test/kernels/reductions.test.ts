/**
 * Drift reductions: histogram into bin edges and per-column statistics, on the GPU and on the
 * CPU, against naive float64 references. Counts are exact; sums and means relative 1e-4 of the
 * column's scale; min/max exact.
 */
import { afterAll, describe, expect, it } from 'vitest'
import type { GpuContext } from '../../src/gpu/context.js'
import {
  type ColumnStats,
  columnStatsCpu,
  columnStatsProgram,
  mergeColumnPartials,
  planColumnStats,
} from '../../src/kernels/column-stats.js'
import { histogramCpu, histogramProgram } from '../../src/kernels/histogram.js'
import { mulberry32, normal } from '../../src/random.js'
import { expectClose, freshSeed } from '../helpers/compare.js'
import { gpuTitle, probeGpu } from '../helpers/gpu.js'
import { histogramRef, statsRef } from '../helpers/kernel-reference.js'
import { closeTestContext, randomF32, testContext } from '../helpers/kernels.js'

const gpu = await probeGpu()
const { POSITIVE_INFINITY: INF, NaN: NAN } = Number

async function gpuHistogram(ctx: GpuContext, x: Float32Array, edges: number[], stride = 1, offset = 0, count?: number) {
  const n = count ?? x.length
  const b = ctx.batch('test histogram')
  const values = b.upload(x, 'values')
  const e = b.upload(Float32Array.from(edges), 'edges')
  const counts = b.scratch((edges.length + 2) * 4, 'counts')
  b.dispatch(histogramProgram({ count: n, stride, offset, values, edges: e, numEdges: edges.length, counts }))
  const [out] = await b.read([{ buffer: counts, bytes: (edges.length + 2) * 4 }])
  return Array.from(new Uint32Array(out as ArrayBuffer))
}

async function gpuStats(ctx: GpuContext, x: Float32Array, rows: number, cols: number): Promise<ColumnStats[]> {
  const plan = planColumnStats(rows, cols)
  const b = ctx.batch('test column stats')
  const matrix = b.upload(x, 'matrix')
  const partials = b.scratch(plan.partialBytes, 'partials')
  b.dispatch(columnStatsProgram({ rows, cols, matrix, partials, plan }))
  const [out] = await b.read([{ buffer: partials, bytes: plan.partialBytes }])
  return mergeColumnPartials(new Float32Array(out as ArrayBuffer), plan.blocks, cols)
}

function expectStats(got: ColumnStats[], x: Float32Array, rows: number, cols: number, what: string) {
  for (let c = 0; c < cols; c++) {
    const col = Array.from({ length: rows }, (_, r) => x[r * cols + c] as number)
    const ref = statsRef(col)
    const g = got[c] as ColumnStats
    expect(g.count, `${what} col ${c} count`).toBe(ref.count)
    expect(g.nanCount, `${what} col ${c} nanCount`).toBe(ref.nanCount)
    expect(g.min, `${what} col ${c} min`).toBe(ref.min)
    expect(g.max, `${what} col ${c} max`).toBe(ref.max)
    const scale = Math.max(Math.abs(ref.min), Math.abs(ref.max))
    expect(Math.abs(g.mean - ref.mean), `${what} col ${c} mean`).toBeLessThanOrEqual(1e-4 * scale)
    expectClose([g.sum, g.sumSquares], [ref.sum, ref.sumSquares], `${what} col ${c} sums`)
    expect(Math.abs(g.variance - ref.variance), `${what} col ${c} variance`).toBeLessThanOrEqual(1e-4 * scale * scale)
  }
}

describe.runIf(gpu.ok)(gpuTitle('drift reductions', gpu), () => {
  afterAll(closeTestContext)

  for (const n of [1, 255, 4097, 1_000_000]) {
    const seed = freshSeed()
    it(`histogram of ${n} normal values into quantile-like edges matches a linear scan (seed ${seed})`, async () => {
      const x = normal(mulberry32(seed), n)
      // The kernel's edges are f32 (-0.6 becomes -0.60000002); the reference must see the same
      // edges, or a value equal to f32(-0.6) lands in different bins by design, not by error.
      const edges = Array.from(Float32Array.from([-1.5, -0.6, -0.1, 0.1, 0.55, 1.4]))
      const ref = histogramRef(Array.from(x), edges)
      expect(await gpuHistogram(await testContext(), x, edges)).toEqual(ref)
      expect(Array.from(histogramCpu(x, edges))).toEqual(ref)
      expect(ref.reduce((a, b) => a + b, 0)).toBe(n)
    })
  }

  it('histogram edge cases: values on edges, the closed last bin, ±inf, NAN, one bin', async () => {
    const ctx = await testContext()
    const x = Float32Array.from([0, 1, 2, 3, 3.0000002, -0.0000001, INF, -INF, NAN, 1.5, 2.999999])
    const edges = [0, 1, 2, 3]
    const ref = histogramRef(Array.from(x), edges)
    expect(ref).toEqual([2, 1, 2, 3, 2, 1])
    expect(await gpuHistogram(ctx, x, edges)).toEqual(ref)
    expect(Array.from(histogramCpu(x, edges))).toEqual(ref)
    expect(await gpuHistogram(ctx, Float32Array.from([5, 5, 6, 7]), [5, 7])).toEqual([0, 4, 0, 0])
  })

  it('histogram of one column of a row-major matrix (stride and offset), with 1024 bins', async () => {
    const rows = 10_000
    const cols = 5
    const x = randomF32(mulberry32(freshSeed()), rows * cols, -1, 1)
    const edges = Array.from({ length: 1025 }, (_, i) => -1 + (2 * i) / 1024)
    const col3 = Array.from({ length: rows }, (_, r) => x[r * cols + 3] as number)
    const ref = histogramRef(col3, edges)
    expect(await gpuHistogram(await testContext(), x, edges, cols, 3, rows)).toEqual(ref)
    expect(Array.from(histogramCpu(x, edges, cols, 3, rows))).toEqual(ref)
  })

  it('rejects unsorted or non-finite edges', () => {
    expect(() => histogramCpu([1], [0, 2, 1])).toThrow(/strictly increasing/)
    expect(() => histogramCpu([1], [0, INF])).toThrow(/finite/)
    expect(() => histogramCpu([1], [0])).toThrow(/need 2\.\.1025 bin edges/)
  })

  for (const [rows, cols] of [
    [1, 1],
    [7, 3],
    [1000, 1],
    [4097, 16],
    [333, 300],
    [200_000, 4],
  ] as const) {
    const seed = freshSeed()
    it(`column stats of [${rows},${cols}] match direct float64 sums (seed ${seed})`, async () => {
      const rand = mulberry32(seed)
      // Offset columns (mean 100, std 3) test the variance against cancellation.
      const x = Float32Array.from({ length: rows * cols }, (_, i) =>
        i % cols === 0 ? 100 + 3 * (rand() - 0.5) : rand() * 10 - 5,
      )
      expectStats(await gpuStats(await testContext(), x, rows, cols), x, rows, cols, 'gpu')
      expectStats(columnStatsCpu(x, rows, cols), x, rows, cols, 'cpu')
    })
  }

  it('column stats skip and count NAN; an all-NAN column has count 0', async () => {
    const x = Float32Array.from([1, NAN, NAN, NAN, 3, NAN, -2, NAN])
    const g = await gpuStats(await testContext(), x, 4, 2)
    for (const [what, s] of [
      ['gpu', g],
      ['cpu', columnStatsCpu(x, 4, 2)],
    ] as const) {
      expect(s[0], what).toMatchObject({ count: 3, nanCount: 1, min: -2, max: 3 })
      expect(s[0]?.sum, what).toBeCloseTo(2, 5)
      expect(s[0]?.sumSquares, what).toBeCloseTo(14, 5)
      expect(s[1], what).toMatchObject({ count: 0, nanCount: 4 })
      expect(Number.isNaN(s[1]?.mean), what).toBe(true)
    }
  })
})
