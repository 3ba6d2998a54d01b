/**
 * Rolled log segments as Arrow IPC files (written with @uwdata/flechette, the library Arquero
 * reads): one row per logged inference row, typed as frames.ts types its columns (INT64/UINT64 as
 * int64/uint64, other numbers as float64, strings as utf8, row tensors as lists flattened
 * row-major); a column missing from some rows holds nulls there. Segments from before the log
 * typed its integers hold float64 throughout and read the same way.
 */
import { readFile } from 'node:fs/promises'
import {
  bool,
  float64,
  list,
  type Table,
  TimeUnit,
  tableFromArrays,
  tableFromIPC,
  tableToIPC,
  timestamp,
  utf8,
} from '@uwdata/flechette'
import { writeSynced } from '../durable.js'
import { LOG_TABLE_OPTIONS } from './frames.js'
import type { LogRow } from './record.js'
import { rowValue } from './row-values.js'

function typeOf(sample: unknown) {
  if (Array.isArray(sample)) return list(typeof sample[0] === 'string' ? utf8() : float64())
  if (typeof sample === 'string') return utf8()
  if (typeof sample === 'boolean') return bool()
  return float64()
}

/** Write `table` as an Arrow IPC file at `path`, fsynced. */
export async function writeSegmentTable(path: string, table: Table): Promise<void> {
  await writeSynced(path, tableToIPC(table, { format: 'file' }) as Uint8Array)
}

/** Write `rows` (the old JSON Lines log's, numbers only) as an Arrow IPC file at `path`, fsynced. */
export async function writeSegment(path: string, rows: LogRow[]): Promise<void> {
  const names = [...new Set(rows.flatMap((r) => Object.keys(r)))]
  const columns: Record<string, unknown[]> = {}
  const types: Record<string, unknown> = {}
  for (const name of names) {
    columns[name] = rows.map((r) => (r[name] === undefined ? null : r[name]))
    const sample = rows.find((r) => r[name] !== undefined && r[name] !== null)?.[name]
    types[name] = name === 'time' ? timestamp(TimeUnit.MILLISECOND) : typeOf(sample)
  }
  const bytes = tableToIPC(tableFromArrays(columns as never, { types: types as never }), {
    format: 'file',
  }) as Uint8Array
  await writeSynced(path, bytes)
}

/** Rows of a log table (segment or open frame): see {@link logRow}. */
export function tableRows(table: Table): LogRow[] {
  return table.toArray().map((r) => logRow(r as Record<string, unknown>))
}

/**
 * A row of a log table (`table.at(i)`) as a query returns it: nulls left out, lists as arrays,
 * 64-bit integers as numbers where exact and bigints past 2^53 (see row-values.ts).
 */
export function logRow(r: Record<string, unknown>): LogRow {
  const row: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(r)) if (v !== null) row[k] = rowValue(v)
  return row as LogRow
}

/** Each row's time (ms since the epoch) of a log table, read from its timestamp column's buffers. */
export function rowTimes(table: Table): Float64Array {
  const out = new Float64Array(table.numRows)
  let n = 0
  for (const batch of table.getChild('time')?.data ?? []) {
    // Millisecond timestamps as int64: read the two 32-bit halves (exact below 2^53).
    const { values: t64, length } = batch as unknown as { values: BigInt64Array; length: number }
    const t32 = new Int32Array(t64.buffer, t64.byteOffset, length * 2)
    for (let i = 0; i < length; i++) out[n++] = (t32[2 * i + 1] as number) * 4294967296 + ((t32[2 * i] as number) >>> 0)
  }
  return out
}

interface ColumnBatch {
  length: number
  nullCount: number
  validity?: Uint8Array | null
  values?: ArrayLike<unknown>
  offsets?: Int32Array
  children?: ColumnBatch[]
  at(i: number): unknown
}

/** A column's values buffer holds one number per row (float64, int64, uint64), not bits or bytes. */
const isNumbers = (v: unknown): v is Float64Array | BigInt64Array | BigUint64Array =>
  v instanceof Float64Array || v instanceof BigInt64Array || v instanceof BigUint64Array

const valid = (b: ColumnBatch, i: number) =>
  b.nullCount === 0 || !b.validity || ((b.validity[i >> 3] as number) & (1 << (i & 7))) !== 0

/**
 * The values an assay reads from a segment, straight from its Arrow buffers (no row objects):
 * element `index` of `column` for every row with `start <= time < end` where the column is not
 * null; a null element or an index past the row's length reads as NaN.
 */
export async function readSegmentValues(
  path: string,
  column: string,
  index: number,
  start: number,
  end: number,
): Promise<Float64Array> {
  return tableValues(tableFromIPC(new Uint8Array(await readFile(path)), LOG_TABLE_OPTIONS), column, index, start, end)
}

/** {@link readSegmentValues} of a table in memory. */
export function tableValues(table: Table, column: string, index: number, start: number, end: number): Float64Array {
  const times = table.getChild('time')
  const col = table.getChild(column)
  if (!times || !col) return new Float64Array(0)
  const out = new Float64Array(table.numRows)
  let n = 0
  col.data.forEach((raw, bi) => {
    const b = raw as unknown as ColumnBatch
    // Millisecond timestamps as int64: read the two 32-bit halves (exact below 2^53).
    const t64 = (times.data[bi] as unknown as { values: BigInt64Array }).values
    const t32 = new Int32Array(t64.buffer, t64.byteOffset, t64.length * 2)
    const child = b.children?.[0]
    // float64, or int64/uint64 (a bigint each, read as the nearest double).
    const childValues = child?.values as Float64Array | BigInt64Array | BigUint64Array | undefined
    for (let i = 0; i < b.length; i++) {
      const t = (t32[2 * i + 1] as number) * 4294967296 + ((t32[2 * i] as number) >>> 0)
      if (t < start || t >= end || !valid(b, i)) continue
      if (b.offsets && child && childValues) {
        const at = (b.offsets[i] as number) + index
        out[n++] = at < (b.offsets[i + 1] as number) && valid(child, at) ? Number(childValues[at]) : Number.NaN
      } else if (index === 0) {
        const v = isNumbers(b.values) ? b.values[i] : b.at(i) // bool and utf8 through their batches
        out[n++] = typeof v === 'number' ? v : Number(v ?? Number.NaN)
      } else out[n++] = Number.NaN
    }
  })
  return out.subarray(0, n)
}
