/**
 * The Parquet footer check (src/jobs/io/parquet-footer.ts) on files built here from parquet.thrift's
 * field ids (FileMetaData 2 schema, 3 num_rows, 4 row_groups; RowGroup 1 columns, 3 num_rows;
 * ColumnChunk 1 file_path, 3 meta_data; ColumnMetaData 3 path, 5 num_values, 6 and 7 sizes, 9 data
 * and 11 dictionary page offsets) in the Thrift compact protocol (./parquet-bytes.ts), read through an
 * in-memory file handle. What it answers (row counts, each column chunk's byte range) and each
 * refusal's words are written out by hand; limits are probed exactly at them and one past.
 */
import { describe, expect, it } from 'vitest'
import { readFooter } from '../../../src/jobs/io/parquet-footer.js'
import {
  ascii,
  bin,
  i32,
  i64,
  list,
  memoryFile,
  refused,
  sparseFile,
  struct,
  u32,
  type Value,
} from './parquet-bytes.js'

const STRUCT = 12
const BINARY = 8

const root = (children?: number) =>
  struct([
    [4, bin('schema')],
    [5, children === undefined ? undefined : i32(children)],
  ])
/** A DOUBLE leaf, OPTIONAL (repetition 1), with a field_id (9): i32s that are not num_children. */
const leaf = (name: string) =>
  struct([
    [1, i32(5)],
    [3, i32(1)],
    [4, bin(name)],
    [9, i32(7)],
  ])

interface ChunkClaims {
  path?: string[]
  start?: number
  compressed?: number
  uncompressed?: number
  values?: number
  dict?: number
  filePath?: string
  /** How its integers are written (i64 unless said). */
  int?: (n: number) => Value
}

function chunk(c: ChunkClaims): Value {
  const int = c.int ?? i64
  const opt = (n: number | undefined) => (n === undefined ? undefined : int(n))
  return struct([
    [1, c.filePath === undefined ? undefined : bin(c.filePath)],
    [2, i64(c.start ?? 0)], // file_offset: not read
    [
      3,
      struct([
        [1, i32(5)],
        [2, list(5, [i32(0), i32(3)])],
        [3, list(BINARY, (c.path ?? ['a']).map(bin))],
        [4, i32(0)],
        [5, opt(c.values)],
        [6, opt(c.uncompressed)],
        [7, opt(c.compressed)],
        [
          8,
          list(STRUCT, [
            struct([
              [1, bin('k')],
              [2, bin('v')],
            ]),
          ]),
        ], // key_value_metadata: not read
        [9, opt(c.start)],
        [10, i64(9)], // index_page_offset: not read
        [11, opt(c.dict)],
        [
          12,
          struct([
            [3, i64(2)],
            [5, bin('max')],
            [6, bin('min')],
          ]),
        ], // statistics: not read
        [
          13,
          list(STRUCT, [
            struct([
              [1, i32(0)],
              [2, i32(0)],
              [3, i32(1)],
            ]),
          ]),
        ], // encoding_stats: not read
      ]),
    ],
    [4, i64(3000)], // offset_index_offset: not read
    [5, i32(31)], // offset_index_length: not read
  ])
}

const group = (rows: Value | undefined, chunks: Value[]) =>
  struct([
    [1, list(STRUCT, chunks)],
    [2, i64(999)], // total_byte_size: not read
    [3, rows],
    [4, list(STRUCT, [struct([[1, i32(0)]])])], // sorting_columns: not read
  ])

function footer(schema: Value[], rows: Value | undefined, groups?: Value[]): Value {
  return struct([
    [1, i32(1)],
    [2, list(STRUCT, schema)],
    [3, rows],
    [4, groups === undefined ? undefined : list(STRUCT, groups)],
    [
      5,
      list(STRUCT, [
        struct([
          [1, bin('k')],
          [2, bin('v')],
        ]),
      ]),
    ], // key_value_metadata: not read
    [6, bin('parquet-cpp version 1')], // created_by: not read
    [7, list(STRUCT, [struct([[1, struct([])]])])], // column_orders: not read
  ])
}

