/**
 * Pre-processing kernels (tabular, image): one list of cases checked against float64 references
 * written from the documented recipes, twice: the CPU twins on every machine (the `cpu` backend
 * runs them), and the WGSL kernels where there is an adapter. Tolerance: relative 1e-4; NaN
 * positions exact.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { InvalidConfigError } from '../../src/errors.js'
import type { GpuContext } from '../../src/gpu/context.js'
import { checkImageShape, type ImageSpec, imageCpu, imageProgram } from '../../src/kernels/image-preprocess.js'
import {
  compileTabular,
  type TabularFeature,
  tabularCpu,
  tabularProgram,
} from '../../src/kernels/tabular-preprocess.js'
import { mulberry32 } from '../../src/random.js'
import { expectCloseSpecial, freshSeed } from '../helpers/compare.js'
import { gpuTitle, probeGpu } from '../helpers/gpu.js'
import { bilinearRef } from '../helpers/kernel-reference.js'
import { closeTestContext, testContext } from '../helpers/kernels.js'

const gpu = await probeGpu()
const NAN = Number.NaN

/** The recipe by its definition: impute NAN, clip, then scale; or one-hot. */
function tabularRef(raw: Float32Array, rows: number, features: TabularFeature[]): number[] {
  const out: number[] = []
  const F = features.length
  for (let r = 0; r < rows; r++) {
    features.forEach((f, c) => {
      let x = raw[r * F + c] as number
      if (Number.isNaN(x) && f.impute !== undefined)
        x = f.impute === 'mean' ? (f.standardize?.mean as number) : f.impute
      if (f.onehot) {
        for (const code of f.onehot) out.push(x === code ? 1 : 0)
        return
      }
      if (Number.isNaN(x)) {
        out.push(NAN)
        return
      }
      if (f.clip) x = Math.min(Math.max(x, f.clip[0]), f.clip[1])
      if (f.standardize) x = (x - f.standardize.mean) / f.standardize.std
      else if (f.minmax) x = (x - f.minmax.min) / (f.minmax.max - f.minmax.min)
      out.push(x)
    })
  }
  return out
}

function randomFeatures(rand: () => number, F: number): TabularFeature[] {
  return Array.from({ length: F }, (_, i): TabularFeature => {
    switch (i % 5) {
      case 0:
        return { standardize: { mean: rand() * 4 - 2, std: 0.5 + rand() }, impute: 'mean', clip: [-3, 3] }
      case 1:
        return { minmax: { min: -2, max: 2 + rand() }, impute: 0 }
      case 2:
        return { onehot: [0, 1, 2, 3], impute: 2 }
      case 3:
        return { onehot: [5, 7] }
      default:
        return {}
    }
  })
}

function randomRaw(rand: () => number, rows: number, features: TabularFeature[]): Float32Array {
  return Float32Array.from({ length: rows * features.length }, (_, i) => {
    const f = features[i % features.length] as TabularFeature
    if (rand() < 0.1) return NAN
    if (f.onehot) return Math.floor(rand() * 9) // codes 0..8: some unknown
    return rand() * 10 - 5
  })
}

const IMAGENET: Pick<ImageSpec, 'scale' | 'mean' | 'std'> = {
  scale: 1 / 255,
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
}

function imageRef(pixels: Uint8Array, dims: number[], spec: ImageSpec): number[] {
  const [N, inH, inW, inC] = dims as [number, number, number, number]
  const out: number[] = []
  for (let n = 0; n < N; n++)
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < spec.height; y++)
        for (let x = 0; x < spec.width; x++) {
          const src = spec.bgr ? 2 - c : c
          const px = (yy: number, xx: number) => pixels[((n * inH + yy) * inW + xx) * inC + src] as number
          const sy = Math.max(((y + 0.5) * inH) / spec.height - 0.5, 0)
          const sx = Math.max(((x + 0.5) * inW) / spec.width - 0.5, 0)
          out.push(
            (bilinearRef(px, inH, inW, sy, sx) * spec.scale - (spec.mean[c] as number)) / (spec.std[c] as number),
          )
        }
  return out
}

/** One implementation of the two kernels: the CPU twins, or dispatches on a GPU context. */
interface PreKernels {
  tabular(raw: Float32Array, rows: number, features: TabularFeature[]): Promise<Float32Array>
  image(pixels: Uint8Array, dims: number[], spec: ImageSpec): Promise<Float32Array>
}

const cpuKernels: PreKernels = {
  tabular: async (raw, rows, features) => tabularCpu(raw, rows, compileTabular({ features })),
  image: async (pixels, dims, spec) => imageCpu(pixels, checkImageShape(dims), spec),
}

function gpuKernels(ctx: GpuContext): PreKernels {
  return {
    async tabular(raw, rows, features) {
      const plan = compileTabular({ features })
      const b = ctx.batch('test tabular')
      const rawBuf = b.upload(raw, 'raw')
      const columns = b.upload(new Uint8Array(plan.recipes), 'columns')
      const out = b.scratch(rows * plan.outCols * 4, 'features')
      b.dispatch(tabularProgram({ rows, plan, raw: rawBuf, columns, features: out }))
      const [data] = await b.read([{ buffer: out, bytes: rows * plan.outCols * 4 }])
      return new Float32Array(data as ArrayBuffer)
    },
    async image(pixels, dims, spec) {
      const shape = checkImageShape(dims)
      const bytes = shape.images * 3 * spec.height * spec.width * 4
      const b = ctx.batch('test image')
      const px = b.upload(pixels, 'pixels')
      const tensor = b.scratch(bytes, 'tensor')
      b.dispatch(imageProgram({ shape, spec, pixels: px, tensor }))
      const [data] = await b.read([{ buffer: tensor, bytes }])
      return new Float32Array(data as ArrayBuffer)
    },
  }
}

