/**
 * The inference log's values as its queries answer them. INT64/UINT64 columns (read as bigints,
 * see frames.ts) come back as numbers where that is exact and as bigints past 2^53; JSON writes
 * them exactly and Arrow answers keep each column's type, so a log read back holds what the model
 * saw and answered. Segments written before the log typed its columns hold float64 for every
 * number: they read as numbers, and a column typed differently across segments is answered as
 * float64 in Arrow (the one type that holds both). The server's JSON writer (formats/json-write.ts)
 * writes tensors, a tier above the log: rows of the log are written here.
 */
import { type DataType, float64, list, type Table, Type, tableFromArrays, tableToIPC, utf8 } from '@uwdata/flechette'
import type { LogRow } from './record.js'

/** A bigint as a number where that is exact; anything else as it is. */
const plain = (v: unknown) => (typeof v === 'bigint' && Number.isSafeInteger(Number(v)) ? Number(v) : v)

/** A value of a log table (`table.at(i)`) as a row holds it: lists as arrays, 64-bit integers per {@link plain}. */
export function rowValue(v: unknown): unknown {
  if (v instanceof BigInt64Array || v instanceof BigUint64Array) return Array.from(v, plain)
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<number>)
  return plain(v)
}

const isBig = (v: unknown) => typeof v === 'bigint' || (Array.isArray(v) && v.some((x) => typeof x === 'bigint'))

/** A value as JSON text: bigints as their digits, the rest as JSON.stringify writes it (NaN and ±Infinity as null). */
function valueJson(v: unknown): string {
  if (typeof v === 'bigint') return String(v)
  if (Array.isArray(v)) return `[${v.map(valueJson).join(',')}]`
  return JSON.stringify(v) ?? 'null'
}

/**
 * Rows as JSON text: 64-bit integers exact (JSON.stringify cannot write a bigint, and a number
 * would round past 2^53). Values are scalars or flat lists (the log's columns); a row without a
 * bigint (the usual case) takes JSON.stringify.
 */
export function rowsJson(rows: readonly LogRow[]): string {
  const text = (row: LogRow) => {
    if (!Object.values(row).some(isBig)) return JSON.stringify(row)
    const members = Object.entries(row).map(([k, v]) => `${JSON.stringify(k)}:${valueJson(v)}`)
    return `{${members.join(',')}}`
  }
  return `[${rows.map(text).join(',')}]`
}

const isNumber = (type: DataType) => type.typeId === Type.Int || type.typeId === Type.Float
const elementOf = (type: DataType): DataType | undefined =>
  type.typeId === Type.List ? (type as { children: Array<{ type: DataType }> }).children[0]?.type : undefined

function sameType(a: DataType, b: DataType): boolean {
  if (a.typeId !== b.typeId) return false
  if (a.typeId === Type.Int && b.typeId === Type.Int) return a.bitWidth === b.bitWidth && a.signed === b.signed
  if (a.typeId === Type.Float && b.typeId === Type.Float) return a.precision === b.precision
  const x = elementOf(a)
  const y = elementOf(b)
  return x === undefined || y === undefined || sameType(x, y)
}

/**
 * One type for a column two tables typed differently: numbers (scalars or lists) as float64, as
 * segments from before the log typed its integers hold them; `null` when no type holds both (a
 * pipeline version turned a number into a list, or into a string).
 */
function mergeType(a: DataType | null, b: DataType): DataType | null {
  if (a === null || sameType(a, b)) return a
  if (isNumber(a) && isNumber(b)) return float64()
  const x = elementOf(a)
  const y = elementOf(b)
  if (x && y && isNumber(x) && isNumber(y)) return list(float64())
  return null
}

/** Column name → type, over the tables a query read rows from: add `table`'s columns (see {@link mergeType}). */
export function addColumnTypes(types: Map<string, DataType | null>, table: Table): void {
  for (const f of table.schema.fields)
    types.set(f.name, types.has(f.name) ? mergeType(types.get(f.name) ?? null, f.type) : f.type)
}

/** A float64 column's values: bigints (a column merged from int64 and float64 tables) as the nearest doubles. */
function asDoubles(values: unknown[], type: DataType): unknown[] {
  const floats = type.typeId === Type.Float || elementOf(type)?.typeId === Type.Float
  if (!floats) return values
  const double = (v: unknown) => (typeof v === 'bigint' ? Number(v) : v)
  return values.map((v) => (Array.isArray(v) ? v.map(double) : double(v)))
}

/**
 * Rows as an Arrow IPC stream: one column per name any row has (null where a row lacks it), typed
 * as the tables read type it (`types`, from {@link addColumnTypes}); `time` as float64 ms. A column
 * no one type holds (see {@link mergeType}) is utf8, each value's JSON text, rather than no answer.
 */
export function rowsArrow(rows: readonly LogRow[], types: ReadonlyMap<string, DataType | null>): Uint8Array {
  const names = [...new Set(rows.flatMap((r) => Object.keys(r)))]
  const columns: Record<string, unknown[]> = {}
  const typed: Record<string, DataType> = {}
  for (const name of names) {
    const values = rows.map((r) => r[name] ?? null)
    const type = name === 'time' ? float64() : types.get(name)
    if (type) {
      columns[name] = asDoubles(values, type)
      typed[name] = type
    } else {
      columns[name] = values.map((v) => (v === null ? v : valueJson(v)))
      typed[name] = utf8()
    }
  }
  return tableToIPC(tableFromArrays(columns as never, { types: typed as never }), { format: 'stream' }) as Uint8Array
}
