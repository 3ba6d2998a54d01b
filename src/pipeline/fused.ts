/**
 * pre → model → post as one unit. On the GPU the data stays on the device between the three:
 * one upload of the raw batch, our pre kernel writes the model's input buffer, onnxruntime-web
 * reads it (`Tensor.fromGpuBuffer`) and leaves its outputs in GPU buffers, our post kernels read
 * those, and one staging buffer brings every answer back. On the cpu/wasm backends (or while a
 * lost GPU is replaced by the CPU) the same steps run as CPU code with the same results.
 *
 * @example
 * const fused = FusedModel.create(session, { post: { activation: 'softmax', argmax: true } }, gpu)
 * const out = await fused.run({ x })   // out.scores, out.label, and the model's own outputs
 */

import type { HostTensor, TensorSpec } from '../engine/tensor.js'
import type { DeviceOutput, DeviceRun, DeviceTensor, Feeds, ModelSession } from '../engine/types.js'
import { validateFeeds } from '../engine/validate.js'
import { InferenceError } from '../errors.js'
import type { GpuContext, ReadRequest } from '../gpu/context.js'
import type { GpuRuntime } from '../gpu/index.js'
import { type AnyTensor, type OutputSpec, type PostStep, resolvePost } from './post.js'
import { type PreStep, resolvePre } from './pre.js'
import { type PostSpecInput, type PreSpecInput, postSpecSchema, preSpecSchema } from './spec.js'

export interface FusedSteps {
  pre?: PreSpecInput
  post?: PostSpecInput
}

export type FusedOutputs = Record<string, AnyTensor>

/** Milliseconds spent in each stage of a run. */
export interface StageTimings {
  pre: number
  model: number
  post: number
}

export class FusedModel {
  /** Request inputs: the model's, with the pre step's raw input in place of the one it feeds. */
  readonly inputs: readonly TensorSpec[]
  /** The model's outputs, then the post step's. */
  readonly outputs: readonly OutputSpec[]

  private constructor(
    readonly session: ModelSession,
    private readonly pre: PreStep | undefined,
    private readonly post: PostStep | undefined,
    private readonly gpu: GpuRuntime | undefined,
  ) {
    this.inputs = session.inputs.map((i) => (pre && i.name === pre.output ? pre.input : i))
    this.outputs = [...session.outputs, ...(post?.outputs ?? [])]
  }

  /**
   * Per row column of request input `name`, whether NaN there is handled (the pre step imputes
   * it); undefined when the input reaches the model, or the step, as it is.
   */
  imputed(name: string): readonly boolean[] | undefined {
    return this.pre && this.pre.input.name === name ? this.pre.imputed : undefined
  }

  /** Parse and resolve the steps against the model. Throws `InvalidConfigError` naming the problem. */
  static create(session: ModelSession, steps: FusedSteps, gpu?: GpuRuntime): FusedModel {
    const pre = steps.pre === undefined ? undefined : resolvePre(preSpecSchema.parse(steps.pre), session)
    const post = steps.post === undefined ? undefined : resolvePost(postSpecSchema.parse(steps.post), session)
    return new FusedModel(session, pre, post, gpu)
  }

  /** Where the next run goes: the GPU-resident path, or the CPU steps. */
  path(): 'gpu' | 'cpu' {
    return this.gpuTarget() ? 'gpu' : 'cpu'
  }

  async run(feeds: Feeds): Promise<FusedOutputs> {
    return (await this.runTimed(feeds)).outputs
  }

