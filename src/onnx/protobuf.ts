/**
 * A minimal protocol-buffers writer: just the wire types ONNX's ModelProto needs (varint,
 * length-delimited, fixed32 floats and fixed64 doubles in packed form), for the fixture and demo
 * models. Untrusted models are read by the bounded reader in `reader.ts`.
 *
 * Wire format reference: https://protobuf.dev/programming-guides/encoding/
 */

enum WireType {
  Varint = 0,
  Fixed64 = 1,
  LengthDelimited = 2,
  Fixed32 = 5,
}

/** Append-only byte sink that grows geometrically. */
export class ProtoWriter {
  private buf = new Uint8Array(256)
  private len = 0

  private ensure(extra: number): void {
    if (this.len + extra <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.len + extra) size *= 2
    const next = new Uint8Array(size)
    next.set(this.buf.subarray(0, this.len))
    this.buf = next
  }

  private rawVarint(value: bigint): void {
    // Negative int64 values are encoded as their 64-bit two's complement (10 bytes).
    let v = BigInt.asUintN(64, value)
    this.ensure(10)
    while (v >= 0x80n) {
      this.buf[this.len++] = Number(v & 0x7fn) | 0x80
      v >>= 7n
    }
    this.buf[this.len++] = Number(v)
  }

  private tag(field: number, wire: WireType): void {
    this.rawVarint(BigInt((field << 3) | wire))
  }

  /** int32/int64/enum/bool field. */
  varint(field: number, value: number | bigint | boolean): this {
    this.tag(field, WireType.Varint)
    this.rawVarint(typeof value === 'bigint' ? value : BigInt(Number(value)))
    return this
  }

  /** bytes field. */
  bytes(field: number, value: Uint8Array): this {
    this.tag(field, WireType.LengthDelimited)
    this.rawVarint(BigInt(value.length))
    this.ensure(value.length)
    this.buf.set(value, this.len)
    this.len += value.length
    return this
  }

  /** string field (UTF-8). */
  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value))
  }

  /** Embedded message field. */
  message(field: number, write: (w: ProtoWriter) => void): this {
    const inner = new ProtoWriter()
    write(inner)
    return this.bytes(field, inner.finish())
  }

  /** float field (fixed32). */
  float(field: number, value: number): this {
    this.tag(field, WireType.Fixed32)
    this.ensure(4)
    new DataView(this.buf.buffer, this.len, 4).setFloat32(0, value, true)
    this.len += 4
    return this
  }

  /** Packed repeated varints (int32/int64). */
  packedVarints(field: number, values: ArrayLike<number | bigint>): this {
    const inner = new ProtoWriter()
    for (let i = 0; i < values.length; i++) {
      const v = values[i] as number | bigint
      inner.rawVarint(typeof v === 'bigint' ? v : BigInt(v))
    }
    return this.bytes(field, inner.finish())
  }

  /** Packed repeated floats (fixed32). */
  packedFloats(field: number, values: ArrayLike<number>): this {
    const f32 = Float32Array.from(values)
    return this.bytes(field, new Uint8Array(f32.buffer))
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len)
  }
}
