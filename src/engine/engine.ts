/**
 * The engine: turns model bytes into sessions on the configured backend. `auto` picks `webgpu`
 * on a hardware adapter and `cpu` otherwise (a software adapter is slower than the native CPU
 * backend, so it is used only when asked for by name).
 *
 * @example
 * const engine = new Engine(loadConfig())
 * const session = await engine.load(bytes)
 * const out = await session.run({ x: tensor('float32', [1, 16], values) })
 */
import type { BackendChoice, Config } from '../config.js'
import type { GpuPathChoice } from '../config-schema.js'
import { BackendUnavailableError, errorMessage, InvalidModelError, UnsupportedModelError } from '../errors.js'
import { acquireGpu, type GpuRuntime, type GpuStatus, releaseGpu } from '../gpu/index.js'
import { type Logger, silentLogger } from '../logger.js'
import { checkModel } from '../onnx/model-check.js'
import { loadCpuSession, loadWasmSession, loadWebGpuSession, type SessionOptions } from './backends.js'
import { bucketSizes, loadCapturedSession } from './captured-session.js'
import { type Candidate, measurePaths } from './gpu-paths.js'
import { loadKernelSession } from './kernel-session.js'
import { subgroupGemmAgrees } from './subgroup-check.js'
import type { BackendName, Feeds, GpuPathReport, GraphOptimizationLevel, ModelSession } from './types.js'
import { WebGpuSession } from './webgpu-session.js'

/** How long a load waits for a recovering GPU before giving up with NotReadyError. */
const LOAD_WAIT_FOR_GPU_MS = 10_000
/** The largest batch a model is prepared for when the caller does not say (the batcher's default). */
const DEFAULT_MAX_BATCH = 256

type GpuPath = Exclude<GpuPathChoice, 'auto'>

type EngineGpuStatus = GpuStatus | { state: 'unavailable'; reason: string } | { state: 'not_opened' }

export interface EngineStatus {
  /** What `auto` resolves to on this machine (opens the GPU to find out). */
  autoBackend: BackendName
  configured: BackendChoice
  gpu: EngineGpuStatus
}

export interface LoadOptions {
  /** Overrides the configured backend for this model. */
  backend?: BackendChoice
  /** Overrides the configured intra-op threads of a `cpu` session (`LASTMILE_CPU_THREADS`). */
  threads?: number
  /** onnxruntime's graph optimization level for this model; `all` by default. */
  graphOptimization?: GraphOptimizationLevel
  /** How the model runs on `webgpu` (src/engine/gpu-paths.ts); the server's `gpu.path` when absent. */
  gpuPath?: GpuPathChoice
  /** The most rows the model is run with at once: the captured path's largest bucket, and what `auto` times. */
  maxBatch?: number
  /** An earlier load's choice for the same model (another replica): load that path again, unmeasured. */
  measured?: GpuPathReport
}

export class Engine {
  private gpuRuntime: Promise<GpuRuntime> | undefined
  private gpuFailure: string | undefined
  private openedGpu: GpuRuntime | undefined
  private readonly sessions = new Set<ModelSession>()
  private readonly sessionOptions: SessionOptions

  constructor(
    readonly config: Config,
    private readonly log: Logger = silentLogger,
  ) {
    this.sessionOptions = { cpuThreads: config.cpuThreads, cpuSpin: config.cpuSpin, logLevel: config.logLevel }
  }

  /** The shared GPU runtime, opened on first use. Throws `BackendUnavailableError` without an adapter. */
  gpu(): Promise<GpuRuntime> {
    this.gpuRuntime ??= acquireGpu(this.config.gpu, this.log).then(
      (rt) => {
        this.openedGpu = rt
        return rt
      },
      (e) => {
        this.gpuFailure = errorMessage(e)
        throw e
      },
    )
    return this.gpuRuntime
  }

