/**
 * A reader of Thrift's compact protocol (what Parquet footers are written in) that trusts nothing:
 * every length and element count is checked against the bytes left before anything is read or
 * allocated, nesting is limited, and integers must be exact in a JavaScript number. Damage throws a
 * RangeError saying what and where. Fields a caller does not take are skipped without being kept.
 */

/** Compact protocol type ids. */
export const T = {
  STOP: 0,
  TRUE: 1,
  FALSE: 2,
  BYTE: 3,
  I16: 4,
  I32: 5,
  I64: 6,
  DOUBLE: 7,
  BINARY: 8,
  LIST: 9,
  SET: 10,
  MAP: 11,
  STRUCT: 12,
} as const

export type CompactType = (typeof T)[keyof typeof T]

/** The bytes end before the value does: damage in a whole footer, or a window read too short. */
export class EndOfBytes extends RangeError {}

/** Nesting deeper than this is refused (Parquet's own structures nest a few levels). */
const MAX_DEPTH = 64

export class CompactReader {
  #at = 0
  #depth = 0

  constructor(private readonly bytes: Uint8Array) {}

  /** Bytes read so far. */
  get position(): number {
    return this.#at
  }

  /**
   * Reads a struct: `field(id, type)` is called for each field and reads the value it takes,
   * returning true; on false the value is skipped.
   */
  struct(field: (id: number, type: CompactType) => boolean): void {
    this.#enter()
    let last = 0
    for (;;) {
      const head = this.#byte()
      if (head === T.STOP) break
      const type = this.#type(head & 0x0f)
      const delta = head >> 4
      const id = delta === 0 ? this.#zigzag(this.#varint()) : last + delta
      last = id
      if (!field(id, type)) this.skip(type)
    }
    this.#depth--
  }

  /** Reads a list (or set): `item()` is called per element when they have type `want`, else all are skipped. */
  list(want: CompactType, item: () => void): void {
    const head = this.#byte()
    const type = this.#type(head & 0x0f)
    const size = head >> 4 === 15 ? this.#varint() : head >> 4
    this.#claim(size, 'list items')
    this.#enter()
    for (let i = 0; i < size; i++) {
      if (type === want) item()
      else this.#skipElement(type)
    }
    this.#depth--
  }

  /** An i16, i32 or i64 (zigzag varint), which must be exact as a number. */
  int(type: CompactType): number {
    if (type !== T.I16 && type !== T.I32 && type !== T.I64)
      throw new RangeError(`expected an integer at byte ${this.#at}`)
    return this.#zigzag(this.#varint())
  }

  /** A binary field as text (UTF-8), its first `max` bytes kept. */
  string(max: number): string {
    const length = this.#varint()
    this.#claim(length, 'string bytes')
    const text = Buffer.from(this.bytes.buffer, this.bytes.byteOffset + this.#at, Math.min(length, max)).toString(
      'utf8',
    )
    this.#at += length
    return text
  }

  /** Skips a value of `type` (a field's value: booleans carry theirs in the type). */
  skip(type: CompactType): void {
    if (type === T.TRUE || type === T.FALSE) return
    this.#skipElement(type)
  }

  #skipElement(type: CompactType): void {
    switch (type) {
      case T.TRUE:
      case T.FALSE:
      case T.BYTE:
        this.#claim(1, 'bytes')
        this.#at += 1
        return
      case T.I16:
      case T.I32:
      case T.I64:
        this.#varint()
        return
      case T.DOUBLE:
        this.#claim(8, 'bytes')
        this.#at += 8
        return
      case T.BINARY: {
        const length = this.#varint()
        this.#claim(length, 'bytes')
        this.#at += length
        return
      }
      case T.LIST:
      case T.SET:
        this.list(T.STOP, () => undefined) // no element has type STOP: all are skipped
        return
      case T.MAP: {
        const size = this.#varint()
        if (size === 0) return
        this.#claim(2 * size, 'map entries')
        const kinds = this.#byte()
        const key = this.#type(kinds >> 4)
        const value = this.#type(kinds & 0x0f)
        this.#enter()
        for (let i = 0; i < size; i++) {
          this.#skipElement(key)
          this.#skipElement(value)
        }
        this.#depth--
        return
      }
      case T.STRUCT:
        // Stryker disable next-line ArrowFunction: `() => undefined` is as falsy as false: every field is skipped alike
        this.struct(() => false)
        return
      default:
        throw new RangeError(`type ${type} at byte ${this.#at} cannot be skipped`)
    }
  }

  /** Each of `n` items takes at least one byte: more than the bytes left is damage, not data. */
  #claim(n: number, what: string): void {
    const left = this.bytes.length - this.#at
    if (n > left) throw new EndOfBytes(`${n} ${what} claimed at byte ${this.#at}, where ${left} bytes are left`)
  }

  #enter(): void {
    if (++this.#depth > MAX_DEPTH) throw new RangeError(`nesting deeper than ${MAX_DEPTH} at byte ${this.#at}`)
  }

  #byte(): number {
    if (this.#at >= this.bytes.length) throw new EndOfBytes(`the bytes end early, at byte ${this.#at}`)
    return this.bytes[this.#at++] as number
  }

  #type(id: number): CompactType {
    if (id > T.STRUCT) throw new RangeError(`unknown type ${id} at byte ${this.#at - 1}`)
    return id as CompactType
  }

  /** An unsigned varint of up to 10 bytes, as an exact number. */
  #varint(): number {
    let value = 0
    let scale = 1
    for (let i = 0; i < 10; i++) {
      const b = this.#byte()
      value += (b & 0x7f) * scale
      if (b < 0x80) {
        if (!Number.isSafeInteger(value)) throw new RangeError(`a number past 2^53 at byte ${this.#at}`)
        return value
      }
      scale *= 128
    }
    throw new RangeError(`a varint longer than 10 bytes at byte ${this.#at}`)
  }

  #zigzag(n: number): number {
    return n % 2 === 0 ? n / 2 : -(n + 1) / 2
  }
}
