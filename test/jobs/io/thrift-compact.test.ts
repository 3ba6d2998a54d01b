/**
 * The Thrift compact protocol reader (src/jobs/io/thrift-compact.ts) on hand-written bytes: varints
 * and zigzag integers (the examples of the compact protocol spec, thrift/doc/specs/
 * thrift-compact-protocol.md, and the protobuf varint example 300 = AC 02), field headers with short
 * deltas and long-form ids, lists short and long, maps, booleans carried in the type, skipping every
 * type, and the refusals of damaged input: lengths past the bytes left, truncation, unknown types,
 * varints too long or past 2^53, and nesting past 64 levels. Every byte and answer is written out.
 */
import { describe, expect, it } from 'vitest'
import { CompactReader, type CompactType, EndOfBytes, T } from '../../../src/jobs/io/thrift-compact.js'
import { expectRefusal } from '../../helpers/refusal.js'

const reader = (...bytes: number[]) => new CompactReader(Uint8Array.from(bytes))
const repeat = (n: number, ...bytes: number[]) => Array.from({ length: n }, () => bytes).flat()
const ascii = (s: string) => Array.from(s, (c) => c.charCodeAt(0))

/** The value of one integer of `type` at the start of `bytes`, and the bytes it took. */
function int(bytes: number[], type: CompactType = T.I32): [number, number] {
  const r = reader(...bytes)
  const value = r.int(type)
  return [value, r.position]
}

/** Every field of a struct as [id, type], integers read as [id, type, value], the rest skipped. */
function fields(r: CompactReader): number[][] {
  const out: number[][] = []
  r.struct((id, type) => {
    if (type === T.I16 || type === T.I32 || type === T.I64) {
      out.push([id, type, r.int(type)])
      return true
    }
    out.push([id, type])
    return false
  })
  return out
}

describe('integers', () => {
  it('reads zigzag varints as the spec lists them', () => {
    expect(int([0x00])).toEqual([0, 1])
    expect(int([0x01])).toEqual([-1, 1])
    expect(int([0x02])).toEqual([1, 1])
    expect(int([0x03])).toEqual([-2, 1])
    expect(int([0x04])).toEqual([2, 1])
    expect(int([0x7f])).toEqual([-64, 1])
    expect(int([0x80, 0x01])).toEqual([64, 2]) // unsigned 128
    expect(int([0xac, 0x02])).toEqual([150, 2]) // unsigned 300
    expect(int([0xfe, 0xff, 0xff, 0xff, 0x0f])).toEqual([2147483647, 5])
    expect(int([0xff, 0xff, 0xff, 0xff, 0x0f])).toEqual([-2147483648, 5])
  })

  it('takes i16, i32 and i64 alike, and reads only its own bytes', () => {
    expect(int([0x96, 0x01, 0x05], T.I16)).toEqual([75, 2])
    expect(int([0x96, 0x01, 0x05], T.I32)).toEqual([75, 2])
    expect(int([0x95, 0x01, 0x05], T.I64)).toEqual([-75, 2])
  })

  it('reads integers up to 2^53 exactly, and refuses the first past it', () => {
    // 2^53 - 2 and 2^53 - 1 unsigned: 7 bytes of 7 bits, then the top 4 bits.
    expect(int([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f], T.I64)).toEqual([4503599627370495, 8])
    expect(int([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f], T.I64)).toEqual([-4503599627370496, 8])
    expectRefusal(
      () => int([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10], T.I64), // 2^53 unsigned
      RangeError,
      'a number past 2^53 at byte 8',
    )
    expectRefusal(() => int([...repeat(9, 0xff), 0x01], T.I64), RangeError, 'a number past 2^53 at byte 10')
  })

  it('takes a varint of 10 bytes and refuses one of 11', () => {
    expect(int([...repeat(9, 0x80), 0x00], T.I64)).toEqual([0, 10])
    expectRefusal(() => int([...repeat(10, 0x80), 0x00], T.I64), RangeError, 'a varint longer than 10 bytes at byte 10')
  })

  it('refuses to read another type as an integer, naming the byte', () => {
    const r = reader(0x02, 0x02)
    expect(r.int(T.I32)).toBe(1)
    for (const type of [T.BYTE, T.DOUBLE, T.BINARY, T.TRUE, T.STRUCT, T.LIST])
      expectRefusal(() => r.int(type), RangeError, 'expected an integer at byte 1')
    expect(r.position).toBe(1)
  })

  it('refuses a varint cut short, as the end of the bytes', () => {
    expectRefusal(() => int([0x96]), EndOfBytes, 'the bytes end early, at byte 1')
    expectRefusal(() => int([]), EndOfBytes, 'the bytes end early, at byte 0')
  })
})

