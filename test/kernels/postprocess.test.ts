/**
 * Post-processing kernels (softmax, sigmoid, argmax/threshold, top-k) on the GPU and their CPU
 * twins, against float64 references, on fresh random inputs and edge cases. Tolerance: relative
 * 1e-4 (test/helpers/compare.ts); indices exact.
 */
import { afterAll, describe, expect, it } from 'vitest'
import type { GpuContext } from '../../src/gpu/context.js'
import { argmaxCpu, argmaxProgram } from '../../src/kernels/argmax.js'
import { sigmoidCpu, sigmoidProgram } from '../../src/kernels/sigmoid.js'
import { softmaxCpu, softmaxProgram } from '../../src/kernels/softmax.js'
import { topkCpu, topkProgram } from '../../src/kernels/topk.js'
import { mulberry32 } from '../../src/random.js'
import { expectCloseSpecial, freshSeed } from '../helpers/compare.js'
import { gpuTitle, probeGpu } from '../helpers/gpu.js'
import { rankOrder, sigmoidRef, softmaxRowRef } from '../helpers/kernel-reference.js'
import { closeTestContext, randomF32, testContext } from '../helpers/kernels.js'

const gpu = await probeGpu()
const { POSITIVE_INFINITY: INF, NaN: NAN } = Number

async function gpuSoftmax(ctx: GpuContext, x: Float32Array, rows: number, cols: number): Promise<Float32Array> {
  const b = ctx.batch('test softmax')
  const logits = b.upload(x, 'logits')
  const probs = b.scratch(x.byteLength, 'probs')
  b.dispatch(softmaxProgram({ rows, cols, logits, probs }))
  const [out] = await b.read([{ buffer: probs, bytes: x.byteLength }])
  return new Float32Array(out as ArrayBuffer)
}

async function gpuSigmoid(ctx: GpuContext, x: Float32Array): Promise<Float32Array> {
  const b = ctx.batch('test sigmoid')
  const values = b.upload(x, 'values')
  const result = b.scratch(x.byteLength, 'result')
  b.dispatch(sigmoidProgram({ count: x.length, values, result }))
  const [out] = await b.read([{ buffer: result, bytes: x.byteLength }])
  return new Float32Array(out as ArrayBuffer)
}

async function gpuArgmax(ctx: GpuContext, x: Float32Array, rows: number, cols: number, threshold?: number) {
  const b = ctx.batch('test argmax')
  const scores = b.upload(x, 'scores')
  const labels = b.scratch(rows * 4, 'labels')
  b.dispatch(argmaxProgram({ rows, cols, scores, labels, ...(threshold === undefined ? {} : { threshold }) }))
  const [out] = await b.read([{ buffer: labels, bytes: rows * 4 }])
  return new Int32Array(out as ArrayBuffer)
}

async function gpuTopk(ctx: GpuContext, x: Float32Array, rows: number, cols: number, k: number) {
  const b = ctx.batch('test topk')
  const scores = b.upload(x, 'scores')
  const indices = b.scratch(rows * k * 4, 'indices')
  const values = b.scratch(rows * k * 4, 'values')
  b.dispatch(topkProgram({ rows, cols, k, scores, indices, values }))
  const [i, v] = await b.read([
    { buffer: indices, bytes: rows * k * 4 },
    { buffer: values, bytes: rows * k * 4 },
  ])
  return { indices: new Int32Array(i as ArrayBuffer), values: new Float32Array(v as ArrayBuffer) }
}

const rowsOf = (x: Float32Array, cols: number) =>
  Array.from({ length: x.length / cols }, (_, r) => Array.from(x.subarray(r * cols, (r + 1) * cols)))

/** Shapes: N = 1, N not a multiple of any workgroup size, a large N; C = 1, small, odd, > 512. */
const SHAPES: Array<[number, number]> = [
  [1, 1],
  [1, 10],
  [7, 3],
  [33, 33],
  [1000, 10],
  [65, 1000],
  [20_000, 4],
]

