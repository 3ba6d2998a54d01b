/**
 * Turning JSON-ish values into typed tensor data and back, with errors that say which input,
 * which element and what was expected.
 */
import {
  type AnyTensor,
  type DType,
  formatShape,
  type HostTensor,
  type StringTensor,
  type TypedArrayByDType,
  zeros,
} from '../engine/tensor.js'
import { InvalidInputError } from '../errors.js'
import { numberToHalf } from '../half.js'
import { MAX_RANK, preview, shapeElements, type TensorBudget } from './limits.js'

/** Integer range each integer dtype takes from a JS number (64-bit ones: the exact integers). */
export const INT_RANGE: Partial<Record<DType, [number, number]>> = {
  int8: [-128, 127],
  uint8: [0, 255],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
  int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  uint64: [0, Number.MAX_SAFE_INTEGER],
}

/** The full range of the 64-bit integer dtypes, which bigints (exact JSON integers, Arrow int64) reach. */
const BIG_RANGE: Partial<Record<DType, [bigint, bigint]>> = {
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
}

/** Where a value sits, built only when a message needs it: `input 'x' element [0][1]`. */
type Where = () => string

/** Writes one JSON value into a tensor's data at `i`, or throws InvalidInputError naming `where()`. */
type Setter = (out: TypedArrayByDType[DType], i: number, value: unknown, where: Where) => void

/**
 * The setter for `dtype`, chosen once per tensor (a check per value would cost more than the
 * write): booleans for bool; numbers for floats, which take NaN and ±Infinity (JSON `NaN`,
 * `Infinity`; `null` means NaN), float16 rounded to the nearest half; integers in range for the
 * integer dtypes, exact bigints for the 64-bit ones. Batch jobs convert file values with it too.
 */
export function setter(dtype: DType): Setter {
  if (dtype === 'bool') {
    return (out, i, value, where) => {
      if (typeof value === 'boolean') out[i] = value ? 1 : 0
      else if (value === 0 || value === 1) out[i] = value
      else throw new InvalidInputError(`${where()} is ${preview(value)}; expected true or false`)
    }
  }
  const ints = INT_RANGE[dtype]
  if (!ints) {
    const store = dtype === 'float16' ? numberToHalf : (x: number) => x
    return (out, i, value, where) => {
      if (typeof value === 'number') out[i] = store(value)
      else if (value === null)
        out[i] = store(Number.NaN) // null is how JSON libraries without NaN write a missing float
      else if (typeof value === 'bigint') out[i] = store(Number(value))
      else throw new InvalidInputError(`${where()} is ${preview(value)}; expected a number (${dtype})`)
    }
  }
  const [lo, hi] = ints
  const big = BIG_RANGE[dtype]
  const refuse = (value: unknown, where: Where): never => {
    if (typeof value !== 'number' && typeof value !== 'bigint')
      throw new InvalidInputError(`${where()} is ${preview(value)}; expected a number (${dtype})`)
    // A 64-bit integer past 2^53 written with a fraction or exponent was rounded before it got here
    // (an integral number in the full range is refused only for that).
    const rounded = big && typeof value === 'number' && Number.isInteger(value) && value >= big[0] && value <= big[1]
    throw new InvalidInputError(
      `${where()} is ${value}; expected an integer in ${range(dtype)} (${dtype})${rounded ? ', written without a fraction or exponent' : ''}`,
    )
  }
  if (big) {
    return (out, i, value, where) => {
      if (typeof value === 'number' && Number.isInteger(value) && value >= lo && value <= hi) out[i] = BigInt(value)
      else if (typeof value === 'bigint' && value >= big[0] && value <= big[1]) out[i] = value
      else refuse(value, where)
    }
  }
  return (out, i, value, where) => {
    if (typeof value === 'number' && Number.isInteger(value) && value >= lo && value <= hi) out[i] = value
    else refuse(value, where)
  }
}

/** The range a message names: the full one for the 64-bit dtypes. */
function range(dtype: DType): string {
  const [lo, hi] = BIG_RANGE[dtype] ?? (INT_RANGE[dtype] as [number, number])
  return `[${lo}, ${hi}]`
}

const isNested = (data: unknown): data is unknown[] => Array.isArray(data) && data.length > 0 && Array.isArray(data[0])

/**
 * Elements of flat data (an array of values, or one value for a scalar shape): the shape's
 * product, computed overflow-safely, must be the values present.
 */
function flatElements(dims: readonly number[], data: unknown, what: string): number {
  if (!Array.isArray(data)) {
    if (dims.length === 0) return 1
    throw new InvalidInputError(`${what}: data must be an array`)
  }
  const n = shapeElements(dims, Number.MAX_SAFE_INTEGER)
  if (n !== data.length) {
    const needs = Number.isFinite(n) ? `${n} values` : `more than 2^53 values`
    throw new InvalidInputError(`${what}: shape ${formatShape(dims)} needs ${needs}, data has ${data.length}`)
  }
  return n
}

