/**
 * What CSV and JSONL share (src/jobs/io/text.ts), driven by scripted record batches and a scripted
 * layout: how many first rows the type guess sees (inferRows, the text budget), rows turned into
 * columns (missing cells as nulls, dense numbers packed), row errors by line, skipping, progress,
 * closing, event-loop turns between batches; and the helpers that word values and refusals. Every
 * expected value is written out by hand (record sizes are scripted: a 32 MiB "record" costs nothing).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { float64, utf8 } from '@uwdata/flechette'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { InvalidRequestError } from '../../../src/errors.js'
import {
  DECIMAL,
  jsonText,
  openText,
  SLICE_BYTES,
  show,
  type TextGuess,
  type TextLayout,
  type TextRecord,
  tooManyColumns,
} from '../../../src/jobs/io/text.js'
import type { ChunkReader, ColumnChunk } from '../../../src/jobs/io/types.js'

const MiB = 1048576

let dir: string
let small: string // a 10-byte file: the scripted records ignore its contents
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lastmile-text-'))
  small = join(dir, 'small.txt')
  writeFileSync(small, '0123456789')
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** A record: the values to put ([column, value] pairs, in order) and the problems to note. */
interface Row {
  puts: Array<[number, unknown]>
  problems?: string[]
}

function rec(line: number, puts: Array<[number, unknown]>, problems: string[] = [], bytes = 10): TextRecord {
  return { line, bytes, record: { puts, problems } satisfies Row }
}

/** Scripted batches of records; counts what it is asked. */
class Batches implements AsyncIterator<TextRecord[]> {
  nexts = 0
  returns = 0
  input: { destroyed: boolean } | undefined
  constructor(
    private batches: TextRecord[][],
    private onNext: (n: number) => void = () => undefined,
  ) {}
  async next(): Promise<IteratorResult<TextRecord[]>> {
    this.onNext(++this.nexts)
    const value = this.batches.shift()
    return value ? { done: false, value } : { done: true, value: undefined }
  }
  async return(): Promise<IteratorResult<TextRecord[]>> {
    this.returns++
    return { done: true, value: undefined }
  }
}

const SCHEMA = [
  { name: 'x', type: float64() },
  { name: 's', type: utf8() },
  { name: 'y', type: float64() },
  { name: 'z', type: utf8() },
]

/** A guess that notes the lines it is shown per call, and a layout that puts what each record scripts. */
class Guess implements TextGuess {
  shown: number[][] = []
  converted = 0
  constructor(private fail?: Error) {}
  add(records: TextRecord[]): void {
    this.shown.push(records.map((r) => r.line))
  }
  layout(): TextLayout {
    if (this.fail) throw this.fail
    return {
      schema: SCHEMA,
      convert: (record, put, problems) => {
        this.converted++
        const row = record as Row
        for (const [c, v] of row.puts) put(c, v)
        problems.push(...(row.problems ?? []))
      },
    }
  }
}

function open(batches: Batches, guess: Guess, inferRows?: number, path = small): Promise<ChunkReader> {
  return openText(
    path,
    (input) => {
      batches.input = input
      return batches
    },
    guess,
    inferRows,
  )
}

/** Rows 1..n, one per line, each putting x = its line. */
const lines = (from: number, n: number, bytes = 10) =>
  Array.from({ length: n }, (_, i) => rec(from + i, [[0, from + i]], [], bytes))

const plain = (c: ColumnChunk | undefined) =>
  c && {
    firstRow: c.firstRow,
    rows: c.rows,
    x: Array.from(c.columns.x as ArrayLike<unknown>),
    s: Array.from(c.columns.s as ArrayLike<unknown>),
    errors: c.errors,
  }

