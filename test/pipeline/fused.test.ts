/**
 * pre → model → post: the GPU-resident path (data on the device from upload to one readback)
 * equals the CPU path end to end, on fresh random inputs. Floats within 1e-4 of each tensor's range
 * (two fp32 chains with different summation orders); labels and top-k indices exact except where
 * the top scores are within 1e-5 of each other.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.js'
import { Engine } from '../../src/engine/engine.js'
import type { HostTensor } from '../../src/engine/tensor.js'
import { tensor } from '../../src/engine/tensor.js'
import { InvalidConfigError, InvalidInputError } from '../../src/errors.js'
import { FusedModel, type FusedOutputs, type FusedSteps } from '../../src/pipeline/fused.js'
import type { StringTensor } from '../../src/pipeline/post.js'
import { mulberry32 } from '../../src/random.js'
import { logisticRegression, mlpClassifier, smallCnn, torchTabular } from '../fixtures/models.js'
import { expectCloseSpecial, freshSeed } from '../helpers/compare.js'
import { gpuTitle, probeGpu } from '../helpers/gpu.js'

const gpu = await probeGpu()
const CLASSES10 = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine']

interface Case {
  name: string
  model: Uint8Array
  steps: FusedSteps
  feeds: (n: number, rand: () => number) => Record<string, HostTensor>
}

const TABULAR = {
  features: [
    { standardize: { mean: 0.5, std: 2 }, impute: 'mean' as const, clip: [-4, 4] as [number, number] },
    { minmax: { min: -3, max: 3 }, impute: 0 },
    { onehot: [0, 1, 2, 3, 4] },
    // NaN that reaches a model is the runtime's business (WebGPU's max() drops it, the CPU keeps
    // it), so every numeric column is imputed; the one-hot column maps NaN to all zeros.
    { impute: 0 },
  ],
}
const rawTabular = (n: number, rand: () => number) =>
  tensor(
    'float32',
    [n, 4],
    Array.from({ length: n * 4 }, (_, i) =>
      rand() < 0.05 ? Number.NaN : i % 4 === 2 ? Math.floor(rand() * 6) : rand() * 8 - 4,
    ),
  )

const CASES: Case[] = [
  {
    name: 'tabular pre → MLP classifier → argmax, top-2 and class names',
    model: mlpClassifier({ features: 8 }).bytes,
    steps: { pre: { tabular: { input: 'raw', ...TABULAR } }, post: { argmax: true, topk: 2, labels: ['a', 'b', 'c'] } },
    feeds: (n, r) => ({ raw: rawTabular(n, r) }),
  },
  {
    name: 'image pre (RGBA 12×10 → 8×8) → CNN logits → softmax, top-3, argmax with names',
    model: smallCnn().bytes,
    steps: {
      pre: { image: { input: 'pixels', height: 8, width: 8, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] } },
      post: { activation: 'softmax', argmax: true, topk: 3, labels: CLASSES10 },
    },
    feeds: (n, r) => ({
      pixels: tensor(
        'uint8',
        [n, 12, 10, 4],
        Array.from({ length: n * 480 }, () => Math.floor(r() * 256)),
      ),
    }),
  },
  {
    name: 'logistic regression → threshold 0.5 with names',
    model: logisticRegression().bytes,
    steps: { post: { threshold: 0.5, labels: ['no', 'yes'] } },
    feeds: (n, r) => logisticRegression().randomInputs(n, r),
  },
  {
    name: 'tabular pre on one of two inputs (torch net with an int64 input) → threshold',
    model: torchTabular().bytes,
    steps: {
      pre: { tabular: { output: 'num', features: [{ standardize: { mean: 0, std: 2 } }, {}, { clip: [-1, 1] }, {}] } },
      post: { threshold: 0.4 },
    },
    feeds: (n, r) => torchTabular().randomInputs(n, r),
  },
]

function expectSameOutputs(gpuOut: FusedOutputs, cpuOut: FusedOutputs, what: string) {
  expect(Object.keys(gpuOut).sort(), what).toEqual(Object.keys(cpuOut).sort())
  const scores = (cpuOut.scores ?? cpuOut.probs ?? cpuOut.logits ?? cpuOut.prob) as HostTensor | undefined
  const nearTie = (row: number) => {
    if (!scores) return false
    const cols = scores.dims[1] ?? 1
    const r = Array.from((scores.data as Float32Array).subarray(row * cols, (row + 1) * cols)).sort((a, b) => b - a)
    return cols > 1 && (r[0] as number) - (r[1] as number) < 1e-5
  }
  for (const [name, c] of Object.entries(cpuOut)) {
    const g = gpuOut[name] as FusedOutputs[string]
    expect(g.dtype, `${what} ${name} dtype`).toBe(c.dtype)
    expect(g.dims, `${what} ${name} dims`).toEqual(c.dims)
    if (c.dtype === 'float32')
      expectCloseSpecial(g.data as Float32Array, c.data as Float32Array, `${what} ${name}`, 1e-4, 1)
    else {
      const width = c.dims[1] ?? 1
      const gd = Array.from(g.data as ArrayLike<unknown>)
      const cd = Array.from(c.data as ArrayLike<unknown>)
      cd.forEach((v, i) => {
        if (!nearTie(Math.floor(i / width))) expect(gd[i], `${what} ${name}[${i}]`).toEqual(v)
      })
    }
  }
}

describe.runIf(gpu.ok)(gpuTitle('fused pre → model → post', gpu), () => {
  const gpuEngine = new Engine(loadConfig({}, { backend: 'webgpu', gpu: { validate: true } }))
  const cpuEngine = new Engine(loadConfig({}, { backend: 'cpu' }))
  const wasmEngine = new Engine(loadConfig({}, { backend: 'wasm' }))
  afterAll(async () => {
    await cpuEngine.close()
    await wasmEngine.close()
    await gpuEngine.close()
  })

  for (const c of CASES) {
    for (const n of [1, 37, 300]) {
      const seed = freshSeed()
      it(`${c.name}: GPU path equals CPU path (cpu and wasm backends) at batch ${n} (seed ${seed})`, async () => {
        const g = FusedModel.create(await gpuEngine.load(c.model), c.steps, await gpuEngine.gpu())
        const k = FusedModel.create(await cpuEngine.load(c.model), c.steps)
        const w = FusedModel.create(await wasmEngine.load(c.model), c.steps)
        expect(g.path()).toBe('gpu')
        expect(k.path()).toBe('cpu')
        const feeds = c.feeds(n, mulberry32(seed))
        // One readback per batch: count buffer maps during the GPU run.
        const proto = (globalThis as unknown as { GPUBuffer: { prototype: GPUBuffer } }).GPUBuffer.prototype
        const mapAsync = proto.mapAsync
        let maps = 0
        proto.mapAsync = function (this: GPUBuffer, ...args: Parameters<GPUBuffer['mapAsync']>) {
          maps++
          return mapAsync.apply(this, args)
        }
        let gpuOut: FusedOutputs
        try {
          gpuOut = await g.run(feeds)
        } finally {
          proto.mapAsync = mapAsync
        }
        expect(maps).toBe(1)
        const cpuOut = await k.run(feeds)
        expectSameOutputs(gpuOut, cpuOut, `${c.name} (webgpu vs cpu)`)
        expectSameOutputs(await w.run(feeds), cpuOut, `${c.name} (wasm vs cpu)`)
        await Promise.all([g, k, w].map((m) => m.session.release()))
      })
    }
  }

  it('names classes, and abstains (-1, empty name) below the threshold', async () => {
    const session = await gpuEngine.load(mlpClassifier().bytes)
    const fused = FusedModel.create(
      session,
      { post: { threshold: 0.999, labels: ['a', 'b', 'c'] } },
      await gpuEngine.gpu(),
    )
    const out = await fused.run(mlpClassifier().randomInputs(50, mulberry32(freshSeed())))
    const labels = Array.from(out.label?.data as Int32Array)
    expect(labels.some((l) => l === -1)).toBe(true)
    const names = (out.label_name as StringTensor).data
    labels.forEach((l, i) => {
      expect(names[i]).toBe(l === -1 ? '' : ['a', 'b', 'c'][l])
    })
  })

  it('answers on the CPU path while the GPU is lost, with the same results', async () => {
    const engine = new Engine(loadConfig({}, { backend: 'webgpu', gpu: { recover: false } }))
    const c = CASES[1] as Case
    const fused = FusedModel.create(await engine.load(c.model), c.steps, await engine.gpu())
    const feeds = c.feeds(5, mulberry32(freshSeed()))
    const before = await fused.run(feeds)
    ;(await engine.gpu()).device.destroy()
    await new Promise((r) => setTimeout(r, 50))
    expect(fused.path()).toBe('cpu')
    expectSameOutputs(before, await fused.run(feeds), 'after loss')
    await engine.close()
  })
})

describe('fused steps: configuration and input errors', () => {
  const engine = new Engine(loadConfig({}, { backend: 'cpu' }))
  afterAll(() => engine.close())

  it('refuses steps that do not fit the model, naming the mismatch', async () => {
    const mlp = await engine.load(mlpClassifier({ features: 8 }).bytes)
    expect(() => FusedModel.create(mlp, { pre: { tabular: { features: [{}, {}] } } })).toThrow(
      /tabular step: produces 2 columns but model input 'x' expects \[N,8\]/,
    )
    expect(() => FusedModel.create(mlp, { post: { input: 'nope' } })).toThrow(
      /the model has no output 'nope' \(outputs: probs\)/,
    )
    expect(() => FusedModel.create(mlp, { post: { argmax: true, labels: ['a', 'b'] } })).toThrow(
      new InvalidConfigError('post step: 2 labels for 3 column(s); expected 3'),
    )
    expect(() => FusedModel.create(mlp, { post: { topk: 4 } })).toThrow(/k must be an integer in 1\.\.3/)
    expect(() => FusedModel.create(mlp, { post: { topk: 0 } as never })).toThrow()
    const logistic = await engine.load(logisticRegression().bytes)
    expect(() => FusedModel.create(logistic, { post: { activation: 'softmax' } })).toThrow(/softmax over one column/)
  })

  it('validates request inputs against the pre step, not the model', async () => {
    const c = CASES[0] as Case
    const fused = FusedModel.create(await engine.load(c.model), c.steps)
    expect(fused.inputs).toEqual([{ name: 'raw', dtype: 'float32', shape: ['N', 4] }])
    const err = await fused.run({ raw: tensor('float32', [2, 3], new Array(6).fill(0)) }).catch((e) => e)
    expect(err).toBeInstanceOf(InvalidInputError)
    expect(err.message).toBe("input 'raw' has shape [2,3], the model expects [N,4] (dim 1 is 3, expected 4)")
    await expect(fused.run({ x: tensor('float32', [1, 8], new Array(8).fill(0)) })).rejects.toThrow(/unknown input 'x'/)
    const out = await fused.run(c.feeds(3, mulberry32(1)))
    expect(Object.keys(out).sort()).toEqual(['label', 'label_name', 'probs', 'topk_index', 'topk_label', 'topk_score'])
  })
})
