/**
 * Reading one Arrow leaf array's entries as JS values (typed-array views are not used: a body's
 * buffers need not be aligned for their element type), and converting them to an input's dtype
 * with the same range checks JSON values get.
 */
import type { DType } from '../engine/tensor.js'
import { InvalidInputError } from '../errors.js'
import type { CheckedBatch, CheckedRecordBatch } from './arrow-ipc.js'
import { type ArrayLayout, offsetAt } from './arrow-layout.js'
import type { ArrowField, ArrowType, BodyRange } from './arrow-meta.js'
import { INT_RANGE } from './values.js'

/** Arrow type ids of the leaf types an input may hold. */
export const INT = 2
export const FLOAT = 3
export const BOOL = 6
export const UTF8 = new Set([5, 20])

const BIG_RANGE: Partial<Record<DType, [bigint, bigint]>> = {
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
}

export type Value = number | bigint | boolean | string
/** Where entry `entry` of the range being read sits, for messages: `input 'x' (Arrow) row 7`. */
export type Where = (entry: number) => string

const utf8 = new TextDecoder()

/** A view of a body, for unaligned little-endian reads. */
export const viewOf = (body: Uint8Array) => new DataView(body.buffer, body.byteOffset, body.byteLength)

/** Decoded dictionaries, per set of dictionary batches in force. */
const dictionaryCache = new WeakMap<readonly CheckedBatch[], Array<string | undefined>>()

/** A dictionary-encoded utf8 column's entries as their strings (an index outside the dictionary is refused). */
export function dictionaryReader(
  view: DataView,
  batch: CheckedRecordBatch,
  a: ArrayLayout,
  leaf: ArrowField,
  where: Where,
): (i: number, entry: number) => Value {
  const { id, indexType } = leaf.dictionary as NonNullable<ArrowField['dictionary']>
  const parts = batch.dictionaries.get(id) ?? []
  let words = dictionaryCache.get(parts)
  if (!words) {
    words = []
    for (const part of parts) {
      const values = part.arrays[0] as ArrayLayout
      const read = reader(viewOf(part.body), part.body, values, leaf.type)
      const validity = (values.buffers[0] as BodyRange).offset
      for (let k = 0; k < part.length; k++) {
        const valid = values.nullCount === 0 || ((viewOf(part.body).getUint8(validity + (k >> 3)) >> (k & 7)) & 1) === 1
        words.push(valid ? (read(k) as string) : undefined)
      }
    }
    dictionaryCache.set(parts, words)
  }
  const index = reader(view, batch.body, a, indexType)
  const known = words
  return (i, entry) => {
    const k = Number(index(i))
    const word = known[k]
    if (word === undefined)
      throw new InvalidInputError(
        `${where(entry)} has dictionary index ${k}; the dictionary has ${known.length} values${k >= 0 && k < known.length ? ' and that one is null' : ''}`,
      )
    return word
  }
}

/** Entry `i` of a leaf array of `type` as a JS value (bigint for 64-bit ints). */
export function reader(view: DataView, body: Uint8Array, a: ArrayLayout, type: ArrowType): (i: number) => Value {
  const { id, width, signed } = type
  const values = a.buffers[1] as BodyRange
  const v = values.offset
  if (id === BOOL) return (i) => ((view.getUint8(v + (i >> 3)) >> (i & 7)) & 1) === 1
  if (UTF8.has(id)) {
    const data = (a.buffers[2] as BodyRange).offset
    return (i) =>
      utf8.decode(body.subarray(data + offsetAt(view, values, width, i), data + offsetAt(view, values, width, i + 1)))
  }
  if (id === FLOAT) {
    if (width === 2) return (i) => halfToFloat(view.getUint16(v + 2 * i, true))
    return width === 4 ? (i) => view.getFloat32(v + 4 * i, true) : (i) => view.getFloat64(v + 8 * i, true)
  }
  switch (width) {
    case 1:
      return signed ? (i) => view.getInt8(v + i) : (i) => view.getUint8(v + i)
    case 2:
      return signed ? (i) => view.getInt16(v + 2 * i, true) : (i) => view.getUint16(v + 2 * i, true)
    case 4:
      return signed ? (i) => view.getInt32(v + 4 * i, true) : (i) => view.getUint32(v + 4 * i, true)
    default:
      return signed ? (i) => view.getBigInt64(v + 8 * i, true) : (i) => view.getBigUint64(v + 8 * i, true)
  }
}

/** An IEEE half-precision value from its bits. */
function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1
  const exponent = (bits >> 10) & 0x1f
  const fraction = bits & 0x3ff
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024) // subnormal
  if (exponent === 31) return fraction ? Number.NaN : sign * Number.POSITIVE_INFINITY
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024)
}

/**
 * A converter of values to `dtype`, range-checked as JSON values are; `entry` names the value in
 * messages. Ranges are worked out once, not per value.
 */
export function converter(dtype: DType | 'string', where: Where): (value: Value, entry: number) => Value {
  if (dtype === 'string') return (value) => String(value)
  if (dtype === 'float32' || dtype === 'float64') return (value) => Number(value)
  if (dtype === 'bool') {
    return (value, entry) => {
      if (typeof value === 'boolean') return value ? 1 : 0
      if (value === 0 || value === 1 || value === 0n || value === 1n) return Number(value)
      throw new InvalidInputError(`${where(entry)} is ${value}; expected 0 or 1 (bool)`)
    }
  }
  const big = BIG_RANGE[dtype]
  const [lo, hi] = INT_RANGE[dtype] as [number, number]
  const [bigLo, bigHi] = big ?? [BigInt(lo), BigInt(hi)]
  return (value, entry) => {
    if (typeof value === 'bigint') {
      if (value < bigLo || value > bigHi)
        throw new InvalidInputError(
          `${where(entry)} is ${value}; expected an integer in [${bigLo}, ${bigHi}] (${dtype})`,
        )
      return big ? value : Number(value)
    }
    const n = value as number // strings and bools only feed string and bool inputs
    if (!Number.isInteger(n) || n < lo || n > hi)
      throw new InvalidInputError(`${where(entry)} is ${n}; expected an integer in [${lo}, ${hi}] (${dtype})`)
    return big ? BigInt(n) : n
  }
}
