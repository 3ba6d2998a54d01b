/**
 * Shapes shared by the batch-job file readers and writers: a reader hands out bounded chunks of
 * rows as columns, whatever the file format, so a job never holds a whole input file in memory.
 */
import type { DataType } from '@uwdata/flechette'

/** One column of a file: its name and Arrow (flechette) data type. */
export interface SchemaField {
  name: string
  type: DataType
}

/** A row the reader could not take as it is; the row keeps its place, with nulls where values were bad. */
export interface RowError {
  /** Input row number (0-based, header and blank lines not counted). */
  row: number
  /** What was wrong and what was expected, e.g. `line 12: column 'distance': 'abc' is not a number`. */
  message: string
}

/** A run of consecutive input rows, column by column. */
export interface ColumnChunk {
  /** Input row number (0-based) of the chunk's first row. */
  firstRow: number
  rows: number
  /**
   * One array per column, in schema order. Where the chunk has no nulls, numbers come as typed
   * arrays: `Float64Array` for float64, int64 and timestamps (as milliseconds), the native typed
   * array for narrower types (`Int16Array`, `Float32Array`...); strings, booleans, lists (a typed
   * array per row) and any column with a null come as JS arrays, `null` = missing.
   */
  columns: Record<string, ArrayLike<unknown>>
  /** Rows of this chunk that had bad values (CSV/JSONL only); empty when none. */
  errors: RowError[]
}

/**
 * Reads a file in chunks of rows. After `skip(s)`, chunks cover input rows s, s+1, ... in order,
 * whatever the file's own batches or row groups, so a job that restarts can skip what it has
 * already scored and continue with the next row.
 *
 * @example
 * const reader = await openReader('flights.parquet', 'parquet')
 * await reader.skip(done)
 * for (let c = await reader.next(10_000); c; c = await reader.next(10_000)) score(c)
 * await reader.close()
 */
export interface ChunkReader {
  /** Column names and types, fixed for the whole file (from its schema; for CSV/JSONL inferred from its first rows). */
  readonly schema: SchemaField[]
  /** Total rows when the format knows them up front (Parquet, Arrow file); undefined otherwise. */
  readonly totalRows: number | undefined
  /** Bytes consumed so far and the file size, for progress/ETA when totalRows is unknown. */
  progress(): { bytesRead: number; bytesTotal: number }
  /** Skip the first `rows` rows; cheap where the format allows (whole Parquet row groups and Arrow batches are not decoded). Call before the first next(). */
  skip(rows: number): Promise<void>
  /**
   * The next chunk of `maxRows` rows; undefined after the last. Fewer at the end of the file, and
   * where the rows' text reaches a memory budget (CSV/JSONL with very long records).
   */
  next(maxRows: number): Promise<ColumnChunk | undefined>
  /** Releases the file; safe to call twice. */
  close(): Promise<void>
}

/** Options for {@link ChunkReader}s. */
export interface ReaderOptions {
  /**
   * Most columns the file may have (default LASTMILE_JOB_MAX_COLUMNS' default): more is an
   * InvalidRequestError when it is opened; CSV and JSONL stop reading their first rows there.
   */
  maxColumns?: number
  /** CSV/JSONL: rows read up front to infer column types (default 1000). */
  inferRows?: number
  /**
   * CSV/JSONL: longest record or line in bytes (default LASTMILE_JOB_MAX_RECORD_BYTES' default).
   * A longer JSONL line is a row error; a longer CSV record fails the read (CSV cannot find the next
   * record without parsing this one).
   */
  maxRecordBytes?: number
}
