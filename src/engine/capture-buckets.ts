/**
 * The buckets of a captured session: checking that a model can be captured, and making each
 * bucket's onnxruntime-web session (graph capture on, batch dim fixed to the bucket size) with
 * its fixed GPU input and output buffers, recorded at load. See captured-session.ts.
 */
import { errorMessage, InvalidInputError, UnsupportedModelError } from '../errors.js'
import { type Logger, silentLogger } from '../logger.js'
import { ORT_SEVERITY, type SessionOptions, webRunQueue } from './backends.js'
import type { OrtModule, OrtSession, OrtTensor } from './ort-common.js'
import type { OrtBackedSession } from './ort-session.js'
import type { TensorSpec } from './tensor.js'

/** What a captured session needs besides the model: the buckets, a logger, a failure hook. */
export interface CaptureOptions extends SessionOptions {
  /** Bucket sizes (positive integers, any order); `bucketSizes()` makes the usual ones. */
  buckets: readonly number[]
  /** Where the warning about a failed captured run goes. */
  log?: Logger
  /**
   * Called before each captured run (the two at load included) with its bucket size; a throw
   * counts as that run failing (the way to make one fail on purpose: onnxruntime-web's own
   * failures depend on its allocator's state).
   */
  beforeCapturedRun?: (bucket: number) => void
}

/** One input or output of a bucket: its fixed GPU buffer and the tensor that binds it. */
export interface Slot {
  name: string
  /** Bytes of one row (the dims after the batch dim, float32). */
  rowBytes: number
  buffer: GPUBuffer
  tensor: OrtTensor
}

/** One batch size: its captured session, its buffers, and the lock on them. */
export interface Bucket {
  size: number
  session: OrtSession
  inputs: Slot[]
  outputs: Slot[]
  /** Rows of the input buffers that may hold data; the rest are zero. */
  dirtyRows: number
  /** Settles when the last run on this bucket has released it. */
  tail: Promise<void>
}

/** Usage of every bucket buffer (and of the buffers chunked outputs are gathered into). */
export const BUFFER_USAGE = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST

/**
 * After the first run a captured session hands back new tensors over the bound output buffers
 * (each holding a runtime reference): check they are ours, and free the references.
 */
export function checkOutputs(b: Bucket, result: Record<string, OrtTensor>): void {
  for (const s of b.outputs) {
    const t = result[s.name]
    if (t === s.tensor) continue
    const ours = t?.location === 'gpu-buffer' && t.gpuBuffer === s.buffer
    t?.dispose()
    if (!ours) throw new Error(`the captured run did not write output '${s.name}' into its bound buffer`)
  }
}

/** The bucket sizes ascending, without repeats; refuses sizes that are not positive integers. */
export function checkBuckets(buckets: readonly number[]): number[] {
  if (buckets.length === 0 || !buckets.every((b) => Number.isSafeInteger(b) && b >= 1)) {
    throw new InvalidInputError(`bucket sizes must be positive integers, got [${buckets.join(', ')}]`)
  }
  return [...new Set(buckets)].sort((a, b) => a - b)
}

/** The inputs' symbolic batch dim names (to fix per bucket); refuses a model captured sessions cannot run. */
export function batchDims(plain: OrtBackedSession): string[] {
  const names = new Set<string>()
  for (const [kind, specs] of [
    ['input', plain.inputs],
    ['output', plain.outputs],
  ] as const) {
    for (const s of specs) {
      const why =
        s.dtype !== 'float32'
          ? `is ${s.dtype}`
          : typeof s.shape[0] === 'number' || s.shape.length === 0
            ? 'has no symbolic batch dim first'
            : !s.shape.slice(1).every((d) => typeof d === 'number' && d > 0)
              ? 'has dynamic dims after the batch dim'
              : undefined
      if (why) {
        throw new UnsupportedModelError(
          `${kind} '${s.name}' ${why}: captured sessions need float32 inputs and outputs with a symbolic batch dim first and static others`,
        )
      }
      if (kind === 'input' && s.shape[0] !== '?') names.add(s.shape[0] as string)
    }
  }
  return [...names]
}

const rowElements = (s: TensorSpec) => (s.shape.slice(1) as number[]).reduce((a, b) => a * b, 1)

/** Refuse a bucket whose buffers the device cannot hold. */
export function checkFits(device: GPUDevice, plain: OrtBackedSession, size: number): void {
  const limit = Math.min(device.limits.maxBufferSize, device.limits.maxStorageBufferBindingSize)
  for (const s of [...plain.inputs, ...plain.outputs]) {
    const bytes = align16(size * rowElements(s) * 4)
    if (bytes > limit) {
      throw new UnsupportedModelError(
        `'${s.name}' needs ${bytes} bytes for a bucket of ${size} rows, over the device's buffer limit of ${limit}`,
      )
    }
  }
}

