/** The protobuf writer against the encoding examples published in the protobuf docs. */
import { describe, expect, it } from 'vitest'
import { ProtoWriter } from '../../src/onnx/protobuf.js'

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

describe('protobuf writer', () => {
  // https://protobuf.dev/programming-guides/encoding/ ("A Simple Message", "Strings", "Packed")
  it('encodes field 1 = 150 as 08 96 01', () => {
    expect(hex(new ProtoWriter().varint(1, 150).finish())).toBe('089601')
  })
  it('encodes field 2 = "testing" as 12 07 74 65 73 74 69 6e 67', () => {
    expect(hex(new ProtoWriter().string(2, 'testing').finish())).toBe('120774657374696e67')
  })
  it('encodes packed field 4 = [3, 270, 86942] as 22 06 03 8e 02 9e a7 05', () => {
    expect(hex(new ProtoWriter().packedVarints(4, [3, 270, 86942]).finish())).toBe('2206038e029ea705')
  })
  it('encodes a negative int64 as ten bytes of two’s complement', () => {
    expect(hex(new ProtoWriter().varint(1, -1n).finish())).toBe('08ffffffffffffffffff01')
    expect(hex(new ProtoWriter().varint(1, -2).finish())).toBe('08feffffffffffffffff01')
  })
  it('encodes floats as little-endian fixed32', () => {
    expect(hex(new ProtoWriter().float(2, 1.5).finish())).toBe('150000c03f')
    expect(hex(new ProtoWriter().packedFloats(7, [1, -2]).finish())).toBe('3a080000803f000000c0')
  })
  it('nests messages with their length prefix and grows past its initial buffer', () => {
    const big = new Uint8Array(1000).fill(7)
    const out = new ProtoWriter().message(3, (w) => w.varint(1, 150).bytes(2, big)).finish()
    // 1a = field 3 length-delimited; length 3 + 3 + 1000 = 1006 = ee 07
    expect(hex(out.subarray(0, 6))).toBe('1aee07089601')
    expect(out.length).toBe(3 + 1006)
  })
})