  /** The GPU runtime if it is already open (never opens one). */
  openGpu(): GpuRuntime | undefined {
    return this.openedGpu
  }

  /** Resolve a backend choice to a concrete backend. */
  async resolveBackend(choice: BackendChoice = this.config.backend): Promise<BackendName> {
    if (choice !== 'auto') return choice
    try {
      const gpu = await this.gpu()
      return gpu.adapterInfo.software ? 'cpu' : 'webgpu'
    } catch {
      return 'cpu'
    }
  }

  /**
   * Load an ONNX model. Throws `InvalidModelError` (not ONNX, truncated), `UnsupportedModelError`
   * (an operator the backend lacks), `BackendUnavailableError` (e.g. `webgpu` without an adapter).
   * Models that are not self-contained (external data) are refused here too, whatever path the
   * bytes took: onnxruntime would read the files they name.
   */
  async load(bytes: Uint8Array, opts: LoadOptions = {}): Promise<ModelSession> {
    if (!(bytes instanceof Uint8Array) || bytes.length === 0) {
      throw new InvalidModelError('the model is empty: expected the bytes of an ONNX file')
    }
    checkModel(bytes)
    const choice = opts.backend ?? this.config.backend
    const backend = opts.measured?.chosen === 'cpu' ? 'cpu' : await this.resolveBackend(choice)
    let inner: ModelSession
    let note: string | undefined
    let report: GpuPathReport | undefined
    const options: SessionOptions = {
      ...this.sessionOptions,
      ...(opts.threads !== undefined ? { cpuThreads: opts.threads } : {}),
      ...(opts.graphOptimization !== undefined ? { graphOptimization: opts.graphOptimization } : {}),
    }
    try {
      if (backend === 'webgpu') ({ session: inner, report } = await this.loadGpu(bytes, choice, options, opts))
      else inner = await this.loadOn(backend, bytes, options)
    } catch (e) {
      // `auto` promised a backend that runs the model: one onnxruntime-web lacks a kernel for
      // (ai.onnx.ml, some float64/int16/uint16 operators) runs on the native CPU backend instead.
      if (!(choice === 'auto' && backend === 'webgpu' && e instanceof UnsupportedModelError)) throw e
      inner = await this.loadOn('cpu', bytes, options)
      const op = e.details?.operator
      note = `auto chose webgpu, which cannot run ${typeof op === 'string' ? `operator ${op} of ` : ''}this model: it runs on cpu`
      this.log.warn('the webgpu backend cannot load a model; auto runs it on cpu', { error: e.message })
    }
    const session = new TrackedSession(inner, this.sessions, note, report ?? opts.measured)
    this.sessions.add(session)
    return session
  }

  private async loadOn(
    backend: Exclude<BackendName, 'webgpu'>,
    bytes: Uint8Array,
    options: SessionOptions,
  ): Promise<ModelSession> {
    switch (backend) {
      case 'cpu':
        return loadCpuSession(bytes, options)
      case 'wasm':
        return loadWasmSession(bytes, options)
    }
  }

  /**
   * Load on the GPU by the path the options (or the server's `gpu.path`) name; with `auto`, time
   * the paths that can run the model and keep the fastest (src/engine/gpu-paths.ts). Native CPU
   * is a candidate only when the backend was left to lastmile (`auto`).
   */
  private async loadGpu(
    bytes: Uint8Array,
    choice: BackendChoice,
    options: SessionOptions,
    opts: LoadOptions,
  ): Promise<{ session: ModelSession; report: GpuPathReport }> {
    const maxBatch = opts.maxBatch ?? DEFAULT_MAX_BATCH
    const earlier = opts.measured?.chosen
    const path = earlier && earlier !== 'cpu' ? earlier : (opts.gpuPath ?? this.config.gpu.path)
    if (path !== 'auto') {
      const session = await this.loadGpuPath(path, bytes, options, maxBatch)
      const reason = earlier
        ? 'chosen when the deployment started'
        : opts.gpuPath
          ? "the deployment's session.gpu_path"
          : "the server's gpu.path (LASTMILE_GPU_PATH)"
      const report: GpuPathReport = opts.measured ?? {
        chosen: path,
        baseline: 'ort',
        how: 'set',
        batches: [],
        candidates: [{ path }],
        reason: `set by ${reason}`,
      }
      return { session, report }
    }
    const candidate = (p: GpuPath): Candidate => ({
      path: p,
      load: () => this.loadGpuPath(p, bytes, options, maxBatch),
    })
    const others = [candidate('captured'), candidate('kernels')]
    if (choice === 'auto') others.push({ path: 'cpu', load: () => loadCpuSession(bytes, options) })
    return measurePaths(candidate('ort'), others, { batches: [1, maxBatch], budgetMs: this.config.gpu.measureMs })
  }