describe.runIf(gpu.ok)(gpuTitle('post-processing kernels', gpu), () => {
  afterAll(closeTestContext)

  for (const [rows, cols] of SHAPES) {
    const seed = freshSeed()
    it(`softmax [${rows},${cols}] matches the reference on random logits (seed ${seed})`, async () => {
      const x = randomF32(mulberry32(seed), rows * cols, -20, 20)
      const ref = rowsOf(x, cols).flatMap(softmaxRowRef)
      expectCloseSpecial(await gpuSoftmax(await testContext(), x, rows, cols), ref, 'gpu')
      expectCloseSpecial(softmaxCpu(x, rows, cols), ref, 'cpu')
    })
  }

  // Each edge case runs at width 4 (a thread per row) and 40 (a workgroup per row), padded with -inf.
  const pad = (rows: number[][], width: number) =>
    rows.map((r) => [...r, ...new Array(width - r.length).fill(Number.NEGATIVE_INFINITY)])

  for (const width of [4, 40]) {
    it(`softmax handles huge logits, ±inf and NaN as documented (width ${width})`, async () => {
      const cases = pad(
        [
          [1e30, 1e30 - 1e24, -1e30, 0],
          [1000, 999, 998, -1000],
          [88, 89, 90, 91],
          [INF, 1, INF, -INF],
          [-INF, -INF, -INF, -INF],
          [1, NAN, 2, 3],
          [-INF, 0, -INF, 0],
          [-1e30, -1e30, -1e30, -1e30],
        ],
        width,
      )
      const x = Float32Array.from(cases.flat())
      const ref = cases.map((r) => Array.from(Float32Array.from(r))).flatMap(softmaxRowRef)
      expect(ref.slice(3 * width, 3 * width + 4)).toEqual([0.5, 0, 0.5, 0])
      expectCloseSpecial(await gpuSoftmax(await testContext(), x, cases.length, width), ref, 'gpu')
      expectCloseSpecial(softmaxCpu(x, cases.length, width), ref, 'cpu')
    })

    it(`argmax and top-k rank NaN last and take tied maxima in index order (width ${width})`, async () => {
      const cases = pad(
        [
          [NAN, 1, 3, 3],
          [NAN, NAN, NAN, NAN],
          [-INF, NAN, -INF, -5],
          [INF, INF, 2, NAN],
        ],
        width,
      )
      const x = Float32Array.from(cases.flat())
      const order = cases.map((r) => rankOrder(r))
      const ctx = await testContext()
      const expectedArgmax = order.map((o) => o[0])
      expect(Array.from(await gpuArgmax(ctx, x, 4, width))).toEqual(expectedArgmax)
      expect(Array.from(argmaxCpu(x, 4, width))).toEqual(expectedArgmax)
      const top = await gpuTopk(ctx, x, 4, width, 4)
      expect(Array.from(top.indices)).toEqual(order.flatMap((o) => o.slice(0, 4)))
      expect(Array.from(topkCpu(x, 4, width, 4).indices)).toEqual(order.flatMap((o) => o.slice(0, 4)))
    })
  }

  it('sigmoid matches the reference on random values and extremes', async () => {
    const rand = mulberry32(freshSeed())
    const x = Float32Array.from([...randomF32(rand, 10_001, -30, 30), 0, -0, 100, -100, 1e30, -1e30, INF, -INF, NAN])
    const ref = Array.from(x, sigmoidRef)
    expectCloseSpecial(await gpuSigmoid(await testContext(), x), ref, 'gpu')
    expectCloseSpecial(sigmoidCpu(x), ref, 'cpu')
  })

  for (const [rows, cols] of SHAPES) {
    const seed = freshSeed()
    it(`argmax [${rows},${cols}] matches a full sort (seed ${seed})`, async () => {
      // Few distinct values so ties are common: the lower index must win.
      const rand = mulberry32(seed)
      const x = Float32Array.from({ length: rows * cols }, () => Math.floor(rand() * 5))
      const ref = rowsOf(x, cols).map((r) => rankOrder(r)[0])
      expect(Array.from(await gpuArgmax(await testContext(), x, rows, cols))).toEqual(ref)
      expect(Array.from(argmaxCpu(x, rows, cols))).toEqual(ref)
    })
  }

  it('threshold gives 0/1 for one column and argmax-or-abstain (-1) for several', async () => {
    const ctx = await testContext()
    const binary = Float32Array.from([0.2, 0.5, 0.51, 0.99, NAN])
    expect(Array.from(await gpuArgmax(ctx, binary, 5, 1, 0.5))).toEqual([0, 1, 1, 1, 0])
    expect(Array.from(argmaxCpu(binary, 5, 1, 0.5))).toEqual([0, 1, 1, 1, 0])
    const multi = Float32Array.from([0.1, 0.7, 0.2, 0.4, 0.35, 0.25])
    expect(Array.from(await gpuArgmax(ctx, multi, 2, 3, 0.5))).toEqual([1, -1])
    expect(Array.from(argmaxCpu(multi, 2, 3, 0.5))).toEqual([1, -1])
  })

  for (const [rows, cols, k] of [
    [1, 1, 1],
    [7, 10, 3],
    [300, 100, 32],
    [65, 1000, 5],
    [5000, 8, 8],
  ] as const) {
    const seed = freshSeed()
    it(`top-${k} of [${rows},${cols}] matches a full sort, ties in index order (seed ${seed})`, async () => {
      const rand = mulberry32(seed)
      const x = Float32Array.from({ length: rows * cols }, () => (rand() < 0.3 ? Math.floor(rand() * 4) : rand() * 4))
      const order = rowsOf(x, cols).map((r) => rankOrder(r).slice(0, k))
      const refIdx = order.flat()
      const refVal = order.flatMap((o, r) => o.map((i) => x[r * cols + i] as number))
      const g = await gpuTopk(await testContext(), x, rows, cols, k)
      expect(Array.from(g.indices)).toEqual(refIdx)
      expect(Array.from(g.values)).toEqual(refVal)
      const c = topkCpu(x, rows, cols, k)
      expect(Array.from(c.indices)).toEqual(refIdx)
      expect(Array.from(c.values)).toEqual(refVal)
    })
  }

  it('top-k puts NAN last and keeps ±inf in order', async () => {
    const x = Float32Array.from([NAN, -INF, 3, INF, NAN, 3])
    const g = await gpuTopk(await testContext(), x, 1, 6, 6)
    expect(Array.from(g.indices)).toEqual([3, 2, 5, 1, 0, 4])
    expect(Array.from(topkCpu(x, 1, 6, 6).indices)).toEqual([3, 2, 5, 1, 0, 4])
  })

  it('rejects k above 32 or above the row length', () => {
    expect(() => topkCpu(new Float32Array(40), 1, 40, 33)).toThrow(/k must be an integer in 1\.\.32/)
    expect(() => topkCpu(new Float32Array(4), 1, 4, 5)).toThrow(/k must be an integer in 1\.\.4/)
  })

  it('reuses one pipeline per size class whatever the batch size', async () => {
    const ctx = await testContext()
    await gpuSoftmax(ctx, new Float32Array(3 * 10), 3, 10)
    const before = ctx.pipelineCount()
    for (const rows of [1, 17, 500]) await gpuSoftmax(ctx, new Float32Array(rows * 10), rows, 10)
    expect(ctx.pipelineCount()).toBe(before)
  })
})
