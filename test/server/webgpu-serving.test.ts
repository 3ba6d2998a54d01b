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
import { mulberry32, uniform } from '../../src/random.js'
import { mlpClassifier } from '../fixtures/models.js'
import { expectOn, gpuDevice, type ListeningServer, startBackendServer } from '../helpers/backend-server.js'
import { expectClose } from '../helpers/compare.js'
import { gpuTitle, probeGpu } from '../helpers/gpu.js'
import { mlpRef } from '../helpers/reference.js'

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
  let g: ListeningServer
  let device: { state: string; generation: string }
  beforeAll(async () => {
    g = await startBackendServer('webgpu')
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
    expectOn('webgpu', await g.lm.deploy(WS, 'mlp'))
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
    expectOn('webgpu', await g.lm.deployment(WS, 'mlp'))
  })

  it('serves on the path a deployment names, reports how each path was chosen, and answers the same', async () => {
    const mlp = mlpClassifier({ features: 5, hidden: [12], classes: 4, seed: 37, name: 'paths' })
    await g.lm.uploadModel(WS, 'paths', mlp.bytes)
    await g.lm.putPipeline(WS, 'paths', [{ model: 'paths' }])
    const x = uniform(mulberry32(41), 7 * 5, -2, 2)
    const expected = mlpRef(tensor('float32', [7, 5], x), mlp.params)
    for (const gpuPath of ['kernels', 'captured', 'auto'] as const) {
      const status = await g.lm.deploy(WS, 'paths', { batching: { max_batch_size: 8 }, session: { gpu_path: gpuPath } })
      expectOn('webgpu', status)
      const model = status.stages[0]?.models[0]
      if (gpuPath === 'auto') {
        expect(model?.gpu_path?.how).toBe('measured')
        expect(model?.gpu_path?.batches).toEqual([1, 8])
        expect(model?.gpu_path?.candidates.map((c) => c.path).sort()).toEqual(['captured', 'kernels', 'ort'])
      } else {
        expect(model?.gpu_path).toMatchObject({ chosen: gpuPath, how: 'set' })
      }
      // the captured path reports its buckets and padding; the others do not
      expect(model?.capture?.buckets ?? null).toEqual(model?.gpu_path?.chosen === 'captured' ? [1, 4, 8] : null)
      const answer = await g.lm.inferOip('paths', {
        inputs: [{ name: 'x', shape: [7, 5], datatype: 'FP32', data: Array.from(x) }],
      })
      expectClose(answer.outputs[0]?.data as number[], expected, `${gpuPath} probs`, 1e-4, 1)
      if (model?.gpu_path?.chosen === 'captured') {
        // 7 rows ran in the 8-row bucket: one zero row of padding (the warm-up's rows count too)
        const after = (await g.lm.deployment(WS, 'paths')).stages[0]?.models[0]?.capture
        expect((after?.padded_rows ?? 0) - (model.capture?.padded_rows ?? 0)).toBe(1)
      }
    }
  })

  it('hot-swaps through the registry (PUT a new version) under load from 16 clients without failing a request', async () => {
    await g.lm.uploadModel(WS, 'scale', times(2))
    await g.lm.uploadModel(WS, 'scale', times(3))
    await g.lm.putPipeline(WS, 'swap', [{ model: 'scale:1' }])
    expectOn('webgpu', await g.lm.deploy(WS, 'swap'))
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
    expectOn('webgpu', status)
  }, 240_000)
})
