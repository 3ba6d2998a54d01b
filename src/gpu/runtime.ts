/**
 * The GPU runtime: owns the process's one WebGPU device, shared by onnxruntime-web and our own
 * kernels. Watches `device.lost`, reports not-ready while lost, and (unless disabled) requests a
 * new device with backoff; `generation` counts devices so holders of GPU objects know when
 * theirs are stale.
 */
import type { GpuConfig } from '../config.js'
import { errorMessage, NotReadyError } from '../errors.js'
import { type Logger, silentLogger } from '../logger.js'
import { GpuContext } from './context.js'
import { type AdapterInfo, type DiscoveredAdapter, discoverAdapter } from './discover.js'

export type GpuState = 'ready' | 'lost' | 'recovering' | 'closed'

export interface GpuStatus {
  state: GpuState
  /** 1 for the first device, +1 for each device obtained after a loss. */
  generation: number
  adapter: AdapterInfo
  lastLoss?: { reason: string; message: string; at: string }
}

/** Optional features requested when the adapter has them (ORT's WebGPU EP uses them too). */
const WANTED_FEATURES = ['shader-f16', 'subgroups', 'timestamp-query'] as const
/** Limits raised to the adapter's maximum: big batches need big storage buffers. */
const RAISED_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const
/** Delays between recovery attempts, in ms; the last repeats. */
const RECOVERY_DELAYS_MS = [100, 500, 2000, 10_000, 30_000]

type Listener = (status: GpuStatus) => void

export class GpuRuntime {
  private current: GPUDevice | undefined
  private found: DiscoveredAdapter
  private stateValue: GpuState = 'ready'
  private gen = 0
  private lastLoss: GpuStatus['lastLoss']
  private readonly listeners = new Set<Listener>()
  private recoveryTimer: NodeJS.Timeout | undefined
  private readyWaiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = []
  private ctx: GpuContext | undefined

  private constructor(
    private readonly cfg: GpuConfig,
    private readonly log: Logger,
    found: DiscoveredAdapter,
  ) {
    this.found = found
  }

  /**
   * Discover an adapter and open a device. Throws `BackendUnavailableError` when none exists.
   *
   * @example const gpu = await GpuRuntime.open(config.gpu, logger)
   */
  static async open(cfg: GpuConfig, log: Logger = silentLogger): Promise<GpuRuntime> {
    const rt = new GpuRuntime(cfg, log, await discoverAdapter(cfg))
    await rt.openDevice()
    return rt
  }

  /** The live device; throws {@link NotReadyError} while lost or recovering. */
  get device(): GPUDevice {
    if (this.stateValue !== 'ready' || !this.current) {
      throw new NotReadyError(`GPU device is ${this.stateValue}`, { state: this.stateValue })
    }
    return this.current
  }

  /**
   * Kernel services (pipeline cache, buffer pool, batches) for the live device; a new device gets
   * a new context. Throws {@link NotReadyError} while lost or recovering.
   */
  context(): GpuContext {
    const device = this.device
    if (this.ctx?.device !== device) this.ctx = new GpuContext(device, this.gen, this.cfg.validate)
    return this.ctx
  }

  get state(): GpuState {
    return this.stateValue
  }

  get generation(): number {
    return this.gen
  }

  get adapterInfo(): AdapterInfo {
    return this.found.info
  }

  status(): GpuStatus {
    return {
      state: this.stateValue,
      generation: this.gen,
      adapter: this.found.info,
      ...(this.lastLoss ? { lastLoss: this.lastLoss } : {}),
    }
  }

  /** Called on every state change (lost, recovering, ready, closed). Returns an unsubscribe. */
  onChange(listener: Listener): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** Resolves once the device is ready (at once if it is); rejects after `timeoutMs` or on close. */
  whenReady(timeoutMs = 30_000): Promise<void> {
    if (this.stateValue === 'ready') return Promise.resolve()
    if (this.stateValue === 'closed') return Promise.reject(new NotReadyError('GPU runtime is closed'))
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.readyWaiters = this.readyWaiters.filter((w) => w.resolve !== done)
        reject(new NotReadyError(`GPU device not ready after ${timeoutMs} ms (state ${this.stateValue})`))
      }, timeoutMs)
      const done = () => {
        clearTimeout(timer)
        resolve()
      }
      this.readyWaiters.push({
        resolve: done,
        reject: (e) => {
          clearTimeout(timer)
          reject(e)
        },
      })
    })
  }

  /** Destroy the device and stop recovering. */
  close(): void {
    if (this.stateValue === 'closed') return
    this.setState('closed')
    clearTimeout(this.recoveryTimer)
    for (const w of this.readyWaiters.splice(0)) w.reject(new NotReadyError('GPU runtime is closed'))
    this.ctx?.pool.clear()
    this.ctx = undefined
    this.current?.destroy()
    this.current = undefined
  }

  private async openDevice(): Promise<void> {
    const { adapter } = this.found
    const requiredFeatures = WANTED_FEATURES.filter((f) => adapter.features.has(f))
    const requiredLimits: Record<string, number> = {}
    for (const name of RAISED_LIMITS) {
      const v = (adapter.limits as unknown as Record<string, number>)[name]
      if (typeof v === 'number') requiredLimits[name] = v
    }
    const device = await adapter.requestDevice({
      label: `lastmile device #${this.gen + 1}`,
      requiredFeatures: requiredFeatures as GPUFeatureName[],
      requiredLimits,
    })
    this.current = device
    this.gen += 1
    device.addEventListener('uncapturederror', (ev) => {
      const err = (ev as GPUUncapturedErrorEvent).error
      this.log.error('uncaptured WebGPU error', { message: err.message, generation: this.gen })
    })
    void device.lost.then((info) => this.handleLost(device, info))
    this.setState('ready')
    this.log.info('GPU device ready', {
      generation: this.gen,
      adapter: this.found.info.description,
      backend: this.found.info.backend,
      software: this.found.info.software,
    })
  }

  private handleLost(device: GPUDevice, info: GPUDeviceLostInfo): void {
    if (this.stateValue === 'closed' || device !== this.current) return
    this.lastLoss = { reason: String(info.reason), message: info.message, at: new Date().toISOString() }
    this.current = undefined
    this.ctx = undefined // its pipelines and buffers died with the device
    this.log.warn('GPU device lost', { ...this.lastLoss, generation: this.gen })
    this.setState('lost')
    if (this.cfg.recover) this.scheduleRecovery(0)
  }

  private scheduleRecovery(attempt: number): void {
    const delay = RECOVERY_DELAYS_MS[Math.min(attempt, RECOVERY_DELAYS_MS.length - 1)] as number
    this.recoveryTimer = setTimeout(() => void this.recover(attempt), delay)
    this.recoveryTimer.unref()
  }

  private isClosed(): boolean {
    return this.stateValue === 'closed'
  }

  private async recover(attempt: number): Promise<void> {
    if (this.isClosed()) return
    this.setState('recovering')
    try {
      // A lost device's adapter is spent: discover afresh.
      this.found = await discoverAdapter(this.cfg)
      if (this.isClosed()) return
      await this.openDevice()
    } catch (e) {
      if (this.isClosed()) return
      this.log.warn('GPU recovery attempt failed', { attempt: attempt + 1, error: errorMessage(e) })
      this.setState('lost')
      this.scheduleRecovery(attempt + 1)
    }
  }

  private setState(state: GpuState): void {
    this.stateValue = state
    if (state === 'ready') for (const w of this.readyWaiters.splice(0)) w.resolve()
    const status = this.status()
    for (const l of this.listeners) l(status)
  }
}
