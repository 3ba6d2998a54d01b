/**
 * Arrow IPC job files read in chunks (src/jobs/io/arrow.ts): files and streams, row counts up
 * front, chunks across batches, skipping whole batches without reading them and part of the next,
 * dictionaries carried across skipped batches (first batches, deltas, replacements), progress, and
 * the refusals at open (no schema first, a second schema, a body over 1 GiB, a schema flechette
 * cannot read) and when a batch is read (offsets past the data). Files are written by the
 * independent Arrow library @uwdata/flechette, messages located with test/fuzz/arrow-craft.ts and
 * dictionary batches and odd schemas built by hand with test/formats/flatbuffer-write.ts (from
 * the Arrow IPC format's Message, Schema, Field and DictionaryBatch tables); expected values and
 * messages are written out by hand.
 */
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  Batch,
  Column,
  dictionary,
  float64,
  int32,
  int64,
  TimeUnit,
  Type,
  tableFromArrays,
  tableFromColumns,
  tableToIPC,
  timestamp,
  utf8,
} from '@uwdata/flechette'
import { afterAll, describe, expect, it } from 'vitest'
import { InvalidRequestError } from '../../../src/errors.js'
import { openArrow } from '../../../src/jobs/io/arrow.js'
import type { ChunkReader } from '../../../src/jobs/io/types.js'
import { build, i16, i64, pairs, str, table, tables, u8 } from '../../formats/flatbuffer-write.js'
import { firstBatch, messagesOf, withInt64 } from '../../fuzz/arrow-craft.js'
import { rejection } from '../../helpers/refusal.js'