const TABULAR_SHAPES = [
  [1, 1],
  [7, 5],
  [257, 10],
  [3, 41],
  [100_000, 8],
] as const
const IMAGE_CASES: Array<{ name: string; dims: number[]; spec: Partial<ImageSpec> }> = [
  { name: 'downscale 64×48 RGB → 16×12', dims: [2, 48, 64, 3], spec: { height: 12, width: 16 } },
  { name: 'upscale 5×7 RGBA → 16×16', dims: [1, 5, 7, 4], spec: { height: 16, width: 16 } },
  { name: 'same size RGB, BGR order', dims: [3, 9, 11, 3], spec: { height: 9, width: 11, bgr: true } },
  { name: 'odd ratio 33×31 RGBA → 24×20', dims: [4, 33, 31, 4], spec: { height: 24, width: 20 } },
]
// Seeds drawn once, so the CPU twins and the kernels see the same inputs.
const tabularSeeds = TABULAR_SHAPES.map(() => freshSeed())
const imageSeeds = IMAGE_CASES.map(() => freshSeed())

/** The cases, declared for one implementation. */
function preCases(kernels: () => Promise<PreKernels>): void {
  TABULAR_SHAPES.forEach(([rows, F], n) => {
    const seed = tabularSeeds[n] as number
    it(`tabular [${rows},${F}] (standardize, min-max, one-hot, impute, clip) matches its recipe (seed ${seed})`, async () => {
      const rand = mulberry32(seed)
      const features =
        F === 1 ? [{ standardize: { mean: 1, std: 2 }, impute: 'mean' as const }] : randomFeatures(rand, F)
      const raw = randomRaw(rand, rows, features)
      expectCloseSpecial(
        await (await kernels()).tabular(raw, rows, features),
        tabularRef(raw, rows, features),
        'tabular',
      )
    })
  })

  it('tabular: ±inf clip to bounds, NaN without impute stays NaN (numeric) or all zeros (one-hot)', async () => {
    const features: TabularFeature[] = [{ clip: [-1, 1] }, {}, { onehot: [1, 2] }]
    const raw = Float32Array.from([Number.POSITIVE_INFINITY, NAN, NAN, Number.NEGATIVE_INFINITY, 4, 2])
    expectCloseSpecial(await (await kernels()).tabular(raw, 2, features), [1, NAN, 0, 0, -1, 4, 0, 1], 'tabular')
  })

  IMAGE_CASES.forEach((c, n) => {
    const seed = imageSeeds[n] as number
    it(`image ${c.name} matches bilinear (half-pixel) + normalisation (seed ${seed})`, async () => {
      const rand = mulberry32(seed)
      const count = c.dims.reduce((a, b) => a * b, 1)
      const pixels = Uint8Array.from({ length: count }, () => Math.floor(rand() * 256))
      const spec: ImageSpec = { height: 0, width: 0, bgr: false, ...IMAGENET, ...c.spec }
      // Source coordinates are computed in f32 (as PyTorch does): errors are judged against the
      // tensor's range (floor 1), about a thousandth of one intensity level.
      const out = await (await kernels()).image(pixels, c.dims, spec)
      expectCloseSpecial(out, imageRef(pixels, c.dims, spec), 'image', 1e-4, 1)
    })
  })

  it('image at the same size returns the pixels themselves (scale 1, mean 0, std 1)', async () => {
    const pixels = Uint8Array.from({ length: 2 * 3 * 3 }, (_, i) => i * 13)
    const spec: ImageSpec = { height: 2, width: 3, scale: 1, mean: [0, 0, 0], std: [1, 1, 1], bgr: false }
    const out = await (await kernels()).image(pixels, [1, 2, 3, 3], spec)
    // NCHW: channel 0 is bytes 0, 3, 6, ...
    expect(Array.from(out.subarray(0, 6))).toEqual([0, 39, 78, 117, 156, 195])
  })
}

describe('pre-processing CPU twins, against float64 references (no GPU needed)', () => {
  preCases(async () => cpuKernels)

  it('tabular specs with mistakes are refused with the feature named', () => {
    expect(() => compileTabular({ features: [{}, { standardize: { mean: 0, std: 0 } }] })).toThrow(
      new InvalidConfigError('tabular: feature 1: standardize.std must be > 0'),
    )
    expect(() => compileTabular({ features: [{ minmax: { min: 0, max: 1 }, impute: 'mean' }] })).toThrow(
      /needs standardize\.mean/,
    )
    expect(() => compileTabular({ features: [{ onehot: [1, 1] }] })).toThrow(/distinct/)
    expect(() => compileTabular({ features: [{ clip: [2, 1] }] })).toThrow(/low <= high/)
    expect(() => compileTabular({ features: [{ onehot: [1], minmax: { min: 0, max: 1 } }] })).toThrow(/one of/)
    expect(() => compileTabular({ features: [] })).toThrow(/at least one/)
  })

  it('image rejects a wrong pixel layout', () => {
    expect(() => checkImageShape([1, 8, 8, 2])).toThrow(/\[N, height, width, 3 or 4\], got \[1,8,8,2\]/)
  })
})

describe.runIf(gpu.ok)(gpuTitle('pre-processing WGSL kernels, against the same references', gpu), () => {
  afterAll(closeTestContext)
  preCases(async () => gpuKernels(await testContext()))
})
