/**
 * A fused pre → model → post pipeline through the HTTP server (tabular preprocessing with every
 * kind of column, a model's logits, softmax with argmax, top-k and class names), against a float64
 * reference written from the README's semantics: on `webgpu`, where the three run as one GPU pass
 * (the software GPU in CI), and on `cpu`, where the kernels' CPU twins run (every machine). Each
 * asserts the backend and path the pipeline ran on.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { GraphBuilder } from '../../src/onnx/builder.js'
import { dense, gemm } from '../../src/onnx/mlp.js'
import { mulberry32 } from '../../src/random.js'
import {
  expectOn,
  gpuDevice,
  type ListeningServer,
  type ServedBackend,
  startBackendServer,
} from '../helpers/backend-server.js'
import { expectClose } from '../helpers/compare.js'
import { gpuTitle, probeGpu } from '../helpers/gpu.js'

const gpu = await probeGpu()
const WS = 'default'

const suites: Array<{ backend: ServedBackend; title: string; run: boolean }> = [
  { backend: 'webgpu', title: gpuTitle('fused pre → model → post over HTTP on webgpu', gpu), run: gpu.ok },
  { backend: 'cpu', title: 'fused pre → model → post over HTTP on cpu (the CPU twins, no GPU needed)', run: true },
]

for (const { backend, title, run } of suites) {
  describe.runIf(run)(title, () => {
    const path = backend === 'webgpu' ? 'gpu' : 'cpu'
    let g: ListeningServer
    let device: { state: string; generation: string } | undefined
    beforeAll(async () => {
      g = await startBackendServer(backend)
      if (backend === 'webgpu') device = await gpuDevice(g)
      expect(device?.state ?? 'no GPU').toBe(backend === 'webgpu' ? 'ready' : 'no GPU')
    })
    // On webgpu, the device the test ran on is the one the server opened: none was lost meanwhile.
    afterEach(async () => {
      if (device) expect(await gpuDevice(g)).toEqual(device)
    })
    afterAll(async () => {
      await g?.close()
    })

    it(`runs on the ${path} path, matching a float64 reference`, async () => {
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
      expectOn(backend, await g.lm.deploy(WS, 'fused', { non_finite_inputs: 'pass' }))

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
      expectOn(backend, await g.lm.deployment(WS, 'fused'))
    })
  })
}
