/**
 * ChunkedReader over a scripted BlockSource: chunks of exactly `maxRows` rows whatever the source's
 * block sizes, skipping (whole units first, then the rest of a block), row errors kept with their
 * rows, memory-full blocks ending a chunk early, and the refusals of bad counts. Every expected row
 * number, value and call is written out by hand from the blocks each test scripts.
 */
import { describe, expect, it } from 'vitest'
import { type Block, type BlockSource, ChunkedReader } from '../../../src/jobs/io/chunker.js'
import type { ColumnChunk, SchemaField } from '../../../src/jobs/io/types.js'

const SCHEMA = [{ name: 'x' }, { name: 's' }] as unknown as SchemaField[]

/** A block of rows [first, first + values.length): x = the values as doubles, s = 'r<row>'. */
function block(first: number, values: number[], extra: Partial<Block> = {}): Block {
  return {
    firstRow: first,
    rows: values.length,
    columns: [Float64Array.from(values), values.map((_, i) => `r${first + i}`)],
    errors: [],
    ...extra,
  }
}

/** A source that hands out `blocks` in order and records what it was asked. */
class Scripted implements BlockSource {
  readonly schema = SCHEMA
  readonly totalRows: number | undefined = 42
  reads: number[] = []
  skips: number[] = []
  closed = 0
  constructor(
    private blocks: Block[],
    private skipped = 0,
  ) {}
  progress() {
    return { bytesRead: 7, bytesTotal: 9 }
  }
  async skipWhole(rows: number): Promise<number> {
    this.skips.push(rows)
    return this.skipped
  }
  async read(wantRows: number): Promise<Block | undefined> {
    this.reads.push(wantRows)
    return this.blocks.shift()
  }
  async close(): Promise<void> {
    this.closed++
  }
}

/** A chunk as plain values: [firstRow, rows, x, s, errors]. */
function plain(c: ColumnChunk | undefined) {
  if (!c) return undefined
  return [
    c.firstRow,
    c.rows,
    Array.from(c.columns.x as ArrayLike<number>),
    Array.from(c.columns.s as ArrayLike<string>),
    c.errors,
  ]
}

async function all(reader: ChunkedReader, maxRows: number) {
  const out = []
  for (let c = await reader.next(maxRows); c; c = await reader.next(maxRows)) out.push(plain(c))
  return out
}