describe('the first rows, read up front for the type guess', () => {
  it('shows the guess inferRows records, cutting the batch that passes them, and reads no further batch', async () => {
    const batches = new Batches([lines(1, 2), lines(3, 2), lines(5, 1)])
    const guess = new Guess()
    const reader = await open(batches, guess, 3)
    expect(guess.shown).toEqual([[1, 2], [3]])
    expect(batches.nexts).toBe(2)
    // The rows held back for the guess come first, the one it did not see among them.
    const chunk = await reader.next(10)
    expect(chunk?.rows).toBe(5)
    expect(Array.from(chunk?.columns.x as Float64Array)).toEqual([1, 2, 3, 4, 5])
    await reader.close()
  })

  it('shows it 1000 records when not told', async () => {
    const batches = new Batches([lines(1, 999), lines(1000, 2), lines(1002, 1)])
    const guess = new Guess()
    const reader = await open(batches, guess)
    expect(guess.shown.map((s) => [s.length, s[0], s.at(-1)])).toEqual([
      [999, 1, 999],
      [1, 1000, 1000],
    ])
    expect(batches.nexts).toBe(2)
    await reader.close()
  })

  it('shows it one record at least, when told 0 or fewer', async () => {
    for (const inferRows of [0, -4]) {
      const batches = new Batches([lines(1, 1), lines(2, 1)])
      const guess = new Guess()
      const reader = await open(batches, guess, inferRows)
      expect(guess.shown).toEqual([[1]])
      expect(batches.nexts).toBe(1)
      await reader.close()
    }
  })

  it('stops at 64 MiB of record text, short of inferRows', async () => {
    const batches = new Batches([lines(1, 1, 32 * MiB), lines(2, 1, 32 * MiB), lines(3, 1, 1)])
    const guess = new Guess()
    const reader = await open(batches, guess, 10)
    expect(guess.shown).toEqual([[1], [2]])
    expect(batches.nexts).toBe(2)
    await reader.close()
  })

  it('reads on below 64 MiB of record text', async () => {
    const batches = new Batches([lines(1, 1, 32 * MiB), lines(2, 1, 32 * MiB - 1), lines(3, 1, 1)])
    const guess = new Guess()
    const reader = await open(batches, guess, 10)
    expect(guess.shown).toEqual([[1], [2], [3]])
    await reader.close()
  })

  it('stops at the end of a short file, and then reports it read whole', async () => {
    const batches = new Batches([lines(1, 2)])
    const guess = new Guess()
    const reader = await open(batches, guess, 5)
    expect(guess.shown).toEqual([[1, 2]])
    expect(batches.nexts).toBe(2)
    expect(reader.progress()).toEqual({ bytesRead: 10, bytesTotal: 10 })
    expect(plain(await reader.next(5))).toEqual({ firstRow: 0, rows: 2, x: [1, 2], s: [null, null], errors: [] })
    expect(await reader.next(5)).toBeUndefined()
    expect(batches.nexts).toBe(2)
    await reader.close()
  })

  it('gives the event loop a turn after each batch it reads', async () => {
    let turned = 0
    const seen: number[] = []
    const batches = new Batches([lines(1, 1), lines(2, 1), lines(3, 1), lines(4, 1)], () => {
      seen.push(turned)
      setImmediate(() => turned++)
    })
    const reader = await open(batches, new Guess(), 2)
    // While the reader is open, and for each batch a chunk reads.
    for (let i = 0; i < 4; i++) await reader.next(1)
    expect(seen).toEqual([0, 1, 2, 3])
    await reader.close()
  })

  it('on a failed guess, ends the records and the read stream, and throws what it threw', async () => {
    const failure = new InvalidRequestError('no header')
    const batches = new Batches([lines(1, 1)])
    const e = await open(batches, new Guess(failure), 1).catch((x: unknown) => x)
    expect(e).toBe(failure)
    expect(batches.returns).toBe(1)
    expect(batches.input?.destroyed).toBe(true)
  })

  it('throws what the guess threw when the records cannot be ended early', async () => {
    const failure = new Error('bad')
    const batches = new Batches([lines(1, 1)])
    const noReturn: AsyncIterator<TextRecord[]> = { next: () => batches.next() }
    const e = await openText(small, () => noReturn, new Guess(failure)).catch((x: unknown) => x)
    expect(e).toBe(failure)
  })
})

