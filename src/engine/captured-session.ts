/**
 * onnxruntime-web WebGPU sessions with graph capture, one per batch bucket. A captured session
 * records its dispatches on the first run and replays them after: static shapes only, every input
 * and output in a GPU buffer bound once. So each bucket (1, 4, 16, …, max batch) has its own
 * session, created with the batch dim fixed to the bucket size, and its own input and output
 * buffers. A run of r rows writes them into the smallest bucket ≥ r, zeroes the rows left over,
 * replays, and answers the first r output rows; more rows than the largest bucket run in chunks.
 *
 * A bucket's output buffers are what `device().run()` hands back, so the bucket stays locked
 * until every output of the run is disposed: the next run on it waits, and a reader never sees a
 * later run's rows. onnxruntime-web 1.30 can lose a captured session's output buffer before its
 * second run (seen on an H200 and on llvmpipe, after other sessions were released): each bucket
 * runs twice at load and is made again when that fails (capture-buckets.ts says why). Should a
 * captured run fail after all, the request does not: the model's plain WebGPU session answers
 * it, and every run after it.
 *
 * Padding and chunking assume rows are independent (row i of the output depends only on row i
 * of the inputs), which batching requests together assumes already.
 */
import { errorMessage, InvalidInputError, SessionClosedError } from '../errors.js'
import type { GpuContext } from '../gpu/context.js'
import { silentLogger } from '../logger.js'
import { importWebOrt, loadWebGpuSession, webRunQueue } from './backends.js'
import {
  align16,
  BUFFER_USAGE,
  type Bucket,
  batchDims,
  type CaptureOptions,
  checkBuckets,
  checkFits,
  checkOutputs,
  createBucket,
  releaseBuckets,
  type Slot,
} from './capture-buckets.js'
import type { OrtBackedSession } from './ort-session.js'
import type { HostTensor, TensorSpec } from './tensor.js'
import {
  type BackendName,
  type CaptureStats,
  type DeviceOutput,
  type DeviceRun,
  type DeviceTensor,
  type Feeds,
  isDeviceTensor,
  type ModelSession,
  type Outputs,
} from './types.js'
import { validateFeeds } from './validate.js'

export type { CaptureOptions } from './capture-buckets.js'

/** Each bucket after the first holds this many times the rows of the one before. */
const BUCKET_GROWTH = 4

/**
 * The bucket sizes for a deployment whose batches hold at most `maxBatch` rows: 1, then ×4
 * (4, 16, 64, …), and maxBatch itself last.
 */
export function bucketSizes(maxBatch: number): number[] {
  if (!Number.isSafeInteger(maxBatch) || maxBatch < 1) {
    throw new InvalidInputError(`the largest batch must be a positive integer, got ${maxBatch}`)
  }
  const sizes: number[] = []
  for (let s = 1; s < maxBatch; s *= BUCKET_GROWTH) sizes.push(s)
  sizes.push(maxBatch)
  return sizes
}

/** A ModelSession on the `webgpu` backend that runs each batch on a captured session of its bucket. */
export class CapturedSession implements ModelSession {
  readonly backend: BackendName = 'webgpu'
  readonly inputs: readonly TensorSpec[]
  readonly outputs: readonly TensorSpec[]
  private readonly deviceRun: DeviceRun
  private readonly counts = { runs: 0, rows: 0, paddedRows: 0, fallbacks: 0 }
  private failed = false
  private closed = false

  /**
   * @param buckets ascending by size, each with its session already recorded.
   * @param plain the model's plain WebGPU session: its specs are the model's, and it answers
   *   every run once a captured run has failed.
   */
  private readonly gpu: GPUDevice

  constructor(
    private readonly ctx: GpuContext,
    private readonly buckets: readonly Bucket[],
    private readonly plain: OrtBackedSession,
    private readonly opts: Pick<CaptureOptions, 'log' | 'beforeCapturedRun'> = {},
  ) {
    this.gpu = ctx.device
    this.inputs = plain.inputs
    this.outputs = plain.outputs
    this.deviceRun = { generation: ctx.generation, run: (feeds) => this.runOnDevice(feeds) }
  }

  activeBackend(): BackendName {
    return 'webgpu'
  }

  device(): DeviceRun {
    return this.deviceRun
  }

