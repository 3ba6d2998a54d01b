/**
 * The bounded protobuf reader's signed and fixed-width reads, on bytes whose encoding the
 * protobuf docs give (https://protobuf.dev/programming-guides/encoding/: negative int64s are ten
 * bytes of two's complement; fixed32 is four little-endian bytes).
 */
import { describe, expect, it } from 'vitest'
import { ProtoReader, Wire } from '../../src/onnx/reader.js'

const bytes = (hex: string) => Uint8Array.from(Buffer.from(hex.replace(/ /g, ''), 'hex'))

describe('protobuf reader', () => {
  it('reads negative int64 varints exactly with int64(), where value holds 2^64 - |v| rounded', () => {
    const cases: [string, number][] = [
      ['08 ff ff ff ff ff ff ff ff ff 01', -1],
      ['08 fe ff ff ff ff ff ff ff ff 01', -2],
      ['08 81 80 80 80 80 80 80 f0 ff 01', -(2 ** 53) + 1], // 2^64 − (2^53 − 1)
      ['08 96 01', 150],
      ['08 ff ff ff ff ff ff ff ff 7f', 2 ** 63], // int64 max, nearest double
    ]
    for (const [hex, want] of cases) {
      const r = new ProtoReader(bytes(hex))
      expect(r.next()).toBe(true)
      expect(r.int64(), hex).toBe(want)
    }
  })

  it('reads packed and unpacked signed varints with int64s()', () => {
    // field 1 packed [-1, 3]; then field 1 unpacked -2
    const r = new ProtoReader(bytes('0a 0b ff ff ff ff ff ff ff ff ff 01 03  08 fe ff ff ff ff ff ff ff ff 01'))
    const got: number[] = []
    while (r.next()) r.int64s((v) => got.push(v))
    expect(got).toEqual([-1, 3, -2])
  })

  it('points start/stop at a fixed32 or fixed64 field’s bytes', () => {
    // field 2 fixed32 1.5 (00 00 c0 3f); field 3 fixed64 (8 bytes)
    const r = new ProtoReader(bytes('15 00 00 c0 3f  19 01 02 03 04 05 06 07 08'))
    expect(r.next()).toBe(true)
    expect([r.wire, r.start, r.stop]).toEqual([Wire.Fixed32, 1, 5])
    expect(new DataView(r.bytes.buffer, r.start, 4).getFloat32(0, true)).toBe(1.5)
    expect(r.next()).toBe(true)
    expect([r.wire, r.start, r.stop]).toEqual([Wire.Fixed64, 6, 14])
  })
})
