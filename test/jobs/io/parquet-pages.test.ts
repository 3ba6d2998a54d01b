/**
 * The page header check (src/jobs/io/parquet-pages.ts) on column chunks built here from
 * parquet.thrift's PageHeader (2 uncompressed_page_size, 3 compressed_page_size, both i32) in the
 * Thrift compact protocol (./parquet-bytes.ts), read through an in-memory file handle that records each read.
 * Checked: pages that fit pass, each refusal's words (sizes past the chunk, negative or past 256 MiB,
 * headers damaged, cut short or past 16 MiB, more than a million pages), exactly at each limit and
 * one past, and which bytes are read: one 64 KiB window for many small pages, a header across the
 * window's edge read again from its start with a window 16 times larger. Offsets are counted by hand.
 */
import { describe, expect, it } from 'vitest'
import type { ChunkRange } from '../../../src/jobs/io/parquet-footer.js'
import { checkPages } from '../../../src/jobs/io/parquet-pages.js'
import { ascii, i32, i64, memoryFile, refused, sparseFile, struct, type Value } from './parquet-bytes.js'

/** A data page header claiming `uncompressed` and `compressed` bytes (with a data page header, as writers write it). */
const header = (uncompressed: Value | undefined, compressed: Value | undefined, values = 1) =>
  struct([
    [1, i32(0)],
    [2, uncompressed],
    [3, compressed],
    [
      5,
      struct([
        [1, i32(values)],
        [2, i32(0)],
        [3, i32(3)],
        [4, i32(3)],
      ]),
    ],
  ]).bytes

/** A page: its header, then `compressed` bytes of 0xAA. */
const page = (uncompressed: number, compressed: number, values = 1) => [
  ...header(i32(uncompressed), i32(compressed), values),
  ...new Array(compressed).fill(0xaa),
]

const chunk = (start: number, bytes: number, column = 'x'): ChunkRange => ({ column, start, bytes })

describe('pages that fit', () => {
  it('passes column chunks whose pages lie inside them, reading each chunk once', async () => {
    // Headers of 17, 17 and 18 bytes: pages at 4 (27 bytes), 31 (17) and 48 (23), ending at 71.
    const x = [...page(16, 10, 2), ...page(0, 0, 0), ...page(300, 5)]
    const y = page(8, 8)
    expect(x.length).toBe(67)
    expect(y.length).toBe(25)
    const f = memoryFile([...ascii('PAR1'), ...x, ...y])
    await checkPages(f.handle, [chunk(4, 67), chunk(71, 25, 'y')], 0, 'f.parquet')
    expect(f.reads).toEqual([
      [4, 67],
      [71, 25],
    ])
  })

  it('passes an empty chunk list and a chunk of no bytes without reading', async () => {
    const f = memoryFile(ascii('PAR1'))
    await checkPages(f.handle, [], 0, 'f.parquet')
    await checkPages(f.handle, [chunk(4, 0)], 0, 'f.parquet')
    expect(f.reads).toEqual([])
  })

  it('takes pages of exactly 256 MiB uncompressed', async () => {
    const p = page(2 ** 28, 3)
    const f = memoryFile([...ascii('PAR1'), ...p])
    await checkPages(f.handle, [chunk(4, p.length)], 0, 'f.parquet')
  })

  it('reads a header across the window’s edge again from its start, 16 windows long (or to the chunk’s end)', async () => {
    // Page 1: an 11-byte header (sizes 65522 as 3-byte varints) and 65522 bytes: page 2 starts at
    // byte 65537, 3 bytes before the first window [4, 65540) ends. Page 2: 9-byte header, 100 bytes.
    const first = [0x15, 0x00, 0x15, 0xe4, 0xff, 0x07, 0x15, 0xe4, 0xff, 0x07, 0x00, ...new Array(65522).fill(0xaa)]
    const second = [0x15, 0x00, 0x15, 0xc8, 0x01, 0x15, 0xc8, 0x01, 0x00, ...new Array(100).fill(0xaa)]
    const f = memoryFile([...ascii('PAR1'), ...first, ...second])
    await checkPages(f.handle, [chunk(4, 65533 + 109)], 0, 'f.parquet')
    expect(f.reads).toEqual([
      [4, 65536],
      [65537, 109],
    ])
  })

  /**
   * A chunk from byte 4: the bytes of `first`, then pages of a 5-byte header (sizes 0) and no data;
   * each read recorded.
   */
  function tinyPages(first: number[] = []) {
    const pattern = [0x25, 0x00, 0x15, 0x00, 0x00]
    const from = 4 + first.length
    const reads: Array<[number, number]> = []
    const handle = {
      async read(buffer: Uint8Array, offset: number, length: number, position: number) {
        reads.push([position, length])
        for (let i = 0; i < length; i++) {
          const at = position + i
          buffer[offset + i] = (at < from ? first[at - 4] : pattern[(at - from) % 5]) as number
        }
        return { bytesRead: length, buffer }
      },
    } as unknown as Parameters<typeof checkPages>[0]
    return { handle, reads }
  }

  it('reads a new window for a header that starts exactly where the window ends', async () => {
    // Page 1: an 11-byte header (sizes 65525, 3-byte varints) and 65525 bytes, ending at 65540 with
    // the first window. Then 20000 small pages up to 165540: their window [65540, 131076) cuts the
    // page at 131075 after its first byte, which is read again from there to the chunk's end.
    const page1 = [0x15, 0x00, 0x15, 0xea, 0xff, 0x07, 0x15, 0xea, 0xff, 0x07, 0x00, ...new Array(65525).fill(0xaa)]
    const f = tinyPages(page1)
    await checkPages(f.handle, [chunk(4, 65536 + 5 * 20_000)], 0, 'f.parquet')
    expect(f.reads).toEqual([
      [4, 65536],
      [65540, 65536],
      [131075, 34465],
    ])
  })

  it('reads a chunk of many small pages a window at a time, not a read per page', async () => {
    // 20000 pages in bytes 4..100004: the page at 65539 has 1 byte in the first window [4, 65540),
    // so it is read again from there, up to 1 MiB (here, to the chunk's end).
    const f = tinyPages()
    await checkPages(f.handle, [chunk(4, 5 * 20_000)], 0, 'f.parquet')
    expect(f.reads).toEqual([
      [4, 65536],
      [65539, 34465],
    ])
  })

  it('takes exactly a million pages in a chunk, and refuses one more', async () => {
    const f = tinyPages()
    await checkPages(f.handle, [chunk(4, 5 * 1_000_000)], 0, 'f.parquet')
    // Pages straddle each window's end at 65539, 1114114, 2162689, 3211264 and 4259839.
    expect(f.reads).toEqual([
      [4, 65536],
      [65539, 1048576],
      [1114114, 1048576],
      [2162689, 1048576],
      [3211264, 1048576],
      [4259839, 740165],
    ])
    await refused(
      checkPages(tinyPages().handle, [chunk(4, 5 * 1_000_001)], 0, 'f.parquet'),
      "row group 0, column 'x': more than 1000000 pages",
    )
  })
})