  captureStats(): CaptureStats {
    let bufferBytes = 0
    for (const b of this.buckets) for (const s of [...b.inputs, ...b.outputs]) bufferBytes += s.buffer.size
    return { buckets: this.buckets.map((b) => b.size), ...this.counts, bufferBytes, sessions: this.buckets.length }
  }

  async run(feeds: Feeds): Promise<Outputs> {
    const rows = this.check(feeds)
    const outs = rows > 0 && !this.failed ? await this.tryCaptured(feeds, rows) : undefined
    if (!outs) {
      if (rows > 0) this.counts.fallbacks++
      return this.plain.run(feeds)
    }
    const entries = Object.entries(outs)
    let reading: Promise<ArrayBuffer[]>
    try {
      // read() submits its copies before it first waits: the bucket may be reused once they are.
      reading = this.ctx
        .batch('captured: read outputs')
        .read(entries.map(([, o]) => ({ buffer: o.buffer, bytes: byteCount(o.dims) })))
    } finally {
      for (const [, o] of entries) o.dispose()
    }
    const bytes = await reading
    return Object.fromEntries(
      entries.map(([name, o], i) => [
        name,
        { dtype: 'float32', dims: o.dims, data: new Float32Array(bytes[i] as ArrayBuffer) },
      ]),
    )
  }

  private async runOnDevice(
    feeds: Record<string, HostTensor | DeviceTensor>,
  ): Promise<Record<string, DeviceOutput | HostTensor>> {
    const rows = this.check(feeds)
    const outs = rows > 0 && !this.failed ? await this.tryCaptured(feeds, rows) : undefined
    if (outs) return outs
    if (rows > 0) this.counts.fallbacks++
    const plainRun = this.plain.device()
    if (!plainRun) throw new SessionClosedError()
    return plainRun.run(feeds)
  }

  /** Validate `feeds` and return their row count (the batch dim, equal across inputs). */
  private check(feeds: Record<string, HostTensor | DeviceTensor>): number {
    if (this.closed) throw new SessionClosedError()
    validateFeeds(this.inputs, feeds)
    const slots = (this.buckets[0] as Bucket).inputs
    const rows = feeds[(slots[0] as Slot).name]?.dims[0] ?? 0
    for (const slot of slots) {
      const t = feeds[slot.name] as HostTensor | DeviceTensor
      if (t.dims[0] !== rows) {
        throw new InvalidInputError(`input '${slot.name}' has ${t.dims[0]} rows, other inputs have ${rows}`)
      }
      if (isDeviceTensor(t) && !(t.buffer.usage & GPUBufferUsage.COPY_SRC)) {
        throw new InvalidInputError(`input '${slot.name}': a device tensor's buffer must allow COPY_SRC`)
      }
    }
    return rows
  }

  /** The captured answer, or undefined when a captured run failed (then every later run is plain). */
  private async tryCaptured(
    feeds: Record<string, HostTensor | DeviceTensor>,
    rows: number,
  ): Promise<Record<string, DeviceOutput> | undefined> {
    try {
      return await this.captured(feeds, rows)
    } catch (e) {
      if (e instanceof SessionClosedError || this.closed) throw new SessionClosedError()
      if (!this.failed) {
        this.failed = true
        ;(this.opts.log ?? silentLogger).warn(
          'a captured onnxruntime-web run failed; this model runs on its plain webgpu session from now on',
          { error: errorMessage(e) },
        )
      }
      return undefined
    }
  }

