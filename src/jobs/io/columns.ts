/**
 * Column arrays for job chunks: out of flechette tables (with fast paths where flechette's generic
 * extraction converts value by value), sliced and joined along rows.
 */
import { type Batch, type Column, type DataType, field, type IntType, type Table, Type } from '@uwdata/flechette'
import { concatTyped } from '../../engine/tensor.js'
import type { SchemaField } from './types.js'

type Values = ArrayLike<unknown>
type NumberArray =
  | Float64Array
  | Float32Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint32Array
  | Uint16Array
  | Uint8Array
type NumberArrayConstructor = new (length: number) => NumberArray

const TWO_32 = 4294967296
/** Timestamp units (flechette's TimeUnit: s, ms, µs, ns) → factor to milliseconds. */
const TO_MS = [1000, 1, 0.001, 0.000001]
/** …and the divisor for the units finer than ms, to split off the fraction exactly as flechette does. */
const PER_MS = [0, 0, 1000, 1000000]

/** The schema of a decoded table; dictionary columns reported as their value type (chunks hold values, not codes). */
export function tableSchema(table: Table): SchemaField[] {
  return table.schema.fields.map((f) => ({ name: f.name, type: valueType(f.type) }))
}

function valueType(type: DataType): DataType {
  if (type.typeId === Type.Dictionary) return valueType(type.dictionary)
  if (type.typeId === Type.List || type.typeId === Type.LargeList) {
    const [child] = type.children
    return { ...type, children: [field(child.name, valueType(child.type), child.nullable)] }
  }
  return type
}

/**
 * How job files and chunk files are decoded (`tableFromIPC(bytes, TABLE_OPTIONS)`): 64-bit integers
 * as bigints, so that nullable and list columns read them exactly (flechette's default converts
 * each to a number and throws past 2^53); timestamps stay numbers of milliseconds.
 */
export const TABLE_OPTIONS = { useBigInt: true } as const

/**
 * Every column of `table` (decoded with {@link TABLE_OPTIONS}) as one array, in schema order.
 * 64-bit integer columns come as numbers when every value is a safe integer, else exactly: a
 * BigInt64Array or BigUint64Array (no nulls), or bigints past 2^53 among numbers and nulls.
 */
export function tableColumns(table: Table): Values[] {
  return table.children.map((c) => columnValues(c as Column<unknown>))
}

const isInt64 = (type: DataType): type is IntType => type.typeId === Type.Int && type.bitWidth === 64

/** A bigint as a number where that is exact. */
const plainInt = (v: unknown) => (typeof v === 'bigint' && Number.isSafeInteger(Number(v)) ? Number(v) : v)

function columnValues(column: Column<unknown>): Values {
  const { type, nullCount, length, data } = column
  if (nullCount > 0 || data.length === 0) {
    const values = column.toArray()
    return isInt64(type) ? Array.from(values, plainInt) : values
  }
  if (isInt64(type) || type.typeId === Type.Timestamp) {
    const out = new Float64Array(length)
    // Stryker disable next-line ConditionalExpression: an int64 type has no unit: TO_MS and PER_MS of undefined fall back to unit 1's factors (1 and 0)
    const unit = type.typeId === Type.Timestamp ? type.unit : 1
    const signed = type.typeId === Type.Timestamp || type.signed
    let at = 0
    for (const batch of data) at = int64Values(batch, out, at, signed, unit)
    if (isInt64(type) && !out.every(Number.isSafeInteger)) {
      // Past 2^53 the doubles are rounded: the column's own 64-bit values, exact.
      const parts = data.map((b) => (b.values as BigInt64Array).subarray(0, b.length))
      return signed ? concatTyped(BigInt64Array, parts) : concatTyped(BigUint64Array, parts as never)
    }
    return out
  }
  if (type.typeId === Type.Utf8 || type.typeId === Type.LargeUtf8) {
    // Stryker disable next-line ArrayDeclaration: only preallocates: every index below length is assigned below
    const out = new Array<string>(length)
    let at = 0
    for (const batch of data) at = stringValues(batch, out, at)
    return out
  }
  return column.toArray()
}

