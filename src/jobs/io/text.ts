/**
 * What CSV and JSONL share: rows come from a parser over a file read stream; the first rows are
 * read up front to fix the column types, then rows are converted to columns a block at a time.
 */
import { createReadStream, type ReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { Type } from '@uwdata/flechette'
import { type Block, type BlockSource, ChunkedReader } from './chunker.js'
import type { ChunkReader, RowError, SchemaField } from './types.js'

/** Rows read up front to infer column types when the caller does not say. */
const INFER_ROWS = 1000

/**
 * Text (in bytes, about) that the rows read up front, and the rows of one block, may hold: with
 * records of up to LASTMILE_JOB_MAX_RECORD_BYTES, a count of rows alone does not bound memory.
 */
const TEXT_BUDGET = 64 * 2 ** 20

/** One parsed record, the file line it starts on (1-based) and its size in the file. */
export interface TextRecord {
  line: number
  bytes: number
  record: unknown
}

/** A text format's columns, decided from the first records, and how to turn a record into values. */
export interface TextLayout {
  schema: SchemaField[]
  /** The record's values in schema order (null = missing); what was wrong goes to `problems`. */
  values(record: unknown, problems: string[]): unknown[]
}

/**
 * Opens a text file: `records` parses the read stream (in batches of records, so that no row costs
 * an await), `layout` decides the columns from the first `inferRows` records.
 */
export async function openText(
  path: string,
  records: (input: ReadStream) => AsyncIterator<TextRecord[]>,
  layout: (sample: TextRecord[]) => TextLayout,
  inferRows = INFER_ROWS,
): Promise<ChunkReader> {
  const size = (await stat(path)).size
  const input = createReadStream(path, { highWaterMark: 1 << 20 /* 1 MiB reads */ })
  const source = records(input)
  try {
    const buffered: TextRecord[] = []
    let ended = false
    let bytes = 0
    while (buffered.length < Math.max(1, inferRows) && bytes < TEXT_BUDGET && !ended) {
      const r = await source.next()
      if (r.done) ended = true
      else
        for (const record of r.value) {
          buffered.push(record)
          bytes += record.bytes
        }
    }
    const sample = buffered.slice(0, inferRows)
    return new ChunkedReader(new TextSource(input, size, source, buffered, ended, layout(sample)))
  } catch (e) {
    await source.return?.()
    input.destroy()
    throw e
  }
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
    while (skipped < rows && (this.#at < this.#buffered.length || (await this.#refill()))) {
      const take = Math.min(rows - skipped, this.#buffered.length - this.#at)
      this.#at += take
      skipped += take
    }
    this.#row += skipped
    return skipped
  }

  async read(wantRows: number): Promise<Block | undefined> {
    const columns = this.schema.map(() => [] as unknown[])
    const errors: RowError[] = []
    const problems: string[] = []
    let rows = 0
    let bytes = 0
    while (rows < wantRows && bytes < TEXT_BUDGET) {
      if (this.#at >= this.#buffered.length && !(await this.#refill())) break
      const r = this.#buffered[this.#at++] as TextRecord
      bytes += r.bytes
      const values = this.#layout.values(r.record, problems)
      for (let c = 0; c < columns.length; c++) (columns[c] as unknown[]).push(values[c] ?? null)
      for (const p of problems) errors.push({ row: this.#row + rows, message: `line ${r.line}: ${p}` })
      problems.length = 0
      rows++
    }
    if (rows === 0) return undefined
    const block = {
      firstRow: this.#row,
      rows,
      columns: columns.map((c, i) => pack(c, this.schema[i] as SchemaField)),
      errors,
      full: bytes >= TEXT_BUDGET,
    }
    this.#row += rows
    return block
  }

  async close(): Promise<void> {
    this.#ended = true
    this.#buffered = []
    this.#at = 0
    await this.#records.return?.()
    this.#input.destroy()
  }

  /** Reads the next batch of records once the buffered ones are used; false at the end. */
  async #refill(): Promise<boolean> {
    while (this.#at >= this.#buffered.length) {
      if (this.#ended) return false
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

/** A float64 column without nulls as a Float64Array. */
function pack(values: unknown[], field: SchemaField): ArrayLike<unknown> {
  if (field.type.typeId !== Type.Float || values.includes(null)) return values
  return Float64Array.from(values as number[])
}

/** A value for an error message: JSON, cut short. */
export function show(value: unknown): string {
  const text = typeof value === 'string' ? `'${value}'` : (JSON.stringify(value) ?? String(value))
  return text.length > 40 ? `${text.slice(0, 37)}...` : text
}
