/**
 * The serving suites on the `webgpu` backend (the software GPU in CI), through a listening server:
 * OIP inference end to end from concurrent clients against a float64 reference, a hot swap under
 * load through the registry, and a fused tabular-pre → model → softmax/argmax/top-k pipeline.
 * Each test asserts the pipeline ran on webgpu's GPU path (not the CPU fallback) before and after.
 * Nothing here depends on the machine's speed: waits are on conditions, with generous bounds.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { ApiError } from '../../src/client/client.js'
import { tensor } from '../../src/engine/tensor.js'
import { GraphBuilder } from '../../src/onnx/builder.js'
import { dense, gemm } from '../../src/onnx/mlp.js'
import { mulberry32, uniform } from '../../src/random.js'
import { mlpClassifier } from '../fixtures/models.js'
import { expectClose } from '../helpers/compare.js'
import { gpuTitle, probeGpu } from '../helpers/gpu.js'
import { mlpRef } from '../helpers/reference.js'
import { expectOnWebgpu, type GpuServer, gpuDevice, startGpuServer } from '../helpers/webgpu-server.js'

const gpu = await probeGpu()
const WS = 'default'

/** y = k·x for x float32 [N, 1]. */
function times(k: number): Uint8Array {
  const g = new GraphBuilder(`times${k}`)
  const x = g.input('x', 'float32', ['N', 1])
  g.output(g.node('Mul', [x, g.constant('k', 'float32', [1], [k])]), 'float32', ['N', 1], 'y')
  return g.toModel()
}

