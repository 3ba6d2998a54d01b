/**
 * The Open Inference Protocol v2 (KServe / Triton REST) request and response bodies, including the
 * binary tensor data extension: a JSON header of `Inference-Header-Content-Length` bytes followed by
 * raw little-endian tensor bytes for inputs/outputs carrying `parameters.binary_data_size`.
 * https://kserve.github.io/website/docs/concepts/architecture/data-plane/v2-protocol
 */
import type { AnyTensor, ColumnSpec, Dim, DType, TensorSpec } from '../engine/tensor.js'
import type { Columns } from '../engine/types.js'
import { InvalidInputError, InvalidRequestError } from '../errors.js'
import type { OutputSpec } from '../pipeline/post.js'
import { classificationCount } from './classification.js'
import { tensorDataJson, withRawMember } from './json-write.js'
import { type DecodeLimits, MAX_RANK, preview, TensorBudget, UNLIMITED } from './limits.js'
import { binaryOutput, binaryTensor, bytesTensor } from './oip-binary.js'
import { stringsFromJson, tensorFromJson } from './values.js'

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
  /**
   * Outputs asked for (all when undefined); `binary` is the output's own `binary_data` when it
   * sets one, which wins over `binaryAll` either way.
   */
  outputs?: RequestedOutput[]
  /** `parameters.binary_data_output`: outputs without their own `binary_data` go binary. */
  binaryAll: boolean
  /** `parameters.non_finite_as_null`: JSON answers write NaN and ±Infinity as `null`. */
  nonFiniteAsNull: boolean
}

/** One entry of a request's `outputs`. */
interface RequestedOutput {
  name: string
  binary?: boolean
  /** `parameters.classification`: answer the k best classes instead (classification.ts). */
  classification?: number
}

/** What the answer to a request depends on, besides the outputs (a worker gets only this). */
export type OipAnswerOptions = Pick<OipRequest, 'id' | 'outputs' | 'binaryAll' | 'nonFiniteAsNull'>

/** The answer options of a decoded request. */
export function answerOptions(r: OipRequest): OipAnswerOptions {
  const { feeds: _feeds, ...options } = r
  return options
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
    // Stryker disable next-line ConditionalExpression: the map's keys are strings, so get() of any other value is undefined too
    const dtype = typeof datatype === 'string' ? FROM_DATATYPE.get(datatype) : undefined
    if (!dtype)
      throw new InvalidRequestError(
        `input '${name}': unknown datatype ${preview(datatype)}; expected one of ${[...FROM_DATATYPE.keys()].join(', ')}`,
      )
    const spec = specs.find((s) => s.name === name)
    const dims = shape as number[]
    const what = `input '${name}'`
    const size = binarySize(name, input.parameters)
    if (size !== undefined && !binary)
      throw new InvalidRequestError(`input '${name}' has binary_data_size but the request has no binary part`)
    const at = offset
    offset += size ?? 0
    if (spec?.dtype === 'string' || (!spec && dtype === 'string')) {
      // A routing key column: BYTES (JSON strings or length-prefixed binary), or JSON numbers read as their decimal text.
      if (size === undefined) {
        if (data === undefined) throw new InvalidRequestError(`input '${name}' has no "data" (nor binary_data_size)`)
        feeds.set(name, stringsFromJson(dims, data, what, budget))
      } else if (dtype === 'string') feeds.set(name, bytesTensor(name, dims, binary as Uint8Array, at, size, budget))
      else throw new InvalidInputError(`input '${name}' is a key column: send it as BYTES (or JSON numbers)`)
      return
    }
    if (spec && spec.dtype !== dtype) {
      throw new InvalidInputError(
        `input '${name}' has datatype ${datatype}, the model expects ${OIP_DATATYPE[spec.dtype]}`,
      )
    }
    // Unreachable (BYTES without a spec took the key-column branch; with a non-string spec the check above threw),
    // kept to narrow dtype for binaryTensor.
    // Stryker disable next-line ConditionalExpression,StringLiteral: unreachable, as said above
    if (dtype === 'string')
      // Stryker disable next-line StringLiteral: unreachable, as said above
      throw new InvalidInputError(`input '${name}': BYTES inputs are only accepted for routing key columns`)
    if (size !== undefined) feeds.set(name, binaryTensor(name, dtype, dims, binary as Uint8Array, at, size, budget))
    else {
      if (data === undefined) throw new InvalidRequestError(`input '${name}' has no "data" (nor binary_data_size)`)
      feeds.set(name, tensorFromJson(dtype, dims, data, what, budget))
    }
  })
  if (binary && offset !== binary.length) {
    throw new InvalidRequestError(`the binary part has ${binary.length} bytes but inputs declare ${offset}`)
  }
  return {
    ...(typeof id === 'string' ? { id } : {}),
    feeds: Object.fromEntries(feeds),
    ...(outputs !== undefined ? { outputs: requestedOutputs(outputs) } : {}),
    binaryAll: flag(parameters, 'binary_data_output'),
    nonFiniteAsNull: flag(parameters, 'non_finite_as_null'),
  }
}

/** An input's `parameters.binary_data_size`, checked to be a byte count; undefined without one. */
function binarySize(name: string, parameters: unknown): number | undefined {
  const size = isObject(parameters) ? parameters.binary_data_size : undefined
  if (size === undefined) return undefined
  if (!Number.isSafeInteger(size) || (size as number) < 0) {
    throw new InvalidRequestError(
      `input '${name}': parameters.binary_data_size must be a non-negative integer, got ${preview(size)}`,
    )
  }
  return size as number
}