describe('ChunkedReader', () => {
  it('passes the schema, total rows and progress through from its source', () => {
    const reader = new ChunkedReader(new Scripted([]))
    expect(reader.schema).toBe(SCHEMA)
    expect(reader.totalRows).toBe(42)
    expect(reader.progress()).toEqual({ bytesRead: 7, bytesTotal: 9 })
  })

  it('cuts blocks of 3, 1 and 4 rows into chunks of exactly 3, the last one short', async () => {
    const source = new Scripted([block(0, [10, 11, 12]), block(3, [13]), block(4, [14, 15, 16, 17])])
    const reader = new ChunkedReader(source)
    expect(await all(reader, 3)).toEqual([
      [0, 3, [10, 11, 12], ['r0', 'r1', 'r2'], []],
      [3, 3, [13, 14, 15], ['r3', 'r4', 'r5'], []],
      [6, 2, [16, 17], ['r6', 'r7'], []],
    ])
    // Asked for what a chunk still lacks: 3, then 3 and 2 (after the 1-row block), then 1 past the
    // 2 rows left over; at the end it asks no more.
    expect(source.reads).toEqual([3, 3, 2, 1])
  })

  it('keeps typed arrays typed when it joins them, and gives a lone block as it is', async () => {
    const first = block(0, [1, 2])
    const reader = new ChunkedReader(new Scripted([first, block(2, [3]), block(3, [4])]))
    const one = await reader.next(2)
    expect(one?.columns.x).toBe(first.columns[0])
    const two = await reader.next(2)
    expect(two?.columns.x).toBeInstanceOf(Float64Array)
    expect(Array.from(two?.columns.x as Float64Array)).toEqual([3, 4])
    expect(two?.columns.s).toEqual(['r2', 'r3'])
  })

  it('ignores blocks of no rows', async () => {
    const empty: Block = { firstRow: 99, rows: 0, columns: [[], []], errors: [] }
    const source = new Scripted([block(0, [1]), empty, block(1, [2, 3])])
    const reader = new ChunkedReader(source)
    const chunk = await reader.next(3)
    expect(plain(chunk)).toEqual([0, 3, [1, 2, 3], ['r0', 'r1', 'r2'], []])
    expect(chunk?.columns.x).toBeInstanceOf(Float64Array)
    expect(source.reads).toEqual([3, 2, 2])
  })

  it('keeps each row error with the chunk that holds its row', async () => {
    const errors = [
      { row: 1, message: 'one' },
      { row: 2, message: 'two' },
      { row: 4, message: 'four' },
    ]
    const reader = new ChunkedReader(new Scripted([block(0, [0, 1, 2, 3, 4], { errors })]))
    const chunks = await all(reader, 2)
    expect(chunks.map((c) => c?.[4])).toEqual([
      [{ row: 1, message: 'one' }],
      [{ row: 2, message: 'two' }],
      [{ row: 4, message: 'four' }],
    ])
  })

  it('ends a chunk short at a block that is full, and goes on after it', async () => {
    const source = new Scripted([block(0, [1]), block(1, [2], { full: true }), block(2, [3, 4, 5])])
    const reader = new ChunkedReader(source)
    expect(plain(await reader.next(4))).toEqual([0, 2, [1, 2], ['r0', 'r1'], []])
    expect(plain(await reader.next(4))).toEqual([2, 3, [3, 4, 5], ['r2', 'r3', 'r4'], []])
    expect(source.reads).toEqual([4, 3, 4, 1])
  })

  it('ends a chunk only at a block whose full flag is true', async () => {
    const source = new Scripted([block(0, [1], { full: false }), block(1, [2])])
    expect(plain(await new ChunkedReader(source).next(2))).toEqual([0, 2, [1, 2], ['r0', 'r1'], []])
  })

  it('answers undefined at the end, and again after it, without asking the source again', async () => {
    const source = new Scripted([block(0, [1])])
    const reader = new ChunkedReader(source)
    expect(plain(await reader.next(5))).toEqual([0, 1, [1], ['r0'], []])
    expect(await reader.next(5)).toBeUndefined()
    expect(await reader.next(5)).toBeUndefined()
    expect(source.reads).toEqual([5, 4])
  })

  it('skips whole units first, then the rest of a block, keeping the block rows past the skip', async () => {
    // The source skips 4 whole rows; the reader reads 2 more to skip 6, and the block's third row stays.
    const source = new Scripted(
      [
        block(4, [4, 5, 6], {
          errors: [
            { row: 5, message: 'five' },
            { row: 6, message: 'six' },
          ],
        }),
        block(7, [7]),
      ],
      4,
    )
    const reader = new ChunkedReader(source)
    await reader.skip(6)
    expect(source.skips).toEqual([6])
    expect(source.reads).toEqual([2])
    expect(await all(reader, 5)).toEqual([[6, 2, [6, 7], ['r6', 'r7'], [{ row: 6, message: 'six' }]]])
  })

  it('skips across several blocks, taking a block that ends exactly at the skip whole', async () => {
    const source = new Scripted([block(0, [0, 1]), block(2, [2, 3]), block(4, [4])])
    const reader = new ChunkedReader(source)
    await reader.skip(4)
    expect(source.reads).toEqual([4, 2])
    expect(plain(await reader.next(1))).toEqual([4, 1, [4], ['r4'], []])
  })

  it('skips past the end of the source: nothing is left', async () => {
    const source = new Scripted([block(0, [0, 1])])
    const reader = new ChunkedReader(source)
    await reader.skip(5)
    expect(source.reads).toEqual([5, 3])
    expect(await reader.next(1)).toBeUndefined()
    expect(source.reads).toEqual([5, 3])
  })

  it('skips nothing without reading when the source skipped it all, or when asked for 0 rows', async () => {
    const whole = new Scripted([block(3, [3])], 3)
    const reader = new ChunkedReader(whole)
    await reader.skip(3)
    expect(whole.reads).toEqual([])
    expect(plain(await reader.next(2))).toEqual([3, 1, [3], ['r3'], []])

    const none = new Scripted([block(0, [0])])
    const zero = new ChunkedReader(none)
    await zero.skip(0)
    expect(none.skips).toEqual([0])
    expect(none.reads).toEqual([])
    expect(plain(await zero.next(1))).toEqual([0, 1, [0], ['r0'], []])
  })

  it('refuses to skip after the first next(), and a second skip', async () => {
    const reader = new ChunkedReader(new Scripted([block(0, [0, 1])]))
    await reader.next(1)
    await expect(reader.skip(1)).rejects.toThrow(new Error('skip() must come before the first next()'))
    const twice = new ChunkedReader(new Scripted([]))
    await twice.skip(0)
    await expect(twice.skip(0)).rejects.toThrow('skip() must come before the first next()')
  })

  it('refuses counts that are not integers, or below their least', async () => {
    const reader = new ChunkedReader(new Scripted([block(0, [0])]))
    for (const [rows, shown] of [
      [-1, '-1'],
      [1.5, '1.5'],
      [Number.NaN, 'NaN'],
      [2 ** 53, '9007199254740992'],
    ] as const) {
      const e = await reader.skip(rows).catch((x: Error) => x)
      expect(e).toBeInstanceOf(RangeError)
      expect((e as Error).message).toBe(`rows must be an integer ≥ 0, got ${shown}`)
    }
    for (const [rows, shown] of [
      [0, '0'],
      [-3, '-3'],
      [0.5, '0.5'],
      [Number.POSITIVE_INFINITY, 'Infinity'],
    ] as const) {
      const e = await reader.next(rows).catch((x: Error) => x)
      expect(e).toBeInstanceOf(RangeError)
      expect((e as Error).message).toBe(`maxRows must be an integer ≥ 1, got ${shown}`)
    }
    expect(plain(await reader.next(1))).toEqual([0, 1, [0], ['r0'], []])
  })

  it('a refused count leaves skip() still allowed', async () => {
    const reader = new ChunkedReader(new Scripted([block(0, [0, 1])]))
    await expect(reader.skip(-1)).rejects.toThrow(RangeError)
    await reader.skip(1)
    expect(plain(await reader.next(1))).toEqual([1, 1, [1], ['r1'], []])
  })

  it('closes its source and drops what it holds: nothing more comes', async () => {
    const source = new Scripted([block(0, [0, 1, 2]), block(3, [3])])
    const reader = new ChunkedReader(source)
    expect(plain(await reader.next(1))).toEqual([0, 1, [0], ['r0'], []])
    await reader.close()
    expect(source.closed).toBe(1)
    expect(await reader.next(5)).toBeUndefined()
    expect(source.reads).toEqual([1])
  })
})
