/**
 * Fuzzing the CSV and JSONL job readers (src/jobs/io/csv.ts, jsonl.ts) directly: random widths
 * against a random LASTMILE_JOB_MAX_COLUMNS, rows shorter and longer than the header, integer text
 * in and past every 64-bit range, decimals, junk, JSON lines nested up to 100 deep, and a random
 * number of rows to infer types from (so values past those rows meet a type already fixed).
 * Properties, from what the file holds, never from the reader: a file wider than the limit is
 * refused when opened, naming the setting; otherwise every row comes back in order, every integer
 * exactly (the text, an exact number or bigint) or as a row error, a row of the wrong width or a
 * line nested past 64 is a row error naming its line, and nothing else throws.
 */
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { InvalidRequestError } from '../../src/errors.js'
import { type ChunkReader, type ColumnChunk, openReader } from '../../src/jobs/io/index.js'
import { tempDir } from '../helpers/server.js'
import { fuzzParams } from './budget.js'

const dir = tempDir('lastmile-fuzz-readers-')
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let files = 0

async function readAll(reader: ChunkReader, maxRows: number): Promise<ColumnChunk[]> {
  const chunks: ColumnChunk[] = []
  try {
    for (let c = await reader.next(maxRows); c; c = await reader.next(maxRows)) chunks.push(c)
  } finally {
    await reader.close()
  }
  return chunks
}

/** Column `name` of every chunk, in order. */
const gather = (chunks: ColumnChunk[], name: string) => chunks.flatMap((c) => Array.from(c.columns[name] ?? []))

/** Integer text exactly as a value may hold it: the text itself, a safe number, or a bigint. */
function holdsInteger(v: unknown, text: string): boolean {
  const t = text.trim()
  if (v === text) return true
  // Past 20 digits an integer is past every 64-bit input: the double nearest it may stand for it.
  if (t.replace(/^[+-]/, '').length > 20) return v === Number(t) || v === String(Number(t))
  if (typeof v === 'bigint') return v === BigInt(t)
  return typeof v === 'number' && Number.isSafeInteger(v) && BigInt(v) === BigInt(t)
}

/** Each row's error messages, joined. */
function errorsByRow(chunks: ColumnChunk[]): Map<number, string> {
  const byRow = new Map<number, string>()
  for (const e of chunks.flatMap((c) => c.errors)) byRow.set(e.row, `${byRow.get(e.row) ?? ''}${e.message}\n`)
  return byRow
}

const integerText = fc
  .oneof(
    fc.bigInt({ min: -(2n ** 66n), max: 2n ** 66n }),
    fc.constantFrom(2n ** 53n + 1n, 2n ** 63n - 1n, 2n ** 63n, -(2n ** 63n), 2n ** 64n - 1n, 2n ** 64n, 10n ** 24n),
    fc.integer().map(BigInt),
  )
  .map(String)
const csvCell = fc.oneof(
  integerText,
  integerText.map((t) => ` ${t} `),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map(String),
  fc.constantFrom('', 'abc', '0x10', 'nan', '1e5', '"a,b"', '-'),
)

