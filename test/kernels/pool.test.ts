/**
 * The pool2d kernel (shaders/pool2d.wgsl) and its CPU twin against the float64 definitions of
 * ONNX MaxPool / AveragePool (test/helpers/kernel-reference.ts): the ResNet max pool (3×3 stride 2
 * pad 1), 2×2 stride 2 on an odd width, averages with and without count_include_pad on padded
 * windows, asymmetric pads, dilation, global averages over 7×7, an odd 5×3 and a 20×17 image (a
 * workgroup per output), all-negative inputs (padding never wins a max), NaN pixels. Tolerance:
 * relative 1e-4 (test/helpers/compare.ts). The wrapper's shape checks and dispatch plan are checked
 * without a GPU.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { InvalidInputError } from '../../src/errors.js'
import type { GpuContext } from '../../src/gpu/context.js'
import { type Pool2dShape, pool2dCpu, pool2dOutSize, pool2dProgram } from '../../src/kernels/pool2d.js'
import { mulberry32 } from '../../src/random.js'
import { expectCloseSpecial, freshSeed } from '../helpers/compare.js'
import { gpuTitle, probeGpu } from '../helpers/gpu.js'
import { pool2dRef } from '../helpers/kernel-reference.js'
import { closeTestContext, randomF32, testContext } from '../helpers/kernels.js'

const gpu = await probeGpu()

type Pool = (x: Float32Array, s: Pool2dShape) => Promise<Float32Array>

const shape = (s: Partial<Pool2dShape> & Pick<Pool2dShape, 'channels' | 'inH' | 'inW' | 'kH' | 'kW'>): Pool2dShape => ({
  mode: 'max',
  batch: 1,
  strides: [1, 1],
  pads: [0, 0, 0, 0],
  dilations: [1, 1],
  countIncludePad: false,
  ...s,
})
const global = (mode: 'max' | 'avg', batch: number, channels: number, h: number, w: number) =>
  shape({ mode, batch, channels, inH: h, inW: w, kH: h, kW: w })

interface Case {
  name: string
  s: Pool2dShape
  /** Input range. */
  lo?: number
  hi?: number
  /** Input indices set to NaN. */
  nan?: number[]
}

const CASES: Case[] = [
  {
    name: 'ResNet max 3×3 stride 2 pads 1',
    s: shape({ batch: 2, channels: 3, inH: 13, inW: 12, kH: 3, kW: 3, strides: [2, 2], pads: [1, 1, 1, 1] }),
  },
  {
    name: 'max 3×3 stride 2 pads 1 on negative values (padding never wins)',
    s: shape({ channels: 2, inH: 7, inW: 8, kH: 3, kW: 3, strides: [2, 2], pads: [1, 1, 1, 1] }),
    lo: -3,
    hi: -1,
  },
  { name: 'max 2×2 stride 2, odd width', s: shape({ channels: 4, inH: 8, inW: 7, kH: 2, kW: 2, strides: [2, 2] }) },
  {
    name: 'max 3×3 dilation 2 pads 1, stride (1,2)',
    s: shape({ channels: 2, inH: 9, inW: 10, kH: 3, kW: 3, dilations: [2, 2], strides: [1, 2], pads: [1, 1, 1, 1] }),
  },
  {
    name: 'max with NaN pixels',
    s: shape({ batch: 2, channels: 2, inH: 6, inW: 5, kH: 3, kW: 3, strides: [2, 2], pads: [1, 1, 1, 1] }),
    nan: [7, 30 + 29],
  },
  {
    name: 'avg 3×3 stride 2 pads 1 without count_include_pad',
    s: shape({ mode: 'avg', channels: 3, inH: 9, inW: 10, kH: 3, kW: 3, strides: [2, 2], pads: [1, 1, 1, 1] }),
  },
  {
    name: 'avg 3×3 stride 2 pads 1 with count_include_pad',
    s: shape({
      mode: 'avg',
      channels: 3,
      inH: 9,
      inW: 10,
      kH: 3,
      kW: 3,
      strides: [2, 2],
      pads: [1, 1, 1, 1],
      countIncludePad: true,
    }),
  },
  {
    name: 'avg 2×3 pads (0,1,1,0) without count_include_pad',
    s: shape({ mode: 'avg', batch: 2, channels: 2, inH: 5, inW: 6, kH: 2, kW: 3, pads: [0, 1, 1, 0] }),
  },
  {
    name: 'avg 3×2 dilation (2,1) pads (2,1,1,0) with count_include_pad',
    s: shape({
      mode: 'avg',
      channels: 2,
      inH: 7,
      inW: 5,
      kH: 3,
      kW: 2,
      dilations: [2, 1],
      pads: [2, 1, 1, 0],
      countIncludePad: true,
    }),
  },
  { name: 'global average 7×7', s: global('avg', 3, 5, 7, 7) },
  { name: 'global average over an odd 5×3', s: global('avg', 2, 4, 5, 3) },
  { name: 'global average 20×17 (a workgroup per output), a NaN pixel', s: global('avg', 2, 3, 20, 17), nan: [400] },
  { name: 'global max 20×17 (a workgroup per output), a NaN pixel', s: global('max', 1, 3, 20, 17), nan: [340 + 111] },
]

