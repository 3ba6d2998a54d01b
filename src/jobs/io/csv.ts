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
import { DEFAULT_MAX_RECORD_BYTES } from '../../config.js'
import { InvalidRequestError } from '../../errors.js'
import { openText, show, type TextLayout, type TextRecord } from './text.js'
import type { ChunkReader, ReaderOptions } from './types.js'

/** A decimal number, as CSV writers print them (no hex, no `Infinity`). */
const NUMBER = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/

/** Opens a CSV file for reading in chunks. */
export async function openCsv(path: string, options: ReaderOptions = {}): Promise<ChunkReader> {
  const name = basename(path)
  const maxBytes = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES
  let header: string[] | undefined
  const records = (input: ReadStream) => csvRecords(input, name, maxBytes, (h) => (header = h))
  return openText(path, records, (sample) => layout(name, header, sample), options.inferRows)
}

/** Data records with their first line, a batch per parser read; the header row goes to `onHeader`. */
async function* csvRecords(input: ReadStream, name: string, maxBytes: number, onHeader: (names: string[]) => void) {
  // No `info: true`: it costs a third of the parse time, and its line count takes a CRLF inside
  // a quoted field for two lines. Blank lines come through as [''] and are skipped here.
  // `max_record_size` bounds the parser's field and record buffers (a line without an end, an
  // unclosed quote); past it no later record can be found, so the read fails.
  const parser = parse({ bom: true, relax_column_count: true, max_record_size: maxBytes })
  input.on('error', (e) => parser.destroy(e))
  input.pipe(parser)
  let line = 0
  let width = 0
  try {
    for (;;) {
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
      if (batch.length > 0) yield batch
      if (parser.readableEnded) return
      await readable(parser)
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

/** Resolves when `stream` has data or has ended; rejects on its error. */
function readable(stream: Readable): Promise<void> {
  if (stream.errored) return Promise.reject(stream.errored)
  return new Promise((resolve, reject) => {
    const settle = (e?: Error) => {
      stream.off('readable', ok).off('end', ok).off('error', settle)
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
    if (f.includes('\n') || f.includes('\r')) breaks += f.match(/\r\n|\r|\n/g)?.length ?? 0
  }
  return { breaks, chars }
}

function layout(name: string, header: string[] | undefined, sample: TextRecord[]): TextLayout {
  if (!header) throw new InvalidRequestError(`'${name}' has no header row; a CSV file must start with the column names`)
  const names = header.map((h, i) => h.trim() || `column_${i + 1}`)
  const seen = new Set<string>()
  for (const n of names) {
    if (seen.has(n)) throw new InvalidRequestError(`'${name}' names column '${n}' twice in its header row`)
    seen.add(n)
  }
  const numeric = names.map((_, c) => {
    let values = 0
    for (const { record } of sample) {
      const v = (record as string[])[c]
      if (v === undefined || v === '') continue
      if (!NUMBER.test(v) || !Number.isFinite(Number(v))) return false
      values++
    }
    return values > 0
  })
  return {
    schema: names.map((n, c) => ({ name: n, type: numeric[c] ? float64() : utf8() })),
    values(record, problems) {
      const cells = record as string[]
      if (cells.length !== names.length) problems.push(`has ${cells.length} fields, the header row has ${names.length}`)
      return names.map((n, c) => {
        const v = cells[c]
        if (v === undefined || v === '') return null
        if (!numeric[c]) return v
        const x = Number(v)
        if (NUMBER.test(v) && Number.isFinite(x)) return x
        problems.push(`column '${n}': ${show(v)} is not a number`)
        return null
      })
    },
  }
}