describe('structs', () => {
  it('reads field ids from short deltas and long forms, negative ones too', () => {
    const r = reader(
      ...[0x15, 0x02], // field 1 (delta 1), i32 1
      ...[0x25, 0x03], // field 3 (delta 2), i32 -2
      ...[0x05, 0xc8, 0x01, 0x06], // field 100 (long form: zigzag 200), i32 3
      ...[0x16, 0x08], // field 101 (delta 1 from 100), i64 4
      ...[0x03, 0x01, 0x7f], // field -1 (long form: zigzag 1), a byte
      ...[0xf4, 0x0a], // field 14 (delta 15 from -1), i16 5
      0x00, // stop
      0x99, // past the struct
    )
    expect(fields(r)).toEqual([
      [1, T.I32, 1],
      [3, T.I32, -2],
      [100, T.I32, 3],
      [101, T.I64, 4],
      [-1, T.BYTE],
      [14, T.I16, 5],
    ])
    expect(r.position).toBe(16)
  })

  it('carries booleans in the field type, with no byte of their own', () => {
    const bytes = [0x11, 0x12, 0x15, 0x0a, 0x00]
    expect(fields(reader(...bytes))).toEqual([
      [1, T.TRUE],
      [2, T.FALSE],
      [3, T.I32, 5],
    ])
    // Taken rather than skipped, they read nothing either.
    const r = reader(...bytes)
    const seen: number[] = []
    r.struct((id, type) => {
      seen.push(id)
      if (type === T.I32) r.int(type)
      return true
    })
    expect(seen).toEqual([1, 2, 3])
    expect(r.position).toBe(5)
  })

  it('skips a value of every type a field may have', () => {
    const r = reader(
      ...[0x13, 0xab], // 1: byte
      ...[0x14, 0x83, 0x01], // 2: i16 (two bytes)
      ...[0x17, 1, 2, 3, 4, 5, 6, 7, 8], // 3: double
      ...[0x18, 0x03, ...ascii('abc')], // 4: binary
      ...[0x19, 0x25, 0x02, 0x04], // 5: list of two i32
      ...[0x1a, 0x13, 0x01], // 6: set of one byte
      ...[0x1b, 0x02, 0x58, 0x02, 0x01, 0x7a, 0x04, 0x01, 0x79], // 7: map i32 -> binary, two entries
      ...[0x1b, 0x00], // 8: empty map (no type byte)
      ...[0x1c, 0x15, 0x02, 0x00], // 9: struct of one i32
      ...[0x19, 0x31, 0x01, 0x02, 0x01], // 10: list of three booleans, a byte each
      ...[0x16, 0xd4, 0x01], // 11: i64 106
      ...[0x19, 0x22, 0x02, 0x01], // 12: list of two booleans typed false
      ...[0x15, 0x54], // 13: i32 42
      0x00,
    )
    const seen: number[] = []
    let last: number | undefined
    r.struct((id, type) => {
      seen.push(id)
      if (id !== 13) return false
      last = r.int(type)
      return true
    })
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13])
    expect(last).toBe(42)
    expect(r.position).toBe(56)
  })

  it('skips a value by type when asked, booleans taking no bytes', () => {
    const r = reader(0x96, 0x01, 0x07)
    r.skip(T.TRUE)
    r.skip(T.FALSE)
    expect(r.position).toBe(0)
    r.skip(T.I32)
    expect(r.position).toBe(2)
    r.skip(T.BYTE)
    expect(r.position).toBe(3)
  })

  it('refuses a struct cut short or with no stop', () => {
    expectRefusal(() => fields(reader(0x15)), EndOfBytes, 'the bytes end early, at byte 1')
    expectRefusal(() => fields(reader(0x15, 0x02)), EndOfBytes, 'the bytes end early, at byte 2')
    expectRefusal(() => fields(reader()), EndOfBytes, 'the bytes end early, at byte 0')
  })

  it('refuses an unknown type, and a field typed stop', () => {
    expectRefusal(() => fields(reader(0x15, 0x02, 0x1d, 0x00)), RangeError, 'unknown type 13 at byte 2')
    expectRefusal(() => fields(reader(0x1f, 0x00)), RangeError, 'unknown type 15 at byte 0')
    expectRefusal(() => fields(reader(0x15, 0x02, 0x10, 0x00)), RangeError, 'type 0 at byte 3 cannot be skipped')
  })

  it('refuses skipped values whose bytes are not there', () => {
    expectRefusal(() => fields(reader(0x13)), EndOfBytes, '1 bytes claimed at byte 1, where 0 bytes are left')
    expectRefusal(
      () => fields(reader(0x17, 1, 2, 3, 4, 5, 6, 7)),
      EndOfBytes,
      '8 bytes claimed at byte 1, where 7 bytes are left',
    )
    expectRefusal(
      () => fields(reader(0x18, 0x05, 0x61, 0x62)),
      EndOfBytes,
      '5 bytes claimed at byte 2, where 2 bytes are left',
    )
    // A binary exactly as long as the bytes left is read, and then the stop is missing.
    expectRefusal(() => fields(reader(0x18, 0x02, 0x61, 0x62)), EndOfBytes, 'the bytes end early, at byte 4')
  })
})