/**
 * int64 → number from the two 32-bit halves: about 6× faster than flechette's BigInt route, exact
 * below 2^53 (past it, this rounds: {@link columnValues} then takes the exact values instead).
 */
function int64Values(batch: Batch<unknown>, out: Float64Array, at: number, signed: boolean, unit: number): number {
  const v = batch.values
  const halves = signed
    ? new Int32Array(v.buffer, v.byteOffset, batch.length * 2)
    : new Uint32Array(v.buffer, v.byteOffset, batch.length * 2)
  const toMs = TO_MS[unit] ?? 1
  const perMs = PER_MS[unit] ?? 0
  // Stryker disable next-line EqualityOperator: one more row writes past `out` (a no-op on a typed array) or to the next batch's first row, which that batch then overwrites
  for (let i = 0; i < batch.length; i++) {
    const n = (halves[2 * i + 1] as number) * TWO_32 + ((halves[2 * i] as number) >>> 0)
    if (perMs === 0) out[at + i] = n * toMs
    else {
      const whole = Math.trunc(n / perMs)
      out[at + i] = whole + (n - whole * perMs) / perMs
    }
  }
  return at + batch.length
}

/** Strings without a TextDecoder call per value: one latin1 decode of an all-ASCII batch, then slices. */
function stringValues(batch: Batch<unknown>, out: string[], at: number): number {
  const { values, offsets, length } = batch
  const wide = offsets instanceof BigInt64Array
  // Little-endian low halves of 64-bit offsets: value bytes in one batch stay far below 2 GiB.
  const o = wide ? new Int32Array(offsets.buffer, offsets.byteOffset, offsets.length * 2) : (offsets as Int32Array)
  const step = wide ? 2 : 1
  const first = o[0] as number
  const last = o[length * step] as number
  const bytes = Buffer.from(values.buffer, values.byteOffset, values.byteLength)
  // Stryker disable next-line BooleanLiteral: the ASCII path is a shortcut: UTF-8 decoding of ASCII bytes gives the same strings as latin1
  let ascii = true
  // Stryker disable next-line EqualityOperator: checking one more byte can only send ASCII text to the UTF-8 path, which gives the same strings
  for (let i = first; i < last; i++) {
    // Stryker disable next-line ConditionalExpression,EqualityOperator: taking 0x7f or any byte as non-ASCII only sends ASCII text to the UTF-8 path, which gives the same strings
    if ((bytes[i] as number) > 0x7f) {
      ascii = false
      break
    }
  }
  // Stryker disable next-line ConditionalExpression: the UTF-8 path gives the same strings for ASCII text as the latin1 shortcut
  if (ascii) {
    const text = bytes.toString('latin1', first, last)
    let start = 0
    for (let i = 0; i < length; i++) {
      const end = (o[(i + 1) * step] as number) - first
      out[at + i] = text.slice(start, end)
      start = end
    }
  } else {
    for (let i = 0; i < length; i++)
      out[at + i] = bytes.toString('utf8', o[i * step] as number, o[(i + 1) * step] as number)
  }
  return at + length
}

/** Rows [start, end) of a column array (a view for typed arrays). */
export function sliceValues(values: Values, start: number, end: number): Values {
  if (ArrayBuffer.isView(values)) return (values as NumberArray).subarray(start, end)
  return Array.prototype.slice.call(values, start, end)
}

/** Columns one after another: a typed array when every part is one of the same kind, else a JS array. */
export function concatValues(parts: Values[]): Values {
  if (parts.length === 1) return parts[0] as Values
  const kind = parts[0]?.constructor
  if (ArrayBuffer.isView(parts[0]) && parts.every((p) => p.constructor === kind)) {
    return concatTyped(kind as NumberArrayConstructor, parts as NumberArray[])
  }
  // Stryker disable next-line ArrayDeclaration: only preallocates: every index below the total is assigned below
  const out = new Array<unknown>(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) for (let i = 0; i < p.length; i++) out[at++] = p[i]
  return out
}
