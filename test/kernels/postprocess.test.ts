/**
 * Post-processing kernels (softmax, sigmoid, argmax/threshold, top-k): one list of cases (random
 * inputs on fresh seeds, ties, NaN, ±inf, odd sizes, rows of up to 32 values and wider) checked
 * against float64 references twice: the CPU twins on every machine (the `cpu` backend runs them),
 * and the WGSL kernels where there is an adapter. Tolerance: relative 1e-4
 * (test/helpers/compare.ts); indices exact.
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
const { POSITIVE_INFINITY: INF, NEGATIVE_INFINITY: NEG_INF, NaN: NAN } = Number

/** One implementation of the four kernels: the CPU twins, or dispatches on a GPU context. */
interface PostKernels {
  softmax(x: Float32Array, rows: number, cols: number): Promise<Float32Array>
  sigmoid(x: Float32Array): Promise<Float32Array>
  argmax(x: Float32Array, rows: number, cols: number, threshold?: number): Promise<Int32Array>
  topk(x: Float32Array, rows: number, cols: number, k: number): Promise<{ indices: Int32Array; values: Float32Array }>
}

const cpuKernels: PostKernels = {
  softmax: async (x, rows, cols) => softmaxCpu(x, rows, cols),
  sigmoid: async (x) => sigmoidCpu(x),
  argmax: async (x, rows, cols, threshold) => argmaxCpu(x, rows, cols, threshold),
  topk: async (x, rows, cols, k) => topkCpu(x, rows, cols, k),
}

function gpuKernels(ctx: GpuContext): PostKernels {
  return {
    async softmax(x, rows, cols) {
      const b = ctx.batch('test softmax')
      const probs = b.scratch(x.byteLength, 'probs')
      b.dispatch(softmaxProgram({ rows, cols, logits: b.upload(x, 'logits'), probs }))
      const [out] = await b.read([{ buffer: probs, bytes: x.byteLength }])
      return new Float32Array(out as ArrayBuffer)
    },
    async sigmoid(x) {
      const b = ctx.batch('test sigmoid')
      const result = b.scratch(x.byteLength, 'result')
      b.dispatch(sigmoidProgram({ count: x.length, values: b.upload(x, 'values'), result }))
      const [out] = await b.read([{ buffer: result, bytes: x.byteLength }])
      return new Float32Array(out as ArrayBuffer)
    },
    async argmax(x, rows, cols, threshold) {
      const b = ctx.batch('test argmax')
      const labels = b.scratch(rows * 4, 'labels')
      const scores = b.upload(x, 'scores')
      b.dispatch(argmaxProgram({ rows, cols, scores, labels, ...(threshold === undefined ? {} : { threshold }) }))
      const [out] = await b.read([{ buffer: labels, bytes: rows * 4 }])
      return new Int32Array(out as ArrayBuffer)
    },
    async topk(x, rows, cols, k) {
      const b = ctx.batch('test topk')
      const indices = b.scratch(rows * k * 4, 'indices')
      const values = b.scratch(rows * k * 4, 'values')
      b.dispatch(topkProgram({ rows, cols, k, scores: b.upload(x, 'scores'), indices, values }))
      const [i, v] = await b.read([
        { buffer: indices, bytes: rows * k * 4 },
        { buffer: values, bytes: rows * k * 4 },
      ])
      return { indices: new Int32Array(i as ArrayBuffer), values: new Float32Array(v as ArrayBuffer) }
    },
  }
}

const rowsOf = (x: Float32Array, cols: number) =>
  Array.from({ length: x.length / cols }, (_, r) => Array.from(x.subarray(r * cols, (r + 1) * cols)))

/** Edge-case rows padded with -inf to `width`: 4 takes the thread-per-row path, 40 a workgroup per row. */
const pad = (rows: number[][], width: number) => rows.map((r) => [...r, ...new Array(width - r.length).fill(NEG_INF)])
const WIDTHS = [4, 40]

/** Shapes: N = 1, N not a multiple of any workgroup size, a large N; C = 1, small, odd, 33, > 512. */
const SHAPES: Array<[number, number]> = [
  [1, 1],
  [1, 10],
  [7, 3],
  [33, 33],
  [1000, 10],
  [65, 1000],
  [20_000, 4],
]
const TOPK_SHAPES = [
  [1, 1, 1],
  [7, 10, 3],
  [300, 100, 32],
  [65, 1000, 5],
  [5000, 8, 8],
] as const

// Seeds drawn once, so the CPU twins and the kernels see the same inputs.
const softmaxSeeds = SHAPES.map(() => freshSeed())
const argmaxSeeds = SHAPES.map(() => freshSeed())
const topkSeeds = TOPK_SHAPES.map(() => freshSeed())
const sigmoidSeed = freshSeed()