describe('lists', () => {
  it('reads a short list of the wanted type, item by item', () => {
    const r = reader(0x35, 0x02, 0x03, 0x80, 0x01, 0x99)
    const items: number[] = []
    r.list(T.I32, () => items.push(r.int(T.I32)))
    expect(items).toEqual([1, -2, 64])
    expect(r.position).toBe(5)
  })

  it('reads a long list (size 15 and up) whose size follows as a varint', () => {
    const values = [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30] // zigzag 0..15
    const r = reader(0xf5, 0x10, ...values)
    const items: number[] = []
    r.list(T.I32, () => items.push(r.int(T.I32)))
    expect(items).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15])
    expect(r.position).toBe(18)
    // Size 14 is the largest short form.
    const short = reader(0xe3, ...repeat(14, 0x07))
    let n = 0
    short.list(T.BYTE, () => {
      n++
      short.skip(T.BYTE)
    })
    expect(n).toBe(14)
    expect(short.position).toBe(15)
  })

  it('skips the items of a list of another type', () => {
    const r = reader(0x28, 0x01, 0x61, 0x02, 0x62, 0x63, 0x99)
    let called = 0
    r.list(T.I32, () => called++)
    expect(called).toBe(0)
    expect(r.position).toBe(6)
  })

  it('reads an empty list, and a list of structs', () => {
    const empty = reader(0x05, 0x99)
    let called = 0
    empty.list(T.I32, () => called++)
    expect(called).toBe(0)
    expect(empty.position).toBe(1)
    const r = reader(0x2c, 0x15, 0x04, 0x00, 0x25, 0x05, 0x00)
    const out: number[][][] = []
    r.list(T.STRUCT, () => out.push(fields(r)))
    expect(out).toEqual([[[1, T.I32, 2]], [[2, T.I32, -3]]])
    expect(r.position).toBe(7)
  })

  it('takes a list exactly as long as the bytes left, and refuses one claiming more', () => {
    const r = reader(0x33, 1, 2, 3)
    r.list(T.STOP, () => undefined)
    expect(r.position).toBe(4)
    expectRefusal(
      () => reader(0x43, 1, 2, 3).list(T.BYTE, () => undefined),
      EndOfBytes,
      '4 list items claimed at byte 1, where 3 bytes are left',
    )
    expectRefusal(
      () => reader(0xf5, 0x64).list(T.I32, () => undefined),
      EndOfBytes,
      '100 list items claimed at byte 2, where 0 bytes are left',
    )
    expectRefusal(() => reader(0x1d, 0x00).list(T.I32, () => undefined), RangeError, 'unknown type 13 at byte 0')
  })
})

