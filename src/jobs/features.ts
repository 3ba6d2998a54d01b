/**
 * How a file's columns become a pipeline's inputs, and its outputs become columns again.
 * `features` names the columns that form a model's one [N, F] input, in order; otherwise each
 * input reads the column of its name (or `in.<name>`), holding a number per row for [N] and
 * [N, 1] inputs, or the row's values (a list, or a JSON array in a CSV cell) for wider ones.
 * Values become elements as OIP JSON values do (formats/values.ts): FP16 rounded once to the
 * nearest half, INT64/UINT64 exact (bigints, integer text of any length up to 20 digits, JSON
 * arrays read exactly), integers in their dtype's range. Rows whose values cannot be used (out of
 * range, not a number) are left out of the model's batch and reported by row and column, never
 * wrapped or cut.
 */
import {
  type AnyTensor,
  type ColumnSpec,
  type DType,
  elementCount,
  formatShape,
  type TensorArray,
  zeros,
} from '../engine/tensor.js'
import type { Columns } from '../engine/types.js'
import { InvalidInputError, InvalidRequestError } from '../errors.js'
import { parseExactJson } from '../exact-json.js'
import { setter } from '../formats/values.js'
import type { JobRowError } from '../store/types.js'
import { DECIMAL, show } from './io/text.js'

interface InputPlan {
  input: ColumnSpec
  /** Columns read for this input: one (per-input mode) or the features, in order. */
  columns: string[]
  /** Values per row (undefined: taken from the first usable row, then fixed). */
  width: number | undefined
  /** Each feature is one number (features mode) rather than the row's values in one column. */
  scalarColumns: boolean
}

export interface FeedPlan {
  inputs: InputPlan[]
}

const rowWidth = (shape: ColumnSpec['shape']): number | undefined => {
  const rest = shape.slice(1)
  return rest.every((d) => typeof d === 'number') ? elementCount(rest as number[]) : undefined
}

/** Check once, against the file's columns, that the pipeline's inputs can be fed. */
export function planFeeds(inputs: readonly ColumnSpec[], fileColumns: string[], features?: string[]): FeedPlan {
  const have = new Set(fileColumns)
  // A hostile file may have millions of columns, or names of megabytes: the message shows a few, cut short.
  const shown =
    fileColumns.slice(0, 20).map(show).join(', ') + (fileColumns.length > 20 ? `, … (${fileColumns.length})` : '')
  const missing = (c: string) => new InvalidRequestError(`column ${show(c)} is not in the file; it has ${shown}`)
  if (features) {
    const numeric = inputs.filter((i) => i.dtype !== 'string')
    if (inputs.length !== 1 || numeric.length !== 1) {
      throw new InvalidRequestError(
        `features=... forms one [N, F] input, but the pipeline takes ${inputs.map((i) => `'${i.name}' ${i.dtype} ${formatShape(i.shape)}`).join(', ')}; name one column per input instead`,
      )
    }
    const input = inputs[0] as ColumnSpec
    const width = rowWidth(input.shape)
    if (input.shape.length > 2 || (width !== undefined && width !== features.length)) {
      throw new InvalidRequestError(
        `input '${input.name}' has shape ${formatShape(input.shape)}: it needs ${width ?? 'one row of'} features, got ${features.length} (${features.join(', ')})`,
      )
    }
    for (const f of features) if (!have.has(f)) throw missing(f)
    return { inputs: [{ input, columns: features, width: features.length, scalarColumns: true }] }
  }
  return {
    inputs: inputs.map((input) => {
      const column = have.has(input.name) ? input.name : have.has(`in.${input.name}`) ? `in.${input.name}` : undefined
      if (!column) throw missing(input.name)
      return { input, columns: [column], width: rowWidth(input.shape), scalarColumns: false }
    }),
  }
}

/** Integer text short enough to be a 64-bit value (2^64 has 20 digits); longer is out of every range. */
const INTEGER = /^[+-]?\d{1,20}$/

/** NaN and the infinities as text, in any case: what pandas and numpy write (`nan`, `inf`, `-inf`). */
const NON_FINITE = /^([+-]?)(nan|inf|infinity)$/i

