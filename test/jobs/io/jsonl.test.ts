/**
 * The JSON Lines reader (src/jobs/io/jsonl.ts) on small files written by each test: one JSON object
 * per line (jsonlines.org: UTF-8, LF or CRLF, a BOM tolerated), blank lines skipped, column types
 * from the first rows (numbers, exact 64-bit integers, booleans, tensors as lists, JSON text for
 * the rest), values that do not fit as row errors with their lines, over-long and non-object lines,
 * too many keys, and lines cut across the 1 MiB reads at every byte. Every expected type, value and
 * message is written by hand from the file text; the JSON parser's own error texts are quoted as
 * src/exact-json.ts words them.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type DataType, Type } from '@uwdata/flechette'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { InvalidRequestError } from '../../../src/errors.js'
import { openJsonl } from '../../../src/jobs/io/jsonl.js'
import type { ReaderOptions, RowError } from '../../../src/jobs/io/types.js'

let dir: string
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lastmile-jsonl-'))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function file(text: string | Buffer, name = 'f.jsonl'): string {
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}

/** A type as text: float64, int64, uint64, utf8, bool, list<item: …> (with its child's name). */
function typeName(t: DataType): string {
  switch (t.typeId) {
    case Type.Float:
      return `float${t.precision === 2 ? 64 : t.precision}`
    case Type.Int:
      return `${t.signed ? 'int' : 'uint'}${t.bitWidth}`
    case Type.Utf8:
      return 'utf8'
    case Type.Bool:
      return 'bool'
    case Type.List:
      return `list<${t.children[0].name}: ${typeName(t.children[0].type)}>`
    default:
      return String(t.typeId)
  }
}

interface Read {
  schema: Array<[string, string]>
  columns: Record<string, unknown[]>
  errors: RowError[]
  chunks: ArrayLike<unknown>[][]
}

/** Reads a whole file in chunks of `maxRows`: its schema, each column joined, its row errors. */
async function read(text: string | Buffer, options: ReaderOptions = {}, maxRows = 100): Promise<Read> {
  const reader = await openJsonl(file(text), options)
  const schema = reader.schema.map((f): [string, string] => [f.name, typeName(f.type)])
  const columns: Record<string, unknown[]> = Object.fromEntries(reader.schema.map((f) => [f.name, []]))
  const errors: RowError[] = []
  const chunks: ArrayLike<unknown>[][] = []
  for (let c = await reader.next(maxRows); c; c = await reader.next(maxRows)) {
    chunks.push(Object.values(c.columns))
    for (const [name, values] of Object.entries(c.columns)) columns[name]?.push(...Array.from(values))
    errors.push(...c.errors)
  }
  await reader.close()
  return { schema, columns, errors, chunks }
}

const lines = (...rows: string[]) => `${rows.join('\n')}\n`

