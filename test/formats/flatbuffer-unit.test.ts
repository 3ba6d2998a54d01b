/**
 * The bounded FlatBuffers reader on bytes laid out by hand (https://flatbuffers.dev/internals):
 * what it reads from well-formed tables, and the exact refusal for each kind of lie (a vtable too
 * short or odd, a vector or string one entry past the end, a 64-bit value past ±(2^53 − 1)).
 */
import { describe, expect, it } from 'vitest'
import { InvalidRequestError } from '../../src/errors.js'
import { FlatBuffer } from '../../src/formats/flatbuffer.js'
import { refusal as thrown } from '../helpers/refusal.js'

/** Little-endian bytes from [position, kind, value] writes, zero elsewhere. */
function bytes(length: number, writes: Array<[number, 'u16' | 'u32' | 'i32' | 'i64', number | bigint]>): Uint8Array {
  const out = new Uint8Array(length)
  const view = new DataView(out.buffer)
  for (const [at, kind, value] of writes) {
    if (kind === 'u16') view.setUint16(at, Number(value), true)
    else if (kind === 'u32') view.setUint32(at, Number(value), true)
    else if (kind === 'i32') view.setInt32(at, Number(value), true)
    else view.setBigInt64(at, BigInt(value), true)
  }
  return out
}

/** What `f` threw, checked to be an InvalidRequestError. */
function refusal(f: () => unknown): Error {
  const e = thrown(f)
  expect(e).toBeInstanceOf(InvalidRequestError)
  return e
}

/**
 * root uoffset at 0 → table at 12; vtable at 4 of 8 bytes (fields 0 and 1: at 4 and 0 = absent);
 * field 0 at 16 is a uoffset (4) to the object at 20: a u32 count, then its elements from 24.
 */
const withObject = (length: number, count: number) =>
  bytes(length, [
    [0, 'u32', 12],
    [4, 'u16', 8],
    [6, 'u16', 8],
    [8, 'u16', 4],
    [10, 'u16', 0],
    [12, 'i32', 8],
    [16, 'u32', 4],
    [20, 'u32', count],
  ])

describe('FlatBuffer tables', () => {
  it('reads the root table and its vtable', () => {
    const fb = new FlatBuffer(withObject(36, 3), 'm')
    expect(fb.length).toBe(36)
    expect(fb.root()).toEqual({ at: 12, vtable: 4, vtableSize: 8 })
    expect(fb.field(fb.root(), 0)).toBe(16)
    // Field 1 is in the vtable with offset 0, field 2 past it: both absent.
    expect(fb.field(fb.root(), 1)).toBe(0)
    expect(fb.field(fb.root(), 2)).toBe(0)
  })

  it('refuses a vtable shorter than its 4-byte header, or of an odd size', () => {
    const vtable = (size: number) =>
      bytes(12, [
        [0, 'u32', 8],
        [4, 'u16', size],
        [6, 'u16', 4],
        [8, 'i32', 4],
      ])
    expect(refusal(() => new FlatBuffer(vtable(2), 'meta').root()).message).toBe(
      'meta is malformed: a vtable of 2 bytes at 4',
    )
    expect(refusal(() => new FlatBuffer(vtable(0), 'meta').root()).message).toBe(
      'meta is malformed: a vtable of 0 bytes at 4',
    )
    expect(refusal(() => new FlatBuffer(vtable(5), 'meta').root()).message).toBe(
      'meta is malformed: a vtable of 5 bytes at 4',
    )
    expect(new FlatBuffer(vtable(4), 'meta').root()).toEqual({ at: 8, vtable: 4, vtableSize: 4 })
  })

  it('refuses a table whose soffset points outside the bytes', () => {
    const away = bytes(12, [
      [0, 'u32', 8],
      [8, 'i32', 100],
    ])
    expect(refusal(() => new FlatBuffer(away, 'meta').root()).message).toBe(
      'meta is malformed: 4 bytes at -92 lie outside its 12 bytes',
    )
  })
})

describe('FlatBuffer vectors', () => {
  it('reads a vector whose entries end exactly at the last byte', () => {
    const fb = new FlatBuffer(withObject(36, 3), 'm')
    expect(fb.vector(fb.root(), 0, 4)).toEqual({ start: 24, length: 3 })
    const wide = new FlatBuffer(withObject(24 + 2 * 16, 2), 'm')
    expect(wide.vector(wide.root(), 0, 16)).toEqual({ start: 24, length: 2 })
  })

  it('refuses a vector one entry longer than the bytes after it', () => {
    const fb = new FlatBuffer(withObject(36, 4), 'batch 1')
    expect(refusal(() => fb.vector(fb.root(), 0, 4)).message).toBe(
      'batch 1 is malformed: a vector of 4 entries at 20, past the end',
    )
    const wide = new FlatBuffer(withObject(24 + 2 * 16 + 15, 3), 'm')
    expect(refusal(() => wide.vector(wide.root(), 0, 16)).message).toBe(
      'm is malformed: a vector of 3 entries at 20, past the end',
    )
  })

  it('reads an absent vector as empty', () => {
    const fb = new FlatBuffer(withObject(36, 3), 'm')
    expect(fb.vector(fb.root(), 1, 4)).toEqual({ start: 0, length: 0 })
    expect(fb.vector(fb.root(), 7, 16)).toEqual({ start: 0, length: 0 })
  })
})

describe('FlatBuffer strings', () => {
  const hello = (length: number, claimed: number) => {
    const out = withObject(length, claimed)
    out.set(new TextEncoder().encode('hello'), 24)
    return out
  }

  it('reads a string that ends exactly at the last byte', () => {
    const fb = new FlatBuffer(hello(29, 5), 'm')
    expect(fb.string(fb.root(), 0)).toBe('hello')
    const short = new FlatBuffer(hello(29, 3), 'm')
    expect(short.string(short.root(), 0)).toBe('hel')
  })

  it('refuses a string one byte longer than the bytes', () => {
    const fb = new FlatBuffer(hello(29, 6), 'schema')
    expect(refusal(() => fb.string(fb.root(), 0)).message).toBe(
      'schema is malformed: 6 bytes at 24 lie outside its 29 bytes',
    )
  })

  it('reads an absent string as undefined', () => {
    const fb = new FlatBuffer(hello(29, 5), 'm')
    expect(fb.string(fb.root(), 1)).toBeUndefined()
    expect(fb.string(fb.root(), 3)).toBeUndefined()
  })
})

describe('FlatBuffer 64-bit values', () => {
  const at4 = (value: bigint) => new FlatBuffer(bytes(12, [[4, 'i64', value]]), 'footer')

  it('reads values up to ±(2^53 − 1) exactly, from both 32-bit halves', () => {
    expect(at4(9007199254740991n).int64At(4)).toBe(9007199254740991)
    expect(at4(-9007199254740991n).int64At(4)).toBe(-9007199254740991)
    expect(at4(4294967297n).int64At(4)).toBe(4294967297)
    expect(at4(-2n).int64At(4)).toBe(-2)
  })

  it('refuses values beyond 2^53 rather than rounding them', () => {
    expect(refusal(() => at4(9007199254740992n).int64At(4)).message).toBe(
      'footer is malformed: a 64-bit value out of range at 4',
    )
    expect(refusal(() => at4(-9007199254740993n).int64At(4)).message).toBe(
      'footer is malformed: a 64-bit value out of range at 4',
    )
    expect(refusal(() => at4(0n).int64At(5)).message).toBe('footer is malformed: 8 bytes at 5 lie outside its 12 bytes')
  })
})
