/**
 * The Open Inference Protocol v2 (KServe / Triton REST) request and response bodies, including the
 * binary tensor data extension: a JSON header of `Inference-Header-Content-Length` bytes followed by
 * raw little-endian tensor bytes for inputs/outputs carrying `parameters.binary_data_size`.
 * https://kserve.github.io/website/docs/concepts/architecture/data-plane/v2-protocol
 */
import {
  type AnyTensor,
  bytesPerElement,
  type ColumnSpec,
  type Dim,
  type DType,
  formatShape,
  type HostTensor,
  type TensorSpec,
  zeros,
} from '../engine/tensor.js'
import type { Columns } from '../engine/types.js'
import { InvalidInputError, InvalidRequestError } from '../errors.js'
import type { OutputSpec } from '../pipeline/post.js'
import { type DecodeLimits, MAX_RANK, preview, shapeElements, TensorBudget, UNLIMITED } from './limits.js'
import { jsonValues, stringsFromJson, tensorFromJson } from './values.js'

export const OIP_DATATYPE: Record<DType | 'string', string> = {
  float32: 'FP32',
  float64: 'FP64',
  float16: 'FP16',
  int8: 'INT8',
  uint8: 'UINT8',
  int16: 'INT16',
  uint16: 'UINT16',
  int32: 'INT32',
  uint32: 'UINT32',
  int64: 'INT64',
  uint64: 'UINT64',
  bool: 'BOOL',
  string: 'BYTES',
}
const FROM_DATATYPE = new Map(Object.entries(OIP_DATATYPE).map(([d, t]) => [t, d as DType | 'string']))

export interface OipRequest {
  id?: string
  feeds: Columns
  /** Outputs asked for (all when undefined), and which to send as binary. */
  outputs?: Array<{ name: string; binary: boolean }>
  /** `parameters.binary_data_output`: every output as binary. */
  binaryAll: boolean
}

/** OIP metadata shape: symbolic dims are -1. */
export function oipShape(shape: readonly Dim[]): number[] {
  return shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1))
}

/** `{name, datatype, shape}` for model metadata. */
export function oipTensorMetadata(spec: TensorSpec | OutputSpec) {
  return { name: spec.name, datatype: OIP_DATATYPE[spec.dtype], shape: oipShape(spec.shape) }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/**
 * The JSON header and the binary part of a body sent with `Inference-Header-Content-Length`
 * (`headerLength`, the header's raw value): a decimal byte count within the body.
 */
export function splitBinaryBody(bytes: Uint8Array, headerLength: string): { header: Uint8Array; binary: Uint8Array } {
  const n = /^\d{1,15}$/.test(headerLength.trim()) ? Number(headerLength) : Number.NaN
  if (!(n <= bytes.length)) {
    throw new InvalidRequestError(
      `Inference-Header-Content-Length is ${preview(headerLength)}; expected a byte count from 0 to the body's ${bytes.length} bytes`,
    )
  }
  return { header: bytes.subarray(0, n), binary: bytes.subarray(n) }
}

/**
 * Decode a request body (JSON header plus, with the binary extension, the bytes after it).
 * Datatypes must equal the model's (`specs`); names and shapes are checked by the deployment.
 * Every shape is checked against the data present and `limits` before its tensor is allocated.
 */
export function decodeOipRequest(
  header: unknown,
  binary: Uint8Array | undefined,
  specs: readonly ColumnSpec[],
  limits: DecodeLimits = UNLIMITED,
): OipRequest {
  if (!isObject(header))
    throw new InvalidRequestError('the body must be an OIP v2 inference request: a JSON object with "inputs"')
  const { id, inputs, outputs, parameters } = header
  if (id !== undefined && typeof id !== 'string') throw new InvalidRequestError('"id" must be a string')
  if (!Array.isArray(inputs) || inputs.length === 0)
    throw new InvalidRequestError('"inputs" must be a non-empty array of tensors')
  const budget = new TensorBudget(limits.maxTensorBytes)
  // A Map, then own properties: an input named __proto__ must stay an input the deployment refuses.
  const feeds = new Map<string, AnyTensor>()
  let offset = 0
  inputs.forEach((input, i) => {
    if (!isObject(input))
      throw new InvalidRequestError(`inputs[${i}] must be an object with name, shape, datatype and data`)
    const { name, shape, datatype, data } = input
    if (typeof name !== 'string' || name === '')
      throw new InvalidRequestError(`inputs[${i}].name must be a non-empty string`)
    if (feeds.has(name)) throw new InvalidRequestError(`input '${name}' appears twice`)
    if (
      !Array.isArray(shape) ||
      shape.length > MAX_RANK ||
      !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)
    ) {
      throw new InvalidRequestError(
        `input '${name}': "shape" must be an array of at most ${MAX_RANK} non-negative integers, got ${preview(shape)}`,
      )
    }
    const dtype = typeof datatype === 'string' ? FROM_DATATYPE.get(datatype) : undefined
    if (!dtype)
      throw new InvalidRequestError(
        `input '${name}': unknown datatype ${preview(datatype)}; expected one of ${[...FROM_DATATYPE.keys()].join(', ')}`,
      )
    const spec = specs.find((s) => s.name === name)
    const dims = shape as number[]
    const what = `input '${name}'`
    if (spec?.dtype === 'string') {
      // A routing key column: BYTES, or numbers read as their decimal text.
      if (data === undefined)
        throw new InvalidRequestError(`input '${name}' needs JSON "data" (a key column cannot be binary)`)
      feeds.set(name, stringsFromJson(dims, data, what, budget))
      return
    }
    if (spec && spec.dtype !== dtype) {
      throw new InvalidInputError(
        `input '${name}' has datatype ${datatype}, the model expects ${OIP_DATATYPE[spec.dtype]}`,
      )
    }
    if (dtype === 'string')
      throw new InvalidInputError(`input '${name}': BYTES inputs are only accepted for routing key columns`)
    const size = isObject(input.parameters) ? input.parameters.binary_data_size : undefined
    if (size !== undefined) {
      if (!binary)
        throw new InvalidRequestError(`input '${name}' has binary_data_size but the request has no binary part`)
      if (!Number.isSafeInteger(size) || (size as number) < 0) {
        throw new InvalidRequestError(
          `input '${name}': parameters.binary_data_size must be a non-negative integer, got ${preview(size)}`,
        )
      }
      feeds.set(name, binaryTensor(name, dtype, dims, binary, offset, size as number, budget))
      offset += size as number
    } else {
      if (data === undefined) throw new InvalidRequestError(`input '${name}' has no "data" (nor binary_data_size)`)
      feeds.set(name, tensorFromJson(dtype, dims, data, what, budget))
    }
  })
  if (binary && offset !== binary.length) {
    throw new InvalidRequestError(`the binary part has ${binary.length} bytes but inputs declare ${offset}`)
  }
  let requested: OipRequest['outputs']
  if (outputs !== undefined) {
    if (!Array.isArray(outputs)) throw new InvalidRequestError('"outputs" must be an array')
    requested = outputs.map((o, i) => {
      if (!isObject(o) || typeof o.name !== 'string')
        throw new InvalidRequestError(`outputs[${i}] must be an object with a name`)
      return { name: o.name, binary: isObject(o.parameters) && o.parameters.binary_data === true }
    })
  }
  const binaryAll = isObject(parameters) && parameters.binary_data_output === true
  return {
    ...(typeof id === 'string' ? { id } : {}),
    feeds: Object.fromEntries(feeds),
    ...(requested ? { outputs: requested } : {}),
    binaryAll,
  }
}

