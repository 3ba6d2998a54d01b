/**
 * JSON Lines: one JSON object per line, blank lines skipped. Columns are the keys of the first rows
 * in order of appearance; a column is float64 if its values there are numbers, utf8 for strings,
 * bool for booleans, list<float64> for arrays of numbers (a row's tensor), and utf8 holding the JSON
 * text of anything else.
 */
import type { ReadStream } from 'node:fs'
import { bool, type DataType, field, float64, list, Type, utf8 } from '@uwdata/flechette'
import { DEFAULT_MAX_RECORD_BYTES } from '../../config.js'
import { openText, show, type TextLayout, type TextRecord } from './text.js'
import type { ChunkReader, ReaderOptions } from './types.js'

/** A line that is not a JSON object: the row keeps its place with nulls. */
class BadLine {
  constructor(readonly problem: string) {}
}

const LF = 0x0a

/** Opens a JSONL file for reading in chunks. */
export async function openJsonl(path: string, options: ReaderOptions = {}): Promise<ChunkReader> {
  const maxBytes = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES
  return openText(path, (input) => jsonlRecords(input, maxBytes), layout, options.inferRows)
}

/**
 * Records a read at a time: split on LF bytes (UTF-8 never has 0x0a inside a character; a CR
 * before it is trimmed), blank lines skipped. A line past `maxBytes` is not kept: its bytes are
 * dropped up to its end and it becomes a row error, so memory holds at most `maxBytes` of a line.
 */
async function* jsonlRecords(input: ReadStream, maxBytes: number): AsyncGenerator<TextRecord[]> {
  let parts: Buffer[] = [] // the line so far
  let partBytes = 0
  let overlong = false
  let line = 0
  const end = (out: TextRecord[], tail: Buffer) => {
    line++
    const bytes = partBytes + tail.length
    if (overlong || bytes > maxBytes) {
      const problem = `the line is longer than ${maxBytes} bytes (LASTMILE_JOB_MAX_RECORD_BYTES)`
      out.push({ line, bytes: 0, record: new BadLine(problem) })
    } else {
      const text = (parts.length > 0 ? Buffer.concat([...parts, tail]) : tail).toString('utf8')
      const trimmed = (line === 1 && text.charCodeAt(0) === 0xfeff /* BOM */ ? text.slice(1) : text).trim()
      if (trimmed !== '') out.push({ line, bytes, record: parseObject(trimmed) })
    }
    parts = []
    partBytes = 0
    overlong = false
  }
  for await (const chunk of input as AsyncIterable<Buffer>) {
    const out: TextRecord[] = []
    let at = 0
    for (let lf = chunk.indexOf(LF, at); lf >= 0; lf = chunk.indexOf(LF, at)) {
      end(out, chunk.subarray(at, lf))
      at = lf + 1
    }
    const rest = chunk.subarray(at)
    if (overlong || partBytes + rest.length > maxBytes) {
      overlong = true
      parts = []
      partBytes = 0
    } else if (rest.length > 0) {
      parts.push(rest)
      partBytes += rest.length
    }
    yield out
  }
  const out: TextRecord[] = []
  if (partBytes > 0 || overlong) end(out, Buffer.alloc(0))
  yield out
}

function parseObject(text: string): unknown {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (e) {
    return new BadLine(`not valid JSON (${e instanceof Error ? e.message : e}); expected one JSON object per line`)
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    return new BadLine(`expected a JSON object, got ${show(value)}`)
  return value
}

function layout(sample: TextRecord[]): TextLayout {
  const kinds = new Map<string, Set<string>>()
  for (const { record } of sample) {
    if (record instanceof BadLine) continue
    for (const [key, value] of Object.entries(record as Record<string, unknown>)) {
      const seen = kinds.get(key) ?? new Set<string>()
      kinds.set(key, seen)
      if (value !== null) seen.add(kindOf(value))
    }
  }
  const schema = [...kinds].map(([name, seen]) => ({ name, type: typeFor(seen) }))
  return {
    schema,
    values(record, problems) {
      if (record instanceof BadLine) {
        problems.push(record.problem)
        return []
      }
      const row = record as Record<string, unknown>
      return schema.map(({ name, type }) =>
        convert(row[name], type, (what) => problems.push(`column '${name}': ${what}`)),
      )
    },
  }
}

function kindOf(value: unknown): string {
  if (Array.isArray(value)) return value.every((x) => typeof x === 'number') ? 'numbers' : 'json'
  const t = typeof value
  return t === 'number' || t === 'string' || t === 'boolean' ? t : 'json'
}

function typeFor(kinds: Set<string>): DataType {
  if (kinds.size !== 1) return utf8()
  const [kind] = kinds
  if (kind === 'number') return float64()
  if (kind === 'boolean') return bool()
  if (kind === 'numbers') return list(field('item', float64()))
  return utf8()
}

function convert(value: unknown, type: DataType, problem: (what: string) => void): unknown {
  if (value === null || value === undefined) return null
  switch (type.typeId) {
    case Type.Float:
      if (typeof value === 'number') return value
      problem(`${show(value)} is not a number`)
      return null
    case Type.Bool:
      if (typeof value === 'boolean') return value
      problem(`${show(value)} is not true or false`)
      return null
    case Type.List:
      if (Array.isArray(value) && value.every((x) => typeof x === 'number')) return Float64Array.from(value)
      problem(`${show(value)} is not an array of numbers`)
      return null
    default:
      return typeof value === 'string' ? value : JSON.stringify(value)
  }
}