/**
 * A file value as a number where it is text (a CSV cell, a utf8 column) or a safe bigint: integers exact (bigints
 * past 2^53), decimals as CSV writers print them, `nan`/`inf`/`infinity` in any case; other text
 * (hex, `0b1`, words) as it is, for the element's setter to refuse, as other values are.
 */
function fileValue(v: unknown): unknown {
  // A BigInt64Array column (an int64 one with values past 2^53) has small values too: numbers,
  // which every dtype's setter takes (bigints only the 64-bit ones).
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v
  if (typeof v !== 'string') return v
  const text = v.trim()
  if (INTEGER.test(text)) {
    const n = Number(text)
    return Number.isSafeInteger(n) ? n : BigInt(text)
  }
  if (DECIMAL.test(text)) return Number(text)
  const word = NON_FINITE.exec(text)
  if (!word) return v
  if ((word[2] as string).toLowerCase() === 'nan') return Number.NaN
  return word[1] === '-' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY
}

/** An element of the input's dtype, or why the value cannot be one (a message naming `where()`). */
type Element = (v: unknown, where: () => string) => number | bigint | Refused

/** What is wrong with a value, said by the setter of formats/values.ts. */
class Refused {
  constructor(readonly message: string) {}
}

/** File values as elements of `dtype`: the OIP path's setter, into one scratch element. */
function elementOf(dtype: DType): Element {
  const set = setter(dtype)
  const scratch = zeros(dtype, [1]).data as TensorArray
  return (v, where) => {
    try {
      set(scratch, 0, fileValue(v), where)
    } catch (e) {
      if (e instanceof InvalidInputError) return new Refused(e.message)
      throw e
    }
    return scratch[0] as number | bigint
  }
}

/** A row's values for a per-input column: a list, a typed array, a JSON array in text (read exactly), or one value. */
function rowValues(v: unknown): ArrayLike<unknown> | undefined {
  if (v === null || v === undefined) return undefined
  if (Array.isArray(v) || ArrayBuffer.isView(v)) return v as ArrayLike<unknown>
  if (typeof v === 'string' && v.trimStart().startsWith('[')) {
    try {
      const parsed = parseExactJson(v)
      return Array.isArray(parsed) ? parsed : undefined
    } catch {
      return undefined
    }
  }
  return [v]
}

export interface Extracted {
  feeds: Columns
  /** Chunk-relative indices of the rows in the feeds. */
  kept: Int32Array
  errors: JobRowError[]
}

/**
 * Build the feeds for the rows of a chunk that can be used. `bad` holds chunk-relative rows the
 * reader already reported; `firstRow` numbers the errors.
 */
export function extractFeeds(
  plan: FeedPlan,
  columns: Record<string, ArrayLike<unknown>>,
  rows: number,
  firstRow: number,
  bad: Set<number>,
): Extracted {
  const fast = denseFeatures(plan, columns, rows, bad)
  if (fast) return fast
  const errors: JobRowError[] = []
  const values: Array<Array<number | bigint | string>> = plan.inputs.map(() => [])
  const kept: number[] = []
  const widths = plan.inputs.map((p) => p.width)
  const elements = plan.inputs.map((p) => (p.input.dtype === 'string' ? undefined : elementOf(p.input.dtype)))
  nextRow: for (let r = 0; r < rows; r++) {
    if (bad.has(r)) continue
    const start = values.map((v) => v.length)
    for (let k = 0; k < plan.inputs.length; k++) {
      const p = plan.inputs[k] as InputPlan
      const out = values[k] as Array<number | bigint | string>
      const element = elements[k]
      const problem = p.scalarColumns
        ? scalars(p, columns, r, out, element as Element)
        : list(p, columns, r, out, widths, k, element)
      if (problem) {
        errors.push({ row: firstRow + r, message: problem })
        values.forEach((v, i) => {
          v.length = start[i] as number
        })
        continue nextRow
      }
    }
    kept.push(r)
  }
  const feeds: Columns = {}
  plan.inputs.forEach((p, k) => {
    const width = widths[k] ?? 1
    const dims = p.input.shape.length <= 1 ? [kept.length] : [kept.length, ...innerDims(p.input.shape, width)]
    feeds[p.input.name] = toTensor(p.input.dtype, dims, values[k] as Array<number | bigint | string>)
  })
  return { feeds, kept: Int32Array.from(kept), errors }
}