describe('rows to columns', () => {
  it('puts values by column, nulls where a record has none, and packs a float column of numbers only', async () => {
    const batches = new Batches([
      [
        rec(2, [
          [0, 1.5],
          [1, 'a'],
        ]),
        rec(3, [
          [1, 'b'],
          [2, 7],
        ]),
      ],
      [
        rec(5, [
          [0, 2.5],
          [2, 8],
          [1, null],
        ]),
      ],
    ])
    const reader = await open(batches, new Guess(), 1)
    const c = (await reader.next(10)) as ColumnChunk
    expect(c.rows).toBe(3)
    expect(c.columns.x).toEqual([1.5, null, 2.5])
    expect(c.columns.s).toEqual(['a', 'b', null])
    expect(c.columns.y).toEqual([null, 7, 8])
    expect(c.columns.y).not.toBeInstanceOf(Float64Array)
    expect(c.columns.z).toEqual([null, null, null])
    await reader.close()
  })

  it('packs a float column as a Float64Array only when every row holds a number', async () => {
    const batches = new Batches([
      [
        rec(1, [
          [0, 1],
          [1, 5],
          [2, 9007199254740993n],
        ]),
        rec(2, [
          [0, -0.5],
          [1, 6],
          [2, 1],
        ]),
      ],
    ])
    const reader = await open(batches, new Guess(), 1)
    const c = (await reader.next(10)) as ColumnChunk
    expect(c.columns.x).toBeInstanceOf(Float64Array)
    expect(Array.from(c.columns.x as Float64Array)).toEqual([1, -0.5])
    // A text column of numbers stays an array; so does a float column holding an exact bigint.
    expect(c.columns.s).toEqual([5, 6])
    expect(Array.isArray(c.columns.s)).toBe(true)
    expect(c.columns.y).toEqual([9007199254740993n, 1])
    await reader.close()
  })

  it('shares one frozen array of nulls among the columns no record of a block holds', async () => {
    const reader = await open(new Batches([[rec(1, [[0, 1]]), rec(2, [[0, 2]])]]), new Guess(), 1)
    const c = (await reader.next(10)) as ColumnChunk
    expect(c.columns.s).toEqual([null, null])
    expect(c.columns.s).toBe(c.columns.z)
    expect(Object.isFrozen(c.columns.s)).toBe(true)
    await reader.close()
  })

  it('ignores puts of null, undefined, a column past the schema, and a second value for a cell', async () => {
    const reader = await open(
      new Batches([
        [
          rec(1, [
            [0, null],
            [1, undefined],
            [2, null],
            [4, 'past'],
            [-1, 'before'],
            [3, 'first'],
            [3, 'second'],
          ]),
          rec(2, [[0, 3]]),
        ],
      ]),
      new Guess(),
      1,
    )
    const c = (await reader.next(10)) as ColumnChunk
    expect(c.columns.x).toEqual([null, 3])
    expect(c.columns.s).toEqual([null, null])
    expect(c.columns.z).toEqual(['first', null])
    // A column that was put only nulls is one no record holds.
    expect(c.columns.y).toBe(c.columns.s)
    expect(Object.keys(c.columns)).toEqual(['x', 's', 'y', 'z'])
    await reader.close()
  })

  it('fills gaps of 16 and 17 rows, and a tail of 17, with nulls', async () => {
    // x in rows 0, 17 (a gap of 16) and 35 (a gap of 17); s first in row 17 (17 before it), and
    // last in row 18 (17 rows after it, to the end of the block of 36).
    const rows = Array.from({ length: 36 }, (_, r) => {
      const puts: Array<[number, unknown]> = []
      if (r === 0 || r === 17 || r === 35) puts.push([0, r])
      if (r === 17 || r === 18) puts.push([1, `s${r}`])
      return rec(r + 1, puts)
    })
    const reader = await open(new Batches([rows]), new Guess(), 1)
    const c = (await reader.next(100)) as ColumnChunk
    const x: unknown[] = new Array(36).fill(null)
    x[0] = 0
    x[17] = 17
    x[35] = 35
    const s: unknown[] = new Array(36).fill(null)
    s[17] = 's17'
    s[18] = 's18'
    expect(c.columns.x).toEqual(x)
    expect(c.columns.s).toEqual(s)
    expect(Object.keys(c.columns.s as unknown[]).length).toBe(36)
    expect(Object.keys(c.columns.x as unknown[]).length).toBe(36)
    await reader.close()
  })

  it("words a record's problems with its line, numbered by input row, one error per problem", async () => {
    const reader = await open(
      new Batches([
        [rec(2, [[0, 1]]), rec(3, [[0, 2]], ['p', 'q'])],
        [rec(7, [], ['r']), rec(8, [[0, 4]])],
      ]),
      new Guess(),
      1,
    )
    expect(plain(await reader.next(2))).toEqual({
      firstRow: 0,
      rows: 2,
      x: [1, 2],
      s: [null, null],
      errors: [
        { row: 1, message: 'line 3: p' },
        { row: 1, message: 'line 3: q' },
      ],
    })
    expect(plain(await reader.next(2))).toEqual({
      firstRow: 2,
      rows: 2,
      x: [null, 4],
      s: [null, null],
      errors: [{ row: 2, message: 'line 7: r' }],
    })
    await reader.close()
  })

  it('reads past empty batches', async () => {
    const reader = await open(new Batches([[], lines(1, 1), [], [], lines(2, 2), []]), new Guess(), 1)
    expect(plain(await reader.next(10))).toEqual({
      firstRow: 0,
      rows: 3,
      x: [1, 2, 3],
      s: [null, null, null],
      errors: [],
    })
    await reader.close()
  })

  it('ends a block, and so a chunk, at 64 MiB of record text', async () => {
    const batches = new Batches([lines(1, 1, 40 * MiB), lines(2, 1, 24 * MiB), lines(3, 2, 1), lines(5, 1, 1)])
    const reader = await open(batches, new Guess(), 1)
    expect(plain(await reader.next(10))?.x).toEqual([1, 2])
    expect(plain(await reader.next(10))?.x).toEqual([3, 4, 5])
    await reader.close()
  })

  it('goes on below 64 MiB of record text', async () => {
    const batches = new Batches([lines(1, 1, 40 * MiB), lines(2, 1, 24 * MiB - 2), lines(3, 1, 1), lines(4, 1, 1)])
    const reader = await open(batches, new Guess(), 1)
    expect(plain(await reader.next(10))?.x).toEqual([1, 2, 3, 4])
    await reader.close()
  })
})

