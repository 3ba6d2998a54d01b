/**
 * Rolled log segments as Arrow IPC files (written with @uwdata/flechette, the library Arquero
 * reads): one row per logged inference row; numbers as float64, strings as utf8, row tensors as
 * list<float64> flattened row-major; a column missing from some rows holds nulls there.
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
import type { LogRow } from './record.js'

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

/** Write `rows` as an Arrow IPC file at `path`, fsynced. */
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

/** Rows of a segment file. */
export async function readSegment(path: string): Promise<LogRow[]> {
  return tableRows(tableFromIPC(new Uint8Array(await readFile(path))))
}

/** Rows of a log table (segment or open frame): nulls left out, lists as arrays. */
export function tableRows(table: Table): LogRow[] {
  return table.toArray().map((r) => {
    const row: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(r as Record<string, unknown>)) {
      if (v === null) continue
      row[k] = ArrayBuffer.isView(v) ? Array.from(v as unknown as ArrayLike<number>) : v
    }
    return row as LogRow
  })
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
  return tableValues(tableFromIPC(new Uint8Array(await readFile(path))), column, index, start, end)
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
    const childValues = child?.values as Float64Array | undefined
    for (let i = 0; i < b.length; i++) {
      const t = (t32[2 * i + 1] as number) * 4294967296 + ((t32[2 * i] as number) >>> 0)
      if (t < start || t >= end || !valid(b, i)) continue
      if (b.offsets && child && childValues) {
        const at = (b.offsets[i] as number) + index
        out[n++] = at < (b.offsets[i + 1] as number) && valid(child, at) ? (childValues[at] as number) : Number.NaN
      } else if (index === 0) {
        const v = b.values instanceof Float64Array ? b.values[i] : b.at(i)
        out[n++] = typeof v === 'number' ? v : Number(v ?? Number.NaN)
      } else out[n++] = Number.NaN
    }
  })
  return out.subarray(0, n)
}
