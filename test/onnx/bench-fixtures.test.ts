/**
 * The bench models (wideMlp, resnet18Shaped) on the `cpu` backend against float64 references
 * computed here from the ONNX operator definitions, on fresh random inputs (seed in each title).
 * The CNN runs at 32×32 with 10 classes so the JS reference convolution stays fast; the 224×224
 * default is checked for shape, size and finiteness only.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.js'
import { Engine } from '../../src/engine/engine.js'
import type { HostTensor } from '../../src/engine/tensor.js'
import { mulberry32 } from '../../src/random.js'
import { resnet18Shaped, wideMlp } from '../fixtures/models.js'
import type { ConvParams, ResNetParams } from '../fixtures/resnet.js'
import { expectClose, freshSeed } from '../helpers/compare.js'
import { denseRef, mlpRef } from '../helpers/reference.js'

/** A C×H×W float64 image. */
interface Image {
  c: number
  s: number
  data: Float64Array
}

/** Conv (square kernel, symmetric pads) with bias, from the ONNX Conv definition. */
function convRef(x: Image, p: ConvParams): Image {
  const so = Math.floor((x.s + 2 * p.pad - p.k) / p.stride) + 1
  const out = new Float64Array(p.outC * so * so)
  for (let o = 0; o < p.outC; o++) {
    const plane = out.subarray(o * so * so, (o + 1) * so * so)
    plane.fill(p.b[o] as number)
    for (let i = 0; i < p.inC; i++)
      for (let ky = 0; ky < p.k; ky++)
        for (let kx = 0; kx < p.k; kx++) {
          const w = p.w[((o * p.inC + i) * p.k + ky) * p.k + kx] as number
          for (let oy = 0; oy < so; oy++) {
            const iy = oy * p.stride + ky - p.pad
            if (iy < 0 || iy >= x.s) continue
            const row = (i * x.s + iy) * x.s
            for (let ox = 0; ox < so; ox++) {
              const ix = ox * p.stride + kx - p.pad
              const at = oy * so + ox
              if (ix >= 0 && ix < x.s) plane[at] = (plane[at] as number) + w * (x.data[row + ix] as number)
            }
          }
        }
  }
  return { c: p.outC, s: so, data: out }
}

const relu = (x: Image): Image => ({ ...x, data: x.data.map((v) => Math.max(0, v)) })

/** MaxPool 3×3 stride 2 pad 1 (padding never wins a max). */
function maxPoolRef(x: Image): Image {
  const so = Math.floor((x.s + 2 - 3) / 2) + 1
  const out = new Float64Array(x.c * so * so).fill(Number.NEGATIVE_INFINITY)
  for (let c = 0; c < x.c; c++)
    for (let oy = 0; oy < so; oy++)
      for (let ox = 0; ox < so; ox++)
        for (let dy = 0; dy < 3; dy++)
          for (let dx = 0; dx < 3; dx++) {
            const iy = oy * 2 + dy - 1
            const ix = ox * 2 + dx - 1
            if (iy < 0 || iy >= x.s || ix < 0 || ix >= x.s) continue
            const at = (c * so + oy) * so + ox
            out[at] = Math.max(out[at] as number, x.data[(c * x.s + iy) * x.s + ix] as number)
          }
  return { c: x.c, s: so, data: out }
}

function resnetRef(x: HostTensor, p: ResNetParams): Float64Array {
  const n = x.dims[0] as number
  const per = 3 * p.size * p.size
  const out = new Float64Array(n * p.classes)
  for (let b = 0; b < n; b++) {
    const img: Image = {
      c: 3,
      s: p.size,
      data: Float64Array.from(x.data.subarray(b * per, (b + 1) * per) as Float32Array),
    }
    let h = maxPoolRef(relu(convRef(img, p.stem)))
    for (const block of p.stages.flat()) {
      const branch = convRef(relu(convRef(h, block.conv1)), block.conv2)
      const shortcut = block.downsample ? convRef(h, block.downsample) : h
      h = relu({ ...branch, data: branch.data.map((v, i) => v + (shortcut.data[i] as number)) })
    }
    const pooled = new Float64Array(h.c)
    for (let c = 0; c < h.c; c++) {
      let s = 0
      for (let i = 0; i < h.s * h.s; i++) s += h.data[c * h.s * h.s + i] as number
      pooled[c] = s / (h.s * h.s)
    }
    out.set(denseRef(pooled, p.fc), b * p.classes)
  }
  return out
}

const engine = new Engine(loadConfig({}, { backend: 'cpu', logLevel: 'warn' }))
afterAll(() => engine.close())

describe('wideMlp (mlp_big)', () => {
  const seed = freshSeed()
  it(`matches its float64 reference on the cpu backend at batch 5 (seed ${seed})`, async () => {
    const f = wideMlp()
    expect(f.params.layers.map((l) => `${l.in}→${l.out}`)).toEqual([
      '256→2048',
      '2048→2048',
      '2048→2048',
      '2048→2048',
      '2048→16',
    ])
    const session = await engine.load(f.bytes)
    const feeds = f.randomInputs(5, mulberry32(seed))
    const out = (await session.run(feeds)).probs as HostTensor
    expect(out.dims).toEqual([5, 16])
    expectClose(out.data as Float32Array, mlpRef(feeds.x as HostTensor, f.params), 'wide_mlp.probs')
    await session.release()
  })
})

describe('resnet18Shaped', () => {
  // Built once: 11.7M weights take about a second to draw and serialise.
  let full: ReturnType<typeof resnet18Shaped> | undefined
  const resnet224 = () => {
    full ??= resnet18Shaped()
    return full
  }

  it("has torchvision ResNet-18's weights with each BatchNorm folded into one bias per conv", () => {
    const { params } = resnet224()
    const convs = [params.stem, ...params.stages.flat().flatMap((b) => [b.conv1, b.conv2, b.downsample ?? []])]
      .flat()
      .filter((c): c is ConvParams => 'w' in c)
    const count = convs.reduce((s, c) => s + c.w.length + c.b.length, 0) + params.fc.w.length + params.fc.b.length
    // torchvision's 11,689,512 less one of BN's two vectors for each of 4800 channels.
    expect(count).toBe(11_689_512 - 4800)
    expect(convs.filter((c) => c.k === 1).map((c) => c.outC)).toEqual([128, 256, 512])
  })

  it('runs at its 224×224 default and gives finite logits [N,1000]', async () => {
    const f = resnet224()
    const session = await engine.load(f.bytes)
    const out = (await session.run(f.randomInputs(1, mulberry32(1)))).logits as HostTensor
    expect(out.dims).toEqual([1, 1000])
    expect(Array.from(out.data as Float32Array).every(Number.isFinite)).toBe(true)
    await session.release()
  })

  const seed = freshSeed()
  it(`matches its float64 reference on the cpu backend at 32×32, batch 2 (seed ${seed})`, async () => {
    const f = resnet18Shaped({ size: 32, classes: 10 })
    const session = await engine.load(f.bytes)
    const feeds = f.randomInputs(2, mulberry32(seed))
    const out = (await session.run(feeds)).logits as HostTensor
    expect(out.dims).toEqual([2, 10])
    expectClose(out.data as Float32Array, resnetRef(feeds.x as HostTensor, f.params), 'resnet18.logits')
    await session.release()
  })
})
