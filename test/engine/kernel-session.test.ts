/**
 * The kernel executor (src/engine/kernel-session.ts) on the machine's adapter, against native
 * onnxruntime on the CPU (an independent implementation) running the same model on the same rows:
 * buffer reuse within a run when a step reads one value twice, two outputs naming one buffer,
 * batches run in chunks of rows (a tiny chunk forced), inputs already on the device, inputs whose
 * rows disagree, release, and the subgroup GEMM used only where it agreed with the plain one.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.js'
import { Engine } from '../../src/engine/engine.js'
import { loadKernelSession } from '../../src/engine/kernel-session.js'
import { subgroupGemmAgrees } from '../../src/engine/subgroup-check.js'
import type { HostTensor } from '../../src/engine/tensor.js'
import type { DeviceOutput, DeviceTensor, Feeds } from '../../src/engine/types.js'
import { InvalidInputError, SessionClosedError } from '../../src/errors.js'
import type { GpuContext } from '../../src/gpu/context.js'
import { GraphBuilder } from '../../src/onnx/builder.js'
import { mulberry32 } from '../../src/random.js'
import { expectClose } from '../helpers/compare.js'
import { gpuTitle, probeGpu } from '../helpers/gpu.js'
import { closeTestContext, randomF32, testContext } from '../helpers/kernels.js'

const gpu = await probeGpu()

/** A float32 initializer of `dims` with distinct values. */
function weight(g: GraphBuilder, name: string, dims: number[], seed: number): string {
  return g.constant(
    name,
    'float32',
    dims,
    randomF32(
      mulberry32(seed),
      dims.reduce((a, b) => a * b, 1),
    ),
  )
}

/** y = sigmoid(h + h) + tanh(h + h), h = x·W + b: the Add reads h twice, freeing its buffer once. */
function twiceRead(): Uint8Array {
  const g = new GraphBuilder('twice')
  const x = g.input('x', 'float32', ['N', 5])
  const h = g.node('Gemm', [x, weight(g, 'W', [5, 6], 1), weight(g, 'b', [6], 2)])
  const s = g.node('Add', [h, h])
  g.output(g.node('Add', [g.node('Sigmoid', [s]), g.node('Tanh', [s])]), 'float32', ['N', 6], 'y')
  return g.toModel()
}

/** Outputs `logits` [N, 2, 3] (a conv) and `flat` = Flatten(logits): one buffer, two outputs. */
function twoOutputs(): Uint8Array {
  const g = new GraphBuilder('two')
  const x = g.input('x', 'float32', ['N', 2, 3, 1])
  const logits = g.node(
    'Relu',
    [g.node('Conv', [x, weight(g, 'K', [2, 2, 1, 1], 3), weight(g, 'c', [2], 4)])],
    {},
    {
      outputs: ['logits'],
    },
  )
  g.output(logits, 'float32', ['N', 2, 3, 1])
  g.output(g.node('Flatten', [logits], {}, { outputs: ['flat'] }), 'float32', ['N', 6])
  return g.toModel()
}

/** Two inputs with their own batch dim names, added. */
function twoInputs(): Uint8Array {
  const g = new GraphBuilder('pair')
  const a = g.input('a', 'float32', ['A', 3])
  const b = g.input('b', 'float32', ['B', 3])
  g.output(g.node('Add', [a, b]), 'float32', ['A', 3], 'y')
  return g.toModel()
}

function rowsOf(inputs: Record<string, number>, rows: number, seed: number): Feeds {
  const rand = mulberry32(seed)
  return Object.fromEntries(
    Object.entries(inputs).map(([name, per]) => [
      name,
      { dtype: 'float32', dims: [rows, per], data: randomF32(rand, rows * per, -2, 2) },
    ]),
  ) as Feeds
}

