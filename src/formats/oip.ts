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
  type HostTensor,
  type TensorSpec,
  zeros,
} from '../engine/tensor.js'
import type { Columns } from '../engine/types.js'
import { InvalidInputError, InvalidRequestError } from '../errors.js'
import type { OutputSpec } from '../pipeline/post.js'
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
 * Decode a request body (JSON header plus, with the binary extension, the bytes after it).
 * Datatypes must equal the model's (`specs`); names and shapes are checked by the deployment.
 */
export function decodeOipRequest(
  header: unknown,
  binary: Uint8Array | undefined,
  specs: readonly ColumnSpec[],
): OipRequest {
  if (!isObject(header))
    throw new InvalidRequestError('the body must be an OIP v2 inference request: a JSON object with "inputs"')
  const { id, inputs, outputs, parameters } = header
  if (id !== undefined && typeof id !== 'string') throw new InvalidRequestError('"id" must be a string')
  if (!Array.isArray(inputs) || inputs.length === 0)
    throw new InvalidRequestError('"inputs" must be a non-empty array of tensors')
  const feeds: Columns = {}
  let offset = 0
  inputs.forEach((input, i) => {
    if (!isObject(input))
      throw new InvalidRequestError(`inputs[${i}] must be an object with name, shape, datatype and data`)
    const { name, shape, datatype, data } = input
    if (typeof name !== 'string' || name === '')
      throw new InvalidRequestError(`inputs[${i}].name must be a non-empty string`)
    if (feeds[name]) throw new InvalidRequestError(`input '${name}' appears twice`)
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new InvalidRequestError(`input '${name}': shape must be an array of non-negative integers`)
    }
    const dtype = FROM_DATATYPE.get(String(datatype))
    if (!dtype)
      throw new InvalidRequestError(
        `input '${name}': unknown datatype ${JSON.stringify(datatype)}; expected one of ${[...FROM_DATATYPE.keys()].join(', ')}`,
      )
    const spec = specs.find((s) => s.name === name)
    const dims = shape as number[]
    if (spec?.dtype === 'string') {
      // A routing key column: BYTES, or numbers read as their decimal text.
      if (data === undefined)
        throw new InvalidRequestError(`input '${name}' needs JSON "data" (a key column cannot be binary)`)
      feeds[name] = stringsFromJson(dims, data, `input '${name}'`)
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
      feeds[name] = binaryTensor(name, dtype, dims, binary, offset, Number(size))
      offset += Number(size)
    } else {
      if (data === undefined) throw new InvalidRequestError(`input '${name}' has no "data" (nor binary_data_size)`)
      feeds[name] = tensorFromJson(dtype, dims, data, `input '${name}'`)
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
  return { ...(typeof id === 'string' ? { id } : {}), feeds, ...(requested ? { outputs: requested } : {}), binaryAll }
}

function binaryTensor(
  name: string,
  dtype: DType,
  dims: number[],
  binary: Uint8Array,
  offset: number,
  size: number,
): HostTensor {
  const t = zeros(dtype, dims)
  const expected = t.data.length * bytesPerElement(dtype)
  if (size !== expected) {
    throw new InvalidInputError(
      `input '${name}': binary_data_size is ${size} but shape [${dims.join(',')}] of ${dtype} needs ${expected} bytes`,
    )
  }
  if (offset + size > binary.length)
    throw new InvalidRequestError(`input '${name}': the binary part ends before its ${size} bytes`)
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
