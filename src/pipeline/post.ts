/**
 * A resolved post-processing step over one model output [N] or [N, C]: an activation (its result
 * is `scores`), then a label (argmax or threshold) and/or top-k, with optional class names.
 * Runs on the CPU or as dispatches in a GPU batch, with the same results.
 */

import type { AnyTensor, ColumnSpec, Dim, HostTensor } from '../engine/tensor.js'
import type { DeviceTensor, ModelSession } from '../engine/types.js'
import { InferenceError, InvalidConfigError } from '../errors.js'
import type { GpuBatch, ReadRequest } from '../gpu/context.js'
import { argmaxCpu, argmaxProgram } from '../kernels/argmax.js'
import { sigmoidCpu, sigmoidProgram } from '../kernels/sigmoid.js'
import { softmaxCpu, softmaxProgram } from '../kernels/softmax.js'
import { checkK, topkCpu, topkProgram } from '../kernels/topk.js'
import type { PostSpec } from './spec.js'

export type { AnyTensor, StringTensor } from '../engine/tensor.js'

export type OutputSpec = ColumnSpec

export interface PostStep {
  /** The model output it reads. */
  readonly input: string
  readonly outputs: readonly OutputSpec[]
  cpu(scores: HostTensor): Record<string, AnyTensor>
  /** Record the dispatches; read `requests` back in one go and pass the bytes to `assemble`. */
  encode(
    batch: GpuBatch,
    src: DeviceTensor,
  ): { requests: ReadRequest[]; assemble(bytes: ArrayBuffer[]): Record<string, AnyTensor> }
}

export function resolvePost(spec: PostSpec, model: ModelSession): PostStep {
  const source = spec.input
    ? model.outputs.find((o) => o.name === spec.input)
    : model.outputs.find((o) => o.dtype === 'float32')
  if (!source) {
    throw new InvalidConfigError(
      spec.input
        ? `post step: the model has no output '${spec.input}' (outputs: ${model.outputs.map((o) => o.name).join(', ')})`
        : 'post step: the model has no float32 output to post-process',
    )
  }
  if (source.dtype !== 'float32' || source.shape.length > 2) {
    throw new InvalidConfigError(
      `post step: output '${source.name}' must be float32 [N] or [N, C], it is ${source.dtype} [${source.shape.join(',')}]`,
    )
  }
  const N = source.shape[0] ?? 'N'
  const C = source.shape.length === 2 ? (source.shape[1] as Dim) : 1
  const label = spec.argmax || spec.threshold !== undefined
  if (spec.activation === 'softmax' && C === 1)
    throw new InvalidConfigError('post step: softmax over one column is always 1; use sigmoid')
  if (spec.labels && !label && !spec.topk)
    throw new InvalidConfigError('post step: labels need argmax, threshold or topk')
  if (typeof C === 'number' && C >= 0) {
    checkLabels(spec, C)
    if (spec.topk !== undefined) checkK(spec.topk, C)
  }
  const outputs: OutputSpec[] = []
  if (spec.activation !== 'none') outputs.push({ name: 'scores', dtype: 'float32', shape: [N, C] })
  if (label) outputs.push({ name: 'label', dtype: 'int32', shape: [N] })
  if (label && spec.labels) outputs.push({ name: 'label_name', dtype: 'string', shape: [N] })
  if (spec.topk) {
    outputs.push({ name: 'topk_index', dtype: 'int32', shape: [N, spec.topk] })
    outputs.push({ name: 'topk_score', dtype: 'float32', shape: [N, spec.topk] })
    if (spec.labels) outputs.push({ name: 'topk_label', dtype: 'string', shape: [N, spec.topk] })
  }
  for (const o of outputs) {
    if (model.outputs.some((m) => m.name === o.name)) {
      throw new InvalidConfigError(
        `post step: its output '${o.name}' has the name of a model output; rename the model output`,
      )
    }
  }
  return new Post(spec, source.name, outputs)
}

function checkLabels(spec: PostSpec, cols: number): void {
  if (!spec.labels) return
  const want = cols === 1 ? 2 : cols
  if (spec.labels.length !== want) {
    throw new InvalidConfigError(`post step: ${spec.labels.length} labels for ${cols} column(s); expected ${want}`)
  }
}

function shapeOf(t: { dims: readonly number[] }): { rows: number; cols: number } {
  if (t.dims.length < 1 || t.dims.length > 2)
    throw new InferenceError(`post step: model output has shape [${t.dims.join(',')}], expected [N] or [N, C]`)
  return { rows: t.dims[0] as number, cols: t.dims.length === 2 ? (t.dims[1] as number) : 1 }
}

