/** Backend choice, concurrency and lifecycle of engine sessions; backends agree with each other. */
import { afterAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.js'
import { Engine } from '../../src/engine/engine.js'
import type { BackendName } from '../../src/engine/types.js'
import { BackendUnavailableError, SessionClosedError } from '../../src/errors.js'
import { mulberry32 } from '../../src/random.js'
import { allFixtures, mlpClassifier } from '../fixtures/models.js'
import { expectClose, freshSeed } from '../helpers/compare.js'
import { gpuTitle, probeGpu } from '../helpers/gpu.js'

const gpu = await probeGpu()

describe('backend choice', () => {
  it('auto picks cpu when no adapter matches, and webgpu by name then fails with the attempts', async () => {
    const engine = new Engine(loadConfig({}, { gpu: { adapter: 'no-such-adapter-anywhere' } }))
    expect(await engine.resolveBackend('auto')).toBe('cpu')
    const session = await engine.load(mlpClassifier().bytes)
    expect(session.backend).toBe('cpu')
    const err = await engine.load(mlpClassifier().bytes, { backend: 'webgpu' }).catch((e) => e)
    expect(err).toBeInstanceOf(BackendUnavailableError)
    expect(err.message).toMatch(/webgpu backend is unavailable: no WebGPU adapter found \(vulkan: .*no-such-adapter/)
    const status = await engine.status()
    expect(status.gpu.state).toBe('unavailable')
    await engine.close()
  })

  it.runIf(gpu.ok && gpu.info?.software)(
    `auto picks cpu over a software adapter, and reports the adapter${gpu.info?.software ? '' : ' (skipped: no software adapter here)'}`,
    async () => {
      const engine = new Engine(loadConfig({}, {}))
      expect(await engine.resolveBackend('auto')).toBe('cpu')
      const status = await engine.status()
      expect(status.gpu.state).toBe('ready')
      if (status.gpu.state === 'ready') expect(status.gpu.adapter.software).toBe(true)
      await engine.close()
    },
  )

  const hardwareNote = gpu.info?.software === false ? '' : ' (skipped: no hardware adapter on this machine)'
  it.runIf(gpu.ok && gpu.info?.software === false)(
    `auto picks webgpu on a hardware adapter${hardwareNote}`,
    async () => {
      const engine = new Engine(loadConfig({}, {}))
      expect(await engine.resolveBackend('auto')).toBe('webgpu')
      await engine.close()
    },
  )
})

function lifecycle(backend: BackendName) {
  const engine = new Engine(loadConfig({}, { backend }))
  afterAll(() => engine.close())

  it('answers 40 concurrent runs, each with its own rows', async () => {
    const f = mlpClassifier()
    const s = await engine.load(f.bytes)
    // on webgpu, the same GPU path as `s` (a second load measures again and may pick another)
    const single = await engine.load(f.bytes, s.gpuPath ? { measured: s.gpuPath } : {})
    const seed = freshSeed()
    const inputs = Array.from({ length: 40 }, (_, i) => f.randomInputs(1 + (i % 5), mulberry32(seed + i)))
    const outs = await Promise.all(inputs.map((x) => s.run(x)))
    for (let i = 0; i < inputs.length; i++) {
      const alone = await single.run(inputs[i] as never)
      expect(outs[i]?.probs?.data).toEqual(alone.probs?.data)
    }
  })

  it('refuses runs after release, and release is idempotent', async () => {
    const f = mlpClassifier()
    const s = await engine.load(f.bytes)
    await s.release()
    await s.release()
    await expect(s.run(f.randomInputs(1, Math.random))).rejects.toBeInstanceOf(SessionClosedError)
  })
}

describe('cpu sessions', () => lifecycle('cpu'))
describe('wasm sessions', () => lifecycle('wasm'))
describe.runIf(gpu.ok)(gpuTitle('webgpu sessions', gpu), () => lifecycle('webgpu'))

describe.runIf(gpu.ok)(gpuTitle('backends agree with each other', gpu), () => {
  const engines = (['cpu', 'wasm', 'webgpu'] as const).map((b) => new Engine(loadConfig({}, { backend: b })))
  afterAll(() => Promise.all(engines.map((e) => e.close())))
  for (const f of allFixtures().filter((x) => x.name !== 'sklearn_pipeline')) {
    it(`${f.name}: webgpu and wasm equal cpu within 1e-4`, async () => {
      const feeds = f.randomInputs(33, mulberry32(freshSeed()))
      const [cpu, wasm, webgpu] = await Promise.all(engines.map(async (e) => (await e.load(f.bytes)).run(feeds)))
      for (const o of f.outputs) {
        const ref = Float64Array.from(cpu?.[o.name]?.data as Float32Array)
        expectClose(wasm?.[o.name]?.data as Float32Array, ref, `wasm ${o.name}`)
        expectClose(webgpu?.[o.name]?.data as Float32Array, ref, `webgpu ${o.name}`)
      }
    })
  }
})
