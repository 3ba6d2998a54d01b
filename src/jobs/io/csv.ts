/**
 * CSV (RFC 4180, header row, BOM tolerated) through csv-parse's streaming parser. A column is
 * float64 when every non-empty value of the first rows is a finite number, utf8 otherwise; an empty
 * cell is null.
 */
import type { ReadStream } from 'node:fs'
import { basename } from 'node:path'
import type { Readable } from 'node:stream'
import { float64, utf8 } from '@uwdata/flechette'
import { CsvError, parse } from 'csv-parse'
import { DEFAULT_MAX_COLUMNS, DEFAULT_MAX_RECORD_BYTES } from '../../config-schema.js'
import { InvalidRequestError } from '../../errors.js'
import {
  DECIMAL,
  openText,
  SLICE_BYTES,
  show,
  type TextGuess,
  type TextLayout,
  type TextRecord,
  tooManyColumns,
} from './text.js'
import type { ChunkReader, ReaderOptions } from './types.js'

/** Opens a CSV file for reading in chunks. */
export async function openCsv(path: string, options: ReaderOptions = {}): Promise<ChunkReader> {
  const name = basename(path)
  const maxBytes = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES
  const maxColumns = options.maxColumns ?? DEFAULT_MAX_COLUMNS
  const guess = new CsvGuess(name, maxColumns)
  const header = new HeaderWidth(name, maxColumns)
  const records = (input: ReadStream) => csvRecords(input, name, maxBytes, header, (h) => guess.header(h))
  return openText(path, records, guess, options.inferRows)
}

/**
 * Data records with their first line, a batch per slice of the file; the header row goes to
 * `onHeader`. The parser is fed one slice at a time and drained before the next, so it never runs
 * ahead of the records used, and no slice holds the event loop for long: csv-parse builds an error
 * object (~50 µs) for each row whose width differs from the header's, which made one 1 MiB read of
 * two-byte rows ~30 s of work.
 */
async function* csvRecords(
  input: ReadStream,
  name: string,
  maxBytes: number,
  header: HeaderWidth,
  onHeader: (names: string[]) => void,
) {
  // No `info: true`: it costs a third of the parse time, and its line count takes a CRLF inside
  // a quoted field for two lines. Blank lines come through as [''] and are skipped here.
  // `max_record_size` bounds the parser's field and record buffers (a line without an end, an
  // unclosed quote); past it no later record can be found, so the read fails.
  const parser = parse({ bom: true, relax_column_count: true, max_record_size: maxBytes })
  // A failed write is read from parser.errored; the listener keeps its 'error' event from being uncaught.
  parser.on('error', () => undefined)
  let line = 0
  let width = 0
  const ready = (): TextRecord[] => {
    if (parser.errored) throw parser.errored
    const batch: TextRecord[] = []
    for (let record: string[] | null = parser.read(); record !== null; record = parser.read()) {
      const start = line + 1
      const { breaks, chars } = measure(record)
      line = start + breaks
      // In a one-column file an empty line is a missing value, not a blank line.
      if (record.length === 1 && record[0] === '' && width !== 1) continue
      if (width === 0) {
        onHeader(record)
        width = record.length
      } else batch.push({ line: start, bytes: chars, record })
    }
    return batch
  }
  try {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      // Stryker disable next-line EqualityOperator: one more slice at the chunk's end is empty, which the scan and the parser take as nothing
      for (let at = 0; at < chunk.length; at += SLICE_BYTES) {
        const slice = chunk.subarray(at, at + SLICE_BYTES)
        header.scan(slice)
        parser.write(slice) // parsed now: the records wait in the parser
        yield ready() // empty too: the reader gives the event loop a turn between batches
      }
    }
    parser.end() // the last record, if the file does not end with a line break, comes at the flush
    while (!parser.readableEnded) {
      const batch = ready()
      // Stryker disable next-line ConditionalExpression,EqualityOperator: the reader takes an empty batch as no records
      if (batch.length > 0) yield batch
      else await readable(parser)
    }
  } catch (e) {
    if (e instanceof CsvError && e.code === 'CSV_MAX_RECORD_SIZE') {
      const at = (e as CsvError & { lines?: number }).lines // the parser's line, ahead of the records read
      throw new InvalidRequestError(
        `'${name}' has a record longer than ${maxBytes} bytes at line ${at} (LASTMILE_JOB_MAX_RECORD_BYTES): a line without its end, or a quote never closed?`,
      )
    }
    if (e instanceof CsvError) throw new InvalidRequestError(`'${name}' is not valid CSV: ${e.message}`)
    throw e
  } finally {
    parser.destroy()
  }
}

/**
 * The header row's width, counted on its bytes as they arrive (commas outside quotes, up to its
 * line break): a header wider than LASTMILE_JOB_MAX_COLUMNS is refused at the slice that passes
 * it, before csv-parse has built it (it took ~8 s for a 12 MB header of 1.5M names).
 */
class HeaderWidth {
  #fields = 1
  #quoted = false
  #started = false
  #done = false

  constructor(
    readonly file: string,
    readonly maxColumns: number,
  ) {}

