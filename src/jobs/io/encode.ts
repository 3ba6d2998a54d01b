/**
 * One chunk of a job as an Arrow IPC stream file. Strings, 64-bit integers and doubles are encoded
 * here in bulk: flechette's builders encode one string (TextEncoder) or one BigInt at a time, which made
 * encoding 3M flights rows take ~7 s against ~1 s with these.
 */
import {
  Batch,
  Column,
  columnFromArray,
  type DataType,
  Precision,
  Type,
  tableFromColumns,
  tableToIPC,
} from '@uwdata/flechette'
import type { SchemaField } from './types.js'

type Values = ArrayLike<unknown>
const TWO_32 = 4294967296
/** Milliseconds → timestamp unit (flechette's TimeUnit: s, ms, µs, ns). */
const FROM_MS = [0.001, 1, 1000, 1000000]

/**
 * One chunk as the bytes of an Arrow IPC stream file with exactly `schema`'s columns and types, so
 * every chunk of a job has the same schema message (what `writeOutput` splices on). Numbers for
 * int64 columns are rounded to integers, bigints written exactly, timestamps are milliseconds;
 * NaN there becomes null. Bigints in float columns (exact integers past 2^53 a text file held in
 * a column of numbers) are written as the doubles nearest them.
 *
 * @example
 * const schema = [...reader.schema, { name: 'score', type: float32() }]
 * await writeFile(path, encodeChunk(schema, { ...chunk.columns, score }, chunk.rows))
 */
export function encodeChunk(schema: SchemaField[], columns: Record<string, Values>, rows: number): Uint8Array {
  const data = schema.map(({ name, type }): [string, Column<unknown>] => {
    const values = columns[name]
    if (!values) throw new Error(`encodeChunk: no values for column '${name}'`)
    if (values.length !== rows)
      throw new Error(`encodeChunk: column '${name}' has ${values.length} values, expected ${rows}`)
    // An empty chunk is a schema without batches: flechette builds no batch for no rows.
    const batch = rows > 0 ? fastBatch(values, type, name) : undefined
    if (batch) return [name, new Column([batch], type)]
    const plain = asDoubles(values, type)
    // Stryker disable next-line ConditionalExpression,LogicalOperator: Array.from of an array or typed array only hands flechette a copy of the same values
    const array = Array.isArray(plain) || ArrayBuffer.isView(plain) ? plain : Array.from(plain)
    return [name, columnFromArray(array as unknown[], type)]
  })
  return tableToIPC(tableFromColumns(data), { format: 'stream' }) as Uint8Array
}

function fastBatch(values: Values, type: DataType, name: string): Batch<unknown> | undefined {
  if (type.typeId === Type.Utf8 || type.typeId === Type.LargeUtf8) return stringBatch(values, type)
  if (type.typeId === Type.Timestamp) return int64Batch(values, type, FROM_MS[type.unit] ?? 1, true, name)
  if (type.typeId === Type.Int && type.bitWidth === 64) return int64Batch(values, type, 1, type.signed, name)
  // Stryker disable next-line ConditionalExpression,EqualityOperator: flechette's builder writes a float64 column byte for byte the same (values, bitmap and buffer lengths, checked for numbers, nulls, bigints, strings and views), so this shortcut only saves time
  if (type.typeId === Type.Float && type.precision === Precision.DOUBLE) return float64Batch(values, type)
  return undefined
}

/**
 * Numbers (bigints as the doubles nearest them) or nulls as float64; undefined (flechette decides)
 * for anything else. A wide file's chunk is mostly columns of nulls: flechette's builder took
 * ~70 µs for each, most of a 4 000-column chunk's encoding.
 */
// Stryker disable next-line BlockStatement: flechette's builder writes a float64 column byte for byte the same (values, bitmap and buffer lengths, checked for numbers, nulls, bigints, strings and views), so this shortcut only saves time
function float64Batch(values: Values, type: DataType): Batch<unknown> | undefined {
  // Stryker disable next-line ConditionalExpression: flechette's builder writes a float64 column byte for byte the same (values, bitmap and buffer lengths, checked for numbers, nulls, bigints, strings and views), so this shortcut only saves time
  if (values instanceof Float64Array)
    return new Batch({ length: values.length, nullCount: 0, type, validity: new Uint8Array(0), values })
  const n = values.length
  const out = new Float64Array(n)
  let nulls = 0
  for (let i = 0; i < n; i++) {
    const v = values[i]
    // Stryker disable next-line ConditionalExpression,EqualityOperator,StringLiteral: flechette's builder writes a float64 column byte for byte the same (values, bitmap and buffer lengths, checked for numbers, nulls, bigints, strings and views), so this shortcut only saves time
    if (typeof v === 'number') out[i] = v
    else if (v === null || v === undefined) nulls++
    else if (typeof v === 'bigint') out[i] = Number(v)
    else return undefined
  }
  return new Batch({ length: n, nullCount: nulls, type, validity: validity(values, nulls), values: out })
}

// Stryker disable next-line OptionalChaining: only a list's child type can be undefined here, and a list always has its child
const isFloat = (type: DataType | undefined) => type?.typeId === Type.Float
const toDouble = (v: unknown) => (typeof v === 'bigint' ? Number(v) : v)

