/**
 * What CSV and JSONL share: rows come from a parser over a file read stream; the first rows are
 * read up front to fix the column types, then rows are converted to columns a block at a time.
 *
 * A file may be wide and its rows short (a 20 000-column header, then rows of one field): every
 * step here costs in proportion to the text read, never to rows × columns. The guess looks at the
 * fields present, a conversion puts only the values a record holds, and the missing cells of a
 * block are filled in at its end (the caller bounds a block's cells). Between batches of records
 * (a slice of text each) the event loop gets a turn, so no file holds it for long.
 */
import { createReadStream, type ReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { Type } from '@uwdata/flechette'
import { InvalidRequestError } from '../../errors.js'
import { MAX_JSON_DEPTH, nestsDeeperThan } from '../../exact-json.js'
import { type Block, type BlockSource, ChunkedReader } from './chunker.js'
import type { ChunkReader, RowError, SchemaField } from './types.js'

/** Rows read up front to infer column types when the caller does not say. */
const INFER_ROWS = 1000

/**
 * Text (in bytes, about) that the rows read up front, and the rows of one block, may hold: with
 * records of up to LASTMILE_JOB_MAX_RECORD_BYTES, a count of rows alone does not bound memory.
 */
const TEXT_BUDGET = 64 * 2 ** 20

/**
 * Text a parser takes at once before its records are handed on (a batch), with an event-loop turn
 * between batches: a few ms of work for most files, ~0.4 s at worst (CSV rows of the wrong width).
 */
export const SLICE_BYTES = 16 * 1024

/** A decimal number, as CSV writers print them (no hex, no `Infinity`): what counts as a number in text. */
export const DECIMAL = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/

/** One parsed record, the file line it starts on (1-based) and its size in the file. */
export interface TextRecord {
  line: number
  bytes: number
  record: unknown
}

/** A text format's columns, decided from the first records, and how to turn a record into values. */
export interface TextLayout {
  schema: SchemaField[]
  /**
   * Converts one record: `put(column, value)` once for each value it holds (by schema index, any
   * order; what it does not put is null), so the work follows the record's size, not the schema's
   * width. What was wrong goes to `problems`.
   */
  convert(record: unknown, put: (column: number, value: unknown) => void, problems: string[]): void
}

/**
 * A text format's guess at its columns: shown the first records a parser batch at a time (each
 * call's work follows the batch's size), then asked for the layout.
 */
export interface TextGuess {
  add(records: TextRecord[]): void
  layout(): TextLayout
}

/**
 * Opens a text file: `records` parses the read stream (in batches of records of about
 * {@link SLICE_BYTES}, so that no row costs an await), `guess` decides the columns from the first
 * `inferRows` records.
 */
export async function openText(
  path: string,
  records: (input: ReadStream) => AsyncIterator<TextRecord[]>,
  guess: TextGuess,
  inferRows = INFER_ROWS,
): Promise<ChunkReader> {
  const size = (await stat(path)).size
  const input = createReadStream(path, { highWaterMark: 1 << 20 /* 1 MiB reads */ })
  const source = records(input)
  try {
    const want = Math.max(1, inferRows)
    const buffered: TextRecord[] = []
    let ended = false
    let bytes = 0
    while (buffered.length < want && bytes < TEXT_BUDGET && !ended) {
      const r = await source.next()
      if (r.done) ended = true
      else {
        const room = want - buffered.length
        // Stryker disable next-line ConditionalExpression,EqualityOperator: a batch of at most `room` records sliced to `room` is the same records
        guess.add(r.value.length > room ? r.value.slice(0, room) : r.value)
        for (const record of r.value) {
          buffered.push(record)
          bytes += record.bytes
        }
        await nextTurn()
      }
    }
    return new ChunkedReader(new TextSource(input, size, source, buffered, ended, guess.layout()))
  } catch (e) {
    await source.return?.()
    input.destroy()
    throw e
  }
}

/** The 400 for a file with more columns than LASTMILE_JOB_MAX_COLUMNS (`count`: a number, or "at least 5001"). */
export function tooManyColumns(file: string, count: number | string, limit: number, where = ''): InvalidRequestError {
  return new InvalidRequestError(
    `'${file}' has ${count} columns${where}; a job file may have at most ${limit} (LASTMILE_JOB_MAX_COLUMNS)`,
  )
}

class TextSource implements BlockSource {
  readonly schema: SchemaField[]
  readonly totalRows = undefined
  readonly #input: ReadStream
  readonly #size: number
  readonly #records: AsyncIterator<TextRecord[]>
  readonly #layout: TextLayout
  #buffered: TextRecord[]
  #at = 0
  #row = 0
  #ended: boolean

  constructor(
    input: ReadStream,
    size: number,
    records: AsyncIterator<TextRecord[]>,
    buffered: TextRecord[],
    ended: boolean,
    layout: TextLayout,
  ) {
    this.#input = input
    this.#size = size
    this.#records = records
    this.#buffered = buffered
    this.#ended = ended
    this.#layout = layout
    this.schema = layout.schema
  }

  progress(): { bytesRead: number; bytesTotal: number } {
    return { bytesRead: this.#ended ? this.#size : Math.min(this.#input.bytesRead, this.#size), bytesTotal: this.#size }
  }

  /** Skipped records are parsed but not converted (nor checked). */
  async skipWhole(rows: number): Promise<number> {
    let skipped = 0
    // Stryker disable next-line ConditionalExpression: #refill() answers true at once while buffered records are left, as the first test does
    while (skipped < rows && (this.#at < this.#buffered.length || (await this.#refill()))) {
      // Stryker disable next-line ArithmeticOperator: skip() comes before any read, so #at is 0 whenever a batch is taken from (a refill resets it)
      const take = Math.min(rows - skipped, this.#buffered.length - this.#at)
      this.#at += take
      skipped += take
    }
    this.#row += skipped
    return skipped
  }

  /** Up to `wantRows` rows: the caller bounds rows × columns, since every missing cell becomes a null. */
  async read(wantRows: number): Promise<Block | undefined> {
    const columns = this.schema.map(() => [] as unknown[])
    const errors: RowError[] = []
    const problems: string[] = []
    let rows = 0
    let bytes = 0
    const put = (c: number, value: unknown) => {
      const column = columns[c]
      if (!column || value === null || value === undefined) return
      padTo(column, rows)
      if (column.length === rows) column.push(value)
    }
    while (rows < wantRows && bytes < TEXT_BUDGET) {
      // Stryker disable next-line ConditionalExpression: #refill() answers true at once while buffered records are left, as the first test does
      if (this.#at >= this.#buffered.length && !(await this.#refill())) break
      const r = this.#buffered[this.#at++] as TextRecord
      bytes += r.bytes
      this.#layout.convert(r.record, put, problems)
      for (const p of problems) errors.push({ row: this.#row + rows, message: `line ${r.line}: ${p}` })
      problems.length = 0
      rows++
    }
    if (rows === 0) return undefined
    // The columns no record of the block had (most of a wide, sparse file's) share one frozen
    // array of nulls: a chunk's own memory follows the values it holds, not rows × columns.
    const nulls = Object.freeze(new Array<null>(rows).fill(null))
    for (const column of columns) if (column.length > 0) padTo(column, rows)
    const block = {
      firstRow: this.#row,
      rows,
      columns: columns.map((c, i) => (c.length > 0 ? pack(c, this.schema[i] as SchemaField) : nulls)),
      errors,
      // Stryker disable next-line ConditionalExpression: a block is short of the rows asked only at the end of the file or at the budget, so `full` changes nothing elsewhere
      full: bytes >= TEXT_BUDGET,
    }
    this.#row += rows
    return block
  }

  async close(): Promise<void> {
    this.#ended = true
    // Stryker disable next-line ArrayDeclaration: after close the reader never reads a block again (this frees the records)
    this.#buffered = []
    this.#at = 0
    await this.#records.return?.()
    this.#input.destroy()
  }

  /**
   * Reads the next batch of records once the buffered ones are used; false at the end. The event
   * loop gets a turn first: a batch may have come without any I/O wait.
   */
  async #refill(): Promise<boolean> {
    while (this.#at >= this.#buffered.length) {
      if (this.#ended) return false
      await nextTurn()
      const r = await this.#records.next()
      if (r.done) this.#ended = true
      else {
        this.#buffered = r.value
        this.#at = 0
      }
    }
    return true
  }
}

/**
 * Pads `column` with nulls to `length`: a push for a short gap (a dense column stays packed), one
 * resize and fill for a long one (a wide file's missing cells: one allocation, not one per push).
 */
function padTo(column: unknown[], length: number): void {
  const from = column.length
  // Stryker disable next-line ConditionalExpression,EqualityOperator,ArithmeticOperator: either way pads with nulls to `length`; the test only picks the faster way
  if (length - from > 16) {
    column.length = length
    column.fill(null, from)
  } else for (let i = from; i < length; i++) column.push(null)
}

/** A float64 column of numbers only as a Float64Array (nulls, and exact bigints past 2^53, keep an array). */
function pack(values: unknown[], field: SchemaField): ArrayLike<unknown> {
  if (field.type.typeId !== Type.Float || !values.every((v) => typeof v === 'number')) return values
  return Float64Array.from(values as number[])
}

/** A value for an error message: JSON, cut short (a value nested too deep to write is named so). */
export function show(value: unknown): string {
  if (nestsDeeperThan(value))
    return `${Array.isArray(value) ? 'an array' : 'an object'} nested over ${MAX_JSON_DEPTH} deep`
  const text = typeof value === 'string' ? `'${value}'` : jsonText(value)
  return text.length > 40 ? `${text.slice(0, 37)}...` : text
}

/**
 * JSON text of a value nested at most {@link MAX_JSON_DEPTH} deep (the caller checks: this
 * recurses), bigints exact where JSON.stringify throws on them, typed arrays as arrays.
 */
export function jsonText(value: unknown): string {
  if (typeof value === 'bigint') return String(value)
  if (Array.isArray(value) || ArrayBuffer.isView(value))
    return `[${Array.from(value as ArrayLike<unknown>, jsonText).join(',')}]`
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const members = Object.entries(value).map(([k, x]) => `${JSON.stringify(k)}:${jsonText(x)}`)
    return `{${members.join(',')}}`
  }
  return JSON.stringify(value) ?? String(value)
}