/**
 * Visit the leaves of `data` shaped `dims` (row-major), checking every level's length against the
 * shape on the way: ragged nesting and wrong element counts are reported with the path that went
 * wrong. Returns the leaves visited.
 */
function forEachLeaf(
  dims: readonly number[],
  data: unknown,
  what: string,
  visit: (value: unknown, index: number, where: Where) => void,
): number {
  if (dims.length > MAX_RANK)
    throw new InvalidInputError(`${what}: shape has ${dims.length} dims; at most ${MAX_RANK} are accepted`)
  if (!isNested(data)) {
    const n = flatElements(dims, data, what)
    if (!Array.isArray(data)) visit(data, 0, () => what)
    else for (let i = 0; i < n; i++) visit(data[i], i, () => `${what} element ${i}`)
    return n
  }
  let k = 0
  // The indices down to the current node; paths are only spelled out for a message.
  // Stryker disable next-line ArrayDeclaration: path(depth) reads only at[0..depth-1], each set before the walk goes below it
  const at: number[] = []
  const path = (depth: number) =>
    at
      .slice(0, depth)
      .map((j) => `[${j}]`)
      .join('')
  // Recursion depth is the rank, at most MAX_RANK.
  const walk = (node: unknown, depth: number): void => {
    if (depth === dims.length) {
      if (Array.isArray(node))
        throw new InvalidInputError(`${what}: ${path(depth)} nests deeper than the shape ${formatShape(dims)}`)
      visit(node, k++, () => `${what} element ${path(depth)}`)
      return
    }
    if (!Array.isArray(node) || node.length !== dims[depth]) {
      throw new InvalidInputError(
        `${what}: ragged data at ${path(depth) || 'the top level'}: ${Array.isArray(node) ? `${node.length} items` : 'a scalar'}, expected ${dims[depth]} for shape ${formatShape(dims)}`,
      )
    }
    for (let j = 0; j < node.length; j++) {
      at[depth] = j
      walk(node[j], depth + 1)
    }
  }
  walk(data, 0)
  return k
}

/**
 * Elements of `data` once checked against `dims` (nested data is walked without writing), reserved
 * from `budget`: the caller then allocates only for values that are there.
 */
function checkedElements(
  dtype: DType | 'string',
  dims: readonly number[],
  data: unknown,
  what: string,
  budget: TensorBudget,
): number {
  const n = isNested(data) ? forEachLeaf(dims, data, what, () => {}) : flatElements(dims, data, what)
  budget.take(what, n, dims[0] ?? 1, dtype)
  return n
}

/**
 * Flatten a (possibly nested) JSON array whose shape must be `dims`, row-major, into a tensor.
 * The shape is checked against the data present and `budget` before anything is allocated.
 */
export function tensorFromJson(
  dtype: DType,
  dims: readonly number[],
  data: unknown,
  what: string,
  budget: TensorBudget,
): HostTensor {
  checkedElements(dtype, dims, data, what, budget)
  const t = zeros(dtype, dims)
  const set = setter(dtype)
  forEachLeaf(dims, data, what, (value, i, where) => set(t.data, i, value, where))
  return t
}

/**
 * Strings from (nested) JSON data shaped `dims`, for a string column. Numbers and booleans are
 * taken as text: an integer past 2^53 arrives from the exact parser as a bigint, so its digits
 * (`12345678901234567890`, up to 20) are kept as written; other numbers are written back the
 * shortest way that reads the same double (`1.50` is `1.5`).
 */
export function stringsFromJson(
  dims: readonly number[],
  data: unknown,
  what: string,
  budget: TensorBudget,
): StringTensor {
  const out = new Array<string>(checkedElements('string', dims, data, what, budget))
  forEachLeaf(dims, data, what, (v, i, where) => {
    if (typeof v === 'string') out[i] = v
    else if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') out[i] = String(v)
    else throw new InvalidInputError(`${where()} is ${preview(v)}; expected a string or a number`)
  })
  return { dtype: 'string', dims: [...dims], data: out }
}

/** A column of `dtype` (tensor or strings) from JSON data shaped `dims`. */
export function columnFromJson(
  dtype: DType | 'string',
  dims: readonly number[],
  data: unknown,
  what: string,
  budget: TensorBudget,
): AnyTensor {
  return dtype === 'string'
    ? stringsFromJson(dims, data, what, budget)
    : tensorFromJson(dtype, dims, data, what, budget)
}
