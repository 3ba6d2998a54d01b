/**
 * JSON Lines: one JSON object per line, blank lines skipped. Columns are the keys of the first rows
 * in order of appearance; a column is float64 if its values there are numbers, utf8 for strings,
 * bool for booleans, list<float64> for arrays of numbers (a row's tensor), and utf8 holding the JSON
 * text of anything else. Lines are read exactly (src/exact-json.ts): a column of integers some of
 * which are past 2^53 is int64 (uint64 where none is negative and some is past int64), a list of
 * them list<int64>, so INT64/UINT64 values reach the model and the results as written.
 */
import type { ReadStream } from 'node:fs'
import { basename } from 'node:path'
import { bool, type DataType, field, float64, type IntType, int64, list, Type, uint64, utf8 } from '@uwdata/flechette'
import { DEFAULT_MAX_COLUMNS, DEFAULT_MAX_RECORD_BYTES } from '../../config-schema.js'
import { JsonSyntaxError, MAX_JSON_DEPTH, nestsDeeperThan, parseExactJson } from '../../exact-json.js'
import {
  jsonText,
  openText,
  SLICE_BYTES,
  show,
  type TextGuess,
  type TextLayout,
  type TextRecord,
  tooManyColumns,
} from './text.js'
import type { ChunkReader, ReaderOptions, SchemaField } from './types.js'

/** A line that is not a JSON object: the row keeps its place with nulls. */
class BadLine {
  constructor(readonly problem: string) {}
}

const LF = 0x0a

/** Opens a JSONL file for reading in chunks. */
export async function openJsonl(path: string, options: ReaderOptions = {}): Promise<ChunkReader> {
  const maxBytes = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES
  const guess = new JsonlGuess(basename(path), options.maxColumns ?? DEFAULT_MAX_COLUMNS)
  return openText(path, (input) => jsonlRecords(input, maxBytes), guess, options.inferRows)
}

/**
 * Records a slice of the file at a time: split on LF bytes (UTF-8 never has 0x0a inside a character; a CR
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
      // Stryker disable next-line ConditionalExpression,EqualityOperator: with no parts, concat([tail]) holds the same bytes as tail
      const text = (parts.length > 0 ? Buffer.concat([...parts, tail]) : tail).toString('utf8')
      // Stryker disable next-line ConditionalExpression,EqualityOperator,MethodExpression: trim() removes U+FEFF too, so a BOM goes either way
      const trimmed = (line === 1 && text.charCodeAt(0) === 0xfeff /* BOM */ ? text.slice(1) : text).trim()
      if (trimmed !== '') out.push({ line, bytes, record: parseObject(trimmed) })
    }
    parts = []
    partBytes = 0
    overlong = false
  }
  for await (const chunk of input as AsyncIterable<Buffer>) {
    let out: TextRecord[] = []
    let at = 0
    let sliceAt = 0
    for (let lf = chunk.indexOf(LF, at); lf >= 0; lf = chunk.indexOf(LF, at)) {
      end(out, chunk.subarray(at, lf))
      at = lf + 1
      // Stryker disable next-line ConditionalExpression,EqualityOperator,ArithmeticOperator,BlockStatement: only how records are batched (event-loop turns); each is in one batch either way
      if (at - sliceAt >= SLICE_BYTES) {
        yield out // a batch per slice: the reader gives the event loop a turn between batches
        out = []
        sliceAt = at
      }
    }
    const rest = chunk.subarray(at)
    // Stryker disable next-line ConditionalExpression,LogicalOperator,EqualityOperator,ArithmeticOperator: bounds the memory a long line holds; end() refuses it by its byte count either way
    if (overlong || partBytes + rest.length > maxBytes) {
      overlong = true
      // Stryker disable next-line ArrayDeclaration: end() reads no parts of an overlong line, and resets them
      parts = []
      partBytes = 0
    } else if (rest.length > 0) {
      parts.push(rest)
      partBytes += rest.length
    }
    yield out
  }
  const out: TextRecord[] = []
  // Stryker disable next-line ConditionalExpression,EqualityOperator: an empty last line is blank, which end() skips
  if (partBytes > 0 || overlong) end(out, Buffer.alloc(0))
  yield out
}

