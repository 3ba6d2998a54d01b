/**
 * The conv2d kernel (shaders/conv2d.wgsl) and its CPU twin against the plain seven-loop float64
 * definition (test/helpers/kernel-reference.ts), on odd shapes of both kernel paths: 1×1 and 3×3
 * kernels, a ResNet stem (7×7 stride 2 pads 3), asymmetric pads, dilation 2, groups 2 (tiled and
 * direct), depthwise, channels not a multiple of the tile and more than one tile, batches 1 to 3,
 * a residual before relu, every activation, and NaN pixels. Tolerance: each output within 1e-4 of
 * the sum of its terms' magnitudes (fp32 sums lose precision against that, not against the result).
 * The wrapper's shape checks and dispatch plan are checked without a GPU.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { InvalidInputError } from '../../src/errors.js'
import type { GpuContext } from '../../src/gpu/context.js'
import type { Activation } from '../../src/kernels/activation.js'
import { type Conv2dShape, conv2dCpu, conv2dOutSize, conv2dProgram } from '../../src/kernels/conv2d.js'
import { mulberry32 } from '../../src/random.js'
import { freshSeed } from '../helpers/compare.js'
import { gpuTitle, probeGpu } from '../helpers/gpu.js'
import { conv2dRef } from '../helpers/kernel-reference.js'
import { closeTestContext, randomF32, testContext } from '../helpers/kernels.js'

const gpu = await probeGpu()

type Conv = (
  x: Float32Array,
  w: Float32Array,
  bias: Float32Array,
  s: Conv2dShape,
  residual: Float32Array | undefined,
  act: Activation,
) => Promise<Float32Array>

const shape = (s: Partial<Conv2dShape> & Pick<Conv2dShape, 'inC' | 'inH' | 'inW' | 'outC' | 'kH' | 'kW'>) => ({
  batch: 1,
  strides: [1, 1] as [number, number],
  pads: [0, 0, 0, 0] as [number, number, number, number],
  dilations: [1, 1] as [number, number],
  group: 1,
  ...s,
})

interface Case {
  name: string
  s: Conv2dShape
  act?: Activation
  residual?: boolean
  /** Input indices set to NaN. */
  nan?: number[]
}

const CASES: Case[] = [
  { name: '1×1, 37 channels out (two channel tiles)', s: shape({ inC: 5, inH: 6, inW: 7, outC: 37, kH: 1, kW: 1 }) },
  {
    name: '3×3 pads 1, batch 3, 10 channels out, sigmoid',
    s: shape({ batch: 3, inC: 4, inH: 9, inW: 8, outC: 10, kH: 3, kW: 3, pads: [1, 1, 1, 1] }),
    act: 'sigmoid',
  },
  {
    name: 'ResNet stem 7×7 stride 2 pads 3',
    s: shape({ inC: 3, inH: 23, inW: 21, outC: 8, kH: 7, kW: 7, strides: [2, 2], pads: [3, 3, 3, 3] }),
  },
  {
    name: 'asymmetric pads (0,1,1,0), 3×2 kernel, tanh',
    s: shape({ batch: 2, inC: 3, inH: 7, inW: 6, outC: 6, kH: 3, kW: 2, pads: [0, 1, 1, 0] }),
    act: 'tanh',
  },
  {
    name: 'dilation 2, stride (1,2)',
    s: shape({
      inC: 4,
      inH: 11,
      inW: 10,
      outC: 12,
      kH: 3,
      kW: 3,
      dilations: [2, 2],
      strides: [1, 2],
      pads: [2, 1, 2, 1],
    }),
  },
  {
    name: 'groups 2, 9 channels per group, stride 2',
    s: shape({
      batch: 2,
      inC: 6,
      inH: 8,
      inW: 7,
      outC: 18,
      kH: 3,
      kW: 3,
      strides: [2, 2],
      pads: [1, 1, 1, 1],
      group: 2,
    }),
  },
  {
    name: 'groups 2, 2 channels per group (direct path)',
    s: shape({ inC: 6, inH: 7, inW: 9, outC: 4, kH: 3, kW: 3, pads: [1, 1, 1, 1], group: 2 }),
  },
  {
    name: 'depthwise 3×3, batch 3',
    s: shape({ batch: 3, inC: 8, inH: 10, inW: 9, outC: 8, kH: 3, kW: 3, pads: [1, 1, 1, 1], group: 8 }),
  },
  {
    name: 'depthwise stride 2, pads (1,1,0,0), residual + relu',
    s: shape({
      batch: 2,
      inC: 5,
      inH: 9,
      inW: 8,
      outC: 5,
      kH: 3,
      kW: 3,
      strides: [2, 2],
      pads: [1, 1, 0, 0],
      group: 5,
    }),
    act: 'relu',
    residual: true,
  },
  {
    name: '3×3 over 16 channels (9 reduction tiles), residual + relu',
    s: shape({ batch: 2, inC: 16, inH: 6, inW: 5, outC: 11, kH: 3, kW: 3, pads: [1, 1, 1, 1] }),
    act: 'relu',
    residual: true,
  },
  {
    name: 'a NaN pixel (tiled path)',
    s: shape({ inC: 2, inH: 6, inW: 6, outC: 9, kH: 3, kW: 3, pads: [1, 1, 1, 1] }),
    act: 'relu',
    nan: [2 * 6 + 3],
  },
  {
    name: 'a NaN pixel (direct path)',
    s: shape({ inC: 3, inH: 5, inW: 7, outC: 3, kH: 3, kW: 3, group: 3 }),
    nan: [35 + 7 * 2 + 4],
  },
]

