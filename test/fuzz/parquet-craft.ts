/**
 * Parquet files built byte by byte for tests, with any claim a hostile writer could make: one
 * required DOUBLE column `x`, PLAIN pages (uncompressed, or SNAPPY as literal-only blocks), a data
 * page per row group, and a footer whose counts, sizes and offsets can each be overridden. Written
 * from the format's definition (parquet.thrift, Thrift's compact protocol), independently of
 * lastmile's reader.
 */

type Value =
  | { i32: number }
  | { i64: number }
  | { bin: string }
  | { list: 'i32' | 'bin' | 'struct'; items: Value[] }
  | { struct: Record<number, Value | undefined> }

const TYPE = { i32: 5, i64: 6, bin: 8, list: 9, struct: 12 } as const

function varint(out: number[], n: number): void {
  let v = n
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80)
    v = Math.floor(v / 0x80)
  }
  out.push(v)
}

const zigzag = (n: number) => (n >= 0 ? 2 * n : -2 * n - 1)

function typeOf(v: Value): number {
  if ('i32' in v) return TYPE.i32
  if ('i64' in v) return TYPE.i64
  if ('bin' in v) return TYPE.bin
  if ('list' in v) return TYPE.list
  return TYPE.struct
}

function write(out: number[], v: Value): void {
  if ('i32' in v) varint(out, zigzag(v.i32))
  else if ('i64' in v) varint(out, zigzag(v.i64))
  else if ('bin' in v) {
    const b = new TextEncoder().encode(v.bin)
    varint(out, b.length)
    out.push(...b)
  } else if ('list' in v) {
    const t = TYPE[v.list]
    if (v.items.length < 15) out.push((v.items.length << 4) | t)
    else {
      out.push(0xf0 | t)
      varint(out, v.items.length)
    }
    for (const item of v.items) write(out, item)
  } else {
    let last = 0
    for (const [key, field] of Object.entries(v.struct).sort(([a], [b]) => Number(a) - Number(b))) {
      if (field === undefined) continue
      const id = Number(key)
      if (id - last > 0 && id - last < 16) out.push(((id - last) << 4) | typeOf(field))
      else {
        out.push(typeOf(field))
        varint(out, zigzag(id))
      }
      last = id
      write(out, field)
    }
    out.push(0)
  }
}

/** Compact-protocol bytes of a struct. */
function thrift(v: Value): number[] {
  const out: number[] = []
  write(out, v)
  return out
}

/** Claims to write instead of the true ones (per row group where it says so). */
export interface Claims {
  fileRows?: number
  groupRows?: Array<number | undefined>
  /** A page's uncompressed size. */
  pageUncompressed?: Array<number | undefined>
  pageCompressed?: Array<number | undefined>
  pageValues?: Array<number | undefined>
  /** The column chunk's compressed size, and its data page offset (added to the true one). */
  chunkCompressed?: Array<number | undefined>
  offsetShift?: Array<number | undefined>
  /** An external file the column chunk names. */
  filePath?: string
}

/** A SNAPPY block of literals: the uncompressed length, then literal runs of up to 60 bytes. */
function snappy(data: number[]): number[] {
  const out: number[] = []
  varint(out, data.length)
  for (let i = 0; i < data.length; i += 60) {
    const run = data.slice(i, i + 60)
    out.push((run.length - 1) << 2, ...run)
  }
  return out
}

/** A Parquet file of column `x` (DOUBLE, required): `groups` holds each row group's values. */
export function craftParquet(groups: number[][], claims: Claims = {}, codec: 'none' | 'snappy' = 'none'): Uint8Array {
  const file: number[] = [...new TextEncoder().encode('PAR1')]
  const rowGroups: Value[] = []
  groups.forEach((values, g) => {
    const plain: number[] = []
    for (const x of values) {
      const b = new Uint8Array(new Float64Array([x]).buffer)
      plain.push(...b)
    }
    const data = codec === 'snappy' ? snappy(plain) : plain
    const header = thrift({
      struct: {
        1: { i32: 0 }, // DATA_PAGE
        2: { i32: claims.pageUncompressed?.[g] ?? plain.length },
        3: { i32: claims.pageCompressed?.[g] ?? data.length },
        5: {
          struct: {
            1: { i32: claims.pageValues?.[g] ?? values.length },
            2: { i32: 0 }, // PLAIN
            3: { i32: 3 }, // RLE
            4: { i32: 3 },
          },
        },
      },
    })
    const offset = file.length
    file.push(...header, ...data)
    const size = header.length + data.length
    const meta: Value = {
      struct: {
        1: { i32: 5 }, // DOUBLE
        2: { list: 'i32', items: [{ i32: 0 }, { i32: 3 }] },
        3: { list: 'bin', items: [{ bin: 'x' }] },
        4: { i32: codec === 'snappy' ? 1 : 0 },
        5: { i64: values.length },
        6: { i64: header.length + plain.length },
        7: { i64: claims.chunkCompressed?.[g] ?? size },
        9: { i64: offset + (claims.offsetShift?.[g] ?? 0) },
      },
    }
    const chunk: Value = {
      struct: {
        ...(claims.filePath ? { 1: { bin: claims.filePath } } : {}),
        2: { i64: offset },
        3: meta,
      },
    }
    rowGroups.push({
      struct: {
        1: { list: 'struct', items: [chunk] },
        2: { i64: header.length + plain.length },
        3: { i64: claims.groupRows?.[g] ?? values.length },
      },
    })
  })
  const footer = thrift({
    struct: {
      1: { i32: 1 },
      2: {
        list: 'struct',
        items: [
          { struct: { 4: { bin: 'schema' }, 5: { i32: 1 } } },
          { struct: { 1: { i32: 5 }, 3: { i32: 0 }, 4: { bin: 'x' } } }, // DOUBLE, REQUIRED
        ],
      },
      3: { i64: claims.fileRows ?? groups.reduce((n, g) => n + g.length, 0) },
      4: { list: 'struct', items: rowGroups },
    },
  })
  file.push(...footer)
  const length = new Uint8Array(new Uint32Array([footer.length]).buffer)
  file.push(...length, ...new TextEncoder().encode('PAR1'))
  return Uint8Array.from(file)
}