function parseObject(text: string): unknown {
  let value: unknown
  try {
    value = parseExactJson(text)
  } catch (e) {
    // Stryker disable next-line ConditionalExpression: parseExactJson throws only JsonSyntaxError (its recursion is bounded)
    if (!(e instanceof JsonSyntaxError)) throw e
    return new BadLine(`not valid JSON (${e.message}); expected one JSON object per line`)
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    return new BadLine(`expected a JSON object, got ${show(value)}`)
  // Checked here, once: whatever later writes a value (JSON text of a column, a message) recurses.
  if (nestsDeeperThan(value))
    return new BadLine(
      `nests arrays or objects more than ${MAX_JSON_DEPTH} deep; a line may nest at most ${MAX_JSON_DEPTH}`,
    )
  return value
}

/** What the first rows hold in one column: the kinds of value, and the range of its 64-bit integers. */
interface Seen {
  kinds: Set<Kind>
  /** Some integer (or list element) past 2^53 is negative / is past int64's largest. */
  negative: boolean
  pastInt64: boolean
}

/**
 * A value's kind: `number` (not a safe integer), `int` (a safe integer), `big` (an integer past 2^53,
 * a bigint), the same three for arrays of numbers (the kind of their widest element), or `json`.
 */
type Kind = 'number' | 'int' | 'big' | 'numbers' | 'ints' | 'bigs' | 'string' | 'boolean' | 'json'

const INT64_MAX = 2n ** 63n - 1n
const INT64_RANGE = [-(2n ** 63n), INT64_MAX] as const
const UINT64_RANGE = [0n, 2n ** 64n - 1n] as const

/** The columns: the keys of the first records in order (at most `maxColumns`), each with the kinds of value seen. */
class JsonlGuess implements TextGuess {
  readonly #seen = new Map<string, Seen>()

  constructor(
    readonly file: string,
    readonly maxColumns: number,
  ) {}

  add(records: TextRecord[]): void {
    for (const { line, record } of records) {
      if (record instanceof BadLine) continue
      const row = record as Record<string, unknown>
      for (const key of Object.keys(row)) {
        let seen = this.#seen.get(key)
        if (!seen) {
          if (this.#seen.size === this.maxColumns) throw this.#tooMany(row, line)
          seen = { kinds: new Set(), negative: false, pastInt64: false }
          this.#seen.set(key, seen)
        }
        const value = row[key]
        if (value !== null) note(seen, value)
      }
    }
  }

  layout(): TextLayout {
    const schema = [...this.#seen].map(([name, seen]) => ({ name, type: typeFor(seen) }))
    const index = new Map(schema.map((f, c) => [f.name, c]))
    return {
      schema,
      convert(record, put, problems) {
        if (record instanceof BadLine) {
          problems.push(record.problem)
          return
        }
        const row = record as Record<string, unknown>
        for (const key of Object.keys(row)) {
          const c = index.get(key)
          if (c !== undefined) put(c, convert(row[key], schema[c] as SchemaField, problems))
        }
      },
    }
  }

  /** The 400 at the key past the limit, counting the rest of this line's new keys (the line is in memory already). */
  #tooMany(row: Record<string, unknown>, line: number): Error {
    let count = this.#seen.size
    for (const key of Object.keys(row)) if (!this.#seen.has(key)) count++
    return tooManyColumns(this.file, `at least ${count}`, this.maxColumns, ` (distinct keys by line ${line})`)
  }
}

/** Notes `value`'s kind in `seen`, and where its bigints lie. */
function note(seen: Seen, value: unknown): void {
  const bigints = (x: unknown) => {
    if (typeof x !== 'bigint') return
    // Stryker disable next-line EqualityOperator: a bigint here is past 2^53 in size, never 0
    if (x < 0n) seen.negative = true
    if (x > INT64_MAX) seen.pastInt64 = true
  }
  if (Array.isArray(value)) {
    let kind: Kind = 'ints'
    for (const x of value) {
      if (typeof x === 'bigint') {
        bigints(x)
        if (kind === 'ints') kind = 'bigs'
      } else if (typeof x !== 'number') {
        // Stryker disable next-line StringLiteral: typeFor tells no kind but a boolean from another: any other lone kind is utf8
        kind = 'json'
        break
      } else if (!Number.isSafeInteger(x)) kind = 'numbers'
    }
    seen.kinds.add(kind)
    return
  }
  bigints(value)
  const t = typeof value
  if (t === 'bigint') seen.kinds.add('big')
  else if (t === 'number') seen.kinds.add(Number.isSafeInteger(value) ? 'int' : 'number')
  else seen.kinds.add(t === 'string' || t === 'boolean' ? t : 'json')
}

/**
 * A column's type from its kinds: numbers are float64 unless some integer is past 2^53 and all are
 * integers (then a 64-bit integer type keeps them exact); one other kind is its type; a mix is utf8.
 */
function typeFor({ kinds, negative, pastInt64 }: Seen): DataType {
  const has = (...ks: Kind[]) => [...kinds].every((k) => ks.includes(k))
  const wide = () => (pastInt64 && !negative ? uint64() : int64())
  if (kinds.size === 0) return utf8()
  if (has('int', 'big')) return kinds.has('big') ? wide() : float64()
  if (has('number', 'int', 'big')) return float64()
  if (has('ints', 'bigs')) return list(field('item', kinds.has('bigs') ? wide() : float64()))
  if (has('numbers', 'ints', 'bigs')) return list(field('item', float64()))
  if (kinds.size !== 1) return utf8()
  const [kind] = kinds
  return kind === 'boolean' ? bool() : utf8()
}

/** A value as `column` holds it, or null with the problem noted. */
function convert(value: unknown, column: SchemaField, problems: string[]): unknown {
  // Stryker disable next-line ConditionalExpression: parsed JSON holds no undefined
  if (value === null || value === undefined) return null
  const type = column.type
  let wrong: string
  switch (type.typeId) {
    case Type.Float:
      // A bigint stays exact for the model's input (the chunk file holds the double nearest it).
      if (typeof value === 'number' || typeof value === 'bigint') return value
      wrong = 'is not a number'
      break
    case Type.Int: {
      const problem = integerProblem(value, type.signed)
      if (problem === undefined) return value
      problems.push(`column '${column.name}' ${problem}`)
      return null
    }
    case Type.Bool:
      if (typeof value === 'boolean') return value
      wrong = 'is not true or false'
      break
    case Type.List:
      return listOf(value, column, problems)
    default:
      return typeof value === 'string' ? value : jsonText(value) // at most 64 deep: checked when parsed
  }
  problems.push(`column '${column.name}': ${show(value)} ${wrong}`)
  return null
}

/** A list cell: a Float64Array (a BigInt64Array/BigUint64Array for an int64/uint64 list), or null with the problem noted. */
function listOf(value: unknown, column: SchemaField, problems: string[]): unknown {
  const item = (column.type as { children: Array<{ type: DataType }> }).children[0]?.type as DataType
  if (!Array.isArray(value) || !value.every((x) => typeof x === 'number' || typeof x === 'bigint')) {
    problems.push(`column '${column.name}': ${show(value)} is not an array of numbers`)
    return null
  }
  if (item.typeId !== Type.Int) {
    // Bigints among doubles stay exact for the model's input (the chunk file holds the nearest doubles).
    return value.some((x) => typeof x === 'bigint') ? value : Float64Array.from(value as number[])
  }
  for (let i = 0; i < value.length; i++) {
    const problem = integerProblem(value[i], (item as IntType).signed)
    if (problem !== undefined) {
      problems.push(`column '${column.name}' value ${i} ${problem}`)
      return null
    }
  }
  return (item as IntType).signed ? BigInt64Array.from(value, BigInt) : BigUint64Array.from(value, BigInt)
}

/** What keeps `value` out of an int64 (`signed`) or uint64 column, as the model's inputs word it; undefined if nothing. */
function integerProblem(value: unknown, signed: boolean): string | undefined {
  const [lo, hi] = signed ? INT64_RANGE : UINT64_RANGE
  const range = `expected an integer in [${lo}, ${hi}] (${signed ? 'int64' : 'uint64'})`
  if (typeof value === 'bigint') return value >= lo && value <= hi ? undefined : `is ${value}; ${range}`
  // Stryker disable next-line ConditionalExpression: Number.isSafeInteger is false for all but numbers
  if (typeof value === 'number' && Number.isSafeInteger(value) && (signed || value >= 0)) return undefined
  return `is ${typeof value === 'number' ? value : show(value)}; ${range}`
}
