/**
 * The engine's one session interface, implemented by three backends:
 * `webgpu` (onnxruntime-web's WebGPU EP on Dawn), `cpu` (native onnxruntime-node) and
 * `wasm` (onnxruntime-web's WebAssembly EP).
 */
import type { AnyTensor, DType, HostTensor, TensorSpec } from './tensor.js'

export const BACKENDS = ['webgpu', 'cpu', 'wasm'] as const
export type BackendName = (typeof BACKENDS)[number]

/** onnxruntime's graph optimization levels, least to most (its `graphOptimizationLevel`). */
export const GRAPH_OPTIMIZATION_LEVELS = ['disabled', 'basic', 'extended', 'all'] as const
/** One of {@link GRAPH_OPTIMIZATION_LEVELS}. */
export type GraphOptimizationLevel = (typeof GRAPH_OPTIMIZATION_LEVELS)[number]

export type Feeds = Record<string, HostTensor>
/** A pipeline's request columns: tensors, plus string columns (routing keys). */
export type Columns = Record<string, AnyTensor>
export type Outputs = Record<string, HostTensor>

/** A tensor in a GPU buffer of the runtime's device (row-major, `dims` elements from offset 0). */
export interface DeviceTensor {
  readonly dtype: DType
  readonly dims: readonly number[]
  readonly buffer: GPUBuffer
}

/** A model output left on the GPU; `dispose()` hands the buffer back to the runtime. */
export interface DeviceOutput extends DeviceTensor {
  dispose(): void
}

/**
 * Runs a model with its data on the GPU: inputs may be device tensors (no upload), outputs stay
 * in GPU buffers for the next kernels. Only offered while the session runs on the GPU.
 */
export interface DeviceRun {
  /** The GPU runtime generation (device) the model is loaded on. */
  readonly generation: number
  /**
   * Run with `feeds` on the device or the host. Float outputs come back as device tensors, others
   * as host tensors; the caller disposes every device output once its last reader is submitted.
   */
  run(feeds: Record<string, HostTensor | DeviceTensor>): Promise<Record<string, DeviceOutput | HostTensor>>
}

export function isDeviceTensor(t: AnyTensor | DeviceTensor): t is DeviceTensor {
  return 'buffer' in t
}

/** A way to run a model: a GPU path (config's GPU_PATH_CHOICES but `auto`), or the native CPU backend. */
export type PathName = 'ort' | 'captured' | 'kernels' | 'cpu'

/** One candidate's measurement (src/engine/gpu-paths.ts). */
export interface PathTiming {
  path: PathName
  /** Median ms per run, host in and host out, by batch size; absent when it could not be timed. */
  ms?: Record<string, number>
  /** Geometric mean of `ms` over the batch sizes. */
  score?: number
  /** Why it is not a candidate: it failed to load or run, or its outputs differ from the baseline's. */
  error?: string
}

/** How a model came to run the way it does on the GPU, shown in the deployment's status. */
export interface GpuPathReport {
  chosen: PathName
  /** Today's path without measurement: `ort`. */
  baseline: PathName
  /** `measured`; `set` (named by the deployment or the server); `single` (nothing else could run it); `unmeasured` (no trial rows could be made). */
  how: 'measured' | 'set' | 'single' | 'unmeasured'
  batches: number[]
  candidates: PathTiming[]
  reason: string
}

/** A captured session's counters (src/engine/captured-session.ts): padding and memory. */
export interface CaptureStats {
  /** The bucket sizes, ascending. */
  buckets: number[]
  /** Since load: captured model runs, the real rows they ran, and the zero rows added to fill buckets. */
  runs: number
  rows: number
  paddedRows: number
  /** GPU bytes held for the buckets' input and output buffers. */
  bufferBytes: number
  /** Captured sessions loaded (each holds its own copy of the weights). */
  sessions: number
  /** Runs answered by the plain session after a captured run failed. */
  fallbacks: number
}

/** A loaded model, ready to run. Runs are queued: one at a time per session (and per GPU device). */
export interface ModelSession {
  /** The backend the session was loaded on. */
  readonly backend: BackendName
  /** Why `backend` is not the one `auto` chose (a model the webgpu backend cannot load runs on cpu). */
  readonly backendNote?: string | undefined
  readonly inputs: readonly TensorSpec[]
  readonly outputs: readonly TensorSpec[]
  /**
   * Run the model. Inputs are validated against `inputs` first (names, dtypes, shapes), so a bad
   * request fails with `InvalidInputError` before reaching the runtime.
   */
  run(feeds: Feeds): Promise<Outputs>
  /** The backend that serves runs right now: differs from `backend` while a lost GPU is replaced by the CPU. */
  activeBackend(): BackendName
  /** The GPU-resident way to run, when the session is on the GPU right now (webgpu backend only). */
  device?(): DeviceRun | undefined
  /** How the path this session runs was chosen, on the `webgpu` backend. */
  readonly gpuPath?: GpuPathReport | undefined
  /** Padding and memory counters, when the model runs as captured sessions per batch bucket. */
  captureStats?(): CaptureStats | undefined
  /** Free the runtime's resources; later runs fail with `SessionClosedError`. Idempotent. */
  release(): Promise<void>
}
