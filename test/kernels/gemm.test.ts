/**
 * The GEMM kernel (out = act(a · b + bias)): one list of cases (odd shapes around the 64×64 tile
 * and its 16-deep k steps, batch-1 rows, n = 1, every activation, NaN and ±inf through the sum, a
 * bias that differs per column) checked against the float64 triple loop of
 * test/helpers/kernel-reference.ts: the CPU twin everywhere, the WGSL kernel where there is an
 * adapter, and its subgroup variant where the adapter has subgroups. Tolerance: 1e-4 of each
 * output's magnitude Σ|a||b| + |bias| (plus 1e-4 of the value, for the activation's own
 * rounding); NaN and ±inf at exactly the reference's positions.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { InvalidInputError } from '../../src/errors.js'
import type { GpuContext } from '../../src/gpu/context.js'
import { ACTIVATIONS, type Activation } from '../../src/kernels/activation.js'
import { checkGemmShape, GEMM_SMALL_M, GEMM_TILE, gemmCpu, gemmPlan, gemmProgram } from '../../src/kernels/gemm.js'
import { mulberry32 } from '../../src/random.js'
import { freshSeed } from '../helpers/compare.js'
import { gpuTitle, probeGpu } from '../helpers/gpu.js'
import { gemmRef } from '../helpers/kernel-reference.js'
import { closeTestContext, randomF32, testContext } from '../helpers/kernels.js'

const gpu = await probeGpu()
/** Whether the adapter offers subgroups (the runtime then requests them): lavapipe does. */
const subgroups = gpu.ok && (await testContext()).device.features.has('subgroups')
const { POSITIVE_INFINITY: INF, NEGATIVE_INFINITY: NEG_INF, NaN: NAN } = Number
const RTOL = 1e-4

type Gemm = (
  a: Float32Array,
  b: Float32Array,
  bias: Float32Array,
  m: number,
  n: number,
  k: number,
  activation: Activation,
) => Promise<Float32Array>

const cpuGemm: Gemm = async (a, b, bias, m, n, k, activation) => gemmCpu(a, b, bias, m, n, k, activation)

function gpuGemm(ctx: GpuContext, subgroups = false): Gemm {
  return async (a, b, bias, m, n, k, activation) => {
    const batch = ctx.batch('test gemm')
    const out = batch.scratch(m * n * 4, 'out')
    batch.dispatch(
      gemmProgram({
        m,
        n,
        k,
        a: batch.upload(a, 'a'),
        b: batch.upload(b, 'b'),
        bias: batch.upload(bias, 'bias'),
        out,
        activation,
        subgroups,
      }),
    )
    const [bytes] = await batch.read([{ buffer: out, bytes: m * n * 4 }])
    return new Float32Array(bytes as ArrayBuffer)
  }
}

/** `actual` against the reference: specials exactly, finite values within RTOL of their magnitude. */
function expectGemm(actual: Float32Array, ref: { values: number[]; scale: number[] }, what: string): void {
  expect(actual.length, `${what}: length`).toBe(ref.values.length)
  const wrong: string[] = []
  ref.values.forEach((r, i) => {
    const x = actual[i] as number
    const ok = Number.isFinite(r)
      ? Math.abs(x - r) <= RTOL * ((ref.scale[i] as number) + Math.abs(r))
      : Object.is(x, r) || (Number.isNaN(x) && Number.isNaN(r))
    if (!ok) wrong.push(`[${i}] expected ${r}, got ${x}`)
  })
  expect(wrong.slice(0, 10), `${what}: ${wrong.length} outputs out of tolerance`).toEqual([])
}

/** [m, n, k, activation]: tile-sized and ragged shapes, cycling through the activations. */
const SHAPES: Array<[number, number, number, Activation]> = [
  [1, 1, 1, 'none'],
  [1, 70, 45, 'relu'], // one row (batch 1), n past one tile
  [2, 200, 33, 'tanh'],
  [7, 13, 5, 'sigmoid'],
  [65, 33, 129, 'none'], // one row past a tile, k one past a multiple of 16
  [3, 5, 1000, 'tanh'], // k far larger than the tile
  [150, 1, 37, 'relu'], // n = 1, m over two tiles
  [130, 70, 20, 'none'], // ragged last tile in both m and n
  [64, 64, 16, 'sigmoid'], // exactly one tile
  [5, 40, 70, 'relu'], // small-m path: a ragged 4-row tile, 32-column tiles with a ragged last one
  [8, 33, 17, 'none'], // the last shape on the small-m path
  [9, 33, 17, 'tanh'], // the first on the tiled path
]

