/**
 * Session factories for the three backends. Each onnxruntime package is imported lazily, so a
 * CPU-only server never loads the web build (or Dawn), and vice versa.
 */
import v8 from 'node:v8'
import { BackendUnavailableError, errorMessage } from '../errors.js'
import type { LogLevel } from '../logger.js'
import { loadError, type OrtModule } from './ort-common.js'
import { OrtBackedSession } from './ort-session.js'
import { SerialQueue } from './serial-queue.js'
import type { GraphOptimizationLevel } from './types.js'

export interface SessionOptions {
  /** Intra-op threads for the native CPU backend; 0 = onnxruntime's default. */
  cpuThreads: number
  /** Whether the CPU thread pool spin-waits between runs (onnxruntime's default) or sleeps. */
  cpuSpin: boolean
  logLevel: LogLevel
  /** onnxruntime's graph optimization level; `all` when absent. */
  graphOptimization?: GraphOptimizationLevel
}

/** onnxruntime-node session options for the native CPU backend (the bench's raw baseline uses them too). */
export function cpuSessionOptions(opts: Omit<SessionOptions, 'logLevel'>) {
  const spin = opts.cpuSpin ? '1' : '0'
  return {
    executionProviders: ['cpu'],
    graphOptimizationLevel: opts.graphOptimization ?? 'all',
    ...(opts.cpuThreads > 0 ? { intraOpNumThreads: opts.cpuThreads } : {}),
    extra: { session: { intra_op: { allow_spinning: spin }, inter_op: { allow_spinning: spin } } },
  }
}

/** onnxruntime's severity levels: 0 verbose … 3 error; we keep its warnings out of info logs. */
export const ORT_SEVERITY: Record<LogLevel, 0 | 1 | 2 | 3> = { debug: 1, info: 3, warn: 3, error: 3 }

let nodeModule: Promise<OrtModule> | undefined
let webModule: Promise<OrtModule & { env: typeof import('onnxruntime-web').env }> | undefined

/** One queue for every onnxruntime-web session: they share one wasm instance and one GPU device. */
export const webRunQueue = new SerialQueue()

function importNode(): Promise<OrtModule> {
  nodeModule ??= import('onnxruntime-node').then((m) => (m.default ?? m) as unknown as OrtModule)
  return nodeModule
}

/**
 * Import onnxruntime-web's WebGPU build (which also carries the wasm EP). V8 must compile its
 * 26 MB asyncify wasm with Liftoff only: otherwise TurboFan spends ~30 s of CPU on the first
 * run (seen on llvmpipe and lavapipe; 60 ms with the flag). Launchers pass `--liftoff-only`; setting it here as well covers
 * any other way of starting Node, and must happen before the module compiles its wasm.
 */
export function importWebOrt(logLevel: LogLevel) {
  webModule ??= (async () => {
    v8.setFlagsFromString('--liftoff-only')
    const m = await import('onnxruntime-web/webgpu')
    m.env.wasm.numThreads = 1 // the web build's threads need browser workers; Node runs it single-threaded
    m.env.logLevel = logLevel === 'debug' ? 'info' : 'error'
    return m as unknown as OrtModule & { env: typeof m.env }
  })()
  return webModule
}

/** Load `bytes` on native onnxruntime (multi-threaded CPU). */
export async function loadCpuSession(bytes: Uint8Array, opts: SessionOptions): Promise<OrtBackedSession> {
  const ort = await importNode().catch((e) => {
    throw new BackendUnavailableError(`the cpu backend (onnxruntime-node) failed to load: ${errorMessage(e)}`)
  })
  try {
    const session = await ort.InferenceSession.create(bytes, {
      ...cpuSessionOptions(opts),
      logSeverityLevel: ORT_SEVERITY[opts.logLevel],
    })
    return new OrtBackedSession('cpu', ort, session, new SerialQueue())
  } catch (e) {
    throw loadError(e, 'cpu')
  }
}

/** Load `bytes` on onnxruntime-web's WebAssembly EP (portable, single-threaded here). */
export async function loadWasmSession(bytes: Uint8Array, opts: SessionOptions): Promise<OrtBackedSession> {
  const ort = await importWebOrt(opts.logLevel)
  try {
    const session = await webRunQueue.run(() =>
      ort.InferenceSession.create(bytes, {
        executionProviders: ['wasm'],
        graphOptimizationLevel: opts.graphOptimization ?? 'all',
        logSeverityLevel: ORT_SEVERITY[opts.logLevel],
      }),
    )
    return new OrtBackedSession('wasm', ort, session, webRunQueue)
  } catch (e) {
    throw loadError(e, 'wasm')
  }
}

/**
 * The dtypes onnxruntime-web can hand back as a GPU buffer (its `isGpuBufferSupportedType`, 1.30).
 * Asked to leave an output of another dtype (int8, int16, uint16, uint64, float64) on the GPU, it
 * loads the model and then fails every `run()` with "Unsupported data type"; such outputs are
 * asked for on the CPU instead, where it answers them.
 */
const GPU_BUFFER_DTYPES: ReadonlySet<string> = new Set([
  'float32',
  'float16',
  'int32',
  'int64',
  'uint32',
  'uint8',
  'bool',
])

/**
 * Load `bytes` on onnxruntime-web's WebGPU EP, running on `device` (the runtime's shared device:
 * onnxruntime-web 1.30 ignores `env.webgpu.device`, so it is passed per session).
 */
export async function loadWebGpuSession(
  bytes: Uint8Array,
  device: GPUDevice,
  generation: number,
  opts: SessionOptions,
): Promise<OrtBackedSession> {
  const ort = await importWebOrt(opts.logLevel)
  // Outputs stay on the GPU: `run()` downloads them, the fused path feeds them to our kernels.
  const create = (preferredOutputLocation: 'gpu-buffer' | Record<string, 'gpu-buffer' | 'cpu'>) =>
    // Session creation is queued too: the web build refuses two WebGPU sessions being created at once.
    webRunQueue.run(() =>
      ort.InferenceSession.create(bytes, {
        executionProviders: [{ name: 'webgpu', device }],
        preferredOutputLocation,
        graphOptimizationLevel: opts.graphOptimization ?? 'all',
        logSeverityLevel: ORT_SEVERITY[opts.logLevel],
      }),
    )
  try {
    let session = await create('gpu-buffer')
    // Output names and dtypes are known only once loaded: a model with an output the GPU cannot
    // hand back is loaded again with that output on the CPU (rare dtypes: one more load for those).
    const kept = (m: (typeof session.outputMetadata)[number]) => !m.isTensor || GPU_BUFFER_DTYPES.has(m.type)
    const outputs = session.outputMetadata
    if (!outputs.every(kept)) {
      const first = session
      await webRunQueue.run(() => first.release())
      session = await create(Object.fromEntries(outputs.map((m) => [m.name, kept(m) ? 'gpu-buffer' : 'cpu'] as const)))
    }
    return new OrtBackedSession('webgpu', ort, session, webRunQueue, generation)
  } catch (e) {
    throw loadError(e, 'webgpu')
  }
}