describe('fuzz: CSV and JSONL job readers', () => {
  it('refuses a CSV wider than the limit; reads every row of one within it, integers exactly', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.array(csvCell, { minLength: 1, maxLength: 7 }), { minLength: 1, maxLength: 12 }),
        async (width, maxColumns, inferRows, maxRows, rows) => {
          // A row of one empty field is a blank line (skipped) unless the file has one column.
          const data = rows.map((r) => (r.length === 1 && r[0] === '' ? ['0'] : r))
          const header = Array.from({ length: width }, (_, c) => `h${c}`)
          const path = join(dir, `f${files++}.csv`)
          writeFileSync(path, `${header.join(',')}\n${data.map((r) => r.join(',')).join('\n')}\n`)
          const opening = openReader(path, 'csv', { maxColumns, inferRows })
          if (width > maxColumns) {
            await expect(opening).rejects.toThrow(InvalidRequestError)
            await expect(opening).rejects.toThrow(
              `has ${width} columns; a job file may have at most ${maxColumns} (LASTMILE_JOB_MAX_COLUMNS)`,
            )
            return
          }
          const chunks = await readAll(await opening, maxRows)
          expect(chunks.reduce((n, c) => n + c.rows, 0)).toBe(data.length)
          const errors = errorsByRow(chunks)
          data.forEach((row, r) => {
            if (row.length !== width)
              expect(errors.get(r)).toContain(`line ${r + 2}: has ${row.length} fields, the header row has ${width}`)
          })
          header.forEach((name, c) => {
            const values = gather(chunks, name)
            expect(values).toHaveLength(data.length)
            data.forEach((row, r) => {
              const cell = row[c]
              if (cell === undefined || cell === '') {
                expect(values[r]).toBeNull()
                return
              }
              // Quoted text is read without its quotes.
              const text = cell.startsWith('"') ? cell.slice(1, -1) : cell
              // A double may print as integer text too ("-214132651141657540"): that is read exactly as well.
              if (/^\s*[+-]?\d+\s*$/.test(text) && values[r] !== null)
                expect(holdsInteger(values[r], text), `${text} → ${values[r]}`).toBe(true)
              else if (values[r] === null) expect(errors.get(r)).toMatch(new RegExp(`column '${name}'|fields`))
              else if (typeof values[r] === 'string') expect(values[r]).toBe(text)
              else expect(values[r]).toBe(Number(text))
            })
          })
        },
      ),
      fuzzParams(150),
    )
  })

  /** A JSON value's text, the integer text it is, and how deep an array of it nests. */
  type JsonValue = { json: string; integer?: string; depth?: number }
  const jsonValue: fc.Arbitrary<JsonValue> = fc.oneof(
    integerText.map((t) => ({ json: t, integer: t })),
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => ({ json: JSON.stringify(x), integer: undefined })),
    fc.array(integerText, { maxLength: 3 }).map((xs) => ({ json: `[${xs.join(',')}]`, integer: undefined })),
    fc.constantFrom('"s"', 'true', 'null', '{"a":1}').map((json) => ({ json, integer: undefined })),
    fc
      .integer({ min: 1, max: 100 })
      .map((d) => ({ json: `${'['.repeat(d)}${']'.repeat(d)}`, integer: undefined, depth: d })),
  )
  const jsonLine = fc.oneof(
    { weight: 6, arbitrary: fc.dictionary(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'), jsonValue, { maxKeys: 4 }) },
    { weight: 1, arbitrary: fc.constantFrom('[1]', '7', 'not json', '{"a":') },
  )

  it('refuses a JSONL file with more keys than the limit in its first lines; reads every line of one within it', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 5 }),
        fc.array(jsonLine, { minLength: 1, maxLength: 12 }),
        async (maxColumns, inferRows, maxRows, lines) => {
          const text = lines.map((l) =>
            typeof l === 'string'
              ? l
              : `{${Object.entries(l)
                  .map(([k, v]) => `"${k}":${v.json}`)
                  .join(',')}}`,
          )
          const path = join(dir, `f${files++}.jsonl`)
          writeFileSync(path, `${text.join('\n')}\n`)
          // A line nests more than 64 deep where a value of it nests more than 63 (the line is one level).
          const deep = (l: (typeof lines)[number]) =>
            typeof l !== 'string' && Object.values(l).some((v) => (v.depth ?? 0) > 63)
          const keys = new Set<string>()
          for (const l of lines.slice(0, inferRows))
            if (typeof l !== 'string' && !deep(l)) for (const k in l) keys.add(k)
          const opening = openReader(path, 'jsonl', { maxColumns, inferRows })
          if (keys.size > maxColumns) {
            await expect(opening).rejects.toThrow(InvalidRequestError)
            await expect(opening).rejects.toThrow(/LASTMILE_JOB_MAX_COLUMNS/)
            return
          }
          const reader = await opening
          const names = reader.schema.map((f) => f.name)
          const chunks = await readAll(reader, maxRows)
          expect(chunks.reduce((n, c) => n + c.rows, 0)).toBe(lines.length)
          const errors = errorsByRow(chunks)
          lines.forEach((l, r) => {
            if (typeof l === 'string') expect(errors.get(r)).toMatch(new RegExp(`^line ${r + 1}: `))
            // Said once the line is parsed, or by the exact parser (lines with 16-digit integers) as it reads.
            else if (deep(l)) expect(errors.get(r)).toMatch(new RegExp(`^line ${r + 1}: .*(more than|deeper than) 64`))
          })
          for (const name of names) {
            const values = gather(chunks, name)
            lines.forEach((l, r) => {
              if (typeof l === 'string' || deep(l)) {
                expect(values[r]).toBeNull()
                return
              }
              const v = l[name]
              if (v?.integer === undefined) return
              if (values[r] === null) expect(errors.get(r)).toContain(`column '${name}'`)
              else expect(holdsInteger(values[r], v.integer), `${v.integer} → ${values[r]}`).toBe(true)
            })
          }
        },
      ),
      fuzzParams(150),
    )
  })
})