// Seeds drawn once, so the CPU twin and the kernel see the same inputs.
const shapeSeeds = SHAPES.map(() => freshSeed())
const activationSeed = freshSeed()

function inputs(seed: number, m: number, n: number, k: number) {
  const rand = mulberry32(seed)
  return {
    a: randomF32(rand, m * k),
    b: randomF32(rand, k * n),
    bias: randomF32(rand, n, -2, 3), // not symmetric around 0
  }
}

function gemmCases(gemm: () => Promise<Gemm>): void {
  SHAPES.forEach(([m, n, k, activation], i) => {
    const seed = shapeSeeds[i] as number
    it(`[${m},${k}]×[${k},${n}] + bias, ${activation}, matches the triple loop (seed ${seed})`, async () => {
      const { a, b, bias } = inputs(seed, m, n, k)
      const got = await (await gemm())(a, b, bias, m, n, k, activation)
      expectGemm(got, gemmRef(a, b, bias, m, n, k, activation), `gemm [${m},${n},${k}]`)
    })
  })

  for (const activation of ACTIVATIONS) {
    it(`applies ${activation} after the bias on large positive and negative sums (seed ${activationSeed})`, async () => {
      const [m, n, k] = [37, 70, 19]
      const { a, b, bias } = inputs(activationSeed, m, n, k)
      const wide = bias.map((x, j) => x * (j % 3 === 0 ? 10 : 1)) // sums out to ±30: sigmoid and tanh saturate
      const got = await (await gemm())(a, b, wide, m, n, k, activation)
      expectGemm(got, gemmRef(a, b, wide, m, n, k, activation), `gemm ${activation}`)
    })
  }

  it('adds bias[column], not bias[row] (m ≠ n, every bias different)', async () => {
    // a = [1 0; 0 1; 1 1], b = [[1, 2, 3, 4], [10, 20, 30, 40]], bias = [0.5, -1, 100, 7]
    const a = Float32Array.of(1, 0, 0, 1, 1, 1)
    const b = Float32Array.of(1, 2, 3, 4, 10, 20, 30, 40)
    const bias = Float32Array.of(0.5, -1, 100, 7)
    const got = await (await gemm())(a, b, bias, 3, 4, 2, 'none')
    expect(Array.from(got)).toEqual([1.5, 1, 103, 11, 10.5, 19, 130, 47, 11.5, 21, 133, 51])
  })

  for (const activation of ACTIVATIONS) {
    it(`propagates NaN and ±inf through the sum and the bias (${activation})`, async () => {
      const [m, n, k] = [6, 5, 4]
      // Rows: finite; one +inf; +inf and -inf (NaN where both meet a nonzero b); a NaN; -inf; finite.
      const a = Float32Array.from(
        [
          [0.5, -0.25, 1, 2],
          [INF, 0.5, 0, 1],
          [INF, NEG_INF, 1, 0],
          [0, NAN, 1, 1],
          [1, 1, NEG_INF, 1],
          [-1, 0.5, 0.25, -2],
        ].flat(),
      )
      // Column 1 has b = 0 against the infinities (inf · 0 = NaN); column 2 is negative (inf · -x = -inf).
      const b = Float32Array.from(
        [
          [1, 0, -2, 0.5, 3],
          [2, 0, -1, 0.25, 0],
          [0.5, 1, -3, 0, 1],
          [1, 1, 1, 1, 1],
        ].flat(),
      )
      const bias = Float32Array.of(0.5, -1, 2, NAN, INF) // column 3 NaN everywhere; column 4 +inf unless NaN or -inf meets it
      const got = await (await gemm())(a, b, bias, m, n, k, activation)
      const ref = gemmRef(a, b, bias, m, n, k, activation)
      expect(ref.values.some((v) => Number.isNaN(v))).toBe(true)
      expect(ref.values.some((v) => v === INF) || activation !== 'none').toBe(true)
      expectGemm(got, ref, `gemm specials ${activation}`)
    })
  }
}

describe('gemm CPU twin, against the float64 triple loop (no GPU needed)', () => {
  gemmCases(async () => cpuGemm)
})

