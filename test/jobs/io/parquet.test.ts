/**
 * Parquet reading and writing (src/jobs/io/parquet.ts). Reading: files built byte by byte (./parquet-bytes.ts
 * doubleParquet, test/fuzz/parquet-craft.ts), whose column chunk sizes are counted by hand from
 * their bytes (a 3-value page: a 17-byte header and 24 bytes; a 2-value page: 17 and 16), read
 * whole, from an offset (whole row groups passed over), in batches a row group's claimed
 * uncompressed size bounds, with progress in bytes; refusals of the footer or a page, and the file
 * closed after each. Writing: row groups of the size asked, ZSTD, inputs without batches passed over,
 * an input's failure thrown, and a file of no rows; checked with parquet-wasm's own metadata and by
 * reading the values back. Expected values are written out by hand.
 */
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { float64, int32, Type, tableFromArrays, tableToIPC } from '@uwdata/flechette'
import * as pw from 'parquet-wasm/esm'
import { afterAll, describe, expect, it } from 'vitest'
import { InvalidRequestError } from '../../../src/errors.js'
import { emptyParquet, openParquet, parquetStream } from '../../../src/jobs/io/parquet.js'
import type { ChunkReader } from '../../../src/jobs/io/types.js'
import { craftParquet } from '../../fuzz/parquet-craft.js'
import { doubleParquet } from './parquet-bytes.js'

