/**
 * Reading the inference log for a query, bounded: segments are read one at a time, oldest first,
 * rows outside the time range are skipped by their time column alone, and a row object is built
 * only for a row the answer takes. Reading stops at the query's row limit or once the rows taken
 * hold {@link PAGE_VALUES} values (or a filter has passed over {@link SCAN_ROWS} rows), and says
 * where the next row would have been read: a
 * {@link LogPosition}, the cursor of the next page. Positions are stable: a segment keeps its id
 * and its rows' order when it is rolled, and retention removes whole segments.
 */
import { readFile } from 'node:fs/promises'
import { type DataType, type Table, tableFromIPC } from '@uwdata/flechette'
import { decodeFrames, LOG_TABLE_OPTIONS } from './frames.js'
import type { LogRow } from './record.js'
import { addColumnTypes, rowsArrow, rowsJson } from './row-values.js'
import { logRow, rowTimes } from './segment.js'

/**
 * Values (numbers and strings, a tensor's elements each) one read takes at most, whatever its row
 * limit: a page of wide rows stays a few tens of MiB of JSON or Arrow.
 */
const PAGE_VALUES = 4_000_000

/**
 * Rows in the range a filtered read looks at without taking (another version's, another model's)
 * before it stops and says where to go on: a rare filter over a long range costs pages, not one
 * unbounded read.
 */
const SCAN_ROWS = 1_000_000

/** Which rows of the range to take: one pipeline version's, one model's, or those with failed checks. */
export interface LogFilter {
  pipelineVersion?: number
  model?: string
  /** Only rows where a validation failed. */
  failedChecks?: boolean
}

/** Whether `row` passes `f`. */
function passes(row: LogRow, f: LogFilter): boolean {
  const r = row as Record<string, unknown>
  if (f.pipelineVersion !== undefined && r.pipeline_version !== f.pipelineVersion) return false
  if (f.model !== undefined && r.model !== f.model) return false
  return !f.failedChecks || Number(r.check_failures) > 0
}

/** A row of the log: its segment's id and its index in that segment. */
export interface LogPosition {
  segment: number
  row: number
}

/** A segment file: rolled (an Arrow IPC file) or open (frames, see frames.ts). */
export interface SegmentFile {
  id: number
  path: string
  open: boolean
}

/** What to read: rows with `start <= time < end`, from `from` on, at most `limit` of them. */
export interface LogRead {
  /** The pipeline's segments that may hold such rows, oldest first. */
  segments: SegmentFile[]
  start: number
  end: number
  limit: number
  from?: LogPosition
  /** Columns to keep (besides time); all when absent. */
  columns?: string[]
  where?: LogFilter
  /** Rows a filter may pass over before the read stops: {@link SCAN_ROWS} unless given (tests). */
  scanRows?: number
}

/** The rows read, and where reading stopped short of the range's end, if it did. */
export interface LogRows {
  rows: LogRow[]
  next?: LogPosition
  /** The column types of the tables the rows came from, for an Arrow answer (see row-values.ts). */
  types: Map<string, DataType | null>
}

/** A page of the log as an answer's bytes. */
export interface LogPage {
  body: Uint8Array
  rows: number
  next?: LogPosition
}

/** A query's page, encoded as JSON rows or an Arrow IPC stream. */
export type LogPageTask = LogRead & { format: 'json' | 'arrow' }

/** A segment's tables: one for a rolled segment, one per frame for an open one (a missing file: none). */
export async function segmentTables(segment: SegmentFile): Promise<Table[]> {
  const file = await readFile(segment.path).catch(() => undefined)
  if (!file) return [] // rolled or removed by retention since it was listed
  // A view of the file's bytes, not a copy: a rolled segment is tens of MiB.
  const bytes = new Uint8Array(file.buffer, file.byteOffset, file.byteLength)
  return segment.open ? decodeFrames(bytes).tables : [tableFromIPC(bytes, LOG_TABLE_OPTIONS)]
}

/** Values a row carries: one per scalar, a list's length for a list. */
function valuesOf(row: LogRow): number {
  let n = 0
  for (const v of Object.values(row)) n += Array.isArray(v) ? v.length : 1
  return n
}

/** Read the rows a query asks for, within its limit and {@link PAGE_VALUES}. */
export async function readLogRows(q: LogRead): Promise<LogRows> {
  const rows: LogRow[] = []
  const types = new Map<string, DataType | null>()
  let values = 0
  const keep = q.columns ? new Set(['time', ...q.columns]) : undefined
  let passed = 0 // rows of the range a filter left out
  for (const segment of q.segments) {
    if (q.from && segment.id < q.from.segment) continue
    let at = 0 // the row's index in its segment
    for (const table of await segmentTables(segment)) {
      const times = rowTimes(table)
      let typed = false
      for (let i = 0; i < times.length; i++, at++) {
        if (q.from && segment.id === q.from.segment && at < q.from.row) continue
        const t = times[i] as number
        if (t < q.start || t >= q.end) continue
        if (rows.length >= q.limit || (rows.length > 0 && values >= PAGE_VALUES))
          return { rows, next: { segment: segment.id, row: at }, types }
        let row = logRow(table.at(i) as Record<string, unknown>)
        if (q.where && !passes(row, q.where)) {
          if (++passed >= (q.scanRows ?? SCAN_ROWS)) return { rows, next: { segment: segment.id, row: at + 1 }, types }
          continue
        }
        if (keep) row = Object.fromEntries(Object.entries(row).filter(([k]) => keep.has(k))) as LogRow
        values += valuesOf(row)
        rows.push(row)
        if (!typed) addColumnTypes(types, table)
        typed = true
      }
    }
  }
  return { rows, types }
}

const encoder = new TextEncoder()

/** A query's page, read and encoded (in a body worker, see decode-pool.ts). */
export async function logPage(task: LogPageTask): Promise<LogPage> {
  const { rows, next, types } = await readLogRows(task)
  const body = task.format === 'arrow' ? rowsArrow(rows, types) : encoder.encode(rowsJson(rows))
  return { body, rows: rows.length, ...(next ? { next } : {}) }
}
