/**
 * Captured onnxruntime-web sessions per batch bucket, checked against the `cpu` backend
 * (onnxruntime-node, an independent implementation) on fresh, non-symmetric inputs: row counts
 * on, between and past the buckets, replays on new inputs, device-tensor feeds, the bucket lock,
 * the exact counts of `stats()`, refusals, and the fallback to the plain session.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.js'
import { type SessionOptions, webRunQueue } from '../../src/engine/backends.js'
import {
  bucketSizes,
  type CapturedSession,
  type CaptureOptions,
  loadCapturedSession,
} from '../../src/engine/captured-session.js'
import { Engine } from '../../src/engine/engine.js'
import { type HostTensor, tensor } from '../../src/engine/tensor.js'
import type { DeviceOutput, DeviceTensor, Feeds, ModelSession } from '../../src/engine/types.js'
import { InvalidInputError, SessionClosedError, UnsupportedModelError } from '../../src/errors.js'
import type { GpuRuntime } from '../../src/gpu/index.js'
import type { Logger } from '../../src/logger.js'
import { mulberry32 } from '../../src/random.js'
import { type Fixture, logisticRegression, mlpClassifier, smallCnn, torchTabular } from '../fixtures/models.js'
import { expectClose, freshSeed } from '../helpers/compare.js'
import { gpuTitle, probeGpu } from '../helpers/gpu.js'

const gpu = await probeGpu()

describe('bucketSizes', () => {
  it('is 1, then ×4, then the largest batch', () => {
    expect(bucketSizes(1)).toEqual([1])
    expect(bucketSizes(4)).toEqual([1, 4])
    expect(bucketSizes(5)).toEqual([1, 4, 5])
    expect(bucketSizes(64)).toEqual([1, 4, 16, 64])
    expect(bucketSizes(1000)).toEqual([1, 4, 16, 64, 256, 1000])
    expect(bucketSizes(1024)).toEqual([1, 4, 16, 64, 256, 1024])
  })

  it('refuses a largest batch that is not a positive integer', () => {
    for (const bad of [0, -4, 2.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => bucketSizes(bad)).toThrow(InvalidInputError)
    }
  })
})

const fail = () => {
  throw new Error('injected capture failure')
}

/** Log lines kept for assertions. */
function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = []
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) => {
    lines.push(`${level} ${msg} ${JSON.stringify(fields ?? {})}`)
  }
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
}

