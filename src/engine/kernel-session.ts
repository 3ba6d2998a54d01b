/**
 * A model run by lastmile's own WGSL kernels instead of onnxruntime: the ONNX graph is compiled
 * once into a plan (src/engine/kernel-plan.ts: GEMMs, convolutions, pools, element-wise steps,
 * softmax, with biases, batch norms and activations folded in), its weights uploaded once, and
 * each run records every step into one command encoder. Intermediates are pooled buffers, reused
 * within the run once their last reader is recorded; batches too large for the device's largest
 * buffer run in chunks of rows.
 *
 * @example
 * const session = loadKernelSession(bytes, gpu.context())   // UnsupportedModelError if the plan cannot cover it
 * const out = await session.run({ x })
 */
import { InferenceError, InvalidInputError, SessionClosedError, UnsupportedModelError } from '../errors.js'
import type { GpuBatch, GpuContext } from '../gpu/context.js'
import type { Program } from '../gpu/program.js'
import { conv2dProgram } from '../kernels/conv2d.js'
import { eltwiseProgram } from '../kernels/eltwise.js'
import { gemmProgram } from '../kernels/gemm.js'
import { pool2dProgram } from '../kernels/pool2d.js'
import { softmaxProgram } from '../kernels/softmax.js'
import { readGraph } from '../onnx/graph.js'
import { planKernels } from './kernel-plan.js'
import type { KernelPlan, PlanStep } from './kernel-plan-types.js'
import type { Dim, HostTensor, TensorSpec } from './tensor.js'
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

/** A step's weights on the device. */
interface StepWeights {
  weight: GPUBuffer
  bias: GPUBuffer
}

type RunFeeds = Record<string, HostTensor | DeviceTensor>

/** Options of {@link loadKernelSession}. */
export interface KernelSessionOptions {
  /** Rows per chunk at most (tests force chunking with a small one); the device's limits decide otherwise. */
  chunkRows?: number
  /**
   * Use the subgroup GEMM: only where `subgroupGemmAgrees` (src/engine/subgroup-check.ts) found it
   * right on this device. False by default.
   */
  subgroups?: boolean
}

/**
 * Compile `bytes` into a plan of our kernels and upload its weights on `ctx`'s device. Throws
 * `UnsupportedModelError` naming the first operator or shape the kernels do not cover.
 */
export function loadKernelSession(bytes: Uint8Array, ctx: GpuContext, opts: KernelSessionOptions = {}): KernelSession {
  const graph = readGraph(bytes)
  const plan = planKernels(graph)
  if ('unsupported' in plan) {
    throw new UnsupportedModelError(`lastmile's kernels do not cover this model: ${plan.unsupported}`)
  }
  const infos = new Map([...graph.outputs, ...graph.inputs].map((v) => [v.name, v]))
  const dims = (name: string, fallback: readonly number[]): Dim[] => {
    const first = infos.get(name)?.dims[0]
    return [typeof first === 'number' || (typeof first === 'string' && first !== '') ? first : '?', ...fallback]
  }
  const specs = (values: KernelPlan['inputs']): TensorSpec[] =>
    values.map((v) => ({ name: v.name, dtype: 'float32', shape: dims(v.name, v.shape) }))
  return new KernelSession(plan, ctx, specs(plan.inputs), specs(plan.outputs), opts)
}

export class KernelSession implements ModelSession {
  readonly backend: BackendName = 'webgpu'
  private readonly weights = new Map<number, StepWeights>()
  private readonly lastUse = new Map<string, number>()
  private readonly inputNames: ReadonlySet<string>
  /** Rows per chunk: the largest batch whose every value fits the device's largest binding. */
  private readonly chunkRows: number
  /** The most bytes one buffer may hold and bind on this device. */
  private readonly limit: number
  private readonly subgroups: boolean
  private readonly deviceRun: DeviceRun
  private closed = false