  /**
   * Run and report milliseconds per stage. On the GPU path `pre` and `model` are the time to
   * record and submit their work, and `post` includes waiting for all of it to finish.
   */
  async runTimed(feeds: Feeds): Promise<{ outputs: FusedOutputs; timings: StageTimings }> {
    validateFeeds(this.inputs, feeds)
    const timings: StageTimings = { pre: 0, model: 0, post: 0 }
    const target = this.gpuTarget()
    if (!target) return { outputs: await this.runCpu(feeds, timings), timings }
    try {
      return { outputs: await this.runGpu(feeds, target.device, target.ctx, timings), timings }
    } catch (e) {
      // A device lost mid-batch: the session has already moved to the CPU; answer from there.
      if (this.gpu?.state !== 'ready') return { outputs: await this.runCpu(feeds, timings), timings }
      throw e
    }
  }

  private gpuTarget(): { device: DeviceRun; ctx: GpuContext } | undefined {
    const device = this.session.device?.()
    if (!device || !this.gpu || this.gpu.state !== 'ready' || this.gpu.generation !== device.generation)
      return undefined
    return { device, ctx: this.gpu.context() }
  }

  private async runCpu(feeds: Feeds, timings: StageTimings): Promise<FusedOutputs> {
    let t0 = performance.now()
    const modelFeeds: Feeds = { ...feeds }
    if (this.pre) {
      delete modelFeeds[this.pre.input.name]
      modelFeeds[this.pre.output] = this.pre.cpu(feeds[this.pre.input.name] as HostTensor)
    }
    const t1 = performance.now()
    timings.pre = t1 - t0
    const out: FusedOutputs = await this.session.run(modelFeeds)
    t0 = performance.now()
    timings.model = t0 - t1
    if (this.post) Object.assign(out, this.post.cpu(out[this.post.input] as HostTensor))
    timings.post = performance.now() - t0
    return out
  }

  private async runGpu(feeds: Feeds, device: DeviceRun, ctx: GpuContext, timings: StageTimings): Promise<FusedOutputs> {
    const t0 = performance.now()
    const modelFeeds: Record<string, HostTensor | DeviceTensor> = { ...feeds }
    let preOut: DeviceTensor | undefined
    if (this.pre) {
      const batch = ctx.batch('pre')
      preOut = this.pre.encode(batch, feeds[this.pre.input.name] as HostTensor)
      await batch.submit()
      delete modelFeeds[this.pre.input.name]
      modelFeeds[this.pre.output] = preOut
    }
    const t1 = performance.now()
    timings.pre = t1 - t0
    let modelOut: Record<string, DeviceOutput | HostTensor> | undefined
    try {
      modelOut = await device.run(modelFeeds)
      const t2 = performance.now()
      timings.model = t2 - t1
      const batch = ctx.batch('post')
      const onDevice = Object.entries(modelOut).filter((e): e is [string, DeviceOutput] => 'buffer' in e[1])
      const requests: ReadRequest[] = onDevice.map(([, t]) => ({ buffer: t.buffer, bytes: count(t.dims) * 4 }))
      let post: ReturnType<PostStep['encode']> | undefined
      if (this.post) {
        const src = modelOut[this.post.input]
        if (!src) throw new InferenceError(`post step: the model returned no '${this.post.input}'`)
        // A host tensor here means the runtime kept this output on the CPU: upload it.
        const dev = 'buffer' in src ? src : { ...src, buffer: batch.upload(src.data, 'post input') }
        post = this.post.encode(batch, dev)
        requests.push(...post.requests)
      }
      const bytes = await batch.read(requests)
      const out: FusedOutputs = {}
      for (const [name, t] of Object.entries(modelOut)) if (!('buffer' in t)) out[name] = t
      onDevice.forEach(([name, t], i) => {
        out[name] = { dtype: 'float32', dims: [...t.dims], data: new Float32Array(bytes[i] as ArrayBuffer) }
      })
      if (post) Object.assign(out, post.assemble(bytes.slice(onDevice.length)))
      timings.post = performance.now() - t2
      return out
    } finally {
      for (const t of Object.values(modelOut ?? {})) if ('dispose' in t) t.dispose()
      if (preOut) ctx.release(preOut.buffer)
    }
  }
}

function count(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1)
}
