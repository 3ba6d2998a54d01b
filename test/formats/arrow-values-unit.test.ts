/**
 * reader, converter and dictionaryReader on bodies written byte by byte (little-endian, as the
 * Arrow columnar format lays them out), with each buffer at a non-zero offset of its body and
 * garbage before it, reading entries past the first: a wrong base, stride or width reads other bytes.
 */
import { describe, expect, it } from 'vitest'
import { InvalidInputError } from '../../src/errors.js'
import type { CheckedBatch, CheckedRecordBatch } from '../../src/formats/arrow-ipc.js'
import type { ArrayLayout } from '../../src/formats/arrow-layout.js'
import type { ArrowField, ArrowType } from '../../src/formats/arrow-meta.js'
import { converter, dictionaryReader, reader, type Value, viewOf } from '../../src/formats/arrow-values.js'
import { expectRefusal } from '../helpers/refusal.js'

const type = (id: number, width: number, signed: boolean, name: string): ArrowType => ({
  id,
  layout: id === 6 ? 'bool' : id === 5 ? 'bytes' : 'fixed',
  width,
  signed,
  name,
})
const where = (entry: number) => `input 'k' (Arrow) row ${entry}`
const layout = (buffers: Array<[number, number]>, length: number, nullCount = 0, field?: ArrowField): ArrayLayout => ({
  field: field ?? { name: 'k', type: type(2, 1, true, 'int8'), children: [] },
  length,
  nullCount,
  buffers: buffers.map(([offset, l]) => ({ offset, length: l })),
  children: [],
})

/** A 32-byte body: 0xEE garbage in bytes 0..7, `values` from byte 8, zeros after. */
function bodyWith(values: number[]): Uint8Array {
  const body = new Uint8Array(32)
  body.fill(0xee, 0, 8)
  body.set(values, 8)
  return body
}
/** Entries 0..n-1 of a leaf of `t` whose values start at byte 8 of `body`. */
function read(body: Uint8Array, t: ArrowType, n: number): Value[] {
  const r = reader(
    viewOf(body),
    body,
    layout(
      [
        [0, 0],
        [8, 24],
      ],
      n,
    ),
    t,
  )
  return Array.from({ length: n }, (_, i) => r(i))
}

const refused = (f: () => unknown, message: string) => expectRefusal(f, InvalidInputError, message)