  constructor(
    private readonly plan: KernelPlan,
    private readonly ctx: GpuContext,
    readonly inputs: readonly TensorSpec[],
    readonly outputs: readonly TensorSpec[],
    opts: KernelSessionOptions = {},
  ) {
    const { device } = ctx
    // The buffer pool rounds sizes up to a power of two: a chunk's buffers must fit after that.
    const limit = floorPow2(Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize))
    this.limit = limit
    const rowBytes = Math.max(...Object.values(plan.values).map((v) => perRow(v.shape) * 4))
    this.chunkRows = Math.min(Math.floor(limit / rowBytes), opts.chunkRows ?? Number.POSITIVE_INFINITY)
    if (this.chunkRows < 1) {
      throw new UnsupportedModelError(`one row needs ${rowBytes} bytes in a buffer; this GPU binds at most ${limit}`)
    }
    this.subgroups = (opts.subgroups ?? false) && device.features.has('subgroups')
    this.inputNames = new Set(plan.inputs.map((v) => v.name))
    plan.steps.forEach((step, i) => {
      for (const name of reads(step)) this.lastUse.set(this.resolve(name), i)
      if (step.op === 'gemm' || step.op === 'conv') {
        // A buffer past the device's limit is created invalid, and every run would read garbage.
        if (step.weight.byteLength > limit) {
          throw new UnsupportedModelError(
            `the ${step.op} writing '${step.output}' has ${step.weight.byteLength} bytes of weights; this GPU binds at most ${limit}`,
          )
        }
        this.weights.set(i, { weight: this.upload(step.weight, 'weight'), bias: this.upload(step.bias, 'bias') })
      }
    })
    this.deviceRun = { generation: ctx.generation, run: (feeds) => this.runOnDevice(feeds) }
  }

  activeBackend(): BackendName {
    return 'webgpu'
  }

  device(): DeviceRun {
    return this.deviceRun
  }

  async run(feeds: Feeds): Promise<Outputs> {
    const out = await this.runOnDevice(feeds)
    const onDevice = Object.entries(out) as [string, DeviceOutput][]
    try {
      const batch = this.ctx.batch('kernels: read outputs')
      const bytes = await batch.read(onDevice.map(([, t]) => ({ buffer: t.buffer, bytes: count(t.dims) * 4 })))
      return Object.fromEntries(
        onDevice.map(([name, t], i) => [
          name,
          { dtype: 'float32', dims: [...t.dims], data: new Float32Array(bytes[i] as ArrayBuffer) },
        ]),
      )
    } finally {
      for (const [, t] of onDevice) t.dispose()
    }
  }

  /** Run with inputs on the host or the device; every output is left on the device. */
  private async runOnDevice(feeds: RunFeeds): Promise<Record<string, DeviceOutput>> {
    if (this.closed) throw new SessionClosedError()
    validateFeeds(this.inputs, feeds)
    const rows = Object.values(feeds)[0]?.dims[0] ?? 0
    // Each input's batch dim may have its own name: the plan reads `rows` rows of every one.
    for (const [name, t] of Object.entries(feeds)) {
      if (t.dims[0] !== rows)
        throw new InvalidInputError(`input '${name}' has ${t.dims[0]} rows, other inputs have ${rows}`)
    }
    for (const v of this.plan.outputs) {
      const bytes = rows * perRow(v.shape) * 4
      if (bytes > this.limit) {
        throw new InvalidInputError(
          `${rows} rows need ${bytes} bytes for output '${v.name}'; this GPU holds at most ${this.limit} in one buffer: send at most ${Math.floor(this.limit / (perRow(v.shape) * 4))} rows at a time`,
        )
      }
    }
    if (rows === 0) {
      // No rows, no dispatch: empty outputs (onnxruntime answers a 0-row batch the same way).
      const batch = this.ctx.batch('kernels: no rows')
      const empty = new Map(this.plan.outputs.map((v) => [v.name, batch.output(4, v.name)]))
      await batch.submit()
      return await this.handOut(empty, 0)
    }
    if (rows <= this.chunkRows) {
      const batch = this.ctx.batch('kernels')
      const out = this.record(batch, feeds, 0, rows, true)
      await batch.submit()
      return await this.handOut(out, rows)
    }
    // Too many rows for one buffer: chunk by chunk, each output gathered into its own buffer.
    const first = this.ctx.batch('kernels: outputs')
    const gathered = new Map(
      this.plan.outputs.map((v) => [v.name, first.output(rows * perRow(v.shape) * 4, `output ${v.name}`)]),
    )
    await first.submit()
    try {
      await this.chunks(feeds, rows, gathered)
    } catch (e) {
      for (const b of gathered.values()) this.ctx.release(b)
      throw e
    }
    return await this.handOut(gathered, rows)
  }

  /** Run rows [0, rows) chunk by chunk, copying each chunk's outputs into `gathered`. */
  private async chunks(feeds: RunFeeds, rows: number, gathered: Map<string, GPUBuffer>): Promise<void> {
    for (let from = 0; from < rows; from += this.chunkRows) {
      // A release between chunks destroyed the weights the next chunk would read.
      if (this.closed) throw new SessionClosedError()
      const n = Math.min(this.chunkRows, rows - from)
      const batch = this.ctx.batch(`kernels: rows ${from}..${from + n}`)
      const out = this.record(batch, feeds, from, n, false)
      for (const v of this.plan.outputs) {
        const bytes = perRow(v.shape) * 4
        batch.encoder.copyBufferToBuffer(
          out.get(v.name) as GPUBuffer,
          0,
          gathered.get(v.name) as GPUBuffer,
          from * bytes,
          n * bytes,
        )
      }
      await batch.submit()
    }
  }

  /** Record every step for rows [from, from + n) of `feeds`; returns the graph outputs' buffers. */
  private record(batch: GpuBatch, feeds: RunFeeds, from: number, n: number, keep: boolean): Map<string, GPUBuffer> {
    const live = new Map<string, GPUBuffer>()
    for (const v of this.plan.inputs) live.set(v.name, this.inputBuffer(batch, feeds[v.name], v.shape, from, n))
    const outputs = new Set(this.plan.outputs.map((v) => this.resolve(v.name)))
    const spare: GPUBuffer[] = []
    this.plan.steps.forEach((step, i) => {
      const bytes = n * perRow((this.plan.values[step.output] ?? { shape: [] }).shape) * 4
      const keepIt = keep && outputs.has(step.output)
      const at = spare.findIndex((b) => b.size >= bytes)
      const out = keepIt
        ? batch.output(bytes, step.output)
        : at >= 0
          ? (spare.splice(at, 1)[0] as GPUBuffer)
          : batch.scratch(bytes, step.output)
      batch.dispatch(this.program(step, i, n, live, out))
      live.set(step.output, out)
      // Buffers whose last reader is now recorded serve later steps (passes run in order); a value
      // the step reads twice (Add(h, h), or through an alias) is freed once.
      for (const r of new Set(reads(step).map((name) => this.resolve(name)))) {
        if (this.lastUse.get(r) === i && !outputs.has(r) && !this.inputNames.has(r)) {
          const b = live.get(r)
          if (b) spare.push(b)
        }
      }
    })
    return new Map(this.plan.outputs.map((v) => [v.name, live.get(this.resolve(v.name)) as GPUBuffer]))
  }

  private inputBuffer(
    batch: GpuBatch,
    t: HostTensor | DeviceTensor | undefined,
    shape: readonly number[],
    from: number,
    n: number,
  ): GPUBuffer {
    if (!t) throw new InferenceError('an input is missing')
    const per = perRow(shape)
    if (!isDeviceTensor(t))
      return batch.upload((t.data as Float32Array).subarray(from * per, (from + n) * per), 'input')
    if (from === 0 && count(t.dims) === n * per) return t.buffer
    const b = batch.scratch(n * per * 4, 'input rows')
    batch.encoder.copyBufferToBuffer(t.buffer, from * per * 4, b, 0, n * per * 4)
    return b
  }

  private program(step: PlanStep, i: number, rows: number, live: Map<string, GPUBuffer>, out: GPUBuffer): Program {
    const buf = (name: string): GPUBuffer => {
      const b = live.get(this.resolve(name))
      if (!b) throw new InferenceError(`kernel plan: value '${name}' is read before it is written`)
      return b
    }
    const w = this.weights.get(i) as StepWeights
    switch (step.op) {
      case 'gemm':
        return gemmProgram({
          m: rows,
          n: step.n,
          k: step.k,
          a: buf(step.input),
          b: w.weight,
          bias: w.bias,
          out,
          activation: step.activation,
          subgroups: this.subgroups,
        })
      case 'conv': {
        const { op: _op, input, output: _out, outH: _h, outW: _w, weight: _wt, bias: _b, residual, ...shape } = step
        return conv2dProgram({
          ...shape,
          batch: rows,
          input: buf(input),
          weight: w.weight,
          bias: w.bias,
          ...(residual ? { residual: buf(residual) } : {}),
          out,
        })
      }
      case 'pool': {
        const { op: _op, input, output: _out, outH: _h, outW: _w, ...shape } = step
        return pool2dProgram({ ...shape, batch: rows, input: buf(input), out })
      }
      case 'eltwise':
        return eltwiseProgram({
          count: rows * step.count,
          a: buf(step.a),
          ...(step.b ? { b: buf(step.b) } : {}),
          out,
          activation: step.activation,
        })
      case 'softmax': {
        const total = rows * perRow((this.plan.values[step.input] ?? { shape: [] }).shape)
        return softmaxProgram({ rows: total / step.cols, cols: step.cols, logits: buf(step.input), probs: out })
      }
    }
  }

  /** Hand the outputs out; a value named by two outputs gets a copy for the second. */
  private async handOut(buffers: Map<string, GPUBuffer>, rows: number): Promise<Record<string, DeviceOutput>> {
    const given = new Set<GPUBuffer>()
    const out: [string, DeviceOutput][] = [] // entries, not `out[name] =`: an output may be named __proto__
    for (const v of this.plan.outputs) {
      let buffer = buffers.get(v.name) as GPUBuffer
      const bytes = rows * perRow(v.shape) * 4
      if (given.has(buffer)) {
        const copy = this.ctx.batch('kernels: duplicate output')
        const dst = copy.output(bytes, v.name)
        copy.encoder.copyBufferToBuffer(buffer, 0, dst, 0, bytes)
        await copy.submit()
        buffer = dst
      }
      given.add(buffer)
      const b = buffer
      out.push([v.name, { dtype: 'float32', dims: [rows, ...v.shape], buffer: b, dispose: () => this.ctx.release(b) }])
    }
    return Object.fromEntries(out)
  }

  private resolve(name: string): string {
    let n = name
    for (let i = 0; i < 1000 && this.plan.aliases[n] !== undefined; i++) n = this.plan.aliases[n] as string
    return n
  }

  private upload(data: Float32Array, label: string): GPUBuffer {
    const buffer = this.ctx.device.createBuffer({
      label: `kernels: ${label}`,
      size: Math.max(4, data.byteLength),
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
      mappedAtCreation: true,
    })
    new Float32Array(buffer.getMappedRange()).set(data)
    buffer.unmap()
    return buffer
  }

  async release(): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const w of this.weights.values()) {
      w.weight.destroy()
      w.bias.destroy()
    }
    this.weights.clear()
  }
}

/** The values a step reads. */
function reads(step: PlanStep): string[] {
  switch (step.op) {
    case 'eltwise':
      return step.b ? [step.a, step.b] : [step.a]
    case 'conv':
      return step.residual ? [step.input, step.residual] : [step.input]
    default:
      return [step.input]
  }
}

function perRow(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1)
}

/** The largest power of two ≤ `n` (n ≥ 1). */
function floorPow2(n: number): number {
  return 2 ** Math.floor(Math.log2(n))
}

function count(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1)
}
