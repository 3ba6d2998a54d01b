/**
 * The three GPU paths through the Engine, on the machine's adapter (the software one in CI): each
 * answers what native onnxruntime on the CPU answers (an independent implementation) for an MLP and
 * a CNN, at batch sizes between buckets and past the largest; `auto` measures and reports every
 * candidate; a later replica loads the path chosen without measuring; a path that cannot run a
 * model is refused with the operator named.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.js'
import { Engine } from '../../src/engine/engine.js'
import type { HostTensor } from '../../src/engine/tensor.js'
import type { Feeds, ModelSession } from '../../src/engine/types.js'
import { UnsupportedModelError } from '../../src/errors.js'
import { mulberry32 } from '../../src/random.js'
import { type Fixture, mlpClassifier, smallCnn, torchTabular } from '../fixtures/models.js'
import { expectClose, freshSeed } from '../helpers/compare.js'
import { gpuTitle, probeGpu } from '../helpers/gpu.js'

const gpu = await probeGpu()

describe.runIf(gpu.ok)(gpuTitle('GPU paths through the engine', gpu), () => {
  const engine = new Engine(loadConfig({}, { gpu: { measureMs: 300 } }))
  const cpu = new Engine(loadConfig({}, { backend: 'cpu' }))
  afterAll(async () => {
    await engine.close()
    await cpu.close()
  })

  async function expectSameAsCpu(f: Fixture, s: ModelSession, batches: number[]) {
    const ref = await cpu.load(f.bytes)
    const seed = freshSeed()
    for (const rows of batches) {
      const feeds = f.randomInputs(rows, mulberry32(seed + rows)) as Feeds
      const want = await ref.run(feeds)
      const got = await s.run(feeds)
      for (const name of Object.keys(want)) {
        const w = want[name] as HostTensor
        expect(got[name]?.dims, `${name} at ${rows} rows`).toEqual(w.dims)
        expectClose(got[name]?.data as Float32Array, w.data as Float32Array, `${name} at ${rows} rows`)
      }
    }
    await ref.release()
  }

  for (const path of ['captured', 'kernels'] as const) {
    it(`${path}: the MLP's answers are onnxruntime's on the CPU, between buckets and past the largest`, async () => {
      const f = mlpClassifier()
      const s = await engine.load(f.bytes, { backend: 'webgpu', gpuPath: path, maxBatch: 16 })
      expect(s.gpuPath).toMatchObject({ chosen: path, how: 'set' })
      // no rows only on kernels: onnxruntime-web's plain session (which the captured one hands them to) fails them
      await expectSameAsCpu(f, s, path === 'kernels' ? [0, 1, 3, 16, 37] : [1, 3, 16, 37])
      if (path === 'captured') expect(s.captureStats?.()).toMatchObject({ buckets: [1, 4, 16] })
      await s.release()
    })
  }

  it("kernels: a CNN's answers are onnxruntime's on the CPU", async () => {
    const f = smallCnn()
    const s = await engine.load(f.bytes, { backend: 'webgpu', gpuPath: 'kernels', maxBatch: 8 })
    await expectSameAsCpu(f, s, [1, 5])
    await s.release()
  })

  it('auto times every path that can run the model, serves with the one it reports, and a replica reuses it', async () => {
    const f = mlpClassifier()
    const s = await engine.load(f.bytes, { backend: 'webgpu', maxBatch: 16 })
    const report = s.gpuPath
    expect(report?.how).toBe('measured')
    expect(report?.batches).toEqual([1, 16])
    expect(report?.candidates.map((c) => c.path).sort()).toEqual(['captured', 'kernels', 'ort'])
    for (const c of report?.candidates ?? []) {
      expect(c.error, c.path).toBeUndefined()
      expect(Object.keys(c.ms ?? {})).toEqual(['1', '16'])
    }
    await expectSameAsCpu(f, s, [2, 16])
    const replica = await engine.load(f.bytes, { backend: 'webgpu', maxBatch: 16, measured: report })
    expect(replica.gpuPath).toBe(report)
    expect(replica.captureStats?.() !== undefined).toBe(report?.chosen === 'captured')
    await replica.release()
    await s.release()
  })

  it('a path that cannot run a model is refused by name, and auto leaves it out with the reason', async () => {
    const f = torchTabular()
    const err = await engine.load(f.bytes, { backend: 'webgpu', gpuPath: 'kernels' }).catch((e) => e)
    expect(err).toBeInstanceOf(UnsupportedModelError)
    expect(err.message).toMatch(/kernels do not cover this model: input 'cat' is int64, not float32/)
    const s = await engine.load(f.bytes, { backend: 'webgpu', maxBatch: 4 })
    // an int64 input: no trial rows can be made, so nothing else is loaded
    expect(s.gpuPath).toMatchObject({ chosen: 'ort', how: 'unmeasured' })
    await s.release()
  })
})
