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
import { InvalidRequestError } from '../../errors.js'
import { openText, show, type TextLayout, type TextRecord } from './text.js'
import type { ChunkReader, ReaderOptions } from './types.js'

/** A decimal number, as CSV writers print them (no hex, no `Infinity`). */
const NUMBER = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/

/** Opens a CSV file for reading in chunks. */
export async function openCsv(path: string, options: ReaderOptions = {}): Promise<ChunkReader> {
  const name = basename(path)
  let header: string[] | undefined
  const records = (input: ReadStream) => csvRecords(input, name, (h) => (header = h))
  return openText(path, records, (sample) => layout(name, header, sample), options.inferRows)
}

/** Data records with their first line, a batch per parser read; the header row goes to `onHeader`. */
async function* csvRecords(input: ReadStream, name: string, onHeader: (names: string[]) => void) {
  // No `info: true`: it costs a third of the parse time, and its line count takes a CRLF inside
  // a quoted field for two lines. Blank lines come through as [''] and are skipped here.
  const parser = parse({ bom: true, relax_column_count: true })
  input.on('error', (e) => parser.destroy(e))
  input.pipe(parser)
  let line = 0
  let width = 0
  try {
    for (;;) {
      const batch: TextRecord[] = []
      for (let record: string[] | null = parser.read(); record !== null; record = parser.read()) {
        const start = line + 1
        line = start + lineBreaks(record)
        // In a one-column file an empty line is a missing value, not a blank line.
        if (record.length === 1 && record[0] === '' && width !== 1) continue
        if (width === 0) {
          onHeader(record)
          width = record.length
        } else batch.push({ line: start, record })
      }
      if (batch.length > 0) yield batch
      if (parser.readableEnded) return
      await readable(parser)
    }
  } catch (e) {
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

/** Line breaks inside a record's (quoted) fields; CRLF counts once. */
function lineBreaks(fields: string[]): number {
  let n = 0
  for (const f of fields) if (f.includes('\n') || f.includes('\r')) n += f.match(/\r\n|\r|\n/g)?.length ?? 0
  return n
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