describe('reading no further than asked', () => {
  it('reads the next batch only when a chunk needs its rows', async () => {
    const batches = new Batches([lines(1, 1), lines(2, 1), lines(3, 1)])
    const reader = await open(batches, new Guess(), 1)
    expect(batches.nexts).toBe(1)
    expect(plain(await reader.next(1))?.x).toEqual([1])
    expect(batches.nexts).toBe(1)
    expect(plain(await reader.next(1))?.x).toEqual([2])
    expect(batches.nexts).toBe(2)
    await reader.close()
  })
})

describe('skipping', () => {
  it('skips buffered records and later batches without converting them, numbering rows on', async () => {
    const batches = new Batches([lines(1, 2), lines(3, 2), [rec(5, [[0, 5]], ['bad'])], lines(6, 1)])
    const guess = new Guess()
    const reader = await open(batches, guess, 1)
    await reader.skip(3)
    expect(guess.converted).toBe(0)
    expect(plain(await reader.next(10))).toEqual({
      firstRow: 3,
      rows: 3,
      x: [4, 5, 6],
      s: [null, null, null],
      errors: [{ row: 4, message: 'line 5: bad' }],
    })
    expect(guess.converted).toBe(3)
    await reader.close()
  })

  it('skips past the end: nothing comes', async () => {
    const batches = new Batches([lines(1, 2), lines(3, 1)])
    const reader = await open(batches, new Guess(), 1)
    await reader.skip(5)
    expect(await reader.next(1)).toBeUndefined()
    await reader.close()
  })
})

describe('progress and closing', () => {
  it('reports the bytes its stream has read, never past the size the file had when opened', async () => {
    const path = join(dir, 'growing.txt')
    writeFileSync(path, Buffer.alloc(3 * MiB, 0x61))
    // One record per read of the stream (1 MiB reads): the reader is part way through the file.
    const perRead = (input: AsyncIterable<Buffer>) =>
      (async function* () {
        let line = 0
        for await (const chunk of input) yield [rec(++line, [[0, chunk.length]])]
      })()
    const reader = await openText(path, perRead as never, new Guess(), 1)
    const early = reader.progress()
    expect(early.bytesTotal).toBe(3 * MiB)
    expect(early.bytesRead).toBeGreaterThanOrEqual(MiB)
    expect(early.bytesRead).toBeLessThan(3 * MiB)
    // The file grows to 5 MiB while it is read: what was read passes the size it had.
    writeFileSync(path, Buffer.alloc(2 * MiB, 0x62), { flag: 'a' })
    expect(plain(await reader.next(3))?.x).toEqual([MiB, MiB, MiB])
    expect(reader.progress()).toEqual({ bytesRead: 3 * MiB, bytesTotal: 3 * MiB })
    expect(plain(await reader.next(3))?.x).toEqual([MiB, MiB])
    expect(reader.progress()).toEqual({ bytesRead: 3 * MiB, bytesTotal: 3 * MiB })
    await reader.close()
  })

  it('closes: ends the records and the read stream, and reports the file read', async () => {
    const batches = new Batches([lines(1, 1), lines(2, 1), lines(3, 1)])
    const reader = await open(batches, new Guess(), 1)
    expect(reader.progress()).toEqual({ bytesRead: 0, bytesTotal: 10 })
    await reader.close()
    expect(batches.returns).toBe(1)
    expect(batches.input?.destroyed).toBe(true)
    expect(reader.progress()).toEqual({ bytesRead: 10, bytesTotal: 10 })
  })
})

describe('closing records that cannot be ended early', () => {
  it('closes the read stream all the same', async () => {
    const batches = new Batches([lines(1, 1)])
    let input: { destroyed: boolean } | undefined
    const noReturn: AsyncIterator<TextRecord[]> = { next: () => batches.next() }
    const reader = await openText(
      small,
      (stream) => {
        input = stream
        return noReturn
      },
      new Guess(),
      1,
    )
    await reader.close()
    expect(input?.destroyed).toBe(true)
    expect(reader.progress()).toEqual({ bytesRead: 10, bytesTotal: 10 })
  })
})

