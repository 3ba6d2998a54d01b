/**
 * One point's measure on a real model, on wasm with no queue delay (its runs resolve without an
 * event: the closed loop must not starve the window timers): it returns after at least three
 * windows with its rows/s and latencies; it pauses (a window at a time, the windows so far
 * dropped) while live traffic is waiting; it gives the point up when the run's time is up; a
 * request the pipeline refuses fails the point with the pipeline's reason, without hanging. A point
 * names its GPU path exactly when it is on `webgpu`. On the software GPU, where an adapter exists: a
 * GPU path that cannot load the model (lastmile's kernels lack `Mul`) fails the point with that
 * reason, and the `ort` and `captured` paths measure it.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { Engine } from '../../src/engine/engine.js'
import { tensor } from '../../src/engine/tensor.js'
import { Bench } from '../../src/optimize/measure.js'
import { requestsOf, synthesizeRows } from '../../src/optimize/rows.js'
import { gpuTitle, probeGpu } from '../helpers/gpu.js'
import { doubler, testConfig } from '../helpers/server.js'

const gpu = await probeGpu()

const POINT = {
  backend: 'wasm' as const,
  max_batch_size: 8,
  max_queue_delay_ms: 0,
  threads: null,
  graph_optimization: 'all' as const,
  gpu_path: null,
}

describe('a bench', () => {
  const engines: Engine[] = []
  afterEach(async () => {
    for (const e of engines.splice(0)) await e.close()
  })

  const bench = (
    over: { busy?: () => boolean; stop?: () => boolean; requests?: ReturnType<typeof requestsOf> } = {},
  ) => {
    const engine = new Engine(testConfig())
    engines.push(engine)
    return new Bench({
      engine,
      steps: [{ model: 'd:1' }],
      models: { 'd:1': doubler(2) },
      requests: over.requests ?? requestsOf(synthesizeRows([{ name: 'x', dtype: 'float32', shape: ['N', 2] }], 1), 1),
      concurrency: 8,
      windowMs: 40,
      maxWindows: 6,
      busy: over.busy ?? (() => false),
      stop: over.stop ?? (() => false),
    })
  }

  it('measures windows until three agree or the cap, and gives rows/s and latencies', async () => {
    const b = bench()
    const r = await b.measure(POINT)
    await b.release()
    expect(r.windows).toBeGreaterThanOrEqual(3)
    expect(r.windows).toBeLessThanOrEqual(6)
    expect(r.rows_per_s).toBeGreaterThan(0)
    expect(r.p50_ms).toBeGreaterThan(0)
    expect(r.p99_ms).toBeGreaterThanOrEqual(r.p50_ms)
    expect(r.memory_bytes).toBeGreaterThanOrEqual(0)
    if (r.windows < 6) expect(r.stable).toBe(true)
  })

  it('pauses while live traffic waits, and measures afterwards', async () => {
    let asked = 0
    const b = bench({ busy: () => ++asked <= 3 })
    const t0 = performance.now()
    const r = await b.measure(POINT)
    await b.release()
    expect(asked).toBeGreaterThanOrEqual(3 + r.windows)
    expect(performance.now() - t0).toBeGreaterThanOrEqual((3 + r.windows) * 40 - 5)
    expect(r.windows).toBeGreaterThanOrEqual(3) // paused windows are not counted
  })

  it("gives the point up when the run's time is up", async () => {
    const b = bench({ stop: () => true })
    await expect(b.measure(POINT)).rejects.toThrow(/out of time/)
    await b.release()
  })

  it('refuses a webgpu point without a GPU path, and a GPU path off webgpu', async () => {
    const b = bench()
    await expect(b.measure({ ...POINT, backend: 'webgpu' })).rejects.toThrow(/webgpu point has no GPU path/)
    await expect(b.measure({ ...POINT, gpu_path: 'ort' })).rejects.toThrow(/wasm point has a GPU path/)
    await b.release()
  })

  describe.runIf(gpu.ok)(gpuTitle('on webgpu', gpu), () => {
    const onGpu = { ...POINT, backend: 'webgpu' as const, max_batch_size: 4 }

    it("fails a point whose GPU path cannot load the model with the path's reason", async () => {
      const b = bench()
      await expect(b.measure({ ...onGpu, gpu_path: 'kernels' })).rejects.toThrow(/kernels.*Mul/)
      await b.release()
    })

    it('measures the ort and captured paths', async () => {
      const b = bench()
      for (const gpu_path of ['ort', 'captured'] as const) {
        const r = await b.measure({ ...onGpu, gpu_path })
        expect(r.rows_per_s, gpu_path).toBeGreaterThan(0)
        expect(r.windows).toBeGreaterThanOrEqual(3)
      }
      await b.release()
    })
  })

  it('fails the point with the reason the pipeline refuses its requests', async () => {
    const wrong = [{ x: tensor('float32', [1, 3], [1, 2, 3]) }]
    const b = bench({ requests: wrong })
    await expect(b.measure(POINT)).rejects.toThrow(/x/)
    await b.release()
  })
})