describe('reader', () => {
  it('reads 1-byte ints, signed and unsigned', () => {
    const body = bodyWith([0x05, 0xff, 0x80])
    expect(read(body, type(2, 1, true, 'int8'), 3)).toEqual([5, -1, -128])
    expect(read(body, type(2, 1, false, 'uint8'), 3)).toEqual([5, 255, 128])
  })

  it('reads 2-byte ints little-endian, signed and unsigned', () => {
    const body = bodyWith([0x34, 0x12, 0xfe, 0xff, 0x00, 0x80])
    expect(read(body, type(2, 2, true, 'int16'), 3)).toEqual([4660, -2, -32768])
    expect(read(body, type(2, 2, false, 'uint16'), 3)).toEqual([4660, 65534, 32768])
  })

  it('reads 4-byte ints little-endian, signed and unsigned', () => {
    const body = bodyWith([0x78, 0x56, 0x34, 0x12, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x80])
    expect(read(body, type(2, 4, true, 'int32'), 3)).toEqual([305419896, -1, -2147483648])
    expect(read(body, type(2, 4, false, 'uint32'), 3)).toEqual([305419896, 4294967295, 2147483648])
  })

  it('reads 8-byte ints as bigints, signed and unsigned', () => {
    const body = bodyWith([
      ...[0x01, 0x02, 0, 0, 0, 0, 0, 0],
      ...[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
      ...[0, 0, 0, 0, 0, 0, 0, 0x80],
    ])
    expect(read(body, type(2, 8, true, 'int64'), 3)).toEqual([513n, -1n, -9223372036854775808n])
    expect(read(body, type(2, 8, false, 'uint64'), 3)).toEqual([513n, 18446744073709551615n, 9223372036854775808n])
  })

  it('reads float32 and float64 little-endian', () => {
    const f32 = bodyWith([0, 0, 0xc0, 0x3f, 0, 0, 0x10, 0xc0, 0xcd, 0xcc, 0xcc, 0x3d])
    expect(read(f32, type(3, 4, true, 'float32'), 3)).toEqual([1.5, -2.25, 0.10000000149011612])
    const f64 = bodyWith([
      ...[0, 0, 0, 0, 0, 0, 0xf8, 0x3f],
      ...[0x9a, 0x99, 0x99, 0x99, 0x99, 0x99, 0xb9, 0xbf],
      ...[0, 0, 0, 0, 0, 0, 0xf0, 0x7f],
    ])
    expect(read(f64, type(3, 8, true, 'float64'), 3)).toEqual([1.5, -0.1, Number.POSITIVE_INFINITY])
  })

  it('reads float16 normals, subnormals, infinities and NaN', () => {
    // 0x3555, 0xc0a0, 0x0001, 0x8200, 0x7c00, 0xfc00, 0x7e00, 0x7bff, 0x0400
    const body = bodyWith([
      ...[0x55, 0x35, 0xa0, 0xc0, 0x01, 0x00, 0x00, 0x82, 0x00, 0x7c],
      ...[0x00, 0xfc, 0x00, 0x7e, 0xff, 0x7b, 0x00, 0x04],
    ])
    expect(read(body, type(3, 2, true, 'float16'), 9)).toEqual([
      0.333251953125,
      -2.3125,
      5.9604644775390625e-8,
      -0.000030517578125,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      Number.NaN,
      65504,
      0.00006103515625,
    ])
  })

  it('reads bools from their bit, in the byte of the entry', () => {
    // entries 0..7: 1,0,1,0,0,0,0,0; entries 8..15: 1,0,0,... (the garbage byte before, 0xEE, has bit 0 clear)
    const body = bodyWith([0b00000101, 0b00000001])
    expect(read(body, type(6, 0, false, 'bool'), 10)).toEqual([
      true,
      false,
      true,
      false,
      false,
      false,
      false,
      false,
      true,
      false,
    ])
  })

  it('reads utf8 between consecutive offsets of the data buffer', () => {
    const body = new Uint8Array(32)
    body.fill(0xee, 0, 4)
    body.set([1, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 6, 0, 0, 0], 4)
    body.set(new TextEncoder().encode('xhéab'), 20)
    const r = reader(
      viewOf(body),
      body,
      layout(
        [
          [0, 0],
          [4, 16],
          [20, 6],
        ],
        3,
      ),
      type(5, 4, false, 'utf8'),
    )
    expect([r(0), r(1), r(2)]).toEqual(['hé', '', 'ab'])
  })
})

describe('converter', () => {
  it('makes strings of anything and numbers for float inputs', () => {
    const s = converter('string', where)
    expect([s(5n, 0), s(true, 1), s(-1.5, 2), s('x', 3)]).toEqual(['5', 'true', '-1.5', 'x'])
    expect(converter('float32', where)(3n, 0)).toBe(3)
    expect(converter('float64', where)(-1099511627777n, 0)).toBe(-1099511627777)
  })

  it('takes bools, 0, 1, 0n and 1n for a bool input as 0 or 1', () => {
    const b = converter('bool', where)
    expect([true, false, 0, 1, 0n, 1n].map((v, i) => b(v, i))).toEqual([1, 0, 0, 1, 0, 1])
    refused(() => b(2, 4), "input 'k' (Arrow) row 4 is 2; expected 0 or 1 (bool)")
    refused(() => b(-1n, 5), "input 'k' (Arrow) row 5 is -1; expected 0 or 1 (bool)")
  })

  it('range-checks numbers for int inputs, bounds included', () => {
    const i8 = converter('int8', where)
    expect([i8(-128, 0), i8(127, 1), i8(-3, 2)]).toEqual([-128, 127, -3])
    refused(() => i8(128, 3), "input 'k' (Arrow) row 3 is 128; expected an integer in [-128, 127] (int8)")
    refused(() => i8(-129, 4), "input 'k' (Arrow) row 4 is -129; expected an integer in [-128, 127] (int8)")
    refused(() => i8(1.5, 5), "input 'k' (Arrow) row 5 is 1.5; expected an integer in [-128, 127] (int8)")
    const u32 = converter('uint32', where)
    expect(u32(4294967295, 0)).toBe(4294967295)
    refused(
      () => u32(4294967296, 6),
      "input 'k' (Arrow) row 6 is 4294967296; expected an integer in [0, 4294967295] (uint32)",
    )
    refused(() => u32(-1, 7), "input 'k' (Arrow) row 7 is -1; expected an integer in [0, 4294967295] (uint32)")
  })

  it('range-checks bigints for narrower int inputs and gives numbers', () => {
    const i8 = converter('int8', where)
    expect(i8(-128n, 0)).toBe(-128)
    expect(i8(127n, 1)).toBe(127)
    refused(() => i8(128n, 2), "input 'k' (Arrow) row 2 is 128; expected an integer in [-128, 127] (int8)")
    refused(() => i8(-129n, 3), "input 'k' (Arrow) row 3 is -129; expected an integer in [-128, 127] (int8)")
  })

  it('gives bigints for 64-bit inputs, over their full range', () => {
    const i64 = converter('int64', where)
    expect(i64(-9223372036854775808n, 0)).toBe(-9223372036854775808n)
    expect(i64(9223372036854775807n, 1)).toBe(9223372036854775807n)
    expect(i64(-5, 2)).toBe(-5n)
    refused(
      () => i64(-9223372036854775809n, 3),
      "input 'k' (Arrow) row 3 is -9223372036854775809; expected an integer in [-9223372036854775808, 9223372036854775807] (int64)",
    )
    refused(
      () => i64(9223372036854775808n, 4),
      "input 'k' (Arrow) row 4 is 9223372036854775808; expected an integer in [-9223372036854775808, 9223372036854775807] (int64)",
    )
    const u64 = converter('uint64', where)
    expect(u64(18446744073709551615n, 0)).toBe(18446744073709551615n)
    expect(u64(0n, 1)).toBe(0n)
    expect(u64(7, 2)).toBe(7n)
    refused(
      () => u64(18446744073709551616n, 5),
      "input 'k' (Arrow) row 5 is 18446744073709551616; expected an integer in [0, 18446744073709551615] (uint64)",
    )
    refused(
      () => u64(-1n, 6),
      "input 'k' (Arrow) row 6 is -1; expected an integer in [0, 18446744073709551615] (uint64)",
    )
    refused(
      () => i64(2.5, 7),
      "input 'k' (Arrow) row 7 is 2.5; expected an integer in [-9007199254740991, 9007199254740991] (int64)",
    )
  })
})

describe('dictionaryReader', () => {
  const UTF8 = type(5, 4, false, 'utf8')
  const leaf: ArrowField = {
    name: 'k',
    type: UTF8,
    children: [],
    dictionary: { id: 4, indexType: type(2, 1, true, 'int8') },
  }
  const le32 = (...xs: number[]) => xs.flatMap((x) => [x & 0xff, (x >> 8) & 0xff, 0, 0])
  const ascii = (s: string) => Array.from(s, (c) => c.charCodeAt(0))
  /** Ten words, 0 and 9 null; 0xFF garbage before the validity bitmap at byte 8. */
  const first = (): CheckedBatch => {
    const body = new Uint8Array(96)
    body.fill(0xff, 0, 8)
    body.set([0b11111110, 0b00000001], 8)
    body.set(le32(0, 0, 3, 6, 11, 15, 19, 22, 27, 32, 32), 16)
    body.set(ascii('onetwothreefourfivesixseveneight'), 64)
    const values = layout(
      [
        [8, 2],
        [16, 44],
        [64, 32],
      ],
      10,
      2,
      { name: 'k', type: UTF8, children: [] },
    )
    return { length: 10, arrays: [values], body }
  }
  /** A delta of two words, no validity bitmap. */
  const delta = (): CheckedBatch => {
    const body = new Uint8Array(32)
    body.set(le32(0, 3, 9), 0)
    body.set(ascii('teneleven'), 16)
    const values = layout(
      [
        [0, 0],
        [0, 12],
        [16, 9],
      ],
      2,
      0,
      { name: 'k', type: UTF8, children: [] },
    )
    return { length: 2, arrays: [values], body }
  }
  const indices = (parts: CheckedBatch[] | undefined, ...ks: number[]) => {
    const body = new Uint8Array(16)
    body.fill(0xee, 0, 8)
    body.set(
      ks.map((k) => k & 0xff),
      8,
    )
    const a = layout(
      [
        [0, 0],
        [8, ks.length],
      ],
      ks.length,
      0,
      leaf,
    )
    const batch: CheckedRecordBatch = {
      length: ks.length,
      arrays: [a],
      body,
      dictionaries: new Map(parts ? [[4, parts]] : []),
    }
    return dictionaryReader(viewOf(body), batch, a, leaf, where)
  }

  it('reads keys across a dictionary batch and its delta, in order', () => {
    const r = indices([first(), delta()], 3, 11, 10, 1, 8)
    expect([0, 1, 2, 3, 4].map((i) => r(i, i))).toEqual(['three', 'eleven', 'ten', 'one', 'eight'])
  })

  it('refuses a null word, an index past the end and a negative index, naming the row', () => {
    const r = indices([first(), delta()], 9, 12, -1, 0)
    refused(
      () => r(0, 5),
      "input 'k' (Arrow) row 5 has dictionary index 9; the dictionary has 12 values and that one is null",
    )
    refused(() => r(1, 6), "input 'k' (Arrow) row 6 has dictionary index 12; the dictionary has 12 values")
    refused(() => r(2, 7), "input 'k' (Arrow) row 7 has dictionary index -1; the dictionary has 12 values")
    refused(
      () => r(3, 8),
      "input 'k' (Arrow) row 8 has dictionary index 0; the dictionary has 12 values and that one is null",
    )
  })

  it('refuses every index where no dictionary batch was sent', () => {
    refused(
      () => indices(undefined, 0)(0, 0),
      "input 'k' (Arrow) row 0 has dictionary index 0; the dictionary has 0 values",
    )
  })

  it('decodes a set of dictionary batches once, for every batch that uses it', () => {
    const parts = [delta()]
    expect(indices(parts, 1, 0)(1, 1)).toBe('ten')
    ;(parts[0] as CheckedBatch).body.set(ascii('TEN'), 16)
    expect(indices(parts, 0)(0, 0)).toBe('ten')
    expect(indices([delta()], 0)(0, 0)).toBe('ten')
  })
})