describe('maps', () => {
  it('refuses a map claiming more entries than the bytes hold, or of unknown types', () => {
    expectRefusal(
      () => fields(reader(0x1b, 0x03, 0x55, 0, 0, 0, 0)),
      EndOfBytes,
      '6 map entries claimed at byte 2, where 5 bytes are left',
    )
    expectRefusal(() => fields(reader(0x1b, 0x01, 0xd5, 0, 0, 0)), RangeError, 'unknown type 13 at byte 2')
    expectRefusal(() => fields(reader(0x1b, 0x01, 0x5e, 0, 0, 0)), RangeError, 'unknown type 14 at byte 2')
  })
})

describe('strings', () => {
  it('reads UTF-8 text, keeping its first bytes, and moves past all of it', () => {
    const backing = Uint8Array.from([0xee, 0xee, 0xee, 0x04, 0x61, 0xc3, 0xb1, 0x62, 0x02, 0x6f, 0x6b])
    const r = new CompactReader(backing.subarray(3))
    expect(r.string(100)).toBe('añb')
    expect(r.position).toBe(5)
    expect(r.string(1)).toBe('o')
    expect(r.position).toBe(8)
    const cut = new CompactReader(backing.subarray(3))
    expect(cut.string(3)).toBe('añ')
    expect(cut.position).toBe(5)
  })

  it('reads a string that ends the bytes, and refuses one claiming more than there is', () => {
    const r = reader(0x03, ...ascii('abc'))
    expect(r.string(10)).toBe('abc')
    expect(r.position).toBe(4)
    expectRefusal(
      () => reader(0x05, ...ascii('abc')).string(10),
      EndOfBytes,
      '5 string bytes claimed at byte 1, where 3 bytes are left',
    )
    expectRefusal(() => reader().string(10), EndOfBytes, 'the bytes end early, at byte 0')
  })
})

describe('nesting', () => {
  const skipStruct = (bytes: number[]) => {
    const r = reader(...bytes)
    r.struct(() => false)
    return r.position
  }

  it('takes structs nested 64 deep and refuses 65', () => {
    expect(skipStruct([...repeat(63, 0x1c), ...repeat(64, 0x00)])).toBe(127)
    expectRefusal(
      () => skipStruct([...repeat(64, 0x1c), ...repeat(65, 0x00)]),
      RangeError,
      'nesting deeper than 64 at byte 64',
    )
  })

  it('takes lists nested 64 deep and refuses 65', () => {
    const list = (bytes: number[]) => {
      const r = reader(...bytes)
      r.list(T.I32, () => undefined)
      return r.position
    }
    expect(list([...repeat(63, 0x19), 0x05])).toBe(64)
    expectRefusal(() => list([...repeat(64, 0x19), 0x05]), RangeError, 'nesting deeper than 64 at byte 65')
  })

  it('takes maps nested 64 deep (with the struct around them) and refuses 65', () => {
    // Each map: one entry, byte -> map, key 0; the innermost map is empty.
    expect(skipStruct([0x1b, ...repeat(63, 0x01, 0x3b, 0x00), 0x00, 0x00])).toBe(192)
    expectRefusal(
      () => skipStruct([0x1b, ...repeat(64, 0x01, 0x3b, 0x00), 0x00, 0x00]),
      RangeError,
      'nesting deeper than 64 at byte 192',
    )
  })

  it('counts depth, not siblings: 70 structs, lists or maps side by side are read', () => {
    const structs = reader(0xfc, 0x46, ...repeat(70, 0x00))
    let n = 0
    structs.list(T.STRUCT, () => {
      n++
      structs.struct(() => false)
    })
    expect(n).toBe(70)
    expect(structs.position).toBe(72)
    expect(skipStruct([...repeat(70, 0x19, 0x05), 0x00])).toBe(141)
    expect(skipStruct([...repeat(70, 0x1b, 0x01, 0x33, 0x00, 0x00), 0x00])).toBe(351)
    const lists = reader(0xf9, 0x46, ...repeat(70, 0x05))
    lists.list(T.STOP, () => undefined)
    expect(lists.position).toBe(72)
  })
})
