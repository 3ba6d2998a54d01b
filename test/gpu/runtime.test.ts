/**
 * The GPU runtime on a real adapter: adapter info, the SharedArrayBuffer writeBuffer shim, and a
 * lost device: runs fall back to the CPU backend, then return to a new device.
 */
import { afterAll, describe, expect, it, vi } from 'vitest'
import { loadConfig } from '../../src/config.js'
import { Engine } from '../../src/engine/engine.js'
import { GpuRuntime } from '../../src/gpu/index.js'
import { mulberry32 } from '../../src/random.js'
import { mlpClassifier } from '../fixtures/models.js'
import { expectClose, freshSeed } from '../helpers/compare.js'
import { gpuTitle, probeGpu } from '../helpers/gpu.js'

const gpu = await probeGpu()

async function readBack(device: GPUDevice, src: GPUBuffer, size: number): Promise<Uint8Array> {
  const dst = device.createBuffer({
    label: 'test readback',
    size,
    usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ,
  })
  const enc = device.createCommandEncoder({ label: 'test readback' })
  enc.copyBufferToBuffer(src, 0, dst, 0, size)
  device.queue.submit([enc.finish()])
  await dst.mapAsync(GPUMapMode.READ)
  const bytes = new Uint8Array(dst.getMappedRange().slice(0))
  dst.unmap()
  dst.destroy()
  return bytes
}

describe.runIf(gpu.ok)(gpuTitle('GPU runtime', gpu), () => {
  it('describes its adapter: vendor, architecture, limits, features, software or hardware', async () => {
    const rt = await GpuRuntime.open(loadConfig().gpu)
    const info = rt.adapterInfo
    expect(['vulkan', 'opengles']).toContain(info.backend)
    expect(info.description.length).toBeGreaterThan(0)
    expect(info.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 1024 * 1024)
    expect(info.limits.maxComputeInvocationsPerWorkgroup).toBeGreaterThanOrEqual(256)
    expect(Array.isArray(info.features)).toBe(true)
    expect(info.software).toBe(
      /llvmpipe|lavapipe|swiftshader/i.test(info.description) || info.architecture === 'software',
    )
    // The device got the adapter's raised limits, not the WebGPU defaults.
    expect(rt.device.limits.maxStorageBufferBindingSize).toBe(info.limits.maxStorageBufferBindingSize)
    expect(rt.status()).toMatchObject({ state: 'ready', generation: 1 })
    rt.close()
    expect(rt.state).toBe('closed')
    expect(() => rt.device).toThrow(/GPU device is closed/)
  })

  it('writes buffers from views on a SharedArrayBuffer (as onnxruntime-web does)', async () => {
    const rt = await GpuRuntime.open(loadConfig().gpu)
    const device = rt.device
    const shared = new Float32Array(new SharedArrayBuffer(64 * 4))
    for (let i = 0; i < 64; i++) shared[i] = i * 1.5
    const buf = device.createBuffer({
      label: 'test sab',
      size: 32 * 4,
      usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
    })
    // element offset 16, 32 elements: the shim must keep element units, not bytes
    device.queue.writeBuffer(buf, 0, shared, 16, 32)
    const back = new Float32Array((await readBack(device, buf, 32 * 4)).buffer)
    expect(Array.from(back)).toEqual(Array.from(shared.subarray(16, 48)))
    rt.close()
  })
})

describe.runIf(gpu.ok)(gpuTitle('a lost GPU device', gpu), () => {
  const engine = new Engine(loadConfig({}, { backend: 'webgpu' }))
  afterAll(() => engine.close())

  it('serves runs on the cpu backend while lost, then returns to a new device', async () => {
    const f = mlpClassifier()
    const session = await engine.load(f.bytes)
    const rt = await engine.gpu()
    const feeds = f.randomInputs(9, mulberry32(freshSeed()))
    const before = await session.run(feeds)
    expect(session.activeBackend()).toBe('webgpu')
    const states: string[] = []
    rt.onChange((s) => states.push(`${s.state}#${s.generation}`))

    rt.device.destroy() // what a driver reset looks like from here: device.lost resolves
    await new Promise((r) => setTimeout(r, 20))
    expect(rt.state).not.toBe('ready') // the first recovery attempt waits 100 ms
    expect(session.activeBackend()).toBe('cpu')
    const during = await session.run(feeds) // answered by the fallback (or the recovered device)
    expectClose(
      during.probs?.data as Float32Array,
      Float64Array.from(before.probs?.data as Float32Array),
      'during loss',
    )

    await rt.whenReady(30_000)
    await vi.waitFor(() => expect(session.activeBackend()).toBe('webgpu'), { timeout: 30_000, interval: 20 })
    expect(rt.generation).toBe(2)
    expect(states[0]).toBe('lost#1')
    expect(states).toContain('ready#2')
    expect(rt.status().lastLoss?.reason).toBe('destroyed')
    const after = await session.run(feeds)
    expectClose(
      after.probs?.data as Float32Array,
      Float64Array.from(before.probs?.data as Float32Array),
      'after recovery',
    )
  })

  it('without recovery stays not-ready and keeps answering on the cpu backend', async () => {
    const local = new Engine(loadConfig({}, { backend: 'webgpu', gpu: { recover: false } }))
    // The runtime is per process: close the other engine's so this config opens a fresh one.
    await engine.close()
    const f = mlpClassifier()
    const session = await local.load(f.bytes)
    const rt = await local.gpu()
    rt.device.destroy()
    await new Promise((r) => setTimeout(r, 50))
    expect(rt.state).toBe('lost')
    expect(() => rt.device).toThrow(/GPU device is lost/)
    expect(session.activeBackend()).toBe('cpu')
    const out = await session.run(f.randomInputs(3, mulberry32(1)))
    expect(out.probs?.dims).toEqual([3, 3])
    await local.close()
  })
})
