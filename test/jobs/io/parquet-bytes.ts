/**
 * Inputs for the Parquet tests (footer, page headers, reading): Thrift compact-protocol bytes written from
 * the protocol's definition (field header = delta << 4 | type, or type then a zigzag i16 id; zigzag
 * varint integers; list header = size << 4 | type, or 0xF0 | type then a varint size), independent
 * of lastmile's reader; a file handle over bytes in memory, sparse, so a test can claim a file of
 * gigabytes while holding only its first and last bytes; and small Parquet files of one column.
 */
import type { FileHandle } from 'node:fs/promises'
import { expect } from 'vitest'
import { InvalidRequestError } from '../../../src/errors.js'
import { rejection } from '../../helpers/refusal.js'

/** A Thrift value: its compact type id and its bytes. */
export interface Value {
  type: number
  bytes: number[]
}

function varint(n: number): number[] {
  const out: number[] = []
  let v = n
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80)
    v = Math.floor(v / 0x80)
  }
  out.push(v)
  return out
}

const zigzag = (n: number) => (n >= 0 ? 2 * n : -2 * n - 1)

export const i32 = (n: number): Value => ({ type: 5, bytes: varint(zigzag(n)) })
export const i64 = (n: number): Value => ({ type: 6, bytes: varint(zigzag(n)) })
export const bin = (s: string): Value => {
  const b = Array.from(new TextEncoder().encode(s))
  return { type: 8, bytes: [...varint(b.length), ...b] }
}

export function list(type: number, items: Value[]): Value {
  const head = items.length < 15 ? [(items.length << 4) | type] : [0xf0 | type, ...varint(items.length)]
  return { type: 9, bytes: [...head, ...items.flatMap((v) => v.bytes)] }
}

/** A struct of `fields` in the order given ([id, value]; undefined values left out). */
export function struct(fields: Array<[number, Value | undefined]>): Value {
  const out: number[] = []
  let last = 0
  for (const [id, v] of fields) {
    if (!v) continue
    if (id - last > 0 && id - last < 16) out.push(((id - last) << 4) | v.type)
    else out.push(v.type, ...varint(zigzag(id)))
    last = id
    out.push(...v.bytes)
  }
  out.push(0)
  return { type: 12, bytes: out }
}

/** A file of `size` bytes, zero but for `pieces` ([offset, bytes]), that records each read as [position, length]. */
export function sparseFile(size: number, pieces: Array<[number, ArrayLike<number>]>) {
  const reads: Array<[number, number]> = []
  const handle = {
    async read(buffer: Uint8Array, offset: number, length: number, position: number) {
      reads.push([position, length])
      buffer.fill(0, offset, offset + length)
      for (const [at, bytes] of pieces)
        for (let i = 0; i < bytes.length; i++) {
          const p = at + i - position
          if (p >= 0 && p < length) buffer[offset + p] = bytes[i] as number
        }
      return { bytesRead: Math.max(0, Math.min(length, size - position)), buffer }
    },
  }
  return { handle: handle as unknown as FileHandle, reads, size }
}

/** A file holding exactly `bytes`. */
export const memoryFile = (bytes: ArrayLike<number>) => sparseFile(bytes.length, [[0, bytes]])

export const ascii = (s: string) => Array.from(s, (c) => c.charCodeAt(0))

/** Little-endian uint32. */
export const u32 = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24]

/**
 * A Parquet file of one required DOUBLE column `x`, PLAIN and uncompressed, one data page per row
 * group (parquet.thrift: PageHeader, ColumnMetaData, RowGroup, FileMetaData); `uncompressed` gives a
 * row group's total_uncompressed_size to claim instead of the true one.
 */
export function doubleParquet(groups: number[][], uncompressed: Array<number | undefined> = []): Uint8Array {
  const out: number[] = [...ascii('PAR1')]
  const rowGroups = groups.map((values, g) => {
    const plain = Array.from(new Uint8Array(Float64Array.from(values).buffer))
    const header = struct([
      [1, i32(0)], // DATA_PAGE
      [2, i32(plain.length)],
      [3, i32(plain.length)],
      [
        5,
        struct([
          [1, i32(values.length)],
          [2, i32(0)], // PLAIN
          [3, i32(3)], // RLE
          [4, i32(3)],
        ]),
      ],
    ]).bytes
    const offset = out.length
    out.push(...header, ...plain)
    const size = header.length + plain.length
    const meta = struct([
      [1, i32(5)], // DOUBLE
      [2, list(5, [i32(0), i32(3)])],
      [3, list(8, [bin('x')])],
      [4, i32(0)], // UNCOMPRESSED
      [5, i64(values.length)],
      [6, i64(uncompressed[g] ?? size)],
      [7, i64(size)],
      [9, i64(offset)],
    ])
    const chunk = struct([
      [2, i64(offset)],
      [3, meta],
    ])
    return struct([
      [1, list(12, [chunk])],
      [2, i64(size)],
      [3, i64(values.length)],
    ])
  })
  const footer = struct([
    [1, i32(1)],
    [
      2,
      list(12, [
        struct([
          [4, bin('schema')],
          [5, i32(1)],
        ]),
        struct([
          [1, i32(5)],
          [3, i32(0)],
          [4, bin('x')],
        ]),
      ]),
    ],
    [3, i64(groups.reduce((n, g) => n + g.length, 0))],
    [4, list(12, rowGroups)],
  ]).bytes
  out.push(...footer, ...u32(footer.length), ...ascii('PAR1'))
  return Uint8Array.from(out)
}

/** Expect `p` to reject as a file that is not valid Parquet, named 'f.parquet', for `message`. */
export async function refused(p: Promise<unknown>, message: string): Promise<void> {
  const e = await rejection(p)
  expect(e).toBeInstanceOf(InvalidRequestError)
  expect(e.message).toBe(`'f.parquet' is not a valid Parquet file: ${message}`)
}