  /** One GPU path, wrapped to survive a lost device (it reloads by the same path on the new one). */
  private async loadGpuPath(path: GpuPath, bytes: Uint8Array, options: SessionOptions, maxBatch: number) {
    let gpu: GpuRuntime
    try {
      gpu = await this.gpu()
    } catch (e) {
      throw new BackendUnavailableError(`the webgpu backend is unavailable: ${errorMessage(e)}`)
    }
    await gpu.whenReady(LOAD_WAIT_FOR_GPU_MS)
    const loaders: Record<GpuPath, (device: GPUDevice, generation: number) => Promise<ModelSession>> = {
      ort: (device, generation) => loadWebGpuSession(bytes, device, generation, options),
      captured: async () =>
        loadCapturedSession(bytes, gpu.context(), { ...options, buckets: bucketSizes(maxBatch), log: this.log }),
      kernels: async () => {
        const ctx = gpu.context()
        return loadKernelSession(bytes, ctx, { subgroups: await subgroupGemmAgrees(ctx) })
      },
    }
    return WebGpuSession.load({
      gpu,
      log: this.log,
      loadOnDevice: loaders[path],
      loadFallback: () => loadCpuSession(bytes, options),
    })
  }

  /** Backend and GPU state, for `lastmile info`, health checks and metrics. */
  async status(): Promise<EngineStatus> {
    const autoBackend = await this.resolveBackend('auto')
    return { autoBackend, configured: this.config.backend, gpu: await this.gpuStatus() }
  }

  /** The GPU's state and adapter, without opening it when nothing has (`not_opened`). */
  async gpuStatus(): Promise<EngineGpuStatus> {
    if (this.gpuFailure) return { state: 'unavailable', reason: this.gpuFailure }
    if (this.gpuRuntime) return (await this.gpuRuntime).status()
    return { state: 'not_opened' }
  }

  /** Release every session and leave the GPU runtime. */
  async close(): Promise<void> {
    await Promise.all([...this.sessions].map((s) => s.release().catch(() => {})))
    const rt = await this.gpuRuntime?.catch(() => undefined)
    this.gpuRuntime = undefined
    this.openedGpu = undefined
    if (rt) await releaseGpu(rt)
  }
}

/** A session that leaves the engine's set when released, so `close()` frees only live ones. */
class TrackedSession implements ModelSession {
  constructor(
    private readonly inner: ModelSession,
    private readonly owner: Set<ModelSession>,
    readonly backendNote?: string,
    readonly gpuPath?: GpuPathReport,
  ) {}
  get backend() {
    return this.inner.backend
  }
  get inputs() {
    return this.inner.inputs
  }
  get outputs() {
    return this.inner.outputs
  }
  activeBackend() {
    return this.inner.activeBackend()
  }
  device() {
    return this.inner.device?.()
  }
  captureStats() {
    return this.inner.captureStats?.()
  }
  run(feeds: Feeds) {
    return this.inner.run(feeds)
  }
  async release() {
    this.owner.delete(this)
    await this.inner.release()
  }
}