describe('column types from the first rows', () => {
  it('takes keys in order of appearance, and a type for each from the values there', async () => {
    const r = await read(
      lines(
        '{"n": 1, "s": "a", "b": true, "v": [1, 2], "o": {"k": 1}, "bs": true}',
        '{"f": 2.5, "n": 2, "b": null, "mix": 1, "none": null, "v": [], "o": [1, "two"], "bs": "x"}',
        '{"n": null, "f": 3, "b": false, "mix": "x", "none": null, "s": "b", "v": [3.5]}',
      ),
    )
    expect(r.schema).toEqual([
      ['n', 'float64'],
      ['s', 'utf8'],
      ['b', 'bool'],
      ['v', 'list<item: float64>'],
      ['o', 'utf8'],
      ['bs', 'utf8'],
      ['f', 'float64'],
      ['mix', 'utf8'],
      ['none', 'utf8'],
    ])
    expect(r.columns.n).toEqual([1, 2, null])
    expect(r.columns.s).toEqual(['a', null, 'b'])
    expect(r.columns.b).toEqual([true, null, false])
    expect(r.columns.v).toEqual([Float64Array.of(1, 2), Float64Array.of(), Float64Array.of(3.5)])
    expect(r.columns.o).toEqual(['{"k":1}', '[1,"two"]', null])
    expect(r.columns.bs).toEqual(['true', 'x', null])
    expect(r.columns.f).toEqual([null, 2.5, 3])
    expect(r.columns.mix).toEqual([null, '1', 'x'])
    expect(r.columns.none).toEqual([null, null, null])
    expect(r.errors).toEqual([])
  })

  it('makes integers past 2^53 int64, or uint64 when some is past int64 and none negative', async () => {
    const r = await read(
      lines(
        '{"i": 1, "u": 18446744073709551615, "both": 18446744073709551615, "fl": 1.5, "safe": 9007199254740991, "top": 9223372036854775807}',
        '{"i": 9007199254740993, "u": 2, "both": -9007199254740993, "fl": 9007199254740993, "safe": -3, "top": 1}',
        '{"i": -9223372036854775808, "u": 9223372036854775808, "both": 1, "fl": 2, "safe": 0, "neg": -1}',
        '{"neg": 18446744073709551615}',
      ),
    )
    expect(r.schema).toEqual([
      ['i', 'int64'],
      ['u', 'uint64'],
      ['both', 'int64'],
      ['fl', 'float64'],
      ['safe', 'float64'],
      ['top', 'int64'],
      ['neg', 'uint64'],
    ])
    expect(r.columns.i).toEqual([1, 9007199254740993n, -9223372036854775808n, null])
    expect(r.columns.u).toEqual([18446744073709551615n, 2, 9223372036854775808n, null])
    // A column of int64 cannot hold 2^64 - 1: that row's cell is null, with the reason.
    expect(r.columns.both).toEqual([null, -9007199254740993n, 1, null])
    expect(r.columns.fl).toEqual([1.5, 9007199254740993n, 2, null])
    expect(r.columns.safe).toEqual([9007199254740991, -3, 0, null])
    expect(r.columns.top).toEqual([9223372036854775807n, 1, null, null])
    // Only the integers past 2^53 are looked at for a sign (src/jobs/io/jsonl.ts, Seen.negative):
    // -1 does not keep 2^64 - 1 from making the column uint64, and is refused by it.
    expect(r.columns.neg).toEqual([null, null, null, 18446744073709551615n])
    expect(r.errors).toEqual([
      {
        row: 0,
        message:
          "line 1: column 'both' is 18446744073709551615; expected an integer in [-9223372036854775808, 9223372036854775807] (int64)",
      },
      { row: 2, message: "line 3: column 'neg' is -1; expected an integer in [0, 18446744073709551615] (uint64)" },
    ])
  })

  it('makes arrays of integers past 2^53 lists of int64 or uint64, and of other numbers lists of float64', async () => {
    const r = await read(
      lines(
        '{"li": [1, 9007199254740993], "lu": [18446744073709551615], "ln": [1.5, 9007199254740993], "lb": [9007199254740993, 0.5], "lj": [1, true], "lm": [2], "lnb": [9007199254740993]}',
        '{"li": [-9007199254740993, 2], "lu": [1, 2], "ln": [3], "lb": [], "lj": [1], "lm": [-9007199254740993, 9223372036854775808], "lnb": [0.5]}',
      ),
    )
    expect(r.schema).toEqual([
      ['li', 'list<item: int64>'],
      ['lu', 'list<item: uint64>'],
      ['ln', 'list<item: float64>'],
      ['lb', 'list<item: float64>'],
      ['lj', 'utf8'],
      ['lm', 'list<item: int64>'],
      ['lnb', 'list<item: float64>'],
    ])
    expect(r.columns.li).toEqual([BigInt64Array.of(1n, 9007199254740993n), BigInt64Array.of(-9007199254740993n, 2n)])
    expect(r.columns.lu).toEqual([BigUint64Array.of(18446744073709551615n), BigUint64Array.of(1n, 2n)])
    // Bigints among doubles stay exact: an array, not a Float64Array.
    expect(r.columns.ln).toEqual([[1.5, 9007199254740993n], Float64Array.of(3)])
    expect(r.columns.lb).toEqual([[9007199254740993n, 0.5], Float64Array.of()])
    expect(r.columns.lj).toEqual(['[1,true]', '[1]'])
    expect(r.columns.lm).toEqual([BigInt64Array.of(2n), null])
    expect(r.columns.lnb).toEqual([[9007199254740993n], Float64Array.of(0.5)])
    expect(r.errors).toEqual([
      {
        row: 1,
        message:
          "line 2: column 'lm' value 1 is 9223372036854775808; expected an integer in [-9223372036854775808, 9223372036854775807] (int64)",
      },
    ])
  })

  it('looks at inferRows rows only: keys first seen later are not columns', async () => {
    const r = await read(lines('{"a": 1}', '{"a": 2, "late": "x"}', '{"late": 3}'), { inferRows: 1 })
    expect(r.schema).toEqual([['a', 'float64']])
    expect(r.columns.a).toEqual([1, 2, null])
    expect(r.errors).toEqual([])
  })

  it('makes a column of nulls only utf8, and an empty file no columns', async () => {
    expect((await read(lines('{"z": null}'))).schema).toEqual([['z', 'utf8']])
    const empty = await read('\n\n')
    expect(empty.schema).toEqual([])
    expect(empty.chunks).toEqual([])
  })
})