  private async captured(
    feeds: Record<string, HostTensor | DeviceTensor>,
    rows: number,
  ): Promise<Record<string, DeviceOutput>> {
    const largest = this.buckets[this.buckets.length - 1] as Bucket
    if (rows <= largest.size) {
      const b = this.buckets.find((x) => x.size >= rows) as Bucket
      const release = await this.lock(b)
      try {
        await this.replay(b, feeds, 0, rows)
      } catch (e) {
        release()
        throw e
      }
      // Every output of the run must be disposed before the bucket is released.
      let pending = b.outputs.length
      const outs: Record<string, DeviceOutput> = {}
      for (const s of b.outputs) {
        let disposed = false
        const dims = [rows, ...(s.tensor.dims.slice(1) as number[])]
        outs[s.name] = {
          dtype: 'float32',
          dims,
          buffer: s.buffer,
          dispose: () => {
            if (disposed) return
            disposed = true
            if (--pending === 0) release()
          },
        }
      }
      return outs
    }
    // More rows than the largest bucket: chunks, each chunk's output rows gathered into new buffers.
    const gathered = largest.outputs.map((s) =>
      this.gpu.createBuffer({ size: align16(rows * s.rowBytes), usage: BUFFER_USAGE() }),
    )
    try {
      for (let start = 0; start < rows; start += largest.size) {
        const count = Math.min(largest.size, rows - start)
        const b = this.buckets.find((x) => x.size >= count) as Bucket
        const release = await this.lock(b)
        try {
          await this.replay(b, feeds, start, count)
          const enc = this.gpu.createCommandEncoder()
          b.outputs.forEach((s, i) => {
            enc.copyBufferToBuffer(s.buffer, 0, gathered[i] as GPUBuffer, start * s.rowBytes, count * s.rowBytes)
          })
          this.gpu.queue.submit([enc.finish()])
        } finally {
          release()
        }
      }
    } catch (e) {
      for (const g of gathered) g.destroy()
      throw e
    }
    const outs: Record<string, DeviceOutput> = {}
    largest.outputs.forEach((s, i) => {
      const buffer = gathered[i] as GPUBuffer
      outs[s.name] = {
        dtype: 'float32',
        dims: [rows, ...(s.tensor.dims.slice(1) as number[])],
        buffer,
        dispose: () => buffer.destroy(),
      }
    })
    return outs
  }

  /** Wait for `b` to be free and take it; the returned function frees it (once). */
  private async lock(b: Bucket): Promise<() => void> {
    const previous = b.tail
    let free = () => {}
    b.tail = new Promise<void>((resolve) => {
      free = resolve
    })
    await previous
    return free
  }

  /** Write rows [start, start + count) of `feeds` into `b`'s inputs, zero the rest, and replay `b`. */
  private async replay(b: Bucket, feeds: Record<string, HostTensor | DeviceTensor>, start: number, count: number) {
    const enc = this.gpu.createCommandEncoder()
    for (const s of b.inputs) {
      const t = feeds[s.name] as HostTensor | DeviceTensor
      if (isDeviceTensor(t)) {
        enc.copyBufferToBuffer(t.buffer, start * s.rowBytes, s.buffer, 0, count * s.rowBytes)
      } else {
        const per = s.rowBytes / 4
        this.gpu.queue.writeBuffer(s.buffer, 0, t.data as Float32Array, start * per, count * per)
      }
      if (count < b.dirtyRows) enc.clearBuffer(s.buffer, count * s.rowBytes, (b.dirtyRows - count) * s.rowBytes)
    }
    this.gpu.queue.submit([enc.finish()])
    b.dirtyRows = count
    this.opts.beforeCapturedRun?.(b.size)
    const feedTensors = Object.fromEntries(b.inputs.map((s) => [s.name, s.tensor]))
    const fetches = Object.fromEntries(b.outputs.map((s) => [s.name, s.tensor]))
    await webRunQueue.run(async () => {
      if (this.closed) throw new SessionClosedError()
      const result = await b.session.run(feedTensors, fetches)
      checkOutputs(b, result)
    })
    this.counts.runs++
    this.counts.rows += count
    this.counts.paddedRows += b.size - count
  }

  async release(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await releaseBuckets(this.buckets)
    await this.plain.release()
  }
}

/**
 * Load `bytes` as one captured onnxruntime-web session per bucket on `ctx`'s device, plus the
 * plain session that reads the model's specs and answers if captured runs fail. Each bucket runs
 * twice at load (record, then replay), so a bucket that cannot replay fails here. Throws
 * `UnsupportedModelError` unless every input and output is float32 with a symbolic first dim and
 * static others, and the load errors of `loadWebGpuSession`.
 */
export async function loadCapturedSession(
  bytes: Uint8Array,
  ctx: GpuContext,
  opts: CaptureOptions,
): Promise<CapturedSession> {
  const { device, generation } = ctx
  const sizes = checkBuckets(opts.buckets)
  const plain = await loadWebGpuSession(bytes, device, generation, opts)
  const buckets: Bucket[] = []
  try {
    const overrides = batchDims(plain)
    const ort = await importWebOrt(opts.logLevel)
    checkFits(device, plain, sizes[sizes.length - 1] as number)
    for (const size of sizes) buckets.push(await createBucket(ort, bytes, device, opts, plain, overrides, size))
    return new CapturedSession(ctx, buckets, plain, opts)
  } catch (e) {
    await releaseBuckets(buckets)
    await plain.release()
    throw e
  }
}

const byteCount = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1) * 4