const dir = mkdtempSync(join(tmpdir(), 'lastmile-io-arrow-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const write = (name: string, bytes: Uint8Array) => {
  const path = join(dir, name)
  writeFileSync(path, bytes)
  return path
}

/** Ten rows in batches of 3, 3, 3 and 1: n = 0..9 (int32), s = 'r0'..'r9', f = n / 4. */
const tenRows = (format: 'file' | 'stream') =>
  tableToIPC(
    tableFromArrays(
      {
        n: Int32Array.from({ length: 10 }, (_, i) => i),
        s: Array.from({ length: 10 }, (_, i) => `r${i}`),
        f: Float64Array.from({ length: 10 }, (_, i) => i / 4),
      },
      { types: { n: int32(), s: utf8(), f: float64() }, maxBatchRows: 3 },
    ),
    { format },
  ) as Uint8Array

/** Every chunk of `maxRows` rows, as [firstRow, rows, n values, s values]. */
async function chunks(reader: ChunkReader, maxRows: number) {
  const out: Array<[number, number, number[], unknown[]]> = []
  for (let c = await reader.next(maxRows); c; c = await reader.next(maxRows)) {
    out.push([
      c.firstRow,
      c.rows,
      Array.from(c.columns.n as ArrayLike<number>),
      Array.from(c.columns.s as ArrayLike<unknown>),
    ])
    expect(c.errors).toEqual([])
  }
  return out
}

/**
 * The descriptor the next file opened gets: POSIX hands out the lowest free one, so a file left
 * open between two calls shows as a higher number.
 */
async function nextFd(): Promise<number> {
  const probe = await open(write('probe.txt', new Uint8Array(1)), 'r')
  const fd = probe.fd
  await probe.close()
  return fd
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i)
const names = (from: number, to: number) => range(from, to).map((i) => `r${i}`)

describe('openArrow: files and streams', () => {
  it('opens a file with its schema and its rows counted from the batch headers', async () => {
    const reader = await openArrow(write('ten.arrow', tenRows('file')))
    expect(reader.schema.map((f) => [f.name, f.type.typeId])).toEqual([
      ['n', Type.Int],
      ['s', Type.Utf8],
      ['f', Type.Float],
    ])
    expect(reader.totalRows).toBe(10)
    const [chunk] = await chunks(reader, 100)
    await reader.close()
    expect(chunk).toEqual([0, 10, range(0, 10), names(0, 10)])
  })

  it('opens a stream without a row count, and reads it in chunks across its batches', async () => {
    const reader = await openArrow(write('ten.arrows', tenRows('stream')))
    expect(reader.totalRows).toBeUndefined()
    expect(await chunks(reader, 4)).toEqual([
      [0, 4, range(0, 4), names(0, 4)],
      [4, 4, range(4, 8), names(4, 8)],
      [8, 2, range(8, 10), names(8, 10)],
    ])
    await reader.close()
  })

  it('gives float columns as Float64Array and reads a chunk of exactly one batch', async () => {
    const reader = await openArrow(write('f.arrows', tenRows('stream')))
    const chunk = await reader.next(3)
    await reader.close()
    expect(chunk?.columns.f).toBeInstanceOf(Float64Array)
    expect(Array.from(chunk?.columns.f as Float64Array)).toEqual([0, 0.25, 0.5])
  })

  it('reports progress: the bytes read so far, and the whole file at its end', async () => {
    const bytes = tenRows('file')
    const m = messagesOf(bytes)
    const reader = await openArrow(write('p.arrow', bytes))
    // After opening, the schema message (at byte 8, after the file's magic) has been read.
    expect(reader.progress()).toEqual({ bytesRead: m[1]?.start, bytesTotal: bytes.length })
    await reader.next(3)
    expect(reader.progress()).toEqual({ bytesRead: m[2]?.start, bytesTotal: bytes.length })
    await chunks(reader, 100)
    // The footer is never read, but the whole file is done.
    expect(reader.progress()).toEqual({ bytesRead: bytes.length, bytesTotal: bytes.length })
    await reader.close()
    await reader.close()
  })

  it('reads a schema with no batches as no chunks', async () => {
    const bytes = tableToIPC(tableFromArrays({ x: [] }, { types: { x: float64() } }), { format: 'file' }) as Uint8Array
    const reader = await openArrow(write('empty.arrow', bytes))
    expect(reader.totalRows).toBe(0)
    expect(reader.schema.map((f) => f.name)).toEqual(['x'])
    expect(await reader.next(10)).toBeUndefined()
    await reader.close()
  })
})

describe('openArrow: skipping', () => {
  it.each([
    [0, [[0, 10, range(0, 10), names(0, 10)]]],
    [2, [[2, 8, range(2, 10), names(2, 10)]]],
    [3, [[3, 7, range(3, 10), names(3, 10)]]],
    [4, [[4, 6, range(4, 10), names(4, 10)]]],
    [9, [[9, 1, [9], ['r9']]]],
    [10, []],
    [25, []],
  ] as const)('skips %i rows, then reads the rest from there', async (skip, expected) => {
    const reader = await openArrow(write(`skip${skip}.arrows`, tenRows('stream')))
    await reader.skip(skip)
    expect(await chunks(reader, 100)).toEqual(expected)
    await reader.close()
  })

  it('skips whole batches and part of the next, then chunks from the row after', async () => {
    const reader = await openArrow(write('skip7.arrow', tenRows('file')))
    await reader.skip(7)
    expect(await chunks(reader, 2)).toEqual([
      [7, 2, [7, 8], ['r7', 'r8']],
      [9, 1, [9], ['r9']],
    ])
    await reader.close()
  })

  it('skips batches without reading their bodies: a lie in a skipped body goes unseen', async () => {
    const bytes = tenRows('stream')
    const batch = firstBatch(bytes)
    // Buffers in order: n validity, n values, s validity, s offsets, s data, f validity, f values.
    const view = new DataView(bytes.buffer)
    const offsets = batch.bodyStart + Number(view.getBigInt64(batch.buffersAt[3] as number, true))
    const lie = bytes.slice()
    new DataView(lie.buffer).setInt32(offsets + 4 * 3, 1e6, true)
    const skipped = await openArrow(write('lie-skipped.arrows', lie))
    await skipped.skip(3)
    expect(await chunks(skipped, 100)).toEqual([[3, 7, range(3, 10), names(3, 10)]])
    await skipped.close()

    const read = await openArrow(write('lie-read.arrows', lie))
    const e = await rejection(read.next(1))
    await read.close()
    expect(e).toBeInstanceOf(InvalidRequestError)
    expect(e.message).toBe(
      "'lie-read.arrows', message 1: column 's' has a last offset 1000000, past the 8 bytes of data",
    )
  })
})

describe('openArrow: reading batches', () => {
  /** tenRows with a lie in the second batch (message 2): an offset of column s past its data. */
  const lyingSecond = () => {
    const bytes = tenRows('stream')
    const second = messagesOf(bytes).filter((m) => m.type === 3)[1] as ReturnType<typeof messagesOf>[number]
    const view = new DataView(bytes.buffer)
    const offsets = second.bodyStart + Number(view.getBigInt64(second.buffersAt[3] as number, true))
    const lie = bytes.slice()
    new DataView(lie.buffer).setInt32(offsets + 4 * 3, 1e6, true)
    return lie
  }
  const refused = "column 's' has a last offset 1000000, past the 8 bytes of data"

  it('reads no batch beyond the rows asked for, and checks each batch when it is read', async () => {
    const reader = await openArrow(write('second.arrows', lyingSecond()))
    expect(await reader.next(3)).toMatchObject({ firstRow: 0, rows: 3 })
    const e = await rejection(reader.next(3))
    await reader.close()
    expect(e).toBeInstanceOf(InvalidRequestError)
    expect(e.message).toBe(`'second.arrows', message 2: ${refused}`)
  })

  it('counts the batches it skips among the messages it checks', async () => {
    const reader = await openArrow(write('second-skip.arrows', lyingSecond()))
    await reader.skip(3)
    const e = await rejection(reader.next(3))
    await reader.close()
    expect(e.message).toBe(`'second-skip.arrows', message 2: ${refused}`)
  })

  it('refuses a batch flechette cannot convert (a timestamp past 2^53 ms beside a null), naming the file', async () => {
    const ints = tableFromArrays({ t: [2n ** 53n + 1n, null] }, { types: { t: int64() } })
    const type = timestamp(TimeUnit.MILLISECOND)
    const batches = ints
      .getChild('t')
      .data.map(
        (b) => new Batch({ length: b.length, nullCount: b.nullCount, type, validity: b.validity, values: b.values }),
      )
    const bytes = tableToIPC(tableFromColumns({ t: new Column(batches, type) }), { format: 'stream' }) as Uint8Array
    const reader = await openArrow(write('late.arrows', bytes))
    const e = await rejection(reader.next(10))
    await reader.close()
    expect(e).toBeInstanceOf(InvalidRequestError)
    // flechette's words.
    expect(e.message).toBe(
      "'late.arrows' has a record batch that cannot be decoded: BigInt exceeds integer number representation: 9007199254740993",
    )
  })

  it('reads nothing after the end marker', async () => {
    const bytes = tenRows('stream')
    const garbage = new Uint8Array(bytes.length + 8).fill(1)
    garbage.set(bytes)
    const reader = await openArrow(write('trailing.arrows', garbage))
    expect(await chunks(reader, 4)).toEqual([
      [0, 4, range(0, 4), names(0, 4)],
      [4, 4, range(4, 8), names(4, 8)],
      [8, 2, range(8, 10), names(8, 10)],
    ])
    expect(await reader.next(4)).toBeUndefined()
    expect(reader.progress()).toEqual({ bytesRead: garbage.length, bytesTotal: garbage.length })
    await reader.close()
  })

  it('releases the file when closed, and when it refuses to open it', async () => {
    const path = write('fd.arrows', tenRows('stream'))
    const before = await nextFd()
    const reader = await openArrow(path)
    expect(await nextFd()).toBe(before + 1)
    await reader.close()
    expect(await nextFd()).toBe(before)
    await rejection(openArrow(write('fd-eos.arrows', Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0))))
    expect(await nextFd()).toBe(before)
  })
})