describe.runIf(gpu.ok)(gpuTitle('KernelSession', gpu), () => {
  const cpu = new Engine(loadConfig({}, { backend: 'cpu', logLevel: 'warn' }))
  let ctx: GpuContext
  afterAll(async () => {
    await cpu.close()
    await closeTestContext()
  })

  /** Every output of `bytes` on `feeds` through `run`, against onnxruntime on the CPU. */
  async function expectCpu(bytes: Uint8Array, feeds: Feeds, got: Record<string, HostTensor>, what: string) {
    const ref = await cpu.load(bytes)
    try {
      const want = await ref.run(feeds)
      expect(Object.keys(got).sort(), what).toEqual(Object.keys(want).sort())
      for (const [name, w] of Object.entries(want)) {
        expect(got[name]?.dims, `${what}: ${name}`).toEqual(w.dims)
        expectClose(got[name]?.data as Float32Array, w.data as Float32Array, `${what}: ${name}`)
      }
    } finally {
      await ref.release()
    }
  }

  it('uses the subgroup GEMM only where it agreed with the plain one on this device, with the same answers', async () => {
    ctx = await testContext()
    const agrees = subgroupGemmAgrees(ctx)
    expect(subgroupGemmAgrees(ctx)).toBe(agrees) // checked once per device
    // lavapipe offers subgroups (8 lanes), and the variant is right there
    expect(await agrees).toBe(ctx.device.features.has('subgroups'))
    const bytes = twiceRead()
    const feeds = rowsOf({ x: 5 }, 70, 17) // 70 rows: the tiled layout, a ragged tile
    for (const subgroups of [false, true]) {
      const s = loadKernelSession(bytes, ctx, { subgroups })
      await expectCpu(bytes, feeds, await s.run(feeds), subgroups ? 'subgroup GEMM' : 'plain GEMM')
      await s.release()
    }
  })

  it('keeps a value read twice by one step out of two later steps at once', async () => {
    ctx = await testContext()
    const bytes = twiceRead()
    const s = loadKernelSession(bytes, ctx)
    const feeds = rowsOf({ x: 5 }, 3, 11)
    await expectCpu(bytes, feeds, await s.run(feeds), 'one chunk')
    await s.release()
  })

  it('hands out two outputs that name one buffer as two buffers, whole and in chunks', async () => {
    ctx = await testContext()
    const bytes = twoOutputs()
    for (const chunkRows of [undefined, 2]) {
      const s = loadKernelSession(bytes, ctx, chunkRows === undefined ? {} : { chunkRows })
      const what = chunkRows ? `chunks of ${chunkRows}` : 'one chunk'
      const feeds = { x: { dtype: 'float32', dims: [5, 2, 3, 1], data: randomF32(mulberry32(5), 30) } } as Feeds
      await expectCpu(bytes, feeds, await s.run(feeds), what)
      const out = Object.values(await s.device().run(feeds)) as DeviceOutput[]
      expect(out.map((o) => o.dims)).toEqual([
        [5, 2, 3, 1],
        [5, 6],
      ])
      expect(out[0]?.buffer, what).not.toBe(out[1]?.buffer)
      for (const o of out) o.dispose()
      await s.release()
    }
  })

  it('runs batches in chunks of rows, from host and from device tensors, as onnxruntime does', async () => {
    ctx = await testContext()
    const bytes = twiceRead()
    const s = loadKernelSession(bytes, ctx, { chunkRows: 2 })
    for (const rows of [1, 2, 5, 7]) {
      const feeds = rowsOf({ x: 5 }, rows, 100 + rows)
      await expectCpu(bytes, feeds, await s.run(feeds), `${rows} rows from the host`)
      const x = feeds.x as HostTensor
      const batch = ctx.batch('test: device input')
      const buffer = batch.output(rows * 5 * 4, 'x')
      ctx.device.queue.writeBuffer(buffer, 0, x.data as Float32Array)
      await batch.submit()
      const onDevice: DeviceTensor = { dtype: 'float32', dims: x.dims, buffer }
      const out = await s.device().run({ x: onDevice })
      const y = out.y as DeviceOutput
      const read = ctx.batch('test: read y')
      const [data] = await read.read([{ buffer: y.buffer, bytes: rows * 6 * 4 }])
      y.dispose()
      ctx.release(buffer)
      await expectCpu(
        bytes,
        feeds,
        { y: { dtype: 'float32', dims: [...y.dims], data: new Float32Array(data as ArrayBuffer) } },
        `${rows} rows from the device`,
      )
    }
    await s.release()
  })

  it('refuses inputs whose rows disagree (a short input would read stale pooled buffers)', async () => {
    ctx = await testContext()
    const s = loadKernelSession(twoInputs(), ctx)
    const feeds = { ...rowsOf({ a: 3 }, 4, 1), ...rowsOf({ b: 3 }, 1, 2) }
    await expect(s.run(feeds)).rejects.toThrow(InvalidInputError)
    const ok = { ...rowsOf({ a: 3 }, 2, 1), ...rowsOf({ b: 3 }, 2, 2) }
    await expectCpu(twoInputs(), ok, await s.run(ok), 'rows agree')
    await s.release()
  })

  it('keeps an output named __proto__ as an output', async () => {
    ctx = await testContext()
    const g = new GraphBuilder('proto')
    const x = g.input('x', 'float32', ['N', 3])
    g.output(g.node('Sigmoid', [x], {}, { outputs: ['__proto__'] }), 'float32', ['N', 3])
    const bytes = g.toModel()
    const s = loadKernelSession(bytes, ctx)
    const feeds = rowsOf({ x: 3 }, 2, 3)
    const got = await s.run(feeds)
    expect(Object.keys(got)).toEqual(['__proto__'])
    // onnxruntime-node itself loses an output of that name ("At least one output should be
    // requested"): the reference is the sigmoid written out in float64.
    const rows = (feeds.x as HostTensor).data as Float32Array
    expectClose(
      Object.getOwnPropertyDescriptor(got, '__proto__')?.value.data,
      Array.from(rows, (v) => 1 / (1 + Math.exp(-v))),
      'y',
    )
    await s.release()
  })

  it('fails a run after release, and a chunked run that release overtakes, cleanly', async () => {
    ctx = await testContext()
    const s = loadKernelSession(twiceRead(), ctx, { chunkRows: 1 })
    const feeds = rowsOf({ x: 5 }, 4, 9)
    const inFlight = s.run(feeds)
    await s.release()
    await expect(inFlight).rejects.toThrow(SessionClosedError)
    await expect(s.run(feeds)).rejects.toThrow(SessionClosedError)
    // The context is still sound: another session runs on it.
    const other = loadKernelSession(twiceRead(), ctx)
    await expectCpu(twiceRead(), feeds, await other.run(feeds), 'after a release')
    await other.release()
  })
})
