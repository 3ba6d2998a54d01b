/**
 * Job results: each chunk is written as its own Arrow IPC stream file (`encodeChunk`); the result
 * is the chunk files, in order, streamed as the format asked for.
 */
import { open, readFile } from 'node:fs/promises'
import { basename } from 'node:path'
import { tableFromIPC } from '@uwdata/flechette'
import { TABLE_OPTIONS, tableColumns, tableSchema } from './columns.js'
import type { JobFormat } from './formats.js'
import { MessageReader, MessageType } from './ipc.js'
import { emptyParquet, parquetStream } from './parquet.js'

/** The end-of-stream marker: continuation, then a zero metadata length. */
const EOS = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0])
/** Rows of CSV or JSONL text gathered per piece of output. */
const TEXT_ROWS = 8192

/**
 * The chunk files (Arrow IPC stream files from `encodeChunk`, in order) as one output file:
 * `csv` (header row, RFC 4180 quoting, missing values and NaN empty), `jsonl` (one object per
 * row), `arrow` (one IPC stream: the first chunk's schema, every chunk's batches, one end marker,
 * spliced from the files' bytes) or `parquet` (ZSTD, one row group per chunk). Holds about one
 * chunk in memory. No chunk files give an empty output: encode an empty chunk to get a header.
 */
export function writeOutput(chunkPaths: string[], format: JobFormat): AsyncIterable<Uint8Array> {
  switch (format) {
    case 'arrow':
      return arrowOutput(chunkPaths)
    case 'parquet':
      return parquetOutput(chunkPaths)
    case 'csv':
    case 'jsonl':
      return textOutput(chunkPaths, format)
  }
}

async function* arrowOutput(paths: string[]): AsyncGenerator<Uint8Array> {
  let schema: Uint8Array | undefined
  for (const path of paths) {
    const handle = await open(path, 'r')
    try {
      const messages = new MessageReader(handle, 0, (await handle.stat()).size, basename(path))
      for (let head = await messages.nextHead(); head; head = await messages.nextHead()) {
        const message = await messages.body(head)
        if (head.type !== MessageType.Schema) yield message
        else if (schema === undefined) {
          schema = message
          yield message
        } else if (!Buffer.from(schema).equals(message))
          throw new Error(`chunk file '${basename(path)}' has a different schema from the first chunk's`)
      }
    } finally {
      await handle.close()
    }
  }
  if (schema) yield EOS
}

async function* parquetOutput(paths: string[]): AsyncGenerator<Uint8Array> {
  const [first] = paths
  if (first === undefined) return
  // Stryker disable next-line ArrayDeclaration: an extra first entry is no count above 0: findIndex and the lookup both shift by one and find the same count
  const rows: number[] = []
  for (const path of paths) rows.push(await chunkRows(path))
  const firstFull = rows.findIndex((n) => n > 0)
  if (firstFull < 0) {
    yield emptyParquet(await readFile(first))
    return
  }
  async function* files() {
    for (const path of paths) yield await readFile(path)
  }
  // About a row group per chunk: chunks hold the same rows but for the last (and text chunks cut
  // short by their memory budget, whose followers may then span two row groups).
  yield* parquetStream(files(), rows[firstFull] as number)
}

/** Rows of a chunk file, from its record batch headers. */
async function chunkRows(path: string): Promise<number> {
  const handle = await open(path, 'r')
  try {
    const messages = new MessageReader(handle, 0, (await handle.stat()).size, basename(path))
    let rows = 0
    for (let head = await messages.nextHead(); head; head = await messages.nextHead()) {
      rows += head.rows
      messages.skipBody(head)
    }
    return rows
  } finally {
    await handle.close()
  }
}

async function* textOutput(paths: string[], format: 'csv' | 'jsonl'): AsyncGenerator<Uint8Array> {
  let header = true
  for (const path of paths) {
    const table = tableFromIPC(await readFile(path), TABLE_OPTIONS)
    const names = tableSchema(table).map((f) => f.name)
    const columns = tableColumns(table)
    const lines: string[] = []
    if (format === 'csv' && header) lines.push(names.map(csvText).join(','))
    header = false
    const keys = names.map((n, c) => `${c === 0 ? '{' : ','}${JSON.stringify(n)}:`)
    for (let r = 0; r < table.numRows; r++) {
      let line = ''
      for (let c = 0; c < columns.length; c++) {
        const v = (columns[c] as ArrayLike<unknown>)[r]
        line += format === 'csv' ? (c === 0 ? '' : ',') + csvCell(v) : keys[c] + jsonCell(v)
      }
      // Stryker disable next-line StringLiteral: a table without columns has no rows (flechette counts rows by the first column)
      lines.push(format === 'csv' ? line : `${columns.length ? line : '{'}}`)
      if (lines.length >= TEXT_ROWS) yield Buffer.from(`${lines.splice(0).join('\n')}\n`)
    }
    if (lines.length) yield Buffer.from(`${lines.join('\n')}\n`)
  }
}

function csvCell(v: unknown): string {
  // Stryker disable next-line ConditionalExpression: column values of a decoded table are never undefined (a missing value is null)
  if (v === null || v === undefined) return ''
  if (typeof v === 'number') return Number.isNaN(v) ? '' : String(v)
  if (typeof v === 'string') return csvText(v)
  // Stryker disable next-line ConditionalExpression,LogicalOperator,StringLiteral: a shortcut: jsonCell writes booleans and bigints as String(v) too, with nothing to quote
  if (typeof v === 'boolean' || typeof v === 'bigint') return String(v)
  return csvText(jsonCell(v))
}

/** RFC 4180: a field with a comma, quote or line break is quoted, its quotes doubled. */
function csvText(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s
}

/**
 * A value as JSON text: 64-bit integers exact (JSON.stringify cannot write a bigint; a number
 * would round past 2^53), lists (typed arrays too) and structs element by element, NaN and
 * ±Infinity as null. Nesting is the column type's, which the file's schema bounds.
 */
function jsonCell(v: unknown): string {
  // Stryker disable next-line ConditionalExpression: undefined falls through to JSON.stringify(undefined) ?? 'null', the same 'null'
  if (v === null || v === undefined) return 'null'
  // Stryker disable next-line ConditionalExpression,StringLiteral: a shortcut: JSON.stringify writes a finite number as String(v) and NaN and infinities as null
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'null'
  // Stryker disable next-line ConditionalExpression,StringLiteral: booleans fall through to JSON.stringify, which writes them alike (bigints, which it refuses, are tested)
  if (typeof v === 'bigint' || typeof v === 'boolean') return String(v)
  // Stryker disable next-line ConditionalExpression,StringLiteral: a shortcut: strings fall through to the same JSON.stringify
  if (typeof v === 'string') return JSON.stringify(v)
  if (Array.isArray(v) || ArrayBuffer.isView(v)) return `[${Array.from(v as ArrayLike<unknown>, jsonCell).join(',')}]`
  // Stryker disable next-line ConditionalExpression,LogicalOperator: only objects come here: chunk files are decoded without dates (flechette's useDate), so no Date
  if (typeof v === 'object' && !(v instanceof Date)) {
    const members = Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}:${jsonCell(x)}`)
    return `{${members.join(',')}}`
  }
  // Stryker disable next-line LogicalOperator,StringLiteral: unreachable: every value of a decoded table is handled above
  return JSON.stringify(v) ?? 'null'
}
