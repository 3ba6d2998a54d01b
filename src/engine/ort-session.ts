/**
 * A ModelSession over an onnxruntime InferenceSession (node or web): validates inputs, queues
 * runs, converts tensors at the edge and types the errors.
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
import type { TensorSpec } from './tensor.js'
import type { BackendName, Feeds, ModelSession, Outputs } from './types.js'
import { validateFeeds } from './validate.js'

export class OrtBackedSession implements ModelSession {
  readonly inputs: readonly TensorSpec[]
  readonly outputs: readonly TensorSpec[]
  private closed = false

  /**
   * @param queue serialises runs: per session on the CPU, shared by every session of the
   *   onnxruntime-web instance (one wasm module, one GPU device) on wasm and webgpu.
   */
  constructor(
    readonly backend: BackendName,
    private readonly ort: OrtModule,
    private readonly session: OrtSession,
    private readonly queue: SerialQueue,
  ) {
    this.inputs = specsFrom('input', session.inputMetadata)
    this.outputs = specsFrom('output', session.outputMetadata)
  }

  activeBackend(): BackendName {
    return this.backend
  }

  async run(feeds: Feeds): Promise<Outputs> {
    if (this.closed) throw new SessionClosedError()
    validateFeeds(this.inputs, feeds)
    const ortFeeds: Record<string, OrtTensor> = {}
    for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = toOrtTensor(this.ort, t)
    return this.queue.run(async () => {
      if (this.closed) throw new SessionClosedError()
      let result: Record<string, OrtTensor>
      try {
        result = (await this.session.run(ortFeeds)) as Record<string, OrtTensor>
      } catch (e) {
        throw runError(e, this.backend)
      }
      const out: Outputs = {}
      for (const [name, t] of Object.entries(result)) {
        out[name] = fromOrtTensor(name, t)
        t.dispose()
      }
      return out
    })
  }

  async release(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.queue.run(() => this.session.release())
  }
}
