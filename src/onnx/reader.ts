/**
 * A bounded protocol-buffers reader for untrusted bytes: a cursor over one message's byte range
 * that yields its fields one at a time. It never copies or allocates by a size the bytes claim:
 * a length-delimited field is a range of the same buffer, checked against the bytes present
 * before it is handed out, and varints stop at ten bytes. Nested messages are read with `sub()`.
 *
 * Wire format reference: https://protobuf.dev/programming-guides/encoding/
 *
 * @example
 * const r = new ProtoReader(bytes)
 * while (r.next()) if (r.field === 7 && r.wire === Wire.Bytes) readGraph(r.sub())
 */

/** Wire types (groups, 3 and 4, are deprecated and never used by ONNX: they are refused). */
export enum Wire {
  Varint = 0,
  Fixed64 = 1,
  Bytes = 2,
  Fixed32 = 5,
}

/** Malformed protobuf: the message says where (byte offset) and what was claimed. */
export class ProtoError extends Error {}

/** The longest varint: ten bytes carry 64 bits. */
const MAX_VARINT_BYTES = 10

export class ProtoReader {
  /** The current field's number (valid after `next()` returned true). */
  field = 0
  /** The current field's wire type. */
  wire: Wire = Wire.Varint
  /**
   * The current varint's value (wire type 0). Exact up to 2^53; larger values (and negative
   * int64s, which are encoded as 2^64 - |v|) come out as large positive numbers.
   */
  value = 0
  /**
   * The current field's payload: `bytes[start, stop)` of a length-delimited field (wire type 2),
   * or the 4 or 8 little-endian bytes of a fixed-width one (wire types 5 and 1).
   */
  start = 0
  stop = 0
  private pos: number
  /** Where the current varint's bytes begin (wire type 0), for {@link int64}. */
  private valueAt = 0

  constructor(
    readonly bytes: Uint8Array,
    private readonly from = 0,
    private readonly end = bytes.length,
  ) {
    this.pos = from
  }

  /** A fresh reader over the same message, from its first field. */
  again(): ProtoReader {
    return new ProtoReader(this.bytes, this.from, this.end)
  }

  /** Advance to the next field; false at the end of the message. Throws `ProtoError` if malformed. */
  next(): boolean {
    if (this.pos >= this.end) return false
    const at = this.pos
    const tag = this.varint()
    this.field = Math.floor(tag / 8)
    if (this.field === 0 || this.field > 0x1fffffff) throw new ProtoError(`invalid field number at byte ${at}`)
    this.wire = tag % 8
    switch (this.wire) {
      case Wire.Varint:
        this.valueAt = this.pos
        this.value = this.varint()
        return true
      case Wire.Fixed64:
        return this.skip(8, at)
      case Wire.Fixed32:
        return this.skip(4, at)
      case Wire.Bytes: {
        const length = this.varint()
        if (length > this.end - this.pos) {
          throw new ProtoError(
            `field ${this.field} at byte ${at} claims ${length} bytes but only ${this.end - this.pos} remain`,
          )
        }
        this.start = this.pos
        this.stop = this.pos + length
        this.pos = this.stop
        return true
      }
      default:
        throw new ProtoError(`field ${this.field} at byte ${at} has wire type ${this.wire}, which ONNX never uses`)
    }
  }

  /**
   * The current varint (wire type 0) as a signed int64, e.g. -1 for ONNX's `axis: -1`, which
   * `value` holds as 2^64 - 1 (rounded). Exact for magnitudes up to 2^53.
   */
  int64(): number {
    return this.value < 2 ** 63 ? this.value : signedAt(this.bytes, this.valueAt)
  }

  /** Call `each` with every varint of the current field as a signed int64, packed or not. */
  int64s(each: (v: number) => void): void {
    if (this.wire === Wire.Varint) {
      each(this.int64())
      return
    }
    if (this.wire !== Wire.Bytes) return // not a varint field: protobuf keeps it as unknown
    const inner = new ProtoReader(this.bytes, this.start, this.stop)
    while (inner.pos < inner.end) {
      const at = inner.pos
      const v = inner.varint()
      each(v < 2 ** 63 ? v : signedAt(this.bytes, at))
    }
  }

  /** A reader over the current length-delimited field (a nested message). */
  sub(): ProtoReader {
    return new ProtoReader(this.bytes, this.start, this.stop)
  }

  /** The current length-delimited field's size in bytes. */
  get length(): number {
    return this.stop - this.start
  }

  /** The current length-delimited field as text, cut to `max` bytes (for messages, never for data). */
  text(max = 200): string {
    const cut = Math.min(this.stop, this.start + max)
    const s = new TextDecoder().decode(this.bytes.subarray(this.start, cut))
    return cut < this.stop ? `${s}…` : s
  }

  /**
   * How many values the current occurrence of a repeated scalar field carries: one when unpacked
   * (wire type `unpacked`), the packed count when length-delimited, 0 for any other wire type
   * (protobuf keeps such a field as unknown, so it carries nothing).
   */
  count(unpacked: Wire.Varint | Wire.Fixed32 | Wire.Fixed64): number {
    if (this.wire === unpacked) return 1
    if (this.wire !== Wire.Bytes) return 0
    if (unpacked === Wire.Varint) {
      if (this.stop > this.start && (this.bytes[this.stop - 1] as number) >= 0x80) {
        throw new ProtoError(`packed field ${this.field} at byte ${this.start} ends inside a varint`)
      }
      let n = 0
      for (let i = this.start; i < this.stop; i++) if ((this.bytes[i] as number) < 0x80) n++
      return n
    }
    const size = unpacked === Wire.Fixed32 ? 4 : 8
    if (this.length % size !== 0) {
      throw new ProtoError(
        `packed field ${this.field} at byte ${this.start} is not a whole number of ${size}-byte values`,
      )
    }
    return this.length / size
  }

  /** Call `each` with every varint of the current field, packed (wire 2) or not (wire 0). */
  varints(each: (v: number) => void): void {
    if (this.wire === Wire.Varint) {
      each(this.value)
      return
    }
    if (this.wire !== Wire.Bytes) return // not a varint field: protobuf keeps it as unknown
    const inner = new ProtoReader(this.bytes, this.start, this.stop)
    while (inner.pos < inner.end) each(inner.varint())
  }

  private skip(n: number, at: number): boolean {
    if (n > this.end - this.pos) throw new ProtoError(`field ${this.field} at byte ${at} is cut short`)
    this.start = this.pos
    this.stop = this.pos + n
    this.pos += n
    return true
  }

  private varint(): number {
    let value = 0
    let scale = 1
    for (let i = 0; i < MAX_VARINT_BYTES; i++) {
      if (this.pos >= this.end) throw new ProtoError(`varint cut short at byte ${this.pos}`)
      const b = this.bytes[this.pos++] as number
      value += (b & 0x7f) * scale
      if (b < 0x80) return value
      scale *= 128
    }
    throw new ProtoError(`varint longer than ${MAX_VARINT_BYTES} bytes at byte ${this.pos - MAX_VARINT_BYTES}`)
  }
}

/** The well-formed varint at `bytes[at]` read as a two's-complement int64 (exact via BigInt). */
function signedAt(bytes: Uint8Array, at: number): number {
  let v = 0n
  for (let i = 0, shift = 0n; i < MAX_VARINT_BYTES; i++, shift += 7n) {
    const b = bytes[at + i] as number
    v |= BigInt(b & 0x7f) << shift
    if (b < 0x80) break
  }
  return Number(BigInt.asIntN(64, v))
}