  /** Counts `bytes`' commas of the header row; throws once they pass the limit. */
  scan(bytes: Uint8Array): void {
    // Stryker disable next-line ConditionalExpression: the loop below stops at once when done, and the count was checked when it was
    if (this.#done) return
    for (let i = 0; i < bytes.length && !this.#done; i++) {
      const b = bytes[i]
      if (b === QUOTE)
        this.#quoted = !this.#quoted // a doubled quote toggles twice
      else if (this.#quoted) continue
      else if (b === COMMA) this.#fields++
      // Blank lines before the header are skipped, as the parser does.
      else if (b === LF || b === CR) this.#done = this.#started
      if (b !== LF && b !== CR) this.#started = true
    }
    if (this.#fields > this.maxColumns)
      throw tooManyColumns(this.file, this.#done ? this.#fields : `at least ${this.#fields}`, this.maxColumns)
  }
}

const QUOTE = 0x22
const COMMA = 0x2c
const LF = 0x0a
const CR = 0x0d

/** Resolves when `stream` has data or has ended; rejects on its error. */
function readable(stream: Readable): Promise<void> {
  // Stryker disable next-line ConditionalExpression: its one caller, ready(), has just thrown any error the parser had
  if (stream.errored) return Promise.reject(stream.errored)
  return new Promise((resolve, reject) => {
    const settle = (e?: Error) => {
      // Stryker disable next-line StringLiteral: only frees the listeners: the promise settles once whatever fires later
      stream.off('readable', ok).off('end', ok).off('error', settle)
      // Stryker disable next-line ConditionalExpression: resolved on an error, the caller's next ready() throws parser.errored, set before 'error' is emitted
      if (e) reject(e)
      else resolve()
    }
    const ok = () => settle()
    stream.on('readable', ok).on('end', ok).on('error', settle)
  })
}

/** Line breaks inside a record's (quoted) fields (CRLF counts once), and its characters with a separator each. */
function measure(fields: string[]): { breaks: number; chars: number } {
  let breaks = 0
  let chars = 0
  for (const f of fields) {
    chars += f.length + 1
    // Stryker disable next-line ConditionalExpression,StringLiteral,OptionalChaining: the test only spares the match for fields without a break; where it passes, match finds one
    if (f.includes('\n') || f.includes('\r')) breaks += f.match(/\r\n|\r|\n/g)?.length ?? 0
  }
  return { breaks, chars }
}

/**
 * The columns: names from the header row (at most `maxColumns`), a type per column from the fields
 * of the first records: float64 where every non-empty one is a number, utf8 otherwise.
 */
class CsvGuess implements TextGuess {
  #names: string[] | undefined
  /** Per column: 0 no value seen yet, 1 numbers only, 2 text. */
  #kinds = new Uint8Array(0)

  constructor(
    readonly file: string,
    readonly maxColumns: number,
  ) {}

  header(fields: string[]): void {
    if (fields.length > this.maxColumns) throw tooManyColumns(this.file, fields.length, this.maxColumns)
    const names = fields.map((h, i) => h.trim() || `column_${i + 1}`)
    const seen = new Set<string>()
    for (const n of names) {
      if (seen.has(n)) throw new InvalidRequestError(`'${this.file}' names column '${n}' twice in its header row`)
      seen.add(n)
    }
    this.#names = names
    this.#kinds = new Uint8Array(names.length)
  }

  add(records: TextRecord[]): void {
    const kinds = this.#kinds
    for (const { record } of records) {
      const cells = record as string[]
      const n = Math.min(cells.length, kinds.length)
      for (let c = 0; c < n; c++) {
        const v = cells[c] as string
        // An integer past 2^53 keeps its column text: a double would round it (2^64 - 1 became
        // 2^64), and the model's INT64/UINT64 inputs read the text exactly.
        if (v !== '' && kinds[c] !== 2) kinds[c] = isNumber(v) && !isLongInteger(v) ? 1 : 2
      }
    }
  }

  layout(): TextLayout {
    const names = this.#names
    if (!names)
      throw new InvalidRequestError(`'${this.file}' has no header row; a CSV file must start with the column names`)
    const numeric = Array.from(this.#kinds, (k) => k === 1)
    return {
      schema: names.map((n, c) => ({ name: n, type: numeric[c] ? float64() : utf8() })),
      convert(record, put, problems) {
        const cells = record as string[]
        if (cells.length !== names.length)
          problems.push(`has ${cells.length} fields, the header row has ${names.length}`)
        const n = Math.min(cells.length, names.length)
        for (let c = 0; c < n; c++) {
          const v = cells[c] as string
          if (v === '') continue
          if (!numeric[c]) put(c, v)
          else if (isNumber(v)) put(c, exactInteger(v) ?? Number(v))
          else problems.push(`column '${names[c]}': ${show(v)} is not a number`)
        }
      },
    }
  }
}

/** A decimal number that is finite as a float64. */
function isNumber(v: string): boolean {
  return DECIMAL.test(v) && Number.isFinite(Number(v))
}

/** Integer text (digits, a sign, blanks around). */
const INTEGER = /^\s*[+-]?\d+\s*$/

/** Integer text that a double would round: past 2^53. */
function isLongInteger(v: string): boolean {
  return INTEGER.test(v) && !Number.isSafeInteger(Number(v))
}

/**
 * Integer text past 2^53 of at most 20 digits (any 64-bit one) as a bigint, where past the first
 * rows it turns up in a column of numbers: the model's input gets it exactly (the chunk file holds
 * the double nearest it). Longer ones are past every integer input's range: a double does.
 */
function exactInteger(v: string): bigint | undefined {
  // Stryker disable next-line Regex,MethodExpression: INTEGER puts a sign only first, and BigInt() trims blanks itself
  return isLongInteger(v) && v.trim().replace(/^[+-]/, '').length <= 20 ? BigInt(v.trim()) : undefined
}