describe.runIf(gpu.ok)(gpuTitle('serving on the webgpu backend, over a socket', gpu), () => {
  let g: GpuServer
  let device: { state: string; generation: string }
  beforeAll(async () => {
    g = await startGpuServer()
    device = await gpuDevice(g)
    expect(device.state).toBe('ready')
  })
  // The device each test ran on is the one the server opened: none was lost and replaced meanwhile.
  afterEach(async () => expect(await gpuDevice(g)).toEqual(device))
  afterAll(async () => {
    await g?.close()
  })

  it('answers OIP requests from 8 concurrent clients with their own rows, matching a float64 reference', async () => {
    const mlp = mlpClassifier({ features: 6, hidden: [16], classes: 3, seed: 31, name: 'mlp' })
    await g.lm.uploadModel(WS, 'mlp', mlp.bytes)
    await g.lm.putPipeline(WS, 'mlp', [{ model: 'mlp' }])
    expectOnWebgpu(await g.lm.deploy(WS, 'mlp'))
    const client = async (c: number) => {
      const rand = mulberry32(1000 + c)
      for (let r = 0; r < 4; r++) {
        const n = 1 + ((c * 5 + r * 3) % 9) // 1…9 rows, different per client and request
        const x = uniform(rand, n * 6, -3, 3)
        const answer = await g.lm.inferOip('mlp', {
          id: `c${c}r${r}`,
          inputs: [{ name: 'x', shape: [n, 6], datatype: 'FP32', data: Array.from(x) }],
        })
        expect(answer.id).toBe(`c${c}r${r}`)
        expect(answer.outputs.map((o) => [o.name, o.datatype, o.shape])).toEqual([['probs', 'FP32', [n, 3]]])
        const expected = mlpRef(tensor('float32', [n, 6], x), mlp.params)
        expectClose(answer.outputs[0]?.data as number[], expected, `client ${c} request ${r} probs`, 1e-4, 1)
      }
    }
    await Promise.all(Array.from({ length: 8 }, (_, c) => client(c)))
    expectOnWebgpu(await g.lm.deployment(WS, 'mlp'))
  })

  it('hot-swaps through the registry (PUT a new version) under load from 16 clients without failing a request', async () => {
    await g.lm.uploadModel(WS, 'scale', times(2))
    await g.lm.uploadModel(WS, 'scale', times(3))
    await g.lm.putPipeline(WS, 'swap', [{ model: 'scale:1' }])
    expectOnWebgpu(await g.lm.deploy(WS, 'swap'))
    let stop = false
    let swapped = false
    const seen = new Map<number, number>() // answer → how many came
    const failures: string[] = []
    const staleAfterSwap: number[] = [] // answers to requests sent after the PUT returned
    const client = async () => {
      while (!stop) {
        const sentAfterSwap = swapped
        try {
          const answer = await g.lm.inferOip('swap', {
            inputs: [{ name: 'x', shape: [1, 1], datatype: 'FP32', data: [1] }],
          })
          const y = Number((answer.outputs[0]?.data as number[] | undefined)?.[0])
          seen.set(y, (seen.get(y) ?? 0) + 1)
          if (sentAfterSwap && y !== 3) staleAfterSwap.push(y)
        } catch (e) {
          failures.push(e instanceof ApiError ? `${e.status} ${e.message}` : String(e))
        }
      }
    }
    // Conditions, not times: swap once the old version has answered 20 times under load, stop once
    // the new one has. The software GPU only makes this slower.
    const answered = (y: number) =>
      vi.waitFor(() => expect(seen.get(y) ?? 0).toBeGreaterThanOrEqual(20), { timeout: 120_000, interval: 10 })
    const clients = Array.from({ length: 16 }, client)
    await answered(2)
    expect((await g.lm.putPipeline(WS, 'swap', [{ model: 'scale:2' }])).deployed).toBe(true)
    swapped = true
    await answered(3)
    stop = true
    await Promise.all(clients)
    expect(failures).toEqual([])
    expect([...seen.keys()].sort((a, b) => a - b)).toEqual([2, 3])
    expect(staleAfterSwap).toEqual([]) // the new version took the traffic when the PUT answered
    const status = await g.lm.deployment(WS, 'swap')
    expect(status.pipeline_version).toBe(2)
    expect(status.models).toEqual(['scale:2'])
    expectOnWebgpu(status)
  }, 240_000)

  it('runs a fused tabular-pre → model → softmax/argmax/top-k pipeline on the GPU path, matching a float64 reference', async () => {
    // Raw columns: a standardized one (NaN → its mean, clipped first), a min-max one (NaN → 0), a
    // category code one-hot over 0, 1, 2 (unknown codes and NaN → zeros), one passed through
    // (NaN → 0): six model features, then three logits.
    const tabular = {
      input: 'raw',
      features: [
        { standardize: { mean: 0.5, std: 2 }, impute: 'mean', clip: [-4, 4] },
        { minmax: { min: -3, max: 5 }, impute: 0 },
        { onehot: [0, 1, 2] },
        { impute: 0 },
      ],
    }
    const labels = ['low', 'mid', 'high']
    const layer = dense(mulberry32(77), 6, 3)
    const b = new GraphBuilder('logits')
    b.output(gemm(b, b.input('x', 'float32', ['N', 6]), layer, 'fc'), 'float32', ['N', 3], 'logits')
    await g.lm.uploadModel(WS, 'logits', b.toModel())
    await g.lm.putPipeline(WS, 'fused', [
      { pre: { tabular } },
      { model: 'logits' },
      { post: { activation: 'softmax', argmax: true, topk: 2, labels } },
    ])
    expectOnWebgpu(await g.lm.deploy(WS, 'fused', { non_finite_inputs: 'pass' }))

    const n = 40
    const rand = mulberry32(4242)
    const raw: number[][] = Array.from({ length: n }, (_, r) => [
      r % 7 === 1 ? Number.NaN : Math.fround(rand() * 14 - 7), // past the clip now and then
      r % 9 === 2 ? Number.NaN : Math.fround(rand() * 8 - 3),
      r % 11 === 3 ? Number.NaN : Math.floor(rand() * 5), // 3 and 4 are unknown codes
      r % 13 === 4 ? Number.NaN : Math.fround(rand() * 2 - 1),
    ])
    // float64 reference, written from the README's semantics.
    const features = (v: number[]): number[] => {
      const [a, m, c, p] = v.map((x) => x as number) as [number, number, number, number]
      const std = (Math.min(4, Math.max(-4, Number.isNaN(a) ? 0.5 : a)) - 0.5) / 2
      const minmax = ((Number.isNaN(m) ? 0 : m) + 3) / 8
      return [std, minmax, c === 0 ? 1 : 0, c === 1 ? 1 : 0, c === 2 ? 1 : 0, Number.isNaN(p) ? 0 : p]
    }
    const logits = raw.map((v) => {
      const f = features(v)
      return Array.from({ length: 3 }, (_, o) =>
        f.reduce((s, x, i) => s + x * (layer.w[o * 6 + i] as number), layer.b[o] as number),
      )
    })
    const probs = logits.map((logits) => {
      const e = logits.map((l) => Math.exp(l - Math.max(...logits)))
      return e.map((x) => x / e.reduce((s, y) => s + y, 0))
    })
    const order = probs.map((p) => [0, 1, 2].sort((i, j) => (p[j] as number) - (p[i] as number) || i - j))
    const clearWinner = probs.map((p, r) => {
      const o = order[r] as number[]
      return (
        (p[o[0] as number] as number) - (p[o[1] as number] as number) > 1e-4 &&
        (p[o[1] as number] as number) - (p[o[2] as number] as number) > 1e-4
      )
    })

    const answer = await g.lm.inferOip('fused', {
      inputs: [{ name: 'raw', shape: [n, 4], datatype: 'FP32', data: raw.flat() }],
    })
    const column = <T>(name: string): T[] => {
      const output = answer.outputs.find((o) => o.name === name)
      expect(output, `output ${name}`).toBeDefined()
      return output?.data as T[]
    }
    expect(answer.outputs.map((o) => [o.name, o.datatype, o.shape]).sort()).toEqual([
      ['label', 'INT32', [n]],
      ['label_name', 'BYTES', [n]],
      ['logits', 'FP32', [n, 3]],
      ['scores', 'FP32', [n, 3]],
      ['topk_index', 'INT32', [n, 2]],
      ['topk_label', 'BYTES', [n, 2]],
      ['topk_score', 'FP32', [n, 2]],
    ])
    expectClose(column<number>('logits'), logits.flat(), 'logits', 1e-4, 1)
    expectClose(column<number>('scores'), probs.flat(), 'scores', 1e-4, 1)
    for (let r = 0; r < n; r++) {
      if (!clearWinner[r]) continue
      const o = order[r] as number[]
      expect(column<number>('label')[r], `row ${r} label`).toBe(o[0])
      expect(column<string>('label_name')[r], `row ${r} label_name`).toBe(labels[o[0] as number])
      expect(column<number>('topk_index').slice(2 * r, 2 * r + 2), `row ${r} top-2`).toEqual(o.slice(0, 2))
      expect(column<string>('topk_label').slice(2 * r, 2 * r + 2)).toEqual(o.slice(0, 2).map((i) => labels[i]))
    }
    expect(clearWinner.filter(Boolean).length).toBeGreaterThan(n / 2) // the label checks checked something
    expectClose(
      column<number>('topk_score'),
      probs.flatMap((p, r) => (order[r] as number[]).slice(0, 2).map((i) => p[i] as number)),
      'topk_score',
      1e-4,
      1,
    )
    // The same pipeline through lastmile's own route (pandas-records), on the same path.
    const records = await g.lm.inferRecords(WS, 'fused', [{ raw: raw[0] }, { raw: raw[5] }])
    expect(records.map((r) => r['out.label_name'])).toEqual(
      [0, 5].map((r) => labels[(order[r] as number[])[0] as number]),
    )
    expectOnWebgpu(await g.lm.deployment(WS, 'fused'))
  })
})