const seeds = CASES.map(() => freshSeed())

function poolCases(pool: () => Promise<Pool>): void {
  CASES.forEach((c, n) => {
    const seed = seeds[n] as number
    it(`${c.name} matches the definition (seed ${seed})`, async () => {
      const x = randomF32(mulberry32(seed), c.s.batch * c.s.channels * c.s.inH * c.s.inW, c.lo ?? -2, c.hi ?? 2)
      for (const i of c.nan ?? []) x[i] = Number.NaN
      const ref = pool2dRef(x, { ...c.s, inC: c.s.channels })
      const nans = ref.filter(Number.isNaN).length
      if (c.nan) expect(nans, 'the NaN reaches some outputs, not all').toBeGreaterThan(0)
      expect(nans, 'the NaN reaches some outputs, not all').toBeLessThan(ref.length)
      expectCloseSpecial(await (await pool())(x, c.s), ref, c.name)
    })
  })
}

describe('pool2d CPU twin, against the definitions (no GPU needed)', () => {
  poolCases(async () => async (x, s) => pool2dCpu(x, s))
})

describe('pool2d shapes and dispatch plan (no GPU needed)', () => {
  const buf = (bytes: number) => ({ size: bytes }) as GPUBuffer
  const resnet = shape({ channels: 64, inH: 112, inW: 112, kH: 3, kW: 3, strides: [2, 2], pads: [1, 1, 1, 1] })

  it('sizes outputs by the ONNX formula, floor mode', () => {
    expect(pool2dOutSize(resnet)).toEqual({ outH: 56, outW: 56 })
    expect(pool2dOutSize(shape({ channels: 1, inH: 8, inW: 7, kH: 2, kW: 2, strides: [2, 2] }))).toEqual({
      outH: 4,
      outW: 3,
    })
    expect(pool2dOutSize(global('avg', 1, 1, 5, 3))).toEqual({ outH: 1, outW: 1 })
    // floor((9 + 3 - 2·2 - 1) / 1) + 1 = 8; floor((5 + 1 - 1 - 1) / 1) + 1 = 5
    expect(
      pool2dOutSize(shape({ channels: 1, inH: 9, inW: 5, kH: 3, kW: 2, dilations: [2, 1], pads: [2, 1, 1, 0] })),
    ).toEqual({
      outH: 8,
      outW: 5,
    })
  })

  it('refuses malformed shapes, and windows wholly in the padding, with InvalidInputError naming what is wrong', () => {
    const bad: Array<[Partial<Pool2dShape>, RegExp]> = [
      [{ mode: 'min' as 'max' }, /^pool2d: mode must be 'max' or 'avg', got min$/],
      [{ channels: 0 }, /^pool2d: channels must be an integer in \[1, 16777216\], got 0$/],
      [{ inW: 1.5 }, /inW must be/],
      [{ strides: [1, 0] }, /strides\[1\] must be/],
      [{ dilations: [0, 1] }, /dilations\[0\] must be/],
      [{ pads: [-1, 0, 0, 0] }, /pads\[0\] must be/],
      [{ kH: 200 }, /the vertical window \(kernel 200, dilation 1\) does not fit/],
      [{ kW: 115 }, /the horizontal window \(kernel 115, dilation 1\) does not fit/],
      [{ kH: 4097, kW: 4096, inH: 8192, inW: 8192 }, /a 4097×4096 window is too large/],
      // Windows wholly in the padding: the first (taps −4, −1 of 3 rows), the last (taps 4, 5 of 4
      // rows), one between taps (−1, 2 of a 2-row image), the first of a long axis.
      [
        { inH: 3, kH: 2, dilations: [3, 1], pads: [4, 1, 0, 1], strides: [1, 2] },
        /vertical window 0 lies wholly in the padding/,
      ],
      [{ inH: 4, kH: 2, strides: [2, 2], pads: [0, 1, 3, 1] }, /vertical window 2 lies wholly in the padding/],
      [{ inH: 2, kH: 2, dilations: [3, 1], pads: [1, 1, 1, 1], strides: [1, 2] }, /vertical window 0 lies/],
      [{ kW: 2, pads: [1, 2, 1, 0] }, /horizontal window 0 lies wholly in the padding/],
      // The input over 2^31 elements (the output stays 2^25):
      [
        { batch: 2, channels: 2 ** 24, inH: 16, inW: 16, kH: 16, kW: 16, pads: [0, 0, 0, 0] },
        /the input would hold 8589934592/,
      ],
    ]
    for (const [b, message] of bad) {
      expect(() => pool2dOutSize({ ...resnet, ...b }), JSON.stringify(b)).toThrow(InvalidInputError)
      expect(() => pool2dOutSize({ ...resnet, ...b }), JSON.stringify(b)).toThrow(message)
    }
    // The output alone over the limit: a 2^31-element input pooled 1×1 with pads of 1 on each side.
    const edge = shape({ channels: 2 ** 15, inH: 256, inW: 256, kH: 1, kW: 1 })
    expect(pool2dOutSize(edge)).toEqual({ outH: 256, outW: 256 })
    expect(() => pool2dOutSize({ ...edge, kH: 2, kW: 2, pads: [1, 1, 1, 1] })).toThrow(/the output would hold/)
    // A window of 2^24 taps is allowed.
    expect(pool2dOutSize(global('avg', 1, 1, 4096, 4096))).toEqual({ outH: 1, outW: 1 })
    expect(() => pool2dCpu(new Float32Array(5), shape({ channels: 1, inH: 2, inW: 2, kH: 1, kW: 1 }))).toThrow(
      /^pool2d: input holds 5 values, expected 4$/,
    )
  })

  it('checks buffer sizes, picks the path by window size, and keeps workgroup counts within 65535', () => {
    const s = global('avg', 1, 3, 4, 4)
    expect(() => pool2dProgram({ ...s, input: buf(192), out: buf(12) })).not.toThrow()
    expect(() => pool2dProgram({ ...s, input: buf(188), out: buf(12) })).toThrow(InvalidInputError)
    expect(() => pool2dProgram({ ...s, input: buf(192), out: buf(8) })).toThrow(InvalidInputError)
    const same = buf(192)
    expect(() => pool2dProgram({ ...s, input: same, out: same })).toThrow(InvalidInputError)

    expect(pool2dProgram({ ...s, input: buf(192), out: buf(12) }).constants).toMatchObject({
      WINDOW_PER_WORKGROUP: 0,
      MAX: 0,
    })
    const big = global('max', 256, 2048, 56, 56)
    const p = pool2dProgram({ ...big, input: buf(256 * 2048 * 56 * 56 * 4), out: buf(256 * 2048 * 4) })
    expect(p.constants).toMatchObject({ WINDOW_PER_WORKGROUP: 1, MAX: 1 })
    const [x, y, z] = p.workgroups
    expect(Math.max(x, y, z)).toBeLessThanOrEqual(65535)
    expect(x * y * z).toBeGreaterThanOrEqual(256 * 2048)
  })
})