/**
 * How many times a bucket's session is made before its load fails. onnxruntime-web 1.30 loses
 * track of a captured session's output buffer between its first and second run when the wasm
 * allocator hands the buffer's freed handle to another object (seen after other sessions were
 * released): the second run then fails ("Cannot set properties of undefined (setting
 * 'Symbol(gpuBufferMetadata)')") or names another buffer. Once a second run has passed, the output
 * handle is kept for good, so a fresh session and fresh buffers are tried instead.
 */
const CAPTURE_ATTEMPTS = 4

/**
 * Make the bucket of `size` rows: its captured session (the inputs' batch dims `batchNames`
 * fixed to `size`), its buffers, and its recorded graph (a run, then a replay, on zero inputs).
 * Throws `UnsupportedModelError` when onnxruntime-web cannot capture the graph.
 */
export async function createBucket(
  ort: OrtModule,
  bytes: Uint8Array,
  device: GPUDevice,
  opts: CaptureOptions,
  plain: OrtBackedSession,
  batchNames: readonly string[],
  size: number,
): Promise<Bucket> {
  const slot = (s: TensorSpec): Slot => {
    const rowBytes = rowElements(s) * 4
    const buffer = device.createBuffer({ size: align16(size * rowBytes), usage: BUFFER_USAGE() })
    const dims = [size, ...(s.shape.slice(1) as number[])]
    return { name: s.name, rowBytes, buffer, tensor: ort.Tensor.fromGpuBuffer(buffer, { dataType: 'float32', dims }) }
  }
  let failure: unknown
  for (let attempt = 1; attempt <= CAPTURE_ATTEMPTS; attempt++) {
    let session: OrtSession
    try {
      session = await webRunQueue.run(() =>
        ort.InferenceSession.create(bytes, {
          executionProviders: [{ name: 'webgpu', device } as never],
          enableGraphCapture: true,
          freeDimensionOverrides: Object.fromEntries(batchNames.map((n) => [n, size])),
          preferredOutputLocation: 'gpu-buffer',
          graphOptimizationLevel: opts.graphOptimization ?? 'all',
          logSeverityLevel: ORT_SEVERITY[opts.logLevel],
        }),
      )
    } catch (e) {
      // The plain session loaded, so the model is valid: what fails here is capturing it.
      throw new UnsupportedModelError(
        `onnxruntime-web cannot capture the graph for a bucket of ${size} rows: ${errorMessage(e)}`,
        { cause: e },
      )
    }
    const b: Bucket = {
      size,
      session,
      inputs: plain.inputs.map(slot),
      outputs: plain.outputs.map(slot),
      dirtyRows: 0,
      tail: Promise.resolve(),
    }
    const feeds = Object.fromEntries(b.inputs.map((s) => [s.name, s.tensor]))
    const fetches = Object.fromEntries(b.outputs.map((s) => [s.name, s.tensor]))
    try {
      // The first run records the graph, the second replays it: both on zero inputs.
      await webRunQueue.run(async () => {
        for (let i = 0; i < 2; i++) {
          opts.beforeCapturedRun?.(size)
          checkOutputs(b, await session.run(feeds, fetches))
        }
      })
      return b
    } catch (e) {
      ;(opts.log ?? silentLogger).debug('a captured session failed its first replay', {
        bucket: size,
        attempt,
        error: errorMessage(e),
      })
      failure = e
      await webRunQueue.run(() => session.release())
      for (const s of [...b.inputs, ...b.outputs]) s.buffer.destroy()
    }
  }
  throw new UnsupportedModelError(
    `graph capture failed for the bucket of ${size} rows (${CAPTURE_ATTEMPTS} tries): ${errorMessage(failure)}`,
    { cause: failure },
  )
}

/** Buffer sizes are multiples of 16 bytes (onnxruntime-web copies whole 16-byte blocks). */
export function align16(bytes: number): number {
  return Math.max(16, Math.ceil(bytes / 16) * 16)
}

/** Release the buckets' sessions and destroy their buffers. */
export async function releaseBuckets(buckets: readonly Bucket[]): Promise<void> {
  await webRunQueue.run(async () => {
    for (const b of buckets) await b.session.release()
  })
  for (const b of buckets) for (const s of [...b.inputs, ...b.outputs]) s.buffer.destroy()
}