/** 'PAR1', `data` zero bytes (so the data lies in bytes 4..4 + data), the footer, its length, 'PAR1'. */
const file = (f: Value, data = 100) => [
  ...ascii('PAR1'),
  ...new Array(data).fill(0),
  ...f.bytes,
  ...u32(f.bytes.length),
  ...ascii('PAR1'),
]

const read = (bytes: number[]) => readFooter(memoryFile(bytes).handle, bytes.length, 'f.parquet')

/** A file of one column 'a' and one row group of `rows` rows whose chunk claims `c`. */
const oneChunk = (c: ChunkClaims, rows = 1) =>
  file(
    footer([root(1), leaf('a')], i64(rows), [
      group(i64(rows), [chunk({ start: 4, compressed: 10, uncompressed: 10, ...c })]),
    ]),
  )

describe('the footer read', () => {
  it('reads row counts and each column chunk’s byte range, from its dictionary page when it comes first', async () => {
    const f = footer([root(2), leaf('a'), leaf('b')], i64(5), [
      group(i64(3), [
        chunk({ path: ['a'], start: 4, compressed: 30, uncompressed: 50, values: 3 }),
        chunk({ path: ['b'], dict: 34, start: 44, compressed: 20, uncompressed: 24, values: 3 }),
      ]),
      group(i32(2), [
        chunk({ path: ['a'], start: 54, dict: 60, compressed: 25, uncompressed: 10, int: i32 }),
        chunk({ path: ['b'], start: 79, compressed: 25, uncompressed: 0, values: 0, int: i32 }), // ends at 104
      ]),
    ])
    expect(await read(file(f))).toEqual({
      rows: 5,
      groups: [
        {
          rows: 3,
          compressedBytes: 50,
          uncompressedBytes: 74,
          chunks: [
            { column: 'a', start: 4, bytes: 30 },
            { column: 'b', start: 34, bytes: 20 },
          ],
        },
        {
          rows: 2,
          compressedBytes: 50,
          uncompressedBytes: 10,
          chunks: [
            { column: 'a', start: 54, bytes: 25 },
            { column: 'b', start: 79, bytes: 25 },
          ],
        },
      ],
    })
  })

  it('takes a dictionary offset of 0 as none', async () => {
    const info = await read(oneChunk({ start: 7, dict: 0 }))
    expect(info.groups[0]?.chunks).toEqual([{ column: 'a', start: 7, bytes: 10 }])
  })

  it('counts the leaves of a nested schema, not its root or groups, and joins nested paths', async () => {
    const schema = [
      root(3),
      leaf('x'),
      struct([
        [3, i32(0)],
        [4, bin('g')],
        [5, i32(1)],
      ]),
      leaf('y'),
      struct([
        [1, i32(5)],
        [4, bin('z')],
        [5, i32(0)],
      ]), // no children: a leaf
    ]
    const chunks = [
      chunk({ path: ['x'], start: 4, compressed: 1, uncompressed: 8 }),
      chunk({ path: ['g', 'y'], start: 5, compressed: 1, uncompressed: 8 }),
      chunk({ path: ['z'], start: 6, compressed: 1, uncompressed: 8 }),
    ]
    const info = await read(file(footer(schema, i64(1), [group(i64(1), chunks)])))
    expect(info.groups[0]?.chunks.map((c) => c.column)).toEqual(['x', 'g.y', 'z'])
    await refused(
      read(file(footer(schema, i64(1), [group(i64(1), chunks.slice(0, 2))]))),
      'row group 0 has 2 column chunks; the schema has 3 columns',
    )
  })

  it('excludes the first schema element even without a child count, and reads num_children only as an i32', async () => {
    const c = chunk({ start: 4, compressed: 1, uncompressed: 8 })
    const bare = [struct([[4, bin('schema')]]), leaf('a')]
    expect((await read(file(footer(bare, i64(1), [group(i64(1), [c])])))).rows).toBe(1)
    const i64Children = [
      root(1),
      struct([
        [4, bin('a')],
        [5, i64(2)],
      ]),
    ] // an i64 field 5 is not num_children
    expect((await read(file(footer(i64Children, i64(1), [group(i64(1), [c])])))).rows).toBe(1)
  })

  it('reads a file of no rows, with no row groups or an empty list of them', async () => {
    expect(await read(file(footer([root(1), leaf('a')], i64(0))))).toEqual({ rows: 0, groups: [] })
    expect(await read(file(footer([root(1), leaf('a')], i32(0), [])))).toEqual({ rows: 0, groups: [] })
  })

  it('reads a footer that fills the file between its markers', async () => {
    const f = footer([root(1), leaf('a')], i64(0))
    expect(await read(file(f, 0))).toEqual({ rows: 0, groups: [] })
  })

  it('cuts a long column path short, to 80 characters', async () => {
    const long = 'c'.repeat(90)
    const info = await read(
      file(
        footer([root(1), leaf(long)], i64(1), [
          group(i64(1), [chunk({ path: [long], start: 4, compressed: 1, uncompressed: 1 })]),
        ]),
      ),
    )
    expect(info.groups[0]?.chunks[0]?.column).toBe('c'.repeat(80))
  })
})

