/**
 * onnxruntime-web and the datatypes. On webgpu every dtype comes back from a model exactly (an
 * output the web build cannot hand back as a GPU buffer is asked for on the CPU: before, int8,
 * int16, uint16, uint64 and float64 outputs loaded fine and failed every run). An operator the web
 * build has no kernel for at a type is `unsupported_model` at load, naming it and the cpu
 * backend; under `auto`, a model webgpu cannot load runs on cpu and says why.
 */
import { afterAll, describe, expect, it, vi } from 'vitest'
import { loadConfig } from '../../src/config.js'
import { Engine } from '../../src/engine/engine.js'
import type { DType, HostTensor } from '../../src/engine/tensor.js'
import type { BackendName } from '../../src/engine/types.js'
import { UnsupportedModelError } from '../../src/errors.js'
import { GraphBuilder } from '../../src/onnx/builder.js'
import { sklearnPipeline } from '../fixtures/models.js'
import { gpuTitle, probeGpu } from '../helpers/gpu.js'

const gpu = await probeGpu()

/** Per dtype, a [1, 3] tensor at the type's extremes (float16 as the halves' bits), by hand. */
const VALUES: Array<[DType, HostTensor['data']]> = [
  ['bool', Uint8Array.of(1, 0, 1)],
  ['uint8', Uint8Array.of(255, 0, 7)],
  ['uint16', Uint16Array.of(65535, 0, 300)],
  ['uint32', Uint32Array.of(4294967295, 0, 70000)],
  ['uint64', BigUint64Array.of(18446744073709551615n, 0n, 9007199254740993n)],
  ['int8', Int8Array.of(-128, 127, -1)],
  ['int16', Int16Array.of(-32768, 32767, -300)],
  ['int32', Int32Array.of(-2147483648, 2147483647, -70000)],
  ['int64', BigInt64Array.of(-9223372036854775808n, 9223372036854775807n, -9007199254740993n)],
  ['float16', Uint16Array.of(0x3c00, 0xc000, 0x7bff)],
  ['float32', Float32Array.of(0.5, -3.5, 3.4028234663852886e38)],
  ['float64', Float64Array.of(0.1, -1e300, 5e-324)],
]

/** An Identity node per dtype: x_<dtype> [N, 3] → y_<dtype>. */
function identities(): Uint8Array {
  const g = new GraphBuilder('identities')
  for (const [dtype] of VALUES)
    g.output(g.node('Identity', [g.input(`x_${dtype}`, dtype, ['N', 3])]), dtype, ['N', 3], `y_${dtype}`)
  return g.toModel()
}

/** y = x + x in float64: the web build has no float64 Add kernel, native onnxruntime has. */
function float64Add(): Uint8Array {
  const g = new GraphBuilder('f64_add')
  const x = g.input('x', 'float64', ['N', 2])
  g.output(g.node('Add', [x, x]), 'float64', ['N', 2], 'y')
  return g.toModel()
}

/** A tensor's values as a plain list (bigints stay bigints). */
const values = (data: HostTensor['data'] | undefined): unknown[] => (data ? Array.from(data as ArrayLike<unknown>) : [])

const feeds = () => Object.fromEntries(VALUES.map(([dtype, data]) => [`x_${dtype}`, { dtype, dims: [1, 3], data }]))

describe.runIf(gpu.ok)(gpuTitle('webgpu: every dtype', gpu), () => {
  const engine = new Engine(loadConfig({}, { backend: 'webgpu' }))
  afterAll(() => engine.close())

  it('answers every dtype exactly, by run() and by the device path', async () => {
    const s = await engine.load(identities())
    expect(s.backend).toBe('webgpu')
    const out = await s.run(feeds())
    for (const [dtype, data] of VALUES) {
      const t = out[`y_${dtype}`]
      expect([dtype, t?.dtype, values(t?.data)]).toEqual([dtype, dtype, values(data)])
    }
    // The GPU-resident run: float32 stays on the device, every other dtype comes back on the host.
    const device = s.device?.()
    expect(device).toBeDefined()
    const onDevice = await device?.run(feeds())
    for (const [dtype, data] of VALUES) {
      const t = onDevice?.[`y_${dtype}`]
      if (t && 'buffer' in t) {
        expect(dtype).toBe('float32')
        t.dispose()
      } else expect([dtype, values(t?.data)]).toEqual([dtype, values(data)])
    }
    await s.release()
  })
})

function refusal(backend: BackendName) {
  it(`${backend}: an operator without a kernel at a dtype is unsupported_model, naming it and the cpu backend`, async () => {
    const engine = new Engine(loadConfig({}, { backend }))
    try {
      const e = await engine.load(float64Add()).catch((x) => x)
      expect(e).toBeInstanceOf(UnsupportedModelError)
      expect(e.details).toEqual({ operator: 'Add', backend })
      expect(e.message).toMatch(new RegExp(`^the ${backend} backend cannot run operator Add: .*'Add_0'`))
      expect(e.message).toContain('deploy with "engine": "cpu" to run this model')
      expect(e.message).not.toMatch(/\.cc:\d+|onnxruntime::/) // no source paths from the runtime
    } finally {
      await engine.close()
    }
  })
}

describe('operators the web build lacks', () => {
  refusal('wasm')
  if (gpu.ok) refusal('webgpu')

  it('cpu runs the same model (what the message promises)', async () => {
    const engine = new Engine(loadConfig({}, { backend: 'cpu' }))
    const s = await engine.load(float64Add())
    const out = await s.run({ x: { dtype: 'float64', dims: [1, 2], data: Float64Array.of(0.25, -1e300) } })
    expect(values(out.y?.data)).toEqual([0.5, -2e300])
    await engine.close()
  })
})

describe.runIf(gpu.ok)(gpuTitle('auto on a GPU the model cannot use', gpu), () => {
  // `auto` picks webgpu only on a hardware adapter; this stands in for one (the load is real).
  const engine = new Engine(loadConfig({}, { backend: 'auto' }))
  vi.spyOn(engine, 'resolveBackend').mockImplementation(async (choice = 'auto') =>
    choice === 'auto' ? 'webgpu' : choice,
  )
  afterAll(() => engine.close())

  it('runs a model with an operator webgpu lacks on cpu, and says why', async () => {
    const s = await engine.load(sklearnPipeline().bytes)
    expect(s.backend).toBe('cpu')
    expect(s.backendNote).toBe('auto chose webgpu, which cannot run operator Scaler of this model: it runs on cpu')
  })

  it('keeps webgpu for a model it runs, and refuses when webgpu is asked for by name', async () => {
    const s = await engine.load(identities())
    expect([s.backend, s.backendNote]).toEqual(['webgpu', undefined])
    const e = await engine.load(sklearnPipeline().bytes, { backend: 'webgpu' }).catch((x) => x)
    expect(e).toBeInstanceOf(UnsupportedModelError)
  })
})