/** A boolean request parameter (false when absent); anything but a boolean is a 400, as Triton answers. */
function flag(parameters: unknown, key: string): boolean {
  if (parameters === undefined) return false
  if (!isObject(parameters)) throw new InvalidRequestError('"parameters" must be an object')
  const v = parameters[key]
  if (v === undefined) return false
  if (typeof v !== 'boolean')
    throw new InvalidRequestError(`parameters.${key} must be true or false, got ${preview(v)}`)
  return v
}

/**
 * The request's `outputs`: names, and each one's own `binary_data` when it sets one. An output
 * named twice is a 400, as Triton's core answers it (`output 'x' already requested`,
 * InferenceRequest::AddOriginalRequestedOutput in triton-inference-server/server's
 * src/core/infer_request.cc): each entry is encoded in full, so repeats would multiply the answer.
 */
function requestedOutputs(outputs: unknown): RequestedOutput[] {
  if (!Array.isArray(outputs)) throw new InvalidRequestError('"outputs" must be an array')
  const seen = new Map<string, number>()
  return outputs.map((o, i) => {
    if (!isObject(o) || typeof o.name !== 'string')
      throw new InvalidRequestError(`outputs[${i}] must be an object with a name`)
    const first = seen.get(o.name)
    if (first !== undefined) {
      throw new InvalidRequestError(
        `output '${o.name}' already requested (outputs[${first}] and outputs[${i}]); name each output once`,
      )
    }
    seen.set(o.name, i)
    if (o.parameters !== undefined && !isObject(o.parameters))
      throw new InvalidRequestError(`outputs[${i}].parameters must be an object`)
    const binary = (o.parameters as Record<string, unknown> | undefined)?.binary_data
    if (binary !== undefined && typeof binary !== 'boolean') {
      throw new InvalidRequestError(
        `output '${o.name}': parameters.binary_data must be true or false, got ${preview(binary)}`,
      )
    }
    const k = classificationCount(o.name, o.parameters as Record<string, unknown> | undefined)
    return {
      name: o.name,
      ...(binary === undefined ? {} : { binary }),
      ...(k === undefined ? {} : { classification: k }),
    }
  })
}

/**
 * Refuse, before the model runs, a request for an output the pipeline does not have (`outputs`,
 * its output names): with no name twice, a request asks for at most as many outputs as it has.
 */
export function checkRequestedOutputs(requested: readonly RequestedOutput[] | undefined, outputs: readonly string[]) {
  const known = new Set(outputs)
  const unknown = requested?.find((o) => !known.has(o.name))
  if (unknown) throw unknownOutput(unknown.name, outputs)
}

function unknownOutput(name: string, outputs: readonly string[]): InvalidRequestError {
  return new InvalidRequestError(`unknown output '${name}'; the outputs are ${outputs.join(', ')}`)
}

export interface OipResponse {
  /** The JSON text (the whole body, or the header of a binary body). */
  header: string
  /** With binary outputs: the bytes after the JSON header, in the order of the header's outputs. */
  binary?: Uint8Array[]
}

/** Per-row facts of an answer: the model that answered each row and its failed validations. */
export interface OipRows {
  rowModels: readonly string[]
  checkFailures: ArrayLike<number>
}

/**
 * Encode the answer: the requested outputs (all by default), each as JSON data or binary as the
 * request asks (an output's own `binary_data` first, then `binary_data_output`).
 */
export function encodeOipResponse(
  model: { name: string; version?: string },
  request: OipAnswerOptions,
  outputs: Record<string, AnyTensor>,
  rows?: OipRows,
): OipResponse {
  const wanted: RequestedOutput[] = request.outputs ?? Object.keys(outputs).map((name) => ({ name }))
  const numbers = { nonFiniteAsNull: request.nonFiniteAsNull }
  const binary: Uint8Array[] = []
  const list = wanted.map(({ name, binary: own }) => {
    // An own property only: `constructor` is no output, whatever Object.prototype holds.
    const t = Object.hasOwn(outputs, name) ? outputs[name] : undefined
    if (!t) throw unknownOutput(name, Object.keys(outputs))
    const base = { name, datatype: OIP_DATATYPE[t.dtype], shape: [...t.dims] }
    if (own ?? request.binaryAll) {
      const bytes = binaryOutput(t)
      binary.push(bytes)
      return JSON.stringify({ ...base, parameters: { binary_data_size: bytes.byteLength } })
    }
    return withRawMember(base, 'data', tensorDataJson(t, numbers))
  })
  const head: Record<string, unknown> = {
    model_name: model.name,
    ...(model.version ? { model_version: model.version } : {}),
    // Stryker disable next-line ConditionalExpression: an id of undefined is a member JSON.stringify leaves out, as the condition does
    ...(request.id !== undefined ? { id: request.id } : {}),
    ...(rows ? { parameters: rowParameters(rows) } : {}),
  }
  const header = withRawMember(head, 'outputs', `[${list.join(',')}]`)
  return binary.length > 0 ? { header, binary } : { header }
}

/**
 * Which model answered and the failed validations per row, as response parameters. The spec
 * allows only strings, numbers and booleans there, so per-row lists travel as JSON text:
 * `model` when every row had the same model, else `models`, e.g. `'["a:1","b:1"]'`; and
 * `check_failures`, e.g. `"[0,2]"` (`json.loads` in Python, `JSON.parse` in JS).
 */
function rowParameters(rows: OipRows): Record<string, string> {
  const first = rows.rowModels[0] ?? ''
  const same = rows.rowModels.every((m) => m === first)
  return {
    ...(same ? { model: first } : { models: JSON.stringify(rows.rowModels) }),
    check_failures: `[${Array.from(rows.checkFailures).join(',')}]`,
  }
}