const seeds = CASES.map(() => freshSeed())

const abs = (a: Float32Array) => a.map(Math.abs)

/** NaN exactly where the reference has it; elsewhere |got − ref| ≤ 1e-4 · (Σ|terms| + a tiny floor). */
function expectConvClose(got: Float32Array, ref: number[], scale: number[], what: string): void {
  expect(got.length, `${what}: length`).toBe(ref.length)
  const bad: string[] = []
  ref.forEach((r, i) => {
    const g = got[i] as number
    if (Number.isNaN(r) || Number.isNaN(g)) {
      if (Number.isNaN(r) !== Number.isNaN(g)) bad.push(`[${i}] expected ${r}, got ${g}`)
    } else if (!(Math.abs(g - r) <= 1e-4 * ((scale[i] as number) + 1e-6))) {
      bad.push(`[${i}] expected ${r}, got ${g} (scale ${scale[i]})`)
    }
  })
  expect(bad.slice(0, 10), what).toEqual([])
}

function convCases(conv: () => Promise<Conv>): void {
  CASES.forEach((c, n) => {
    const seed = seeds[n] as number
    it(`${c.name} matches the seven-loop definition (seed ${seed})`, async () => {
      const rand = mulberry32(seed)
      const { outH, outW } = conv2dOutSize(c.s)
      const x = randomF32(rand, c.s.batch * c.s.inC * c.s.inH * c.s.inW, -2, 2)
      for (const i of c.nan ?? []) x[i] = Number.NaN
      const w = randomF32(rand, c.s.outC * (c.s.inC / c.s.group) * c.s.kH * c.s.kW)
      const bias = randomF32(rand, c.s.outC, -0.5, 1)
      const res = c.residual ? randomF32(rand, c.s.batch * c.s.outC * outH * outW) : undefined
      const act = c.act ?? 'none'
      const ref = conv2dRef(x, w, bias, c.s, res, act)
      if (c.nan) expect(ref.filter(Number.isNaN).length, 'the NaN reaches some outputs').toBeGreaterThan(0)
      const scale = conv2dRef(abs(x), abs(w), abs(bias), c.s, res && abs(res))
      expectConvClose(await (await conv())(x, w, bias, c.s, res, act), ref, scale, c.name)
    })
  })
}

describe('conv2d CPU twin, against the seven-loop definition (no GPU needed)', () => {
  convCases(async () => async (x, w, bias, s, res, act) => conv2dCpu(x, w, bias, s, res, act))
})