describe('files refused before the footer is parsed', () => {
  it('refuses a file of fewer than 12 bytes', async () => {
    const bytes = [...ascii('PAR1'), 0, 0, 0, ...ascii('PAR1')]
    await refused(read(bytes), 'it has 11 bytes; a Parquet file has at least 12')
  })

  it('reads a file of exactly 12 bytes, and finds its empty footer damaged', async () => {
    await refused(
      read([...ascii('PAR1'), ...u32(0), ...ascii('PAR1')]),
      'its footer is damaged: the bytes end early, at byte 0',
    )
  })

  it('refuses a file that does not start, or does not end, with PAR1', async () => {
    const good = file(footer([root(1), leaf('a')], i64(0)))
    const head = good.slice()
    head[0] = 0x51
    const tail = good.slice()
    tail[tail.length - 1] = 0x32
    await refused(read(head), "it does not start and end with 'PAR1'")
    await refused(read(tail), "it does not start and end with 'PAR1'")
  })

  it('refuses a footer length past the file, and takes one exactly filling it', async () => {
    const bytes = (length: number) => [...ascii('PAR1'), ...new Array(20).fill(0), ...u32(length), ...ascii('PAR1')]
    await refused(read(bytes(21)), 'its footer claims 21 bytes; the file has 20 besides its markers')
    await refused(read(bytes(2 ** 32 - 1)), 'its footer claims 4294967295 bytes; the file has 20 besides its markers')
    // 20 zero bytes: a footer that stops at once, with no row count.
    await refused(read(bytes(20)), 'its footer has no row count')
  })

  it('reads footers of up to 64 MiB and refuses longer ones', async () => {
    const big = (length: number) => {
      const size = 2 ** 26 + 16
      const f = sparseFile(size, [
        [0, ascii('PAR1')],
        [size - 8, [...u32(length), ...ascii('PAR1')]],
      ])
      return readFooter(f.handle, size, 'f.parquet')
    }
    await refused(big(2 ** 26 + 1), 'its footer has 67108865 bytes; lastmile reads footers of up to 67108864')
    await refused(big(2 ** 26), 'its footer has no row count')
  })
})