describe('openArrow: dictionaries', () => {
  /** Two dictionary columns, a (id 0) and b (id 1), batches of 2, 2 and 1 rows of indices. */
  const base = tableToIPC(
    tableFromArrays(
      { a: ['x', 'y', 'z', 'x', 'w'], b: ['p', 'q', 'p', 'p', 'q'] },
      { types: { a: dictionary(utf8(), int32()), b: dictionary(utf8(), int32()) }, maxBatchRows: 2 },
    ),
    { format: 'stream' },
  ) as Uint8Array
  // flechette's dictionaries: a = [x, y, z, w], b = [p, q]; indices a = 0 1 | 2 0 | 3, b = 0 1 | 0 0 | 1.
  const m = messagesOf(base)
  const slice = (i: number) => base.slice(m[i]?.start, (m[i]?.bodyStart as number) + (m[i]?.bodyLength as number))

  const pad8 = (n: number) => Math.ceil(n / 8) * 8

  /** A dictionary batch of utf8 `values` for `id`, built by hand. */
  function dictionaryBatch(id: number, isDelta: boolean, values: string[]): Uint8Array {
    const data = new TextEncoder().encode(values.join(''))
    const offsets = new Int32Array(values.length + 1)
    values.forEach((v, i) => {
      offsets[i + 1] = (offsets[i] as number) + v.length
    })
    const offsetBytes = pad8(offsets.byteLength)
    const bodyLength = offsetBytes + pad8(data.length)
    const meta = build(
      table(
        i16(4),
        u8(2),
        table(
          i64(id),
          table(
            i64(values.length),
            pairs([values.length, 0]),
            pairs([0, 0], [0, offsets.byteLength], [offsetBytes, data.length]),
          ),
          u8(isDelta ? 1 : 0),
        ),
        i64(bodyLength),
      ),
    )
    const metaLength = pad8(meta.length)
    const out = new Uint8Array(8 + metaLength + bodyLength)
    const view = new DataView(out.buffer)
    view.setUint32(0, 0xffffffff, true)
    view.setInt32(4, metaLength, true)
    out.set(meta, 8)
    out.set(new Uint8Array(offsets.buffer), 8 + metaLength)
    out.set(data, 8 + metaLength + offsetBytes)
    return out
  }

  const concat = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts))
  const EOS = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0)

  /**
   * a's dictionary sent as [x, y] then a delta [z, w]; b's as [p, q] then replaced by [q, p]
   * before the last batch: a = x y | z x | w, b = p q | p p | p.
   */
  const evolving = concat(
    slice(0),
    dictionaryBatch(0, false, ['x', 'y']),
    dictionaryBatch(1, false, ['p', 'q']),
    slice(3),
    dictionaryBatch(0, true, ['z', 'w']),
    slice(4),
    dictionaryBatch(1, false, ['q', 'p']),
    slice(5),
    EOS,
  )

  const rowsOf = async (reader: ChunkReader, maxRows: number) => {
    const out: Array<[number, unknown[], unknown[]]> = []
    for (let c = await reader.next(maxRows); c; c = await reader.next(maxRows))
      out.push([
        c.firstRow,
        Array.from(c.columns.a as ArrayLike<unknown>),
        Array.from(c.columns.b as ArrayLike<unknown>),
      ])
    return out
  }

  it('reports dictionary columns as their values, and reads them', async () => {
    const reader = await openArrow(write('dict.arrows', base))
    expect(reader.schema.map((f) => [f.name, f.type.typeId])).toEqual([
      ['a', Type.Utf8],
      ['b', Type.Utf8],
    ])
    expect(await rowsOf(reader, 10)).toEqual([[0, ['x', 'y', 'z', 'x', 'w'], ['p', 'q', 'p', 'p', 'q']]])
    await reader.close()
  })

  it('applies deltas and replacements where they come in the stream', async () => {
    const reader = await openArrow(write('evolving.arrows', evolving))
    expect(await rowsOf(reader, 10)).toEqual([[0, ['x', 'y', 'z', 'x', 'w'], ['p', 'q', 'p', 'p', 'p']]])
    await reader.close()
  })

  it('carries the dictionaries in force into every chunk, row by row', async () => {
    const reader = await openArrow(write('evolving1.arrows', evolving))
    expect(await rowsOf(reader, 1)).toEqual([
      [0, ['x'], ['p']],
      [1, ['y'], ['q']],
      [2, ['z'], ['p']],
      [3, ['x'], ['p']],
      [4, ['w'], ['p']],
    ])
    await reader.close()
  })

  it.each([
    [1, [[1, ['y', 'z', 'x', 'w'], ['q', 'p', 'p', 'p']]]],
    [2, [[2, ['z', 'x', 'w'], ['p', 'p', 'p']]]],
    [3, [[3, ['x', 'w'], ['p', 'p']]]],
    [4, [[4, ['w'], ['p']]]],
  ] as const)('keeps the dictionaries of the batches it skips (%i rows)', async (skip, expected) => {
    const reader = await openArrow(write(`evolving-skip${skip}.arrows`, evolving))
    await reader.skip(skip)
    expect(await rowsOf(reader, 10)).toEqual(expected)
    await reader.close()
  })

  it('refuses at open a dictionary batch for an id no column uses', async () => {
    const bytes = concat(slice(0), dictionaryBatch(0, false, ['x']), dictionaryBatch(7, false, ['y']), EOS)
    const e = await rejection(openArrow(write('id7.arrows', bytes)))
    expect(e).toBeInstanceOf(InvalidRequestError)
    expect(e.message).toBe("'id7.arrows', message 2: a dictionary batch for id 7, which no column uses")
  })
})