/**
 * An input's tensor from the binary part: its size must lie within the bytes left and equal its
 * shape's product times the element size, both checked before the tensor is allocated.
 */
function binaryTensor(
  name: string,
  dtype: DType,
  dims: number[],
  binary: Uint8Array,
  offset: number,
  size: number,
  budget: TensorBudget,
): HostTensor {
  const left = binary.length - offset
  if (size > left) {
    throw new InvalidRequestError(
      `input '${name}': parameters.binary_data_size is ${size} but the binary part has ${left} bytes left`,
    )
  }
  const width = bytesPerElement(dtype)
  const elements = shapeElements(dims, Number.MAX_SAFE_INTEGER / width)
  if (elements * width !== size) {
    const needs = Number.isFinite(elements) ? `${elements * width} bytes` : 'more than 2^53 bytes'
    throw new InvalidInputError(
      `input '${name}': parameters.binary_data_size is ${size} but shape ${formatShape(dims)} of ${dtype} needs ${needs}`,
    )
  }
  budget.take(`input '${name}'`, elements, dims[0] ?? 1, dtype)
  const t = zeros(dtype, dims)
  // Copy: the body's bytes are not aligned for the element type in general.
  new Uint8Array(t.data.buffer, t.data.byteOffset, size).set(binary.subarray(offset, offset + size))
  return t
}

export interface OipResponse {
  /** The JSON object (the whole body, or the header of a binary body). */
  json: Record<string, unknown>
  /** With binary outputs: the bytes after the JSON header. */
  binary?: Uint8Array[]
}

/** Encode the answer: the requested outputs (all by default), as JSON data or binary. */
export function encodeOipResponse(
  model: { name: string; version?: string },
  request: Pick<OipRequest, 'id' | 'outputs' | 'binaryAll'>,
  outputs: Record<string, AnyTensor>,
  rows?: { rowModels: readonly string[]; checkFailures: ArrayLike<number> },
): OipResponse {
  const wanted = request.outputs ?? Object.keys(outputs).map((name) => ({ name, binary: false }))
  const binary: Uint8Array[] = []
  const list = wanted.map(({ name, binary: asBinary }) => {
    const t = outputs[name]
    if (!t)
      throw new InvalidRequestError(`unknown output '${name}'; the outputs are ${Object.keys(outputs).join(', ')}`)
    const base = { name, datatype: OIP_DATATYPE[t.dtype], shape: [...t.dims] }
    if ((asBinary || request.binaryAll) && t.dtype !== 'string') {
      const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)
      binary.push(bytes)
      return { ...base, parameters: { binary_data_size: bytes.byteLength } }
    }
    return { ...base, data: jsonValues(t) }
  })
  const json: Record<string, unknown> = {
    model_name: model.name,
    ...(model.version ? { model_version: model.version } : {}),
    ...(request.id !== undefined ? { id: request.id } : {}),
    ...(rows ? { parameters: rowParameters(rows) } : {}),
    outputs: list,
  }
  return binary.length > 0 ? { json, binary } : { json }
}

/**
 * Which model answered (one name, or one per row when a split mixed them) and the failed
 * validations per row, as response parameters.
 */
function rowParameters(rows: {
  rowModels: readonly string[]
  checkFailures: ArrayLike<number>
}): Record<string, unknown> {
  const first = rows.rowModels[0]
  const same = rows.rowModels.every((m) => m === first)
  return {
    ...(same ? { model: first } : { models: [...rows.rowModels] }),
    check_failures: Array.from(rows.checkFailures),
  }
}