describe('footers refused for what they claim', () => {
  const schema = [root(1), leaf('a')]

  it('refuses a footer with no row count, or one that is not an integer', async () => {
    await refused(read(file(footer(schema, undefined))), 'its footer has no row count')
    await refused(read(file(footer(schema, bin('5')))), 'its footer has no row count')
  })

  it('refuses a row group with no row count, naming it', async () => {
    const c = chunk({ start: 4, compressed: 1, uncompressed: 1 })
    await refused(
      read(file(footer(schema, i64(1), [group(i64(1), [c]), group(undefined, [c])]))),
      'row group 1 has no row count',
    )
    await refused(read(file(footer(schema, i64(1), [group(bin('1'), [c])]))), 'row group 0 has no row count')
  })

  it('refuses negative row counts as damage', async () => {
    const c = chunk({ start: 4, compressed: 1, uncompressed: 1 })
    await refused(read(file(footer(schema, i64(-1), [group(i64(1), [c])]))), 'its footer is damaged: num_rows is -1')
    await refused(read(file(footer(schema, i64(1), [group(i32(-2), [c])]))), 'its footer is damaged: num_rows is -2')
  })

  it('refuses row groups that do not add up to the file’s row count', async () => {
    const c = chunk({ start: 4, compressed: 1, uncompressed: 1 })
    await refused(
      read(file(footer(schema, i64(6), [group(i64(3), [c]), group(i64(2), [c])]))),
      'its row groups hold 5 rows; its footer says 6',
    )
  })

  it('refuses a column chunk in another file, naming it (cut short)', async () => {
    await refused(
      read(oneChunk({ filePath: '../../secret.db' })),
      "row group 0, column 'a' names another file ('../../secret.db'); lastmile reads self-contained files only",
    )
    await refused(
      read(oneChunk({ filePath: 'p'.repeat(100) })),
      `row group 0, column 'a' names another file ('${'p'.repeat(80)}'); lastmile reads self-contained files only`,
    )
  })

  it('refuses a column chunk without its page offset or either size', async () => {
    for (const missing of ['start', 'compressed', 'uncompressed'] as const) {
      const claims: ChunkClaims = { start: 4, compressed: 10, uncompressed: 10 }
      delete claims[missing]
      const bytes = file(footer(schema, i64(1), [group(i64(1), [chunk(claims)])]))
      await refused(read(bytes), "row group 0, column 'a' has no page offset or size")
    }
  })

  it('refuses byte ranges outside the data: before byte 4, past its end, or of negative length', async () => {
    const data = 'the data lies in bytes 4..104'
    await refused(read(oneChunk({ start: 3 })), `row group 0, column 'a' claims bytes 3..13; ${data}`)
    await refused(read(oneChunk({ start: 95 })), `row group 0, column 'a' claims bytes 95..105; ${data}`)
    await refused(read(oneChunk({ compressed: -1 })), `row group 0, column 'a' claims bytes 4..3; ${data}`)
    await refused(read(oneChunk({ start: 50, dict: 2 })), `row group 0, column 'a' claims bytes 2..12; ${data}`)
    expect((await read(oneChunk({ start: 94 }))).groups[0]?.chunks).toEqual([{ column: 'a', start: 94, bytes: 10 }])
    expect((await read(oneChunk({ start: 4, compressed: 0 }))).groups[0]?.compressedBytes).toBe(0)
  })

  it('refuses a negative uncompressed size or value count', async () => {
    const message = "row group 0, column 'a' claims a negative size or value count"
    await refused(read(oneChunk({ uncompressed: -1 })), message)
    await refused(read(oneChunk({ values: -1 })), message)
    expect((await read(oneChunk({ uncompressed: 0, values: 0 }))).groups[0]?.uncompressedBytes).toBe(0)
  })

  it('reads row groups of up to 1 GiB compressed and refuses larger ones', async () => {
    const big = (second: number) => {
      const f = footer([root(2), leaf('a'), leaf('b')], i64(1), [
        group(i64(1), [
          chunk({ path: ['a'], start: 4, compressed: 2 ** 29, uncompressed: 1 }),
          chunk({ path: ['b'], start: 4 + 2 ** 29, compressed: second, uncompressed: 1 }),
        ]),
      ])
      const tail = [...f.bytes, ...u32(f.bytes.length), ...ascii('PAR1')]
      const size = 2 ** 31
      const handle = sparseFile(size, [
        [0, ascii('PAR1')],
        [size - tail.length, tail],
      ]).handle
      return readFooter(handle, size, 'f.parquet')
    }
    expect((await big(2 ** 29)).groups[0]?.compressedBytes).toBe(2 ** 30)
    await refused(
      big(2 ** 29 + 1),
      'row group 0 holds 1073741825 bytes compressed; lastmile reads row groups of up to 1073741824: write the file with smaller row groups',
    )
  })

  it('refuses a footer its Thrift reader finds damaged, with the reader’s words', async () => {
    // Field 1 a list of 100 structs (0xFC, then the varint 100), with nothing after it.
    const f = { type: STRUCT, bytes: [0x19, 0xfc, 0x64] }
    await refused(read(file(f)), 'its footer is damaged: 100 list items claimed at byte 3, where 0 bytes are left')
  })
})

