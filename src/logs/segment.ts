/**
 * Rolled log segments as Arrow IPC files (written with @uwdata/flechette, the library Arquero
 * reads): one row per logged inference row; numbers as float64, strings as utf8, row tensors as
 * list<float64> flattened row-major; a column missing from some rows holds nulls there.
 */
import { open, readFile } from 'node:fs/promises'
import {
  bool,
  float64,
  list,
  TimeUnit,
  tableFromArrays,
  tableFromIPC,
  tableToIPC,
  timestamp,
  utf8,
} from '@uwdata/flechette'
import type { LogRow } from './inference-log.js'

function typeOf(sample: unknown) {
  if (Array.isArray(sample)) return list(typeof sample[0] === 'string' ? utf8() : float64())
  if (typeof sample === 'string') return utf8()
  if (typeof sample === 'boolean') return bool()
  return float64()
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
  const f = await open(path, 'w')
  try {
    await f.writeFile(bytes)
    await f.sync()
  } finally {
    await f.close()
  }
}

/** Rows of a segment file. */
export async function readSegment(path: string): Promise<LogRow[]> {
  const table = tableFromIPC(new Uint8Array(await readFile(path)))
  return table.toArray().map((r) => {
    const row: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(r as Record<string, unknown>)) {
      if (v === null) continue
      row[k] = ArrayBuffer.isView(v) ? Array.from(v as unknown as ArrayLike<number>) : v
    }
    return row as LogRow
  })
}