describe.runIf(gpu.ok)(gpuTitle('pool2d WGSL kernel, against the same definitions', gpu), () => {
  afterAll(closeTestContext)

  const gpuPool =
    (ctx: GpuContext): Pool =>
    async (x, s) => {
      const { outH, outW } = pool2dOutSize(s)
      const bytes = s.batch * s.channels * outH * outW * 4
      const b = ctx.batch('test pool2d')
      const out = b.scratch(bytes, 'out')
      b.dispatch(pool2dProgram({ ...s, input: b.upload(x, 'input'), out }))
      const [o] = await b.read([{ buffer: out, bytes }])
      return new Float32Array(o as ArrayBuffer)
    }
  poolCases(async () => gpuPool(await testContext()))

  it('runs every shape of one mode on one pipeline, and ±inf as values', async () => {
    const ctx = await testContext()
    const pool = gpuPool(ctx)
    const inf = Number.POSITIVE_INFINITY
    await pool(new Float32Array(4), shape({ channels: 1, inH: 2, inW: 2, kH: 2, kW: 2 }))
    const before = ctx.pipelineCount()
    const x = Float32Array.from([-inf, -inf, -inf, 1, inf, -2, -inf, -inf, -inf])
    const out = await pool(x, shape({ channels: 1, inH: 3, inW: 3, kH: 2, kW: 2, pads: [1, 1, 0, 0], strides: [2, 2] }))
    expect(ctx.pipelineCount()).toBe(before)
    // In-image taps per window: {-inf} (the rest padding), {-inf, -inf}, {1, -inf}, {inf, -2, -inf, -inf}.
    expect(Array.from(out)).toEqual([-inf, -inf, 1, inf])
  })
})
