/**
 * A resolved pre-processing step: which request input it reads, which model input it feeds, and
 * how to run it on the CPU or record it into a GPU batch (same results either way).
 */

import type { HostTensor, TensorSpec } from '../engine/tensor.js'
import type { DeviceTensor, ModelSession } from '../engine/types.js'
import { InvalidConfigError } from '../errors.js'
import type { GpuBatch } from '../gpu/context.js'
import { checkImageShape, checkImageSpec, type ImageSpec, imageCpu, imageProgram } from '../kernels/image-preprocess.js'
import { type CompiledTabular, compileTabular, tabularCpu, tabularProgram } from '../kernels/tabular-preprocess.js'
import type { PreSpec } from './spec.js'

export interface PreStep {
  /** The request input the step reads. */
  readonly input: TensorSpec
  /** The model input it produces. */
  readonly output: string
  /** Per column of the raw input's rows: whether the step replaces NaN there (tabular `impute`). */
  readonly imputed?: readonly boolean[]
  cpu(raw: HostTensor): HostTensor
  /** Record upload and dispatch; the result buffer is the batch's `output()`, the caller releases it. */
  encode(batch: GpuBatch, raw: HostTensor): DeviceTensor
}

function pickInput(model: ModelSession, wanted: string | undefined, rank: number, kind: string): TensorSpec {
  if (wanted) {
    const spec = model.inputs.find((i) => i.name === wanted)
    if (!spec)
      throw new InvalidConfigError(
        `${kind} step: the model has no input '${wanted}' (inputs: ${model.inputs.map((i) => i.name).join(', ')})`,
      )
    return spec
  }
  const candidates = model.inputs.filter((i) => i.dtype === 'float32' && i.shape.length === rank)
  if (candidates.length !== 1) {
    throw new InvalidConfigError(
      `${kind} step: name the model input to feed with "output" (${candidates.length} float32 rank-${rank} inputs)`,
    )
  }
  return candidates[0] as TensorSpec
}

export function resolvePre(spec: PreSpec, model: ModelSession): PreStep {
  return 'tabular' in spec ? tabularStep(spec.tabular, model) : imageStep(spec.image, model)
}

function tabularStep(s: Extract<PreSpec, { tabular: unknown }>['tabular'], model: ModelSession): PreStep {
  const target = pickInput(model, s.output, 2, 'tabular')
  const plan: CompiledTabular = compileTabular({ features: s.features })
  const width = target.shape[1]
  if (typeof width === 'number' && width >= 0 && width !== plan.outCols) {
    throw new InvalidConfigError(
      `tabular step: produces ${plan.outCols} columns but model input '${target.name}' expects [${target.shape.join(',')}]`,
    )
  }
  const input: TensorSpec = {
    name: s.input ?? target.name,
    dtype: 'float32',
    shape: [target.shape[0] ?? 'N', plan.inCols],
  }
  const rows = (raw: HostTensor) => raw.dims[0] as number
  return {
    input,
    output: target.name,
    imputed: s.features.map((f) => f.impute !== undefined),
    cpu: (raw) => ({
      dtype: 'float32',
      dims: [rows(raw), plan.outCols],
      data: tabularCpu(raw.data as Float32Array, rows(raw), plan),
    }),
    encode(batch, raw) {
      const n = rows(raw)
      const features = batch.output(n * plan.outCols * 4, 'tabular features')
      batch.dispatch(
        tabularProgram({
          rows: n,
          plan,
          raw: batch.upload(raw.data, 'tabular raw'),
          columns: batch.upload(new Uint8Array(plan.recipes), 'tabular recipes'),
          features,
        }),
      )
      return { dtype: 'float32', dims: [n, plan.outCols], buffer: features }
    },
  }
}

function imageStep(s: Extract<PreSpec, { image: unknown }>['image'], model: ModelSession): PreStep {
  const target = pickInput(model, s.output, 4, 'image')
  const spec: ImageSpec = { height: s.height, width: s.width, scale: s.scale, mean: s.mean, std: s.std, bgr: s.bgr }
  checkImageSpec(spec)
  const [, c, h, w] = target.shape
  const fixed = (d: unknown, v: number) => typeof d !== 'number' || d < 0 || d === v
  if (!fixed(c, 3) || !fixed(h, spec.height) || !fixed(w, spec.width)) {
    throw new InvalidConfigError(
      `image step: produces [N,3,${spec.height},${spec.width}] but model input '${target.name}' expects [${target.shape.join(',')}]`,
    )
  }
  const input: TensorSpec = {
    name: s.input ?? target.name,
    dtype: 'uint8',
    shape: [target.shape[0] ?? 'N', '?', '?', '?'],
  }
  const outDims = (images: number) => [images, 3, spec.height, spec.width]
  return {
    input,
    output: target.name,
    cpu(raw) {
      const shape = checkImageShape(raw.dims)
      return { dtype: 'float32', dims: outDims(shape.images), data: imageCpu(raw.data as Uint8Array, shape, spec) }
    },
    encode(batch, raw) {
      const shape = checkImageShape(raw.dims)
      const dims = outDims(shape.images)
      const tensor = batch.output(
        dims.reduce((a, b) => a * b, 4),
        'image tensor',
      )
      batch.dispatch(imageProgram({ shape, spec, pixels: batch.upload(raw.data, 'image pixels'), tensor }))
      return { dtype: 'float32', dims, buffer: tensor }
    },
  }
}