describe('pages refused', () => {
  const x = [...page(16, 10, 2), ...page(0, 0, 0), ...page(300, 5)] // pages at 4, 31 and 48, ending at 71

  it('refuses a page claiming bytes past its column chunk, naming the row group and column', async () => {
    const f = memoryFile([...ascii('PAR1'), ...x])
    await refused(
      checkPages(f.handle, [chunk(4, 66, 'a.b')], 3, 'f.parquet'),
      "row group 3, column 'a.b': the page at byte 48 claims 5 bytes; its column chunk ends at byte 70",
    )
  })

  it('refuses a negative compressed size', async () => {
    const p = [...header(i32(4), i32(-1)), 0xaa, 0xaa, 0xaa, 0xaa]
    const f = memoryFile([...ascii('PAR1'), ...p])
    await refused(
      checkPages(f.handle, [chunk(4, p.length)], 0, 'f.parquet'),
      `row group 0, column 'x': the page at byte 4 claims -1 bytes; its column chunk ends at byte 25`,
    )
  })

  it('refuses a page claiming more than 256 MiB uncompressed, or a negative size', async () => {
    for (const [u, words] of [
      [2 ** 28 + 1, '268435457'],
      [-1, '-1'],
      [2 ** 31 - 1, '2147483647'],
    ] as const) {
      const p = page(u, 3)
      const f = memoryFile([...ascii('PAR1'), ...p])
      await refused(
        checkPages(f.handle, [chunk(4, p.length)], 0, 'f.parquet'),
        `row group 0, column 'x': the page at byte 4 claims ${words} bytes uncompressed; lastmile reads pages of up to 268435456`,
      )
    }
  })

  it('refuses the second chunk’s page, after passing the first', async () => {
    const bad = page(2 ** 29, 2)
    const f = memoryFile([...ascii('PAR1'), ...x, ...bad])
    await refused(
      checkPages(f.handle, [chunk(4, 67), chunk(71, bad.length, 'y')], 1, 'f.parquet'),
      "row group 1, column 'y': the page at byte 71 claims 536870912 bytes uncompressed; lastmile reads pages of up to 268435456",
    )
  })

  it('refuses a header without both sizes as i32s', async () => {
    for (const h of [
      header(undefined, i32(1)),
      header(i32(1), undefined),
      header(i64(1), i32(1)),
      header(i32(1), i64(1)),
    ]) {
      const f = memoryFile([...ascii('PAR1'), ...h, 0xaa])
      await refused(
        checkPages(f.handle, [chunk(4, h.length + 1)], 0, 'f.parquet'),
        "row group 0, column 'x': the page header at byte 4 is damaged: it has no page sizes",
      )
    }
  })

  it('refuses a damaged header at once, though the chunk goes on past the window', async () => {
    // An unknown type (13) in the first field header of a chunk of 100000 bytes: one read only.
    const f = sparseFile(100_004, [[0, [...ascii('PAR1'), 0x1d]]])
    await refused(
      checkPages(f.handle, [chunk(4, 100_000)], 0, 'f.parquet'),
      "row group 0, column 'x': the page header at byte 4 is damaged: unknown type 13 at byte 0",
    )
    expect(f.reads).toEqual([[4, 65536]])
  })

  it('refuses a header cut short by its chunk’s end', async () => {
    const f = memoryFile([...ascii('PAR1'), 0x15, 0x00, 0x25, 0x02, 0x15])
    await refused(
      checkPages(f.handle, [chunk(4, 5)], 0, 'f.parquet'),
      "row group 0, column 'x': the page header at byte 4 is damaged: the bytes end early, at byte 5",
    )
    expect(f.reads).toEqual([[4, 5]])
  })

  it('widens its window to 1 MiB, then 16 MiB, and refuses a header longer than that', async () => {
    // Field 1 typed binary, of 20000000 bytes (varint 80 da c4 09): the header runs past 16 MiB.
    const f = sparseFile(2 ** 25 + 4, [[0, [...ascii('PAR1'), 0x18, 0x80, 0xda, 0xc4, 0x09]]])
    await refused(
      checkPages(f.handle, [chunk(4, 2 ** 25)], 0, 'f.parquet'),
      "row group 0, column 'x': the page header at byte 4 is damaged: 20000000 bytes claimed at byte 5, where 16777211 bytes are left",
    )
    expect(f.reads).toEqual([
      [4, 65536],
      [4, 1048576],
      [4, 16777216],
    ])
  })
})