describe.runIf(gpu.ok)(gpuTitle('gemm WGSL kernel, against the same references', gpu), () => {
  afterAll(closeTestContext)
  gemmCases(async () => gpuGemm(await testContext()))

  it('uses one pipeline per activation, whatever the shape', async () => {
    const ctx = await testContext()
    const run = gpuGemm(ctx)
    const rand = mulberry32(11)
    await run(randomF32(rand, 6), randomF32(rand, 6), randomF32(rand, 3), 2, 3, 3, 'relu')
    const before = ctx.pipelineCount()
    for (const [m, n, k] of [
      [70, 9, 3],
      [1, 130, 17],
    ] as const) {
      await run(randomF32(rand, m * k), randomF32(rand, k * n), randomF32(rand, n), m, n, k, 'relu')
    }
    expect(ctx.pipelineCount()).toBe(before)
  })

  it('refuses buffers smaller than the shape needs, before any dispatch', async () => {
    const ctx = await testContext()
    const usage = GPUBufferUsage.STORAGE
    const small = ctx.device.createBuffer({ label: 'test gemm small', size: 15 * 4, usage })
    const big = ctx.device.createBuffer({ label: 'test gemm big', size: 16 * 4, usage })
    const out = ctx.device.createBuffer({ label: 'test gemm out', size: 16 * 4, usage })
    try {
      expect(() => gemmProgram({ m: 4, n: 4, k: 4, a: small, b: big, bias: big, out })).toThrow(/a holds 15/)
      expect(() => gemmProgram({ m: 4, n: 4, k: 4, a: big, b: big, bias: big, out: small })).toThrow(/out holds 15/)
      expect(() => gemmProgram({ m: 4, n: 4, k: 4, a: big, b: big, bias: big, out: big })).toThrow(/out is also/)
      expect(gemmProgram({ m: 4, n: 4, k: 4, a: big, b: big, bias: big, out }).workgroups).toEqual([1, 1, 1])
    } finally {
      for (const buffer of [small, big, out]) buffer.destroy()
    }
  })
})

describe.runIf(subgroups)(gpuTitle('gemm-subgroups WGSL kernel, against the same references', gpu), () => {
  afterAll(closeTestContext)
  gemmCases(async () => gpuGemm(await testContext(), true))
})

describe('gemm shapes and dispatch plan (pure functions)', () => {
  it('refuses shapes that are not positive integers or overflow u32 indices, and wrong host lengths', () => {
    for (const [m, n, k] of [
      [0, 1, 1],
      [1, -2, 1],
      [1, 1, 1.5],
      [1, 1, Number.NaN],
      [2 ** 20, 1, 2 ** 12],
    ]) {
      expect(() => checkGemmShape(m as number, n as number, k as number)).toThrow(InvalidInputError)
    }
    const one = new Float32Array(1)
    expect(() => gemmCpu(new Float32Array(2), one, one, 1, 1, 1)).toThrow(/a holds 2 values/)
    expect(() => gemmCpu(one, one, new Float32Array(0), 1, 1, 1)).toThrow(/bias holds 0 values/)
  })

  it('numbers every tile once and keeps each axis within 65535 workgroups', () => {
    // 5 000 000 rows × 10 columns: 78 125 row tiles, more than one axis may take.
    for (const [m, n] of [
      [1, 1],
      [1, 4000],
      [8, 33],
      [9, 33],
      [64, 64],
      [65, 129],
      [5_000_000, 10],
      [100_000, 3000],
      [4_194_240, 64],
      [4_194_241, 64],
    ] as const) {
      const plan = gemmPlan(m, n)
      const [rows, cols] = m <= GEMM_SMALL_M ? [4, 32] : [GEMM_TILE, GEMM_TILE]
      expect(plan.small, `[${m},${n}]`).toBe(m <= GEMM_SMALL_M)
      expect(plan.tilesN, `[${m},${n}]`).toBe(Math.ceil(n / cols))
      expect(plan.tiles, `[${m},${n}]`).toBe(Math.ceil(m / rows) * plan.tilesN)
      const [x, y, z] = plan.workgroups
      expect(Math.max(x, y, z), `[${m},${n}]`).toBeLessThanOrEqual(65535)
      expect(z).toBe(1)
      expect(x * y, `[${m},${n}] covers every tile`).toBeGreaterThanOrEqual(plan.tiles)
      expect(x * (y - 1), `[${m},${n}] no whole row of idle workgroups`).toBeLessThan(plan.tiles)
    }
    expect(gemmPlan(5_000_000, 10).workgroups[1]).toBeGreaterThan(1)
    expect([gemmPlan(1, 10).small, gemmPlan(64, 10).small]).toEqual([true, false])
  })
})
