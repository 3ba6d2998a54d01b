/**
 * A training-set export as it is listed and kept: its record (the JSON beside its file, and what
 * the API answers), the names the server gives the two files, and the Parquet writer it is given.
 */
import type { TrainingField } from './export-rows.js'

/** The Parquet writer (jobs/io's, a tier above, handed in by the server). */
export interface ParquetEncoder {
  /** Parquet bytes of Arrow IPC streams (at least one holding a row), row groups of at most `rowGroupRows` rows. */
  stream(ipcStreams: AsyncIterator<Uint8Array>, rowGroupRows: number): AsyncIterable<Uint8Array>
  /** A Parquet file with the schema of an IPC stream and no rows. */
  empty(ipcStream: Uint8Array): Uint8Array
}

/** Why an export ran. */
export type ExportReason = 'request' | 'schedule' | 'assay_alert'

/** The assay whose alert started an export, and the window that alerted. */
export interface AlertingAssay {
  id: number
  name: string
  window: { start: string; end: string }
}

/** An export as listed (snake_case, as the API answers it and its record file holds it). */
export interface TrainingSetRecord {
  file: string
  workspace: string
  pipeline: string
  status: 'running' | 'done' | 'failed'
  reason: ExportReason
  assay: AlertingAssay | null
  /** The log range: `start <= time < end` (ISO 8601). */
  start: string
  end: string
  labeled_only: boolean
  /** Rows in the file, and those of them with an outcome. */
  rows: number
  labeled_rows: number
  /** Log rows read (with `labeled_only`, more than the rows written). */
  read_rows: number
  /** The read stopped at LASTMILE_EXPORT_MAX_ROWS before the range's end; `last_row_time` is the last row read. */
  truncated: boolean
  last_row_time: string | null
  /** Logged inputs not in the file (they appeared, or changed type, after its first rows). */
  dropped_columns: string[]
  schema: TrainingField[]
  bytes: number
  created_at: string
  finished_at: string | null
  /** Where to download it (this server's path). */
  url: string
  error: string | null
}

/** An export file's name, and its record's. */
export const FILE = /^(\d{8}T\d{6}Z-[0-9a-f]{8})\.parquet$/
export const RECORD = /^(\d{8}T\d{6}Z-[0-9a-f]{8})\.json$/

/** ms since the epoch as ISO 8601. */
export const iso = (ms: number) => new Date(ms).toISOString()
/** A record file's text as a record; undefined when it is not JSON. */
export function parsed(text: string): TrainingSetRecord | undefined {
  try {
    return JSON.parse(text) as TrainingSetRecord
  } catch {
    return undefined
  }
}
/** `2026-12-01T14:39:00.123Z` → `20261201T143900Z`. */
export const stamp = (ms: number) =>
  iso(ms)
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')