/** `values` of a float or list-of-float column with any bigint as the double nearest it; else as they are. */
function asDoubles(values: Values, type: DataType): Values {
  // Stryker disable next-line OptionalChaining: a list type always has its child
  const list = (type.typeId === Type.List || type.typeId === Type.LargeList) && isFloat(type.children[0]?.type)
  if (ArrayBuffer.isView(values) || (!isFloat(type) && !list)) return values
  let out: unknown[] | undefined
  // Stryker disable next-line EqualityOperator: the extra value, undefined, is left as it is
  for (let i = 0; i < values.length; i++) {
    const v = values[i]
    // Stryker disable next-line ConditionalExpression: mapping a list without bigints through toDouble gives a copy of the same numbers
    const w = list ? (Array.isArray(v) && v.some((x) => typeof x === 'bigint') ? v.map(toDouble) : v) : toDouble(v)
    // Stryker disable next-line ConditionalExpression: copying an unchanged value gives the same values
    if (w === v) continue
    out ??= Array.from(values)
    out[i] = w
  }
  return out ?? values
}

/** Strings or nulls, as one UTF-8 buffer with offsets; undefined (flechette decides) for anything else. */
function stringBatch(values: Values, type: DataType): Batch<unknown> | undefined {
  const n = values.length
  const strings: string[] = []
  let nulls = 0
  for (let i = 0; i < n; i++) {
    const v = values[i]
    if (typeof v === 'string') strings.push(v)
    else if (v === null || v === undefined) nulls++
    else return undefined
  }
  const text = strings.join('')
  // Stryker disable next-line StringLiteral: Node takes an empty encoding name as UTF-8, its default
  const bytes = Buffer.from(text, 'utf8')
  // All ASCII: a string's bytes are its length; else measure each (native, no copies).
  // Stryker disable next-line ConditionalExpression: measuring each string gives the same lengths as the ASCII shortcut
  const ascii = bytes.length === text.length
  const wide = type.typeId === Type.LargeUtf8
  const offsets = wide ? new BigInt64Array(n + 1) : new Int32Array(n + 1)
  const low = wide ? new Int32Array(offsets.buffer) : (offsets as Int32Array)
  const step = wide ? 2 : 1
  let end = 0
  // Stryker disable next-line EqualityOperator: the extra offset lands past the offsets array, a no-op on a typed array
  for (let i = 0, s = 0; i < n; i++) {
    const v = values[i]
    // Stryker disable next-line StringLiteral: Node takes an empty encoding name as UTF-8, its default
    if (typeof v === 'string') end += ascii ? v.length : Buffer.byteLength(strings[s++] as string, 'utf8')
    low[(i + 1) * step] = end
  }
  // Joining can pair a lone high surrogate with the next string's low one: then let flechette encode.
  // Stryker disable next-line ConditionalExpression,EqualityOperator: a joined string holds at most 2^29 - 24 UTF-16 units (V8's limit), at most 3 UTF-8 bytes each, so `end` stays below 2^31
  if (end !== bytes.length || end >= 2 ** 31) return undefined
  return new Batch({ length: n, nullCount: nulls, type, validity: validity(values, nulls), values: bytes, offsets })
}

/** 64-bit integers a column of `signed` (or unsigned) int64 holds. */
const INT64_RANGE = { signed: [-(2n ** 63n), 2n ** 63n - 1n], unsigned: [0n, 2n ** 64n - 1n] } as const

/**
 * Numbers (× `scale`, rounded) or bigints (exact) or nulls as int64 or uint64; undefined
 * (flechette decides) for anything else. A bigint past the type's range is a bug upstream (the
 * readers and the feeds check ranges): it throws rather than wrap.
 */
function int64Batch(
  values: Values,
  type: DataType,
  scale: number,
  signed: boolean,
  name: string,
): Batch<unknown> | undefined {
  const n = values.length
  const out = signed ? new BigInt64Array(n) : new BigUint64Array(n)
  const halves = new Int32Array(out.buffer)
  const [min, max] = INT64_RANGE[signed ? 'signed' : 'unsigned']
  let nulls = 0
  const missing: boolean[] = []
  for (let i = 0; i < n; i++) {
    const v = values[i]
    // Stryker disable next-line ConditionalExpression: Number.isNaN is false for anything but a number
    if (v === null || v === undefined || (typeof v === 'number' && Number.isNaN(v))) {
      nulls++
      missing[i] = true
      continue
    }
    if (typeof v === 'bigint') {
      if (v < min || v > max)
        throw new Error(`encodeChunk: column '${name}' holds ${v}, past ${signed ? 'int64' : 'uint64'}`)
      out[i] = v
      continue
    }
    // Stryker disable next-line ConditionalExpression: Number.isFinite is false for anything but a number (bigints were taken above)
    if (typeof v !== 'number' || !Number.isFinite(v)) return undefined
    const x = Math.round(v * scale)
    const hi = Math.floor(x / TWO_32)
    halves[2 * i] = x - hi * TWO_32
    halves[2 * i + 1] = hi
  }
  const bits = nulls ? validityFrom((i) => !missing[i], n) : new Uint8Array(0)
  return new Batch({ length: n, nullCount: nulls, type, validity: bits, values: out })
}

function validity(values: Values, nulls: number): Uint8Array {
  return nulls ? validityFrom((i) => values[i] !== null && values[i] !== undefined, values.length) : new Uint8Array(0)
}

/** Arrow validity bitmap: bit i (LSB first) set when row i has a value. */
function validityFrom(valid: (i: number) => boolean, n: number): Uint8Array {
  const bits = new Uint8Array(Math.ceil(n / 64) * 8 /* padded to 8 bytes */)
  for (let i = 0; i < n; i++) if (valid(i)) bits[i >> 3] = (bits[i >> 3] as number) | (1 << (i & 7))
  return bits
}