describe('values that do not fit their column', () => {
  it('reports each with its line and column, keeping the row with a null', async () => {
    const first =
      '{"x": 1, "ok": true, "s": "a", "v": [1], "i": 9007199254740993, "u": 18446744073709551615, "w": [9007199254740993]}'
    const r = await read(
      lines(
        first,
        '',
        '{"x": "abc", "ok": 1, "s": {"k": [1, 2]}, "v": [1, "a"], "i": 1.5, "u": -1, "w": [1, 2.5]}',
        '{"x": 2, "ok": "yes", "s": 3, "v": 5, "i": "7", "u": 18446744073709551616, "w": "no"}',
        '{"i": -9223372036854775809, "u": 5, "w": [-1, 3]}',
        '{"i": NaN, "u": -Infinity}',
      ),
      { inferRows: 1 },
    )
    expect(r.schema).toEqual([
      ['x', 'float64'],
      ['ok', 'bool'],
      ['s', 'utf8'],
      ['v', 'list<item: float64>'],
      ['i', 'int64'],
      ['u', 'uint64'],
      ['w', 'list<item: int64>'],
    ])
    expect(r.columns.x).toEqual([1, null, 2, null, null])
    expect(r.columns.ok).toEqual([true, null, null, null, null])
    expect(r.columns.s).toEqual(['a', '{"k":[1,2]}', '3', null, null])
    expect(r.columns.v).toEqual([Float64Array.of(1), null, null, null, null])
    expect(r.columns.i).toEqual([9007199254740993n, null, null, null, null])
    expect(r.columns.u).toEqual([18446744073709551615n, null, null, 5, null])
    expect(r.columns.w).toEqual([BigInt64Array.of(9007199254740993n), null, null, BigInt64Array.of(-1n, 3n), null])
    const int64 = 'expected an integer in [-9223372036854775808, 9223372036854775807] (int64)'
    const uint64 = 'expected an integer in [0, 18446744073709551615] (uint64)'
    expect(r.errors.map((e) => `${e.row} ${e.message}`)).toEqual([
      "1 line 3: column 'x': 'abc' is not a number",
      "1 line 3: column 'ok': 1 is not true or false",
      `1 line 3: column 'v': [1,"a"] is not an array of numbers`,
      `1 line 3: column 'i' is 1.5; ${int64}`,
      `1 line 3: column 'u' is -1; ${uint64}`,
      `1 line 3: column 'w' value 1 is 2.5; ${int64}`,
      "2 line 4: column 'ok': 'yes' is not true or false",
      "2 line 4: column 'v': 5 is not an array of numbers",
      `2 line 4: column 'i' is '7'; ${int64}`,
      `2 line 4: column 'u' is 18446744073709551616; ${uint64}`,
      `2 line 4: column 'w': 'no' is not an array of numbers`,
      `3 line 5: column 'i' is -9223372036854775809; ${int64}`,
      `4 line 6: column 'i' is NaN; ${int64}`,
      `4 line 6: column 'u' is -Infinity; ${uint64}`,
    ])
  })

  it('takes the ends of the 64-bit ranges, and refuses one past them', async () => {
    const r = await read(
      lines(
        '{"i": 9007199254740993, "u": 18446744073709551615, "wu": [18446744073709551615]}',
        '{"i": 9223372036854775807, "u": 0, "wu": [0, 18446744073709551615]}',
        '{"i": -9223372036854775808, "u": 18446744073709551615, "wu": [-1]}',
        '{"i": 9223372036854775808, "u": -1, "wu": [18446744073709551616]}',
      ),
      { inferRows: 1 },
    )
    expect(r.columns.i).toEqual([9007199254740993n, 9223372036854775807n, -9223372036854775808n, null])
    expect(r.columns.u).toEqual([18446744073709551615n, 0, 18446744073709551615n, null])
    expect(r.columns.wu).toEqual([
      BigUint64Array.of(18446744073709551615n),
      BigUint64Array.of(0n, 18446744073709551615n),
      null,
      null,
    ])
    const uint64 = 'expected an integer in [0, 18446744073709551615] (uint64)'
    expect(r.errors.map((e) => e.message)).toEqual([
      `line 3: column 'wu' value 0 is -1; ${uint64}`,
      "line 4: column 'i' is 9223372036854775808; expected an integer in [-9223372036854775808, 9223372036854775807] (int64)",
      `line 4: column 'u' is -1; ${uint64}`,
      `line 4: column 'wu' value 0 is 18446744073709551616; ${uint64}`,
    ])
  })
})

