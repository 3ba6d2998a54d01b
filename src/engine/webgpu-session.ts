/**
 * A WebGPU session that survives a lost device: while the GPU is lost or recovering, runs go to
 * a fallback session on the CPU backend (loaded on first need); when the runtime has a new
 * device, the model is reloaded on it in the background and runs return to the GPU.
 */
import { SessionClosedError } from '../errors.js'
import type { GpuRuntime } from '../gpu/index.js'
import type { Logger } from '../logger.js'
import type { TensorSpec } from './tensor.js'
import type { BackendName, DeviceRun, Feeds, ModelSession, Outputs } from './types.js'

/** How long to wait for `device.lost` after a failed run before treating the error as the model's own. */
const LOSS_SETTLE_MS = 100

export interface WebGpuSessionDeps {
  gpu: GpuRuntime
  /** Loads the model on the given device (of runtime generation `generation`). */
  loadOnDevice(device: GPUDevice, generation: number): Promise<ModelSession>
  /** Loads the model on the fallback (CPU) backend. */
  loadFallback(): Promise<ModelSession>
  log: Logger
}

export class WebGpuSession implements ModelSession {
  readonly backend: BackendName = 'webgpu'
  /** The model's specs: the same on every device, so fixed at the first load. */
  readonly inputs: readonly TensorSpec[]
  readonly outputs: readonly TensorSpec[]
  private inner: ModelSession | undefined
  private innerGeneration: number
  private rebuilding: Promise<void> | undefined
  private fallback: Promise<ModelSession> | undefined
  private closed = false
  private readonly unsubscribe: () => void

  private constructor(
    private readonly deps: WebGpuSessionDeps,
    first: ModelSession,
  ) {
    this.inner = first
    this.inputs = first.inputs
    this.outputs = first.outputs
    this.innerGeneration = deps.gpu.generation
    this.unsubscribe = deps.gpu.onChange((s) => {
      if (s.state === 'ready' && s.generation !== this.innerGeneration) this.startRebuild()
    })
  }

  /** Load on the runtime's current device. */
  static async load(deps: WebGpuSessionDeps): Promise<WebGpuSession> {
    return new WebGpuSession(deps, await deps.loadOnDevice(deps.gpu.device, deps.gpu.generation))
  }

  activeBackend(): BackendName {
    return this.onGpu() ? 'webgpu' : 'cpu'
  }

  device(): DeviceRun | undefined {
    return this.onGpu() ? this.inner?.device?.() : undefined
  }

  captureStats() {
    return this.onGpu() ? this.inner?.captureStats?.() : undefined
  }

  private onGpu(): boolean {
    return (
      this.deps.gpu.state === 'ready' && this.inner !== undefined && this.innerGeneration === this.deps.gpu.generation
    )
  }

  async run(feeds: Feeds): Promise<Outputs> {
    if (this.closed) throw new SessionClosedError()
    const inner = this.inner
    if (inner && this.onGpu()) {
      try {
        return await inner.run(feeds)
      } catch (e) {
        if (!(await this.deviceLostWithin(LOSS_SETTLE_MS))) throw e
        this.deps.log.warn('run failed on a lost GPU device; retrying on the CPU backend')
      }
    }
    return (await this.fallbackSession()).run(feeds)
  }

  private async deviceLostWithin(ms: number): Promise<boolean> {
    if (this.deps.gpu.state !== 'ready' || this.deps.gpu.generation !== this.innerGeneration) return true
    await new Promise((r) => setTimeout(r, ms))
    return this.deps.gpu.state !== 'ready' || this.deps.gpu.generation !== this.innerGeneration
  }

  private fallbackSession(): Promise<ModelSession> {
    this.fallback ??= this.deps.loadFallback().catch((e) => {
      this.fallback = undefined
      throw e
    })
    return this.fallback
  }

  private startRebuild(): void {
    if (this.closed || this.rebuilding) return
    this.rebuilding = (async () => {
      const generation = this.deps.gpu.generation
      try {
        const next = await this.deps.loadOnDevice(this.deps.gpu.device, generation)
        if (this.closed) return void (await next.release())
        const old = this.inner
        this.inner = next
        this.innerGeneration = generation
        this.deps.log.info('model reloaded on the new GPU device', { generation })
        // The old session's device is gone; release what the runtime still holds for it.
        await old?.release().catch(() => {})
      } catch (e) {
        this.deps.log.warn('reloading the model on the new GPU device failed; staying on the CPU backend', {
          error: String(e),
        })
      } finally {
        this.rebuilding = undefined
      }
      if (this.deps.gpu.state === 'ready' && this.deps.gpu.generation !== this.innerGeneration) this.startRebuild()
    })()
  }

  async release(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.unsubscribe()
    await this.rebuilding
    await this.inner?.release()
    const fb = this.fallback
    if (fb) await (await fb.catch(() => undefined))?.release()
  }
}