const dir = mkdtempSync(join(tmpdir(), 'lastmile-parquet-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

let files = 0
function file(bytes: Uint8Array): { path: string; size: number } {
  const path = join(dir, `f${files++}.parquet`)
  writeFileSync(path, bytes)
  return { path, size: bytes.length }
}

/** Whether this process holds a descriptor open on `path` (Linux). */
const heldOpen = (path: string) =>
  readdirSync('/proc/self/fd').some((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === path
    } catch {
      return false
    }
  })

async function rejection(p: Promise<unknown>): Promise<Error> {
  return p.then(
    () => new Error('expected a refusal'),
    (e: unknown) => e as Error,
  )
}

/** Each chunk of `n` rows as [firstRow, values of x]. */
async function chunks(reader: ChunkReader, n: number): Promise<Array<[number, number[]]>> {
  const out: Array<[number, number[]]> = []
  for (let c = await reader.next(n); c; c = await reader.next(n))
    out.push([c.firstRow, Array.from(c.columns.x as ArrayLike<number>)])
  return out
}

// Row group 0: bytes 4..45 (41 bytes); row group 1: bytes 45..78 (33 bytes).
const GROUPS = [
  [1, 2.5, -3],
  [4, 1e300],
]

describe('reading', () => {
  it('reads the schema, the row count and every row in order, with progress in compressed bytes', async () => {
    const f = file(doubleParquet(GROUPS))
    const reader = await openParquet(f.path)
    try {
      expect(reader.schema.map((s) => s.name)).toEqual(['x'])
      expect(reader.schema[0]?.type.typeId).toBe(Type.Float)
      expect(reader.totalRows).toBe(5)
      expect(reader.progress()).toEqual({ bytesRead: 0, bytesTotal: f.size })
      expect(await reader.next(2)).toEqual({
        firstRow: 0,
        rows: 2,
        columns: { x: Float64Array.of(1, 2.5) },
        errors: [],
      })
      expect(reader.progress()).toEqual({ bytesRead: 41, bytesTotal: f.size }) // all 3 rows of group 0 decoded
      expect(await reader.next(2)).toEqual({ firstRow: 2, rows: 2, columns: { x: Float64Array.of(-3, 4) }, errors: [] })
      expect(reader.progress()).toEqual({ bytesRead: 74, bytesTotal: f.size })
      expect(await reader.next(2)).toEqual({ firstRow: 4, rows: 1, columns: { x: Float64Array.of(1e300) }, errors: [] })
      expect(reader.progress()).toEqual({ bytesRead: f.size, bytesTotal: f.size })
      expect(await reader.next(2)).toBeUndefined()
    } finally {
      await reader.close()
    }
  })

  it('passes over whole row groups unread, and starts inside the next one', async () => {
    const read = async (skip: number, progress: number | 'all') => {
      const f = file(doubleParquet(GROUPS))
      const reader = await openParquet(f.path)
      try {
        await reader.skip(skip)
        expect(reader.progress()).toEqual({ bytesRead: progress === 'all' ? f.size : progress, bytesTotal: f.size })
        return await chunks(reader, 10)
      } finally {
        await reader.close()
      }
    }
    expect(await read(1, 14)).toEqual([[1, [2.5, -3, 4, 1e300]]]) // 41 * 1/3 = 13.7
    expect(await read(3, 41)).toEqual([[3, [4, 1e300]]])
    expect(await read(4, 58)).toEqual([[4, [1e300]]]) // 41 + 33 * 1/2 = 57.5
    expect(await read(5, 'all')).toEqual([])
  })

  it('decodes a row group in batches its claimed uncompressed size per row allows (64 MiB a batch)', async () => {
    // 3 rows claiming 96 MiB: 32 MiB a row, 2 rows a batch; 3 GiB: 1 GiB a row, still 1 row a batch.
    const progressAfterOne = async (claim: number) => {
      const f = file(doubleParquet([[1, 2.5, -3]], [claim]))
      const reader = await openParquet(f.path)
      try {
        expect(await reader.next(1)).toEqual({ firstRow: 0, rows: 1, columns: { x: Float64Array.of(1) }, errors: [] })
        const bytes = reader.progress().bytesRead
        expect(await chunks(reader, 1)).toEqual([
          [1, [2.5]],
          [2, [-3]],
        ])
        return bytes
      } finally {
        await reader.close()
      }
    }
    expect(await progressAfterOne(96 * 2 ** 20)).toBe(27) // 41 * 2/3 = 27.3
    expect(await progressAfterOne(3 * 2 ** 30)).toBe(14) // 41 * 1/3 = 13.7
    expect(await progressAfterOne(48 * 2 ** 20)).toBe(41) // 16 MiB a row: 4 rows a batch, the whole group
  })

  it('refuses a damaged footer before decoding, and lets go of the file', async () => {
    const f = file(craftParquet(GROUPS, { fileRows: 6 }))
    const name = f.path.slice(dir.length + 1)
    const e = await rejection(openParquet(f.path))
    expect(e).toBeInstanceOf(InvalidRequestError)
    expect(e.message).toBe(`'${name}' is not a valid Parquet file: its row groups hold 5 rows; its footer says 6`)
    expect(heldOpen(f.path)).toBe(false)
  })

  it('refuses a file the decoder cannot open, and lets go of it', async () => {
    // A footer lastmile's check passes whose schema leaf has physical type 42, which is none.
    const bytes = doubleParquet([[1]])
    const f = file(bytes)
    const good = await openParquet(f.path)
    await good.close()
    expect(heldOpen(f.path)).toBe(false)
    const bad = Buffer.from(bytes)
    const leaf = bad.lastIndexOf(Buffer.from([0x15, 0x0a, 0x25, 0x00, 0x18, 0x01, 0x78])) // type 5 (DOUBLE), required, 'x'
    expect(leaf).toBeGreaterThan(0)
    bad[leaf + 1] = 0x54 // type 42
    const g = file(bad)
    const e = await rejection(openParquet(g.path))
    expect(e).toBeInstanceOf(InvalidRequestError)
    expect(e.message.startsWith(`'${g.path.slice(dir.length + 1)}' cannot be read as Parquet: `)).toBe(true)
    expect(heldOpen(g.path)).toBe(false)
  })

  it('checks a row group’s pages when it is about to be read, naming it', async () => {
    // Row group 1's page (at byte 45, an 18-byte header and 16 bytes: its chunk ends at 79) claims 400 bytes.
    const f = file(craftParquet(GROUPS, { pageCompressed: [undefined, 400] }))
    const reader = await openParquet(f.path)
    try {
      expect((await reader.next(3))?.columns.x).toEqual(Float64Array.of(1, 2.5, -3))
      const e = await rejection(reader.next(3))
      expect(e).toBeInstanceOf(InvalidRequestError)
      expect(e.message).toBe(
        `'${f.path.slice(dir.length + 1)}' is not a valid Parquet file: row group 1, column 'x': the page at byte 45 claims 400 bytes; its column chunk ends at byte 79`,
      )
    } finally {
      await reader.close()
    }
  })

  it('reads a file whose first row group is empty, passing over it when skipping', async () => {
    // Row group 0: a page of no values, a 17-byte header alone (bytes 4..21); row group 1: 17 + 16 bytes.
    const f = file(doubleParquet([[], [4, 1e300]]))
    const reader = await openParquet(f.path)
    try {
      expect(reader.totalRows).toBe(2)
      expect(reader.progress()).toEqual({ bytesRead: 0, bytesTotal: f.size })
      expect(await chunks(reader, 10)).toEqual([[0, [4, 1e300]]])
    } finally {
      await reader.close()
    }
    const skipping = await openParquet(f.path)
    try {
      await skipping.skip(1)
      expect(skipping.progress()).toEqual({ bytesRead: 34, bytesTotal: f.size }) // 17 + 33 * 1/2 = 33.5
      expect(await chunks(skipping, 10)).toEqual([[1, [1e300]]])
    } finally {
      await skipping.close()
    }
  })

  it('closes in the middle of a row group, the batch read ahead dropped', async () => {
    // One row a batch (3 GiB claimed for 3 rows): after the first row, the second is being read.
    const f = file(doubleParquet([[1, 2.5, -3]], [3 * 2 ** 30]))
    const reader = await openParquet(f.path)
    expect((await reader.next(1))?.columns.x).toEqual(Float64Array.of(1))
    await reader.close()
    expect(heldOpen(f.path)).toBe(false)
    await new Promise((r) => setImmediate(r))
  })

  it('closes the file when the reader closes, twice without harm', async () => {
    const f = file(doubleParquet(GROUPS))
    const reader = await openParquet(f.path)
    expect(heldOpen(f.path)).toBe(true)
    await reader.close()
    expect(heldOpen(f.path)).toBe(false)
    await reader.close()
  })
})

const ipc = (x: number[], n: number[]) =>
  tableToIPC(
    tableFromArrays({ x: Float64Array.from(x), n: Int32Array.from(n) }, { types: { x: float64(), n: int32() } }),
    {
      format: 'stream',
    },
  ) as Uint8Array
/** A stream of the schema alone: no record batch. */
const noBatch = () => ipc([], [])

async function* iterate(streams: Array<Uint8Array | Error>) {
  for (const s of streams) {
    if (s instanceof Error) throw s
    yield s
  }
}

async function write(streams: Array<Uint8Array | Error>, rowGroupRows: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const part of parquetStream(iterate(streams), rowGroupRows)) parts.push(part)
  return Buffer.concat(parts)
}