describe('lines', () => {
  it('skips blank lines, trims CRLF, a BOM and blanks, and numbers rows without blank lines', async () => {
    const r = await read('\uFEFF{"a": 1}\r\n\r\n  \t\r\n { "a" : 2 } \r\n\n{"a": "x"}', { inferRows: 2 })
    expect(r.columns.a).toEqual([1, 2, null])
    expect(r.errors).toEqual([{ row: 2, message: "line 6: column 'a': 'x' is not a number" }])
  })

  it('reads a BOM line as blank, and a line that is only a BOM or blanks', async () => {
    const r = await read('\uFEFF\n{"a": 1}\n\uFEFF\n\uFEFF{"a": 2}\n')
    expect(r.columns.a).toEqual([1, 2])
  })

  it('keeps lines that are not JSON objects as rows of nulls, with the reason', async () => {
    const r = await read(
      lines(
        '{"a": 1, "b": "x"}',
        '[1, 2]',
        'not json',
        '"s"',
        'null',
        '7',
        '{"a": 2,}',
        '{"a": 3} {"a": 4}',
        '{"b": "y"}',
      ),
    )
    expect(r.schema).toEqual([
      ['a', 'float64'],
      ['b', 'utf8'],
    ])
    expect(r.columns.a).toEqual([1, null, null, null, null, null, null, null, null])
    expect(r.columns.b).toEqual(['x', null, null, null, null, null, null, null, 'y'])
    expect(r.errors).toEqual([
      { row: 1, message: 'line 2: expected a JSON object, got [1,2]' },
      {
        row: 2,
        message:
          'line 3: not valid JSON (malformed JSON: expected null at position 0 ("not json")); expected one JSON object per line',
      },
      { row: 3, message: "line 4: expected a JSON object, got 's'" },
      { row: 4, message: 'line 5: expected a JSON object, got null' },
      { row: 5, message: 'line 6: expected a JSON object, got 7' },
      {
        row: 6,
        message:
          'line 7: not valid JSON (malformed JSON: expected a string key at position 8 ("}")); expected one JSON object per line',
      },
      {
        row: 7,
        message:
          'line 8: not valid JSON (malformed JSON: unexpected text after the JSON value at position 9 ("{\\"a\\": 4}")); expected one JSON object per line',
      },
    ])
  })

  it('takes a line nested 64 deep, and refuses 65', async () => {
    const deep64 = `{"a": ${'['.repeat(63)}1${']'.repeat(63)}}`
    const deep65 = `{"a": ${'['.repeat(64)}1${']'.repeat(64)}}`
    const r = await read(lines('{"a": 0}', deep64, deep65))
    expect(r.schema).toEqual([['a', 'utf8']])
    expect(r.columns.a).toEqual(['0', `${'['.repeat(63)}1${']'.repeat(63)}`, null])
    expect(r.errors).toEqual([
      {
        row: 2,
        message: 'line 3: nests arrays or objects more than 64 deep; a line may nest at most 64',
      },
    ])
  })

  it('takes a line of exactly maxRecordBytes bytes, CR and multibyte characters counted, and refuses one byte more', async () => {
    // {"s":"é…"} : 8 bytes of syntax and 'é' (2 bytes) × 6 = 20; with a CR, 21.
    const twenty = `{"s":"${'é'.repeat(6)}"}`
    expect(Buffer.byteLength(twenty)).toBe(20)
    const r = await read(`${twenty}\n${twenty}\r\n{"s":"a"}\n${twenty}x\n{"s":"b"}`, { maxRecordBytes: 20 })
    expect(r.columns.s).toEqual(['éééééé', null, 'a', null, 'b'])
    const message = 'the line is longer than 20 bytes (LASTMILE_JOB_MAX_RECORD_BYTES)'
    expect(r.errors).toEqual([
      { row: 1, message: `line 2: ${message}` },
      { row: 3, message: `line 4: ${message}` },
    ])
  })

  it('refuses an over-long last line without its line end', async () => {
    const r = await read('{"s":"a"}\n{"s":"bbbbbbbbbbbbbbbbbbbb"}', { maxRecordBytes: 20 })
    expect(r.columns.s).toEqual(['a', null])
    expect(r.errors).toEqual([
      { row: 1, message: 'line 2: the line is longer than 20 bytes (LASTMILE_JOB_MAX_RECORD_BYTES)' },
    ])
  })

  it('reads every line of a file of many slices once, in order', async () => {
    // 3000 lines of 9 to 12 bytes: about 34 KiB, three 16 KiB slices.
    const text = Array.from({ length: 3000 }, (_, i) => `{"n": ${i}}\n`).join('')
    const r = await read(text, {}, 1000)
    expect(r.columns.n).toHaveLength(3000)
    expect(r.columns.n).toEqual(Array.from({ length: 3000 }, (_, i) => i))
  })
})

