/**
 * The engine's one session interface, implemented by three backends:
 * `webgpu` (onnxruntime-web's WebGPU EP on Dawn), `cpu` (native onnxruntime-node) and
 * `wasm` (onnxruntime-web's WebAssembly EP).
 */
import type { HostTensor, TensorSpec } from './tensor.js'

export const BACKENDS = ['webgpu', 'cpu', 'wasm'] as const
export type BackendName = (typeof BACKENDS)[number]

export type Feeds = Record<string, HostTensor>
export type Outputs = Record<string, HostTensor>

/** A loaded model, ready to run. Runs are queued: one at a time per session (and per GPU device). */
export interface ModelSession {
  /** The backend the session was loaded on. */
  readonly backend: BackendName
  readonly inputs: readonly TensorSpec[]
  readonly outputs: readonly TensorSpec[]
  /**
   * Run the model. Inputs are validated against `inputs` first (names, dtypes, shapes), so a bad
   * request fails with `InvalidInputError` before reaching the runtime.
   */
  run(feeds: Feeds): Promise<Outputs>
  /** The backend that serves runs right now: differs from `backend` while a lost GPU is replaced by the CPU. */
  activeBackend(): BackendName
  /** Free the runtime's resources; later runs fail with `SessionClosedError`. Idempotent. */
  release(): Promise<void>
}