/** Row counts of the row groups, and each column chunk's codec, as parquet-wasm reads them. */
async function layout(bytes: Uint8Array): Promise<{ rows: number[]; codecs: number[] }> {
  const file = await pw.ParquetFile.fromFile(new Blob([bytes]))
  const groups = file.metadata().rowGroups()
  return {
    rows: groups.map((g) => g.numRows()),
    codecs: groups.flatMap((g) => g.columns().map((c) => c.compression())),
  }
}

describe('writing', () => {
  it('writes the batches of every input, in row groups of the rows asked, ZSTD-compressed', async () => {
    const bytes = await write([noBatch(), ipc([1, 2, 3], [7, 8, 9]), noBatch(), noBatch(), ipc([4, 5], [-1, 0])], 2)
    expect(await layout(bytes)).toEqual({ rows: [2, 2, 1], codecs: [5, 5, 5, 5, 5, 5] })
    const f = file(bytes)
    const reader = await openParquet(f.path)
    try {
      expect(reader.schema.map((s) => s.name)).toEqual(['x', 'n'])
      const c = await reader.next(10)
      expect(c?.columns).toEqual({ x: Float64Array.of(1, 2, 3, 4, 5), n: Int32Array.of(7, 8, 9, -1, 0) })
    } finally {
      await reader.close()
    }
  })

  it('writes row groups of one row when asked for none', async () => {
    const bytes = await write([ipc([1, 2, 3], [7, 8, 9])], 0)
    expect((await layout(bytes)).rows).toEqual([1, 1, 1])
  })

  it('throws the failure of an input rather than end the file short', async () => {
    const gone = new Error('chunk file 2 is gone')
    const e = await rejection(write([ipc([1, 2, 3], [7, 8, 9]), ipc([4], [5]), gone, ipc([6], [6])], 1))
    expect(e).toBe(gone)
    const first = await rejection(write([gone], 2))
    expect(first).toBe(gone)
  })

  it('writes a file of no rows with the schema of a stream', async () => {
    const f = file(emptyParquet(noBatch()))
    expect((await layout(readFileSync(f.path))).rows).toEqual([])
    const reader = await openParquet(f.path)
    try {
      expect(reader.schema.map((s) => [s.name, s.type.typeId])).toEqual([
        ['x', Type.Float],
        ['n', Type.Int],
      ])
      expect(reader.totalRows).toBe(0)
      expect(await reader.next(1)).toBeUndefined()
      expect(reader.progress()).toEqual({ bytesRead: f.size, bytesTotal: f.size })
    } finally {
      await reader.close()
    }
  })
})