/** The cases, declared for one implementation. */
function postCases(kernels: () => Promise<PostKernels>): void {
  SHAPES.forEach(([rows, cols], n) => {
    const seed = softmaxSeeds[n] as number
    it(`softmax [${rows},${cols}] matches the reference on random logits (seed ${seed})`, async () => {
      const x = randomF32(mulberry32(seed), rows * cols, -20, 20)
      const ref = rowsOf(x, cols).flatMap(softmaxRowRef)
      expectCloseSpecial(await (await kernels()).softmax(x, rows, cols), ref, 'softmax')
    })
  })

  for (const width of WIDTHS) {
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
      expectCloseSpecial(await (await kernels()).softmax(x, cases.length, width), ref, 'softmax')
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
      const k = await kernels()
      expect(Array.from(await k.argmax(x, 4, width))).toEqual(order.map((o) => o[0]))
      const top = await k.topk(x, 4, width, 4)
      expect(Array.from(top.indices)).toEqual(order.flatMap((o) => o.slice(0, 4)))
      expectCloseSpecial(
        top.values,
        order.flatMap((o, r) => o.slice(0, 4).map((i) => cases[r]?.[i] as number)),
        'top-k values',
      )
    })

    it(`threshold abstains (-1) below it, and where only NaN or -inf is left (width ${width})`, async () => {
      const cases = pad(
        [
          [0.1, 0.7, 0.2, 0.7],
          [0.4, 0.35, 0.25, 0.1],
          [NAN, 0.9, 0.1, 0.2],
          [NAN, NAN, NAN, NAN],
        ],
        width,
      )
      const labels = await (await kernels()).argmax(Float32Array.from(cases.flat()), 4, width, 0.5)
      expect(Array.from(labels)).toEqual([1, -1, 1, -1])
    })
  }

  it('sigmoid matches the reference on random values and extremes', async () => {
    const rand = mulberry32(sigmoidSeed)
    const x = Float32Array.from([...randomF32(rand, 10_001, -30, 30), 0, -0, 100, -100, 1e30, -1e30, INF, -INF, NAN])
    expectCloseSpecial(await (await kernels()).sigmoid(x), Array.from(x, sigmoidRef), 'sigmoid')
  })

  SHAPES.forEach(([rows, cols], n) => {
    const seed = argmaxSeeds[n] as number
    it(`argmax [${rows},${cols}] matches a full sort (seed ${seed})`, async () => {
      // Few distinct values so ties are common: the lower index must win.
      const rand = mulberry32(seed)
      const x = Float32Array.from({ length: rows * cols }, () => Math.floor(rand() * 5))
      const ref = rowsOf(x, cols).map((r) => rankOrder(r)[0])
      expect(Array.from(await (await kernels()).argmax(x, rows, cols))).toEqual(ref)
    })
  })

  it('threshold gives 0/1 for one column and argmax-or-abstain (-1) for several', async () => {
    const k = await kernels()
    const binary = Float32Array.from([0.2, 0.5, 0.51, 0.99, NAN])
    expect(Array.from(await k.argmax(binary, 5, 1, 0.5))).toEqual([0, 1, 1, 1, 0])
    const multi = Float32Array.from([0.1, 0.7, 0.2, 0.4, 0.35, 0.25])
    expect(Array.from(await k.argmax(multi, 2, 3, 0.5))).toEqual([1, -1])
  })

  TOPK_SHAPES.forEach(([rows, cols, k], n) => {
    const seed = topkSeeds[n] as number
    it(`top-${k} of [${rows},${cols}] matches a full sort, ties in index order (seed ${seed})`, async () => {
      const rand = mulberry32(seed)
      const x = Float32Array.from({ length: rows * cols }, () => (rand() < 0.3 ? Math.floor(rand() * 4) : rand() * 4))
      const order = rowsOf(x, cols).map((r) => rankOrder(r).slice(0, k))
      const top = await (await kernels()).topk(x, rows, cols, k)
      expect(Array.from(top.indices)).toEqual(order.flat())
      expect(Array.from(top.values)).toEqual(order.flatMap((o, r) => o.map((i) => x[r * cols + i] as number)))
    })
  })

  it('top-k puts NaN last and keeps ±inf in order', async () => {
    const top = await (await kernels()).topk(Float32Array.from([NAN, -INF, 3, INF, NAN, 3]), 1, 6, 6)
    expect(Array.from(top.indices)).toEqual([3, 2, 5, 1, 0, 4])
  })
}

describe('post-processing CPU twins, against float64 references (no GPU needed)', () => {
  postCases(async () => cpuKernels)

  it('rejects k above 32 or above the row length', () => {
    expect(() => topkCpu(new Float32Array(40), 1, 40, 33)).toThrow(/k must be an integer in 1\.\.32/)
    expect(() => topkCpu(new Float32Array(4), 1, 4, 5)).toThrow(/k must be an integer in 1\.\.4/)
  })
})

describe.runIf(gpu.ok)(gpuTitle('post-processing WGSL kernels, against the same references', gpu), () => {
  afterAll(closeTestContext)
  postCases(async () => gpuKernels(await testContext()))

  it('reuses one pipeline per size class whatever the batch size', async () => {
    const ctx = await testContext()
    const k = gpuKernels(ctx)
    await k.softmax(new Float32Array(3 * 10), 3, 10)
    const before = ctx.pipelineCount()
    for (const rows of [1, 17, 500]) await k.softmax(new Float32Array(rows * 10), rows, 10)
    expect(ctx.pipelineCount()).toBe(before)
  })
})