describe('conv2d shapes and dispatch plan (no GPU needed)', () => {
  const buf = (bytes: number) => ({ size: bytes }) as GPUBuffer
  const stem = shape({ inC: 3, inH: 224, inW: 224, outC: 64, kH: 7, kW: 7, strides: [2, 2], pads: [3, 3, 3, 3] })

  it('sizes outputs by the ONNX formula, floor mode', () => {
    expect(conv2dOutSize(stem)).toEqual({ outH: 112, outW: 112 })
    expect(
      conv2dOutSize(shape({ inC: 1, inH: 5, inW: 6, outC: 1, kH: 3, kW: 2, strides: [2, 3], pads: [0, 1, 1, 0] })),
    ).toEqual({
      outH: 2, // floor((5 + 1 - 2 - 1) / 2) + 1
      outW: 2, // floor((6 + 1 - 1 - 1) / 3) + 1
    })
    expect(conv2dOutSize(shape({ inC: 1, inH: 7, inW: 7, outC: 1, kH: 3, kW: 3, dilations: [3, 2] }))).toEqual({
      outH: 1,
      outW: 3,
    })
  })

  it('refuses malformed shapes with InvalidInputError, naming what is wrong', () => {
    const M = 2 ** 24 // the largest dim, stride, pad or dilation
    const bad: Array<[Partial<Conv2dShape>, RegExp]> = [
      [{ batch: 0 }, /^conv2d: batch must be an integer in \[1, 16777216\], got 0$/],
      [{ inC: 2.5 }, /inC must be/],
      [{ kH: -1 }, /kH must be/],
      [{ outC: M + 1 }, /outC must be an integer in \[1, 16777216\]/],
      [{ strides: [0, 1] }, /strides\[0\] must be/],
      [{ dilations: [1, 0] }, /dilations\[1\] must be/],
      [{ pads: [0, -1, 0, 0] }, /pads\[1\] must be an integer in \[0, /],
      [{ pads: [0, 0, 0] as unknown as [number, number, number, number] }, /pads must hold 4 integers/],
      [{ group: 2 }, /inC \(3\) and outC \(64\) must be multiples of group \(2\)/],
      [{ inC: 4, outC: 6, group: 4 }, /must be multiples of group/],
      [{ inH: 4, kH: 7, pads: [1, 0, 1, 0] }, /the vertical window \(kernel 7, dilation 1\) does not fit/],
      [{ inW: 4, kW: 3, dilations: [1, 2], pads: [0, 0, 0, 0] }, /the horizontal window/],
      // Each tensor over 2^31 elements on its own:
      [
        { inC: M, inH: 16, inW: 16, kH: 1, kW: 1, strides: [16, 16], pads: [0, 0, 0, 0] },
        /the input would hold 4294967296/,
      ],
      [{ inC: 4096, inH: 16, inW: 16, outC: 4096, kH: 16, kW: 16, pads: [0, 0, 0, 0] }, /the weight would hold/],
      [
        { inC: 1, inH: 4096, inW: 4096, outC: 256, kH: 1, kW: 1, strides: [1, 1], pads: [0, 0, 0, 0] },
        /the output would hold/,
      ],
    ]
    for (const [b, message] of bad) {
      expect(() => conv2dOutSize({ ...stem, ...b }), JSON.stringify(b)).toThrow(InvalidInputError)
      expect(() => conv2dOutSize({ ...stem, ...b }), JSON.stringify(b)).toThrow(message)
    }
    // The weight holds outC · inC/group · kH · kW values: 2^12 · 2^4 · 2^8 here, well within.
    expect(conv2dOutSize(shape({ inC: 4096, inH: 16, inW: 16, outC: 4096, kH: 16, kW: 16, group: 256 }))).toEqual({
      outH: 1,
      outW: 1,
    })
    // The limits themselves pass: 2^31 elements, a stride of 2^24.
    expect(
      conv2dOutSize(shape({ batch: 128, inC: 256, inH: 256, inW: 256, outC: 1, kH: 1, kW: 1, strides: [M, 1] })),
    ).toEqual({
      outH: 1,
      outW: 256,
    })
  })

  it('the CPU twin checks each array’s length', () => {
    const s = shape({ inC: 2, inH: 3, inW: 3, outC: 2, kH: 2, kW: 2 }) // out 2×2×2
    const f = (n: number) => new Float32Array(n)
    expect(conv2dCpu(f(18), f(16), f(2), s, f(8))).toHaveLength(8)
    const wrong: Array<[Float32Array[], RegExp]> = [
      [[f(17), f(16), f(2), f(8)], /conv2d: input holds 17 values, expected 18/],
      [[f(18), f(15), f(2), f(8)], /weight holds 15 values, expected 16/],
      [[f(18), f(16), f(3), f(8)], /bias holds 3 values, expected 2/],
      [[f(18), f(16), f(2), f(9)], /residual holds 9 values, expected 8/],
    ]
    for (const [[x, w, b, r], message] of wrong) {
      expect(() => conv2dCpu(x as Float32Array, w as Float32Array, b as Float32Array, s, r)).toThrow(message)
    }
  })

  it('checks buffer sizes and refuses an output bound as an input', () => {
    const s = shape({ inC: 2, inH: 4, inW: 4, outC: 3, kH: 3, kW: 3 }) // out 3×2×2
    const ok = { ...s, input: buf(128), weight: buf(216), bias: buf(12), out: buf(48) }
    expect(() => conv2dProgram(ok)).not.toThrow()
    expect(() => conv2dProgram({ ...ok, input: buf(124) })).toThrow(/^conv2d: input holds 124 bytes, needs 128$/)
    expect(() => conv2dProgram({ ...ok, weight: buf(212) })).toThrow(/^conv2d: weight holds 212 bytes, needs 216$/)
    expect(() => conv2dProgram({ ...ok, bias: buf(8) })).toThrow(InvalidInputError)
    expect(() => conv2dProgram({ ...ok, out: buf(44) })).toThrow(InvalidInputError)
    expect(() => conv2dProgram({ ...ok, residual: buf(44) })).toThrow(InvalidInputError)
    expect(() => conv2dProgram({ ...ok, residual: ok.out })).toThrow(/^conv2d: residual must not be the output buffer$/)
  })

  it('binds the bias as the residual when there is none, and picks the path by channels per group', () => {
    const s = shape({ inC: 8, inH: 4, inW: 4, outC: 8, kH: 1, kW: 1, group: 8 })
    const bias = buf(32)
    const p = conv2dProgram({ ...s, input: buf(512), weight: buf(32), bias, out: buf(512), activation: 'tanh' })
    expect(p.bindings.residual).toBe(bias)
    expect(p.constants).toMatchObject({ DIRECT: 1, HAS_RESIDUAL: 0, ACT: 3 })
    const q = conv2dProgram({
      ...s,
      group: 1,
      input: buf(512),
      weight: buf(256),
      bias,
      out: buf(512),
      residual: buf(512),
    })
    expect(q.constants).toMatchObject({ DIRECT: 0, HAS_RESIDUAL: 1, ACT: 0 })
  })

  it('keeps every workgroup count within 65535 on large batches, covering every output', () => {
    const outputs = 256 * 64 * 256 * 256
    // outC 64 in one group: the tiled path, 32×32 outputs per workgroup; in 64 groups: a thread per output.
    for (const [group, perWorkgroup] of [
      [1, 32 * 32],
      [64, 64],
    ] as const) {
      const s = shape({ batch: 256, inC: 64, inH: 256, inW: 256, outC: 64, kH: 1, kW: 1, group })
      const p = conv2dProgram({
        ...s,
        input: buf(outputs * 4),
        weight: buf(16384),
        bias: buf(256),
        out: buf(outputs * 4),
      })
      const [x, y, z] = p.workgroups
      expect(Math.max(x, y, z), `group ${group}`).toBeLessThanOrEqual(65535)
      expect(x * y * z * perWorkgroup, `group ${group}`).toBeGreaterThanOrEqual(outputs)
    }
  })
})

describe.runIf(gpu.ok)(gpuTitle('conv2d WGSL kernel, against the same definition', gpu), () => {
  afterAll(closeTestContext)

  const gpuConv = async (ctx: GpuContext): Promise<Conv> => {
    return async (x, w, bias, s, res, act) => {
      const { outH, outW } = conv2dOutSize(s)
      const bytes = s.batch * s.outC * outH * outW * 4
      const b = ctx.batch('test conv2d')
      const out = b.scratch(bytes, 'out')
      b.dispatch(
        conv2dProgram({
          ...s,
          input: b.upload(x, 'input'),
          weight: b.upload(w, 'weight'),
          bias: b.upload(bias, 'bias'),
          ...(res ? { residual: b.upload(res, 'residual') } : {}),
          out,
          activation: act,
        }),
      )
      const [o] = await b.read([{ buffer: out, bytes }])
      return new Float32Array(o as ArrayBuffer)
    }
  }
  convCases(async () => gpuConv(await testContext()))

  it('runs every shape of one path and activation on one pipeline', async () => {
    const ctx = await testContext()
    const conv = await gpuConv(ctx)
    const run = (s: Conv2dShape) => {
      const { outH, outW } = conv2dOutSize(s)
      const one = (n: number) => new Float32Array(n).fill(1)
      return conv(
        one(s.batch * s.inC * s.inH * s.inW),
        one(s.outC * s.inC * s.kH * s.kW),
        one(s.outC),
        s,
        one(s.batch * s.outC * outH * outW),
        'relu',
      )
    }
    await run(shape({ inC: 1, inH: 3, inW: 3, outC: 8, kH: 1, kW: 1 }))
    const before = ctx.pipelineCount()
    const out = await run(shape({ batch: 2, inC: 2, inH: 5, inW: 4, outC: 9, kH: 3, kW: 2, pads: [1, 0, 0, 1] }))
    expect(ctx.pipelineCount()).toBe(before)
    // Interior outputs: all 2·3·2 taps inside the image, + bias 1 + residual 1.
    expect(out[5]).toBe(14)
  })
})