describe.runIf(gpu.ok)(gpuTitle('captured sessions per batch bucket', gpu), () => {
  const engineLog = recordingLogger()
  const engine = new Engine(loadConfig({}, { backend: 'webgpu' }), engineLog)
  const cpu = new Engine(loadConfig({}, { backend: 'cpu' }))
  const opts: SessionOptions = { cpuThreads: 1, cpuSpin: false, logLevel: 'warn' }
  const sessions: ModelSession[] = []
  let runtime: GpuRuntime
  let device: GPUDevice
  let mlp: CapturedSession
  let mlpCpu: ModelSession
  const mlpFixture = mlpClassifier()
  const seed = freshSeed()
  let draws = 0
  const inputs = (f: Fixture, rows: number): Feeds => f.randomInputs(rows, mulberry32(seed + ++draws))

  const load = async (f: Fixture, buckets: number[], extra: Partial<CaptureOptions> = {}) => {
    const s = await loadCapturedSession(f.bytes, runtime.context(), { ...opts, buckets, ...extra })
    sessions.push(s)
    return s
  }

  beforeAll(async () => {
    runtime = await engine.gpu()
    device = runtime.device
    mlp = await load(mlpFixture, [1, 4, 16])
    mlpCpu = await cpu.load(mlpFixture.bytes)
  })

  afterAll(async () => {
    for (const s of sessions) await s.release()
    await engine.close()
    await cpu.close()
    expect(engineLog.lines.filter((l) => l.includes('WebGPU error'))).toEqual([])
  })

  /** The `cpu` backend's answer, as the float64 reference. */
  const reference = async (ref: ModelSession, feeds: Feeds, output: string) =>
    Float64Array.from((await ref.run(feeds))[output]?.data as Float32Array)

  async function readBuffer(buffer: GPUBuffer, bytes: number): Promise<Float32Array> {
    const [out] = await runtime.context().batch('test: read').read([{ buffer, bytes }])
    return new Float32Array(out as ArrayBuffer)
  }

  const deviceInput = (t: HostTensor): DeviceTensor => {
    const data = t.data as Float32Array
    const buffer = device.createBuffer({
      size: data.byteLength,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    })
    device.queue.writeBuffer(buffer, 0, data)
    return { dtype: 'float32', dims: t.dims, buffer }
  }

  const onDevice = (s: CapturedSession, feeds: Record<string, HostTensor | DeviceTensor>) =>
    s.device().run(feeds) as Promise<Record<string, DeviceOutput>>

  it('answers like the cpu backend for 1 row, between buckets, a whole bucket and past the largest', async () => {
    for (const rows of [1, 3, 4, 16, 37, 2]) {
      const feeds = inputs(mlpFixture, rows)
      const got = (await mlp.run(feeds)).probs
      expect(got?.dims).toEqual([rows, 3])
      expectClose(got?.data as Float32Array, await reference(mlpCpu, feeds, 'probs'), `${rows} rows`)
    }
  })

  it('runs a small CNN like the cpu backend', async () => {
    const f = smallCnn()
    const s = await load(f, [1, 4])
    const ref = await cpu.load(f.bytes)
    for (const rows of [1, 3, 6]) {
      const feeds = inputs(f, rows)
      const got = (await s.run(feeds)).logits
      expect(got?.dims).toEqual([rows, 10])
      expectClose(got?.data as Float32Array, await reference(ref, feeds, 'logits'), `${rows} images`)
    }
  })

  it('replays on the new input: two inputs in a row in the same bucket', async () => {
    const [a, b] = [inputs(mlpFixture, 3), inputs(mlpFixture, 3)]
    const gotA = (await mlp.run(a)).probs?.data as Float32Array
    const gotB = (await mlp.run(b)).probs?.data as Float32Array
    expectClose(gotA, await reference(mlpCpu, a, 'probs'), 'first input')
    expectClose(gotB, await reference(mlpCpu, b, 'probs'), 'second input')
    expect(gotA).not.toEqual(gotB)
  })

  it('zeroes the padding rows a larger run left in the bucket', async () => {
    ;(await onDevice(mlp, inputs(mlpFixture, 4))).probs?.dispose()
    const two = inputs(mlpFixture, 2)
    const out = (await onDevice(mlp, two)).probs as DeviceOutput
    expect(out.dims).toEqual([2, 3])
    const bucket = await readBuffer(out.buffer, 4 * 3 * 4) // the whole bucket of 4 rows
    out.dispose()
    const zeros = tensor('float32', [2, 16], new Float32Array(2 * 16))
    expectClose(bucket.subarray(0, 6), await reference(mlpCpu, two, 'probs'), 'the real rows')
    expectClose(bucket.subarray(6), await reference(mlpCpu, { x: zeros }, 'probs'), 'padding rows are model(0)')
  })

  it('takes device tensors as feeds, within a bucket and in chunks', async () => {
    for (const rows of [5, 20]) {
      const feeds = inputs(mlpFixture, rows)
      const x = deviceInput(feeds.x as HostTensor)
      const out = (await onDevice(mlp, { x })).probs as DeviceOutput
      expect(out.dims).toEqual([rows, 3])
      const got = await readBuffer(out.buffer, rows * 3 * 4)
      out.dispose()
      x.buffer.destroy()
      expectClose(got, await reference(mlpCpu, feeds, 'probs'), `${rows} rows from a GPU buffer`)
    }
  })

  it('holds a bucket until the outputs of its run are disposed', async () => {
    const first = inputs(mlpFixture, 3)
    const want = await reference(mlpCpu, first, 'probs')
    const held = (await onDevice(mlp, first)).probs as DeviceOutput
    const order: string[] = []
    // Queued before the run on the other bucket: without the lock it would reach the shared
    // run queue first and finish first.
    const second = inputs(mlpFixture, 2)
    const blocked = onDevice(mlp, second).then((o) => {
      order.push('same bucket ran')
      return o
    })
    const other = inputs(mlpFixture, 10)
    await mlp.run(other)
    order.push('other bucket ran')
    await webRunQueue.run(async () => {}) // everything queued so far has run
    expectClose(await readBuffer(held.buffer, 3 * 3 * 4), want, 'the held output still holds its own rows')
    order.push('disposed')
    held.dispose()
    held.dispose() // idempotent: must not free the bucket twice
    const out = (await blocked).probs as DeviceOutput
    expect(order).toEqual(['other bucket ran', 'disposed', 'same bucket ran'])
    expectClose(await readBuffer(out.buffer, 2 * 3 * 4), await reference(mlpCpu, second, 'probs'), 'the waiting run')
    out.dispose()
  })

  it('keeps answering while other captured sessions are loaded and released', async () => {
    // The H200 failure came after other captured sessions were released; on llvmpipe it comes
    // at load now and then (a retry), never as a failed run of a loaded session.
    const others = [logisticRegression(7), smallCnn(8)]
    for (let round = 0; round < 3; round++) {
      const loaded = await Promise.all(
        others.map((f) => loadCapturedSession(f.bytes, runtime.context(), { ...opts, buckets: [1, 4, 16, 64] })),
      )
      for (const s of loaded) await s.release()
      for (const rows of [3, 20]) {
        const feeds = inputs(mlpFixture, rows)
        const got = (await mlp.run(feeds)).probs?.data as Float32Array
        expectClose(got, await reference(mlpCpu, feeds, 'probs'), `round ${round}, ${rows} rows`)
      }
    }
    expect(mlp.captureStats().fallbacks).toBe(0)
  })

  it('refuses bad feeds before running', async () => {
    const wide = tensor('float32', [2, 15], new Float32Array(30))
    await expect(mlp.run({ x: wide })).rejects.toBeInstanceOf(InvalidInputError)
    const small = device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC })
    await expect(onDevice(mlp, { x: { dtype: 'float32', dims: [1, 16], buffer: small } })).rejects.toThrow(/too small/)
    const noCopy = device.createBuffer({ size: 64, usage: GPUBufferUsage.STORAGE })
    await expect(onDevice(mlp, { x: { dtype: 'float32', dims: [1, 16], buffer: noCopy } })).rejects.toThrow(
      /must allow COPY_SRC/,
    )
    small.destroy()
    noCopy.destroy()
  })

  it('counts runs, rows, padding, buffers and sessions exactly', async () => {
    const f = logisticRegression()
    const s = await load(f, [1, 4, 16])
    const ref = await cpu.load(f.bytes)
    // rows → captured runs (bucket sizes): 1 → 1 (1); 3 → 1 (4); 16 → 1 (16); 21 → 2 (16, 16); 36 → 3 (16, 16, 4)
    for (const rows of [1, 3, 16, 21, 36]) {
      const feeds = inputs(f, rows)
      expectClose((await s.run(feeds)).prob?.data as Float32Array, await reference(ref, feeds, 'prob'), `${rows} rows`)
    }
    const bytes = (rows: number, perRow: number) => Math.ceil((rows * perRow * 4) / 16) * 16
    expect(s.captureStats()).toEqual({
      buckets: [1, 4, 16],
      runs: 1 + 1 + 1 + 2 + 3,
      rows: 1 + 3 + 16 + 21 + 36,
      paddedRows: 0 + 1 + 0 + 11 + 0,
      bufferBytes: [1, 4, 16].reduce((sum, b) => sum + bytes(b, 12) + bytes(b, 1), 0),
      sessions: 3,
      fallbacks: 0,
    })
  })

  it('refuses a model with an int64 input', async () => {
    const err = await load(torchTabular(), [1, 4]).catch((e) => e)
    expect(err).toBeInstanceOf(UnsupportedModelError)
    expect(err.message).toMatch(/input 'cat' is int64/)
  })

  it('answers from the plain session once a captured run fails, and counts it', async () => {
    const log = recordingLogger()
    let calls = 0
    let failing = false
    const s = await load(mlpFixture, [1, 4], {
      log,
      beforeCapturedRun: () => {
        calls++
        if (failing) fail()
      },
    })
    calls = 0 // the runs at load
    const ok = inputs(mlpFixture, 2)
    expectClose((await s.run(ok)).probs?.data as Float32Array, await reference(mlpCpu, ok, 'probs'), 'captured')
    expect(calls).toBe(1)
    failing = true
    for (const rows of [3, 6]) {
      const feeds = inputs(mlpFixture, rows)
      expectClose((await s.run(feeds)).probs?.data as Float32Array, await reference(mlpCpu, feeds, 'probs'), 'plain')
    }
    const feeds = inputs(mlpFixture, 5)
    const out = (await onDevice(s, feeds)).probs as DeviceOutput
    expectClose(await readBuffer(out.buffer, 5 * 3 * 4), await reference(mlpCpu, feeds, 'probs'), 'plain, on device')
    out.dispose()
    expect(calls).toBe(2) // the failed run only: later runs go straight to the plain session
    expect(s.captureStats()).toMatchObject({ runs: 1, rows: 2, paddedRows: 2, fallbacks: 3 })
    expect(log.lines.filter((l) => l.startsWith('warn'))).toEqual([
      expect.stringMatching(/captured onnxruntime-web run failed.*injected capture failure/),
    ])
  })

  it('makes a bucket again when its replay at load fails, and gives up after four tries', async () => {
    let calls = 0
    const f = logisticRegression()
    // The second run of the first bucket (its first replay) fails once.
    const log = recordingLogger()
    const s = await load(f, [1, 4], { log, beforeCapturedRun: () => void (++calls === 2 && fail()) })
    // Two runs a bucket, and two more for each new try: the injected failure, and any of
    // onnxruntime-web's own (which depend on what earlier tests released).
    const retries = log.lines.filter((l) => l.includes('failed its first replay'))
    expect(retries[0]).toMatch(/"bucket":1,"attempt":1,"error":"injected capture failure"/)
    expect(calls).toBe(2 * 2 + 2 * retries.length)
    expect(s.captureStats()).toMatchObject({ sessions: 2, bufferBytes: 48 + 16 + 4 * 48 + 16 })
    const feeds = inputs(f, 3)
    const ref = await cpu.load(f.bytes)
    expectClose((await s.run(feeds)).prob?.data as Float32Array, await reference(ref, feeds, 'prob'), 'after a retry')
    calls = 0
    const err = await load(f, [1, 4], { beforeCapturedRun: () => void (++calls % 2 === 0 && fail()) }).catch((e) => e)
    expect(err).toBeInstanceOf(UnsupportedModelError)
    expect(err.message).toMatch(/graph capture failed for the bucket of 1 rows \(4 tries\): injected/)
    expect(calls).toBe(4 * 2)
  })

  it('refuses runs after release, and release is idempotent', async () => {
    const s = await load(logisticRegression(), [2])
    await s.release()
    await s.release()
    await expect(s.run(inputs(logisticRegression(), 1))).rejects.toBeInstanceOf(SessionClosedError)
    await expect(s.device().run(inputs(logisticRegression(), 1))).rejects.toBeInstanceOf(SessionClosedError)
  })
})