describe('fields read only at their ids and types', () => {
  const junk = bin('0123456789abcdef') // a binary of 16 bytes: as a list, one item of type 0, which no reader takes

  it('skips fields of the wanted types at other ids', async () => {
    const metadata = struct([
      [1, i32(5)],
      [3, list(BINARY, [bin('a')])],
      [5, i64(1)],
      [6, i64(8)],
      [7, i64(10)],
      [8, list(BINARY, [bin('decoy')])], // a list of binaries that is not the path
      [9, i64(20)],
      [10, i64(5)], // an integer that is not the dictionary page offset
      [14, struct([[7, i64(2 ** 40)]])], // a struct holding a field 7 that is not the chunk's
    ])
    const c = struct([
      [3, metadata],
      [
        8,
        struct([
          [7, i64(2 ** 40)],
          [9, i64(0)],
        ]),
      ], // a struct that is not meta_data
      [9, bin('../secret.db')], // a binary that is not file_path
    ])
    const g = struct([
      [1, list(STRUCT, [c])],
      [2, list(STRUCT, [struct([[1, i32(0)]])])], // a list of structs that is not the columns
      [3, i64(1)],
    ])
    const f = struct([
      [2, list(STRUCT, [root(1), leaf('a')])],
      [3, i64(1)],
      [4, list(STRUCT, [g])],
      [5, list(STRUCT, [struct([[1, bin('k')]])])], // a list of structs that is not the row groups
    ])
    expect(await read(file(f))).toEqual({
      rows: 1,
      groups: [{ rows: 1, compressedBytes: 10, uncompressedBytes: 8, chunks: [{ column: 'a', start: 20, bytes: 10 }] }],
    })
  })

  it('skips the wanted ids when they come with other types', async () => {
    // Schema, row groups, columns, meta_data and path as binaries; file_path as an i32.
    expect(
      await read(
        file(
          struct([
            [2, junk],
            [3, i64(0)],
            [4, junk],
          ]),
        ),
      ),
    ).toEqual({ rows: 0, groups: [] })
    const g = (c: Value) =>
      struct([
        [1, list(STRUCT, [c])],
        [3, i64(1)],
      ])
    const f = (c: Value) =>
      file(
        struct([
          [2, list(STRUCT, [root(1), leaf('a')])],
          [3, i64(1)],
          [4, list(STRUCT, [g(c)])],
        ]),
      )
    const withPath = (path: Value) =>
      struct([
        [
          3,
          struct([
            [3, path],
            [6, i64(8)],
            [7, i64(10)],
            [9, i64(20)],
          ]),
        ],
      ])
    expect((await read(f(withPath(junk)))).groups[0]?.chunks).toEqual([{ column: '', start: 20, bytes: 10 }])
    await refused(read(f(struct([[3, junk]]))), "row group 0, column '' has no page offset or size")
    const filePathI32 = struct([
      [1, i32(3)],
      [
        3,
        struct([
          [6, i64(8)],
          [7, i64(10)],
          [9, i64(20)],
        ]),
      ],
    ])
    expect((await read(f(filePathI32))).groups[0]?.chunks).toEqual([{ column: '', start: 20, bytes: 10 }])
    await refused(
      read(
        file(
          struct([
            [2, list(STRUCT, [root(1), leaf('a')])],
            [3, i64(1)],
            [
              4,
              list(STRUCT, [
                struct([
                  [1, junk],
                  [3, i64(1)],
                ]),
              ]),
            ],
          ]),
        ),
      ),
      'row group 0 has 0 column chunks; the schema has 1 columns',
    )
  })
})
