/**
 * JSON Lines: one JSON object per line, blank lines skipped. Columns are the keys of the first rows
 * in order of appearance; a column is float64 if its values there are numbers, utf8 for strings,
 * bool for booleans, list<float64> for arrays of numbers (a row's tensor), and utf8 holding the JSON
 * text of anything else.
 */
import type { ReadStream } from 'node:fs'
import { StringDecoder } from 'node:string_decoder'
import { bool, type DataType, field, float64, list, Type, utf8 } from '@uwdata/flechette'
import { openText, show, type TextLayout, type TextRecord } from './text.js'
import type { ChunkReader, ReaderOptions } from './types.js'

/** A line that is not a JSON object: the row keeps its place with nulls. */
class BadLine {
  constructor(readonly problem: string) {}
}

/** Opens a JSONL file for reading in chunks. */
export async function openJsonl(path: string, options: ReaderOptions = {}): Promise<ChunkReader> {
  return openText(path, jsonlRecords, layout, options.inferRows)
}

/** Records a read at a time: split on LF (a CR before it is trimmed), blank lines skipped. */
async function* jsonlRecords(input: ReadStream): AsyncGenerator<TextRecord[]> {
  const decoder = new StringDecoder('utf8')
  let rest = ''
  let line = 0
  const records = (lines: string[]) => {
    const out: TextRecord[] = []
    for (const text of lines) {
      line++
      const trimmed = (line === 1 && text.charCodeAt(0) === 0xfeff /* BOM */ ? text.slice(1) : text).trim()
      if (trimmed !== '') out.push({ line, record: parseObject(trimmed) })
    }
    return out
  }
  for await (const chunk of input as AsyncIterable<Buffer>) {
    const lines = (rest + decoder.write(chunk)).split('\n')
    rest = lines.pop() ?? ''
    yield records(lines)
  }
  yield records([rest + decoder.end()])
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