describe('openArrow refusals at open', () => {
  it('refuses an empty stream and one that starts with a record batch, as having no schema first', async () => {
    const eos = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0)
    const e = await rejection(openArrow(write('eos.arrows', eos)))
    expect(e).toBeInstanceOf(InvalidRequestError)
    expect(e.message).toBe("'eos.arrows' is not an Arrow IPC stream: it does not start with a schema message")
    const bytes = tenRows('stream')
    const [schema] = messagesOf(bytes)
    const headless = bytes.slice(schema?.bodyStart)
    const f = await rejection(openArrow(write('headless.arrows', headless)))
    expect(f.message).toBe("'headless.arrows' is not an Arrow IPC stream: it does not start with a schema message")
  })

  it('refuses a file whose first message is no schema, naming it a file', async () => {
    const bytes = tenRows('file')
    const [schema] = messagesOf(bytes)
    const headless = new Uint8Array(bytes.length - (schema?.bodyStart as number) + 8)
    headless.set(bytes.subarray(0, 8))
    headless.set(bytes.subarray(schema?.bodyStart), 8)
    const e = await rejection(openArrow(write('headless.arrow', headless)))
    expect(e).toBeInstanceOf(InvalidRequestError)
    expect(e.message).toBe("'headless.arrow' is not an Arrow IPC file: it does not start with a schema message")
  })

  it('refuses a second schema message', async () => {
    const bytes = tenRows('stream')
    const [schema] = messagesOf(bytes)
    const twice = new Uint8Array(bytes.length + (schema?.bodyStart as number))
    twice.set(bytes.subarray(0, schema?.bodyStart))
    twice.set(bytes, schema?.bodyStart)
    const e = await rejection(openArrow(write('twice.arrows', twice)))
    expect(e).toBeInstanceOf(InvalidRequestError)
    expect(e.message).toBe("'twice.arrows', message 1: a second schema message")
  })

  it('refuses a later batch whose header claims more rows than its body holds', async () => {
    const bytes = tenRows('stream')
    const third = messagesOf(bytes).filter((m) => m.type === 3)[2]
    const lie = withInt64(bytes, third?.lengthAt as number, 4)
    const e = await rejection(openArrow(write('rows.arrows', lie)))
    expect(e).toBeInstanceOf(InvalidRequestError)
    // The batch of 3 rows (its field nodes still say 3) now claims 4.
    expect(e.message).toBe("'rows.arrows', message 3: column 'n' has 3 values, expected 4")
  })

  it('takes a body of exactly 1 GiB and refuses one byte more (sparse files: no disk is used)', async () => {
    const bytes = tenRows('stream')
    const batch = firstBatch(bytes)
    const sparse = (name: string, body: number) => {
      const path = write(name, withInt64(bytes, batch.bodyLengthAt as number, body).subarray(0, batch.bodyStart))
      truncateSync(path, batch.bodyStart + body)
      return path
    }
    const ok = await openArrow(sparse('gib.arrows', 2 ** 30))
    expect(ok.schema.length).toBe(3)
    await ok.close()
    const e = await rejection(openArrow(sparse('over.arrows', 2 ** 30 + 1)))
    expect(e).toBeInstanceOf(InvalidRequestError)
    expect(e.message).toBe(
      `'over.arrows' has a message of 1073741825 bytes at byte ${batch.bodyStart}; record batches of at most 1073741824 bytes are read: write smaller batches`,
    )
  })

  it('refuses a schema flechette cannot read (a date of unit 2), naming it', async () => {
    // Message{V5, Schema{little-endian, [Field{'d', nullable, Date{unit 2}, children []}]}, no body}.
    const meta = build(
      table(
        i16(4),
        u8(1),
        table(i16(0), tables(table(str('d'), u8(1), u8(8), table(i16(2)), undefined, tables()))),
        i64(0),
      ),
    )
    const length = Math.ceil(meta.length / 8) * 8
    const bytes = new Uint8Array(8 + length + 8)
    const view = new DataView(bytes.buffer)
    view.setUint32(0, 0xffffffff, true)
    view.setInt32(4, length, true)
    bytes.set(meta, 8)
    view.setUint32(8 + length, 0xffffffff, true)
    const e = await rejection(openArrow(write('date.arrows', bytes)))
    expect(e).toBeInstanceOf(InvalidRequestError)
    // flechette's words: DateUnit is 0 (day) or 1 (millisecond).
    expect(e.message).toBe("'date.arrows' has an Arrow schema flechette cannot read: 2 must be one of 0,1")
  })
})