describe('wording', () => {
  it('words the refusal of too many columns, with or without where', () => {
    const e = tooManyColumns('f.csv', 5001, 5000)
    expect(e).toBeInstanceOf(InvalidRequestError)
    expect(e.message).toBe("'f.csv' has 5001 columns; a job file may have at most 5000 (LASTMILE_JOB_MAX_COLUMNS)")
    expect(tooManyColumns('g.jsonl', 'at least 3', 2, ' (distinct keys by line 4)').message).toBe(
      "'g.jsonl' has at least 3 columns (distinct keys by line 4); a job file may have at most 2 (LASTMILE_JOB_MAX_COLUMNS)",
    )
  })

  it('shows strings quoted, other values as JSON, cut to 40 characters', () => {
    expect(show('abc')).toBe("'abc'")
    expect(show('')).toBe("''")
    expect(show(12)).toBe('12')
    expect(show(-0.5)).toBe('-0.5')
    expect(show(null)).toBe('null')
    expect(show(true)).toBe('true')
    expect(show(undefined)).toBe('undefined')
    expect(show(18446744073709551615n)).toBe('18446744073709551615')
    expect(show({ a: [1, 'b'] })).toBe('{"a":[1,"b"]}')
    const s38 = 'abcdefghijklmnopqrstuvwxyz0123456789AB' // 38 characters: 40 quoted
    expect(show(s38)).toBe("'abcdefghijklmnopqrstuvwxyz0123456789AB'")
    expect(show(`${s38}C`)).toBe("'abcdefghijklmnopqrstuvwxyz0123456789...")
    expect(show([1234567890, 1234567890, 1234567890, 12345])).toBe('[1234567890,1234567890,1234567890,12345]')
    expect(show([1234567890, 1234567890, 1234567890, 123456])).toBe('[1234567890,1234567890,1234567890,123...')
  })

  it('names a value nested over 64 deep instead of writing it', () => {
    let array: unknown = 0
    let object: unknown = 0
    for (let i = 0; i < 65; i++) {
      array = [array]
      object = { a: object }
    }
    expect(show(array)).toBe('an array nested over 64 deep')
    expect(show(object)).toBe('an object nested over 64 deep')
    expect(show({ a: (array as unknown[])[0] })).toBe('an object nested over 64 deep')
    // 64 deep is written (and cut).
    expect(show((array as unknown[])[0])).toBe(`${'['.repeat(37)}...`)
  })

  it('writes JSON with exact bigints, typed arrays as arrays, plain objects member by member', () => {
    expect(jsonText(12345678901234567890n)).toBe('12345678901234567890')
    expect(jsonText([1, -2n, 'x', null, true, [], {}])).toBe('[1,-2,"x",null,true,[],{}]')
    expect(jsonText(Float64Array.of(1.5, -0))).toBe('[1.5,0]')
    expect(jsonText(BigInt64Array.of(-9223372036854775808n))).toBe('[-9223372036854775808]')
    expect(jsonText({ 'k"': { n: 2n ** 64n }, b: [1] })).toBe('{"k\\"":{"n":18446744073709551616},"b":[1]}')
    expect(jsonText('é"')).toBe('"é\\""')
    expect(jsonText(null)).toBe('null')
    expect(jsonText(undefined)).toBe('undefined')
    expect(jsonText(new Date(0))).toBe('"1970-01-01T00:00:00.000Z"')
    expect(jsonText(new Map([[1, 2]]))).toBe('{}')
  })

  it('takes decimal numbers as CSV writers print them, and nothing else', () => {
    for (const yes of [
      '0',
      '7',
      '+1',
      '-1',
      '1.',
      '1.5',
      '.5',
      '-.5',
      '1e5',
      '1E-5',
      '2.5e+10',
      '12.5',
      '10.',
      '.25',
      ' 3 ',
      '\t4\t',
      '007',
    ])
      expect([yes, DECIMAL.test(yes)]).toEqual([yes, true])
    for (const no of [
      '',
      ' ',
      '.',
      '-',
      '+.',
      'e5',
      '1e',
      '1e+',
      '.e1',
      '0x10',
      'Infinity',
      'NaN',
      '1.2.3',
      '--1',
      '1 2',
      'a1',
      '1a',
      '1_000',
      '١',
    ])
      expect([no, DECIMAL.test(no)]).toEqual([no, false])
  })

  it('cuts text into slices of 16 KiB', () => {
    expect(SLICE_BYTES).toBe(16384)
  })
})
