/**
 * Turning JSON-ish values into typed tensor data and back, with errors that say which input,
 * which element and what was expected.
 */
import {
  type AnyTensor,
  type DType,
  type HostTensor,
  type StringTensor,
  type TypedArrayByDType,
  zeros,
} from '../engine/tensor.js'
import { InvalidInputError } from '../errors.js'

const INT_RANGE: Partial<Record<DType, [number, number]>> = {
  int8: [-128, 127],
  uint8: [0, 255],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
  int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  uint64: [0, Number.MAX_SAFE_INTEGER],
}

/**
 * Write `value` (a JSON number or boolean) into `out[i]` as `dtype`. Throws naming `what`
 * (e.g. "input 'x' element 7").
 */
export function setValue(out: TypedArrayByDType[DType], dtype: DType, i: number, value: unknown, what: string): void {
  if (dtype === 'bool') {
    if (typeof value === 'boolean') out[i] = value ? 1 : 0
    else if (value === 0 || value === 1) out[i] = value
    else throw new InvalidInputError(`${what} is ${JSON.stringify(value)}; expected true or false`)
    return
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    if (value === null && (dtype === 'float32' || dtype === 'float64')) {
      out[i] = Number.NaN // null is how JSON writes a missing float
      return
    }
    throw new InvalidInputError(`${what} is ${JSON.stringify(value) ?? String(value)}; expected a number (${dtype})`)
  }
  const range = INT_RANGE[dtype]
  if (range) {
    if (!Number.isInteger(value) || value < range[0] || value > range[1]) {
      throw new InvalidInputError(`${what} is ${value}; expected an integer in [${range[0]}, ${range[1]}] (${dtype})`)
    }
    out[i] = dtype === 'int64' || dtype === 'uint64' ? BigInt(value) : value
    return
  }
  if (dtype === 'float16') throw new InvalidInputError(`${what}: float16 inputs must be sent as binary data`)
  out[i] = value
}

/**
 * Flatten a (possibly nested) JSON array whose shape must be `dims`, row-major, into a tensor.
 * Ragged nesting and wrong element counts are reported with the path that went wrong.
 */
export function tensorFromJson(dtype: DType, dims: readonly number[], data: unknown, what: string): HostTensor {
  const t = zeros(dtype, dims)
  const n = t.data.length
  if (!Array.isArray(data)) {
    if (dims.length === 0) {
      setValue(t.data, dtype, 0, data, what)
      return t
    }
    throw new InvalidInputError(`${what}: data must be an array`)
  }
  if (data.length > 0 && Array.isArray(data[0])) {
    let k = 0
    const walk = (node: unknown, depth: number, path: string): void => {
      if (depth === dims.length) {
        if (Array.isArray(node))
          throw new InvalidInputError(`${what}: ${path} nests deeper than the shape [${dims.join(',')}]`)
        setValue(t.data, dtype, k++, node, `${what} element ${path}`)
        return
      }
      if (!Array.isArray(node) || node.length !== dims[depth]) {
        throw new InvalidInputError(
          `${what}: ragged data at ${path || 'the top level'}: ${Array.isArray(node) ? `${node.length} items` : 'a scalar'}, expected ${dims[depth]} for shape [${dims.join(',')}]`,
        )
      }
      node.forEach((child, j) => {
        walk(child, depth + 1, `${path}[${j}]`)
      })
    }
    walk(data, 0, '')
    return t
  }
  if (data.length !== n) {
    throw new InvalidInputError(`${what}: shape [${dims.join(',')}] needs ${n} values, data has ${data.length}`)
  }
  for (let i = 0; i < n; i++) setValue(t.data, dtype, i, data[i], `${what} element ${i}`)
  return t
}

/** Strings from (nested) JSON data for a string column; numbers are accepted and stringified. */
export function stringsFromJson(dims: readonly number[], data: unknown, what: string): StringTensor {
  const n = dims.reduce((a, b) => a * b, 1)
  const flat = (Array.isArray(data) ? data.flat(Number.POSITIVE_INFINITY) : [data]) as unknown[]
  if (flat.length !== n)
    throw new InvalidInputError(`${what}: shape [${dims.join(',')}] needs ${n} values, data has ${flat.length}`)
  return {
    dtype: 'string',
    dims: [...dims],
    data: flat.map((v, i) => {
      if (typeof v === 'string') return v
      if (typeof v === 'number' || typeof v === 'boolean') return String(v)
      throw new InvalidInputError(`${what} element ${i} is ${JSON.stringify(v)}; expected a string or a number`)
    }),
  }
}

/** A column of `dtype` (tensor or strings) from JSON data shaped `dims`. */
export function columnFromJson(
  dtype: DType | 'string',
  dims: readonly number[],
  data: unknown,
  what: string,
): AnyTensor {
  return dtype === 'string' ? stringsFromJson(dims, data, what) : tensorFromJson(dtype, dims, data, what)
}

/** Plain JSON values of a tensor's data (int64 as numbers; NaN/±inf become null in JSON). */
export function jsonValues(t: AnyTensor): Array<number | boolean | string> {
  if (t.dtype === 'string') return t.data
  if (t.dtype === 'bool') return Array.from(t.data as Uint8Array, (v) => v !== 0)
  if (t.dtype === 'int64' || t.dtype === 'uint64') return Array.from(t.data as BigInt64Array, Number)
  return Array.from(t.data as ArrayLike<number>)
}

/** Row `r` of a batch-major tensor as nested JSON arrays (a scalar for rank-1 tensors). */
export function jsonRow(t: AnyTensor, values: Array<number | boolean | string>, r: number): unknown {
  const rowDims = t.dims.slice(1)
  const width = rowDims.reduce((a, b) => a * b, 1)
  const flat = values.slice(r * width, (r + 1) * width)
  if (rowDims.length === 0) return flat[0]
  return nest(flat, rowDims)
}

function nest(flat: unknown[], dims: readonly number[]): unknown[] {
  if (dims.length <= 1) return flat
  const inner = dims.slice(1).reduce((a, b) => a * b, 1)
  return Array.from({ length: dims[0] as number }, (_, i) =>
    nest(flat.slice(i * inner, (i + 1) * inner), dims.slice(1)),
  )
}