/**
 * The common case without per-row checks: features in typed-array columns (no nulls), no bad rows,
 * a float32 or float64 input (which take any number as it is; other dtypes check each value).
 */
function denseFeatures(
  plan: FeedPlan,
  columns: Record<string, ArrayLike<unknown>>,
  rows: number,
  bad: Set<number>,
): Extracted | undefined {
  const p = plan.inputs[0] as InputPlan
  const dtype = p.input.dtype
  if (plan.inputs.length !== 1 || !p.scalarColumns || bad.size > 0) return undefined
  if (dtype !== 'float32' && dtype !== 'float64') return undefined
  const cols = p.columns.map((c) => columns[c])
  if (!cols.every((c) => ArrayBuffer.isView(c) && !(c instanceof BigInt64Array) && !(c instanceof BigUint64Array)))
    return undefined
  const F = cols.length
  const t = zeros(dtype, p.input.shape.length <= 1 ? [rows] : [rows, F])
  const data = t.data as Float32Array | Float64Array
  for (let f = 0; f < F; f++) {
    const c = cols[f] as Float64Array
    for (let r = 0; r < rows; r++) data[r * F + f] = c[r] as number
  }
  const kept = new Int32Array(rows)
  for (let r = 0; r < rows; r++) kept[r] = r
  return { feeds: { [p.input.name]: t }, kept, errors: [] }
}

function scalars(
  p: InputPlan,
  columns: Record<string, ArrayLike<unknown>>,
  r: number,
  out: Array<number | bigint | string>,
  element: Element,
) {
  for (const c of p.columns) {
    const v = (columns[c] as ArrayLike<unknown>)[r]
    if (v === null || v === undefined) return `column '${c}' is empty; a number is expected`
    const x = element(v, () => `column '${c}'`)
    if (x instanceof Refused) return x.message
    out.push(x)
  }
  return undefined
}

function list(
  p: InputPlan,
  columns: Record<string, ArrayLike<unknown>>,
  r: number,
  out: Array<number | bigint | string>,
  widths: Array<number | undefined>,
  k: number,
  element: Element | undefined,
) {
  const c = p.columns[0] as string
  const raw = (columns[c] as ArrayLike<unknown>)[r]
  const vals = rowValues(raw)
  if (!vals) return `column '${c}' is empty; ${widths[k] ?? 'its'} values are expected`
  widths[k] ??= vals.length
  if (vals.length !== widths[k]) {
    return `column '${c}' has ${vals.length} value${vals.length === 1 ? '' : 's'}, input '${p.input.name}' ${formatShape(p.input.shape)} expects ${widths[k]}`
  }
  const scalar = p.input.shape.length <= 1
  for (let i = 0; i < vals.length; i++) {
    const v = vals[i]
    if (!element) out.push(String(v))
    else {
      // An [N] input takes one value a row: the column names it; wider ones name the value too.
      const x = element(v, scalar ? () => `column '${c}'` : () => `column '${c}' value ${i}`)
      if (x instanceof Refused) return x.message
      out.push(x)
    }
  }
  return undefined
}

/** Dims after the batch dim, with a symbolic one resolved from the row width. */
function innerDims(shape: ColumnSpec['shape'], width: number): number[] {
  const rest = shape.slice(1)
  const known = rest.filter((d): d is number => typeof d === 'number')
  const fixed = elementCount(known)
  return rest.map((d) => (typeof d === 'number' ? d : Math.max(1, Math.round(width / fixed))))
}

/** A tensor of elements already converted (elementOf: halves' bits, bigints for the 64-bit dtypes). */
function toTensor(dtype: ColumnSpec['dtype'], dims: number[], values: Array<number | bigint | string>): AnyTensor {
  if (dtype === 'string') return { dtype: 'string', dims, data: values.map(String) }
  const t = zeros(dtype as DType, dims)
  ;(t.data as unknown as { set(values: ArrayLike<number | bigint>): void }).set(values as Array<number | bigint>)
  return t
}
