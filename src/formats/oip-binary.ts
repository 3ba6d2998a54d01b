/**
 * Tensors in the OIP binary tensor data extension, both ways: numeric tensors as their raw
 * little-endian bytes (BOOL one byte 0/1, FP16 the half's bits), BYTES as Triton and KServe lay
 * them out (`serialize_byte_tensor`): per element, row-major, a 4-byte little-endian length then
 * that many bytes, no padding. Every claimed size is checked against the bytes present and the
 * request's budget before anything is allocated.
 */
import {
  type AnyTensor,
  bytesPerElement,
  type DType,
  formatShape,
  type HostTensor,
  type StringTensor,
  zeros,
} from '../engine/tensor.js'
import { InvalidInputError, InvalidRequestError } from '../errors.js'
import { shapeElements, type TensorBudget } from './limits.js'

const utf8 = new TextDecoder('utf-8', { fatal: true })
const encoder = new TextEncoder()

/** Bytes of the length prefix of each BYTES element. */
const LENGTH_BYTES = 4

/** `size` bytes from `offset` of the binary part, or a 400 naming the input when fewer are left. */
function slice(name: string, binary: Uint8Array, offset: number, size: number): Uint8Array {
  const left = binary.length - offset
  if (size > left) {
    throw new InvalidRequestError(
      `input '${name}': parameters.binary_data_size is ${size} but the binary part has ${left} bytes left`,
    )
  }
  return binary.subarray(offset, offset + size)
}

/**
 * A numeric input from the binary part: `size` must lie within the bytes left and equal its
 * shape's product times the element size, both checked before the tensor is allocated.
 */
export function binaryTensor(
  name: string,
  dtype: DType,
  dims: number[],
  binary: Uint8Array,
  offset: number,
  size: number,
  budget: TensorBudget,
): HostTensor {
  const bytes = slice(name, binary, offset, size)
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
  new Uint8Array(t.data.buffer, t.data.byteOffset, size).set(bytes)
  return t
}

/**
 * A BYTES input from the binary part, each element UTF-8 text. The shape's product is bounded by
 * the elements `size` bytes can hold (4 each at least) before the array is made; each length is
 * checked against the bytes left before it is read, and the elements must fill `size` exactly.
 */
export function bytesTensor(
  name: string,
  dims: number[],
  binary: Uint8Array,
  offset: number,
  size: number,
  budget: TensorBudget,
): StringTensor {
  const bytes = slice(name, binary, offset, size)
  const what = `input '${name}'`
  const n = shapeElements(dims, Math.floor(size / LENGTH_BYTES))
  if (!Number.isFinite(n)) {
    throw new InvalidInputError(
      `${what}: shape ${formatShape(dims)} of BYTES needs at least ${LENGTH_BYTES} bytes an element, but parameters.binary_data_size is ${size}`,
    )
  }
  budget.take(what, n, dims[0] ?? 1, 'string')
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  // Stryker disable next-line ArrayDeclaration: the loop sets elements 0 to n - 1 before the array is returned
  const out = new Array<string>(n)
  let at = 0
  for (let k = 0; k < n; k++) {
    if (at + LENGTH_BYTES > size)
      throw new InvalidInputError(`${what}: element ${k} has no length prefix; the ${size} bytes end at ${at}`)
    const length = view.getUint32(at, true)
    at += LENGTH_BYTES
    if (length > size - at) {
      throw new InvalidInputError(
        `${what}: element ${k} claims ${length} bytes but ${size - at} are left of binary_data_size ${size}`,
      )
    }
    try {
      out[k] = utf8.decode(bytes.subarray(at, at + length))
    } catch {
      throw new InvalidInputError(`${what}: element ${k} is not UTF-8 text`)
    }
    at += length
  }
  if (at !== size) {
    throw new InvalidInputError(
      `${what}: the ${n} elements of shape ${formatShape(dims)} take ${at} bytes but parameters.binary_data_size is ${size}`,
    )
  }
  return { dtype: 'string', dims: [...dims], data: out }
}

/** An output's bytes in the binary extension: BYTES length-prefixed, other tensors as they are. */
export function binaryOutput(t: AnyTensor): Uint8Array {
  if (t.dtype !== 'string') return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)
  const encoded = t.data.map((s) => encoder.encode(s))
  const out = new Uint8Array(encoded.reduce((n, e) => n + LENGTH_BYTES + e.length, 0))
  const view = new DataView(out.buffer)
  let at = 0
  for (const e of encoded) {
    view.setUint32(at, e.length, true)
    out.set(e, at + LENGTH_BYTES)
    at += LENGTH_BYTES + e.length
  }
  return out
}