class Post implements PostStep {
  constructor(
    private readonly spec: PostSpec,
    readonly input: string,
    readonly outputs: OutputSpec[],
  ) {}

  private get wantsLabel(): boolean {
    return this.spec.argmax || this.spec.threshold !== undefined
  }

  cpu(src: HostTensor): Record<string, AnyTensor> {
    const { rows, cols } = shapeOf(src)
    checkLabels(this.spec, cols)
    const raw = src.data as Float32Array
    const scores =
      this.spec.activation === 'softmax'
        ? softmaxCpu(raw, rows, cols)
        : this.spec.activation === 'sigmoid'
          ? sigmoidCpu(raw)
          : raw
    const out: Record<string, AnyTensor> = {}
    if (this.spec.activation !== 'none') out.scores = { dtype: 'float32', dims: [rows, cols], data: scores }
    if (this.wantsLabel)
      out.label = { dtype: 'int32', dims: [rows], data: argmaxCpu(scores, rows, cols, this.spec.threshold) }
    if (this.spec.topk) {
      const k = this.spec.topk
      const t = topkCpu(scores, rows, cols, k)
      out.topk_index = { dtype: 'int32', dims: [rows, k], data: t.indices }
      out.topk_score = { dtype: 'float32', dims: [rows, k], data: t.values }
    }
    return this.names(out)
  }

  encode(batch: GpuBatch, src: DeviceTensor) {
    const { rows, cols } = shapeOf(src)
    checkLabels(this.spec, cols)
    const requests: ReadRequest[] = []
    const kinds: string[] = []
    let scores = src.buffer
    const bytes = rows * cols * 4
    if (this.spec.activation !== 'none') {
      const dst = batch.scratch(bytes, 'scores')
      batch.dispatch(
        this.spec.activation === 'softmax'
          ? softmaxProgram({ rows, cols, logits: scores, probs: dst })
          : sigmoidProgram({ count: rows * cols, values: scores, result: dst }),
      )
      scores = dst
      requests.push({ buffer: dst, bytes })
      kinds.push('scores')
    }
    if (this.wantsLabel) {
      const labels = batch.scratch(rows * 4, 'label')
      batch.dispatch(
        argmaxProgram({
          rows,
          cols,
          scores,
          labels,
          ...(this.spec.threshold === undefined ? {} : { threshold: this.spec.threshold }),
        }),
      )
      requests.push({ buffer: labels, bytes: rows * 4 })
      kinds.push('label')
    }
    const k = this.spec.topk
    if (k) {
      const indices = batch.scratch(rows * k * 4, 'topk index')
      const values = batch.scratch(rows * k * 4, 'topk score')
      batch.dispatch(topkProgram({ rows, cols, k, scores, indices, values }))
      requests.push({ buffer: indices, bytes: rows * k * 4 }, { buffer: values, bytes: rows * k * 4 })
      kinds.push('topk_index', 'topk_score')
    }
    const assemble = (buffers: ArrayBuffer[]): Record<string, AnyTensor> => {
      const out: Record<string, AnyTensor> = {}
      kinds.forEach((kind, i) => {
        const b = buffers[i] as ArrayBuffer
        if (kind === 'scores') out.scores = { dtype: 'float32', dims: [rows, cols], data: new Float32Array(b) }
        else if (kind === 'label') out.label = { dtype: 'int32', dims: [rows], data: new Int32Array(b) }
        else if (kind === 'topk_index')
          out.topk_index = { dtype: 'int32', dims: [rows, k as number], data: new Int32Array(b) }
        else out.topk_score = { dtype: 'float32', dims: [rows, k as number], data: new Float32Array(b) }
      })
      return this.names(out)
    }
    return { requests, assemble }
  }

  /** Add the class-name outputs. */
  private names(out: Record<string, AnyTensor>): Record<string, AnyTensor> {
    const labels = this.spec.labels
    if (!labels) return out
    const name = (i: number) => (i >= 0 ? (labels[i] ?? '') : '')
    if (out.label)
      out.label_name = { dtype: 'string', dims: out.label.dims, data: Array.from(out.label.data as Int32Array, name) }
    if (out.topk_index) {
      out.topk_label = {
        dtype: 'string',
        dims: out.topk_index.dims,
        data: Array.from(out.topk_index.data as Int32Array, name),
      }
    }
    return out
  }
}