describe('too many keys', () => {
  it('takes exactly maxColumns keys, and refuses one more, counting the new keys of the line', async () => {
    const ok = await read(lines('{"a": 1, "b": 2}', '{"c": 3, "a": 4}'), { maxColumns: 3 })
    expect(ok.schema.map(([n]) => n)).toEqual(['a', 'b', 'c'])
    const path = file(lines('{"a": 1, "b": 2}', '', '{"b": 1, "c": 3, "d": 4, "a": 5, "e": 6}'), 'wide.jsonl')
    const e = await openJsonl(path, { maxColumns: 3 }).catch((x: unknown) => x as Error)
    expect(e).toBeInstanceOf(InvalidRequestError)
    expect((e as Error).message).toBe(
      "'wide.jsonl' has at least 5 columns (distinct keys by line 3); a job file may have at most 3 (LASTMILE_JOB_MAX_COLUMNS)",
    )
  })

  it('counts no keys of a line that is not an object, nor of rows past inferRows', async () => {
    const r = await read(lines('[1, 2, 3]', '{"a": 1}', '{"b": 2, "c": 3}'), { maxColumns: 1, inferRows: 2 })
    expect(r.schema).toEqual([['a', 'float64']])
    expect(r.columns.a).toEqual([null, 1, null])
  })
})

describe('lines across the 1 MiB reads', () => {
  it('reads a line with multibyte characters cut at every byte by the end of a read', async () => {
    // A filler line {"f":"x…"}\n of k + 9 bytes, then the 15-byte line {"s":"é東"}\r\n starting at
    // byte k + 9: for k = 1048567 … 1048552 the 1 MiB read ends at each place in it, from before
    // its first byte to after its last.
    const target = '{"s":"é東"}\r\n'
    expect(Buffer.byteLength(target)).toBe(15)
    for (let k = 1048567; k >= 1048552; k--) {
      const filler = 'x'.repeat(k)
      const r = await read(`{"f":"${filler}"}\n${target}{"s":"z"}\n`)
      expect(r.columns.s).toEqual([null, 'é東', 'z'])
      expect(r.columns.f).toEqual([filler, null, null])
      expect(r.errors).toEqual([])
    }
  })

  it('drops an over-long line that runs across reads, and reads the lines after it', async () => {
    // The 2 MiB line starts at byte 10 and ends in the third read.
    const long = `{"s":"${'y'.repeat(2 * 1048576)}"}`
    const r = await read(`{"s":"a"}\n${long}\n{"s":"b"}\n`, { maxRecordBytes: 1000 })
    expect(r.columns.s).toEqual(['a', null, 'b'])
    expect(r.errors).toEqual([
      { row: 1, message: 'line 2: the line is longer than 1000 bytes (LASTMILE_JOB_MAX_RECORD_BYTES)' },
    ])
  })

  it('refuses a line that passes maxRecordBytes only with the next read', async () => {
    // 1047 lines of 1000 bytes and one of 976 fill the first read but for its last 600 bytes; the
    // long line starts there and ends 600 bytes into the next read: each part alone is within the
    // 1000 bytes, together they are not.
    const line = (n: number) => `{"p":"${'a'.repeat(n - 9)}"}\n`
    const before = line(1000).repeat(1047) + line(976)
    expect(Buffer.byteLength(before)).toBe(1048576 - 600)
    const long = `{"s":"${'y'.repeat(1200 - 8)}"}`
    const r = await read(`${before}${long}\n{"s":"b"}\n`, { maxRecordBytes: 1000, inferRows: 2000 })
    expect(r.columns.s).toEqual([...new Array(1048).fill(null), null, 'b'])
    expect(r.columns.p).toHaveLength(1050)
    expect(r.errors).toEqual([
      { row: 1048, message: 'line 1049: the line is longer than 1000 bytes (LASTMILE_JOB_MAX_RECORD_BYTES)' },
    ])
  })
})
