/**
 * A ModelSession over an onnxruntime InferenceSession (node or web): validates inputs, queues
 * runs, converts tensors at the edge and types the errors. On the webgpu backend the session's
 * outputs stay in GPU buffers; `run()` downloads them, `device().run()` hands them on.
 */
import { SessionClosedError } from '../errors.js'
import {
  fromOrtTensor,
  type OrtModule,
  type OrtSession,
  type OrtTensor,
  runError,
  specsFrom,
  toOrtTensor,
} from './ort-common.js'
import type { SerialQueue } from './serial-queue.js'
import type { HostTensor, TensorSpec } from './tensor.js'
import {
  type BackendName,
  type DeviceOutput,
  type DeviceRun,
  type DeviceTensor,
  type Feeds,
  isDeviceTensor,
  type ModelSession,
  type Outputs,
} from './types.js'
import { validateFeeds } from './validate.js'

export class OrtBackedSession implements ModelSession {
  readonly inputs: readonly TensorSpec[]
  readonly outputs: readonly TensorSpec[]
  private closed = false
  private readonly deviceRun: DeviceRun | undefined

  /**
   * @param queue serialises runs: per session on the CPU, shared by every session of the
   *   onnxruntime-web instance (one wasm module, one GPU device) on wasm and webgpu.
   * @param generation for webgpu sessions, the GPU runtime generation of their device.
   */
  constructor(
    readonly backend: BackendName,
    private readonly ort: OrtModule,
    private readonly session: OrtSession,
    private readonly queue: SerialQueue,
    generation?: number,
  ) {
    this.inputs = specsFrom('input', session.inputMetadata)
    this.outputs = specsFrom('output', session.outputMetadata)
    if (generation !== undefined) this.deviceRun = { generation, run: (feeds) => this.runOnDevice(feeds) }
  }

  activeBackend(): BackendName {
    return this.backend
  }

  device(): DeviceRun | undefined {
    return this.deviceRun
  }

  async run(feeds: Feeds): Promise<Outputs> {
    const result = await this.runRaw(feeds)
    const out: Outputs = {}
    for (const [name, t] of Object.entries(result)) out[name] = await toHost(name, t)
    return out
  }

  private async runOnDevice(
    feeds: Record<string, HostTensor | DeviceTensor>,
  ): Promise<Record<string, DeviceOutput | HostTensor>> {
    const result = await this.runRaw(feeds)
    const out: Record<string, DeviceOutput | HostTensor> = {}
    for (const [name, t] of Object.entries(result)) {
      out[name] =
        t.location === 'gpu-buffer' && t.type === 'float32'
          ? { dtype: 'float32', dims: [...t.dims], buffer: t.gpuBuffer as GPUBuffer, dispose: () => t.dispose() }
          : await toHost(name, t)
    }
    return out
  }

  private async runRaw(feeds: Record<string, HostTensor | DeviceTensor>): Promise<Record<string, OrtTensor>> {
    if (this.closed) throw new SessionClosedError()
    validateFeeds(this.inputs, feeds)
    const ortFeeds: Record<string, OrtTensor> = {}
    for (const [name, t] of Object.entries(feeds)) {
      ortFeeds[name] = isDeviceTensor(t)
        ? this.ort.Tensor.fromGpuBuffer(t.buffer, { dataType: t.dtype as 'float32', dims: t.dims })
        : toOrtTensor(this.ort, t)
    }
    return this.queue.run(async () => {
      if (this.closed) throw new SessionClosedError()
      try {
        return (await this.session.run(ortFeeds)) as Record<string, OrtTensor>
      } catch (e) {
        throw runError(e, this.backend)
      }
    })
  }

  async release(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.queue.run(() => this.session.release())
  }
}

/** Copy an output to the host and free the runtime's copy (a GPU output is downloaded first). */
async function toHost(name: string, t: OrtTensor): Promise<HostTensor> {
  if (t.location !== 'gpu-buffer') {
    const host = fromOrtTensor(name, t)
    t.dispose()
    return host
  }
  const data = await t.getData(true) // download and release in one step
  return fromOrtTensor(name, { type: t.type, dims: t.dims, data } as OrtTensor)
}
