/**
 * Just enough FlatBuffers to read Arrow IPC metadata from bytes nobody vouched for: every offset,
 * vtable, vector and string is checked to lie inside the buffer before it is read, so a vector
 * cannot claim more entries than the bytes could hold. Tables are read by field index (the
 * schema's declaration order), as https://flatbuffers.dev/internals describes.
 */
import { InvalidRequestError } from '../errors.js'

const utf8 = new TextDecoder()

/** A table: its position and its vtable's. */
export interface Table {
  readonly at: number
  readonly vtable: number
  readonly vtableSize: number
}

/** A vector: where its first element is and how many it has. */
export interface Vector {
  readonly start: number
  readonly length: number
}

/** Bounds-checked reads over one flatbuffer (an Arrow message's metadata, or a file footer). */
export class FlatBuffer {
  readonly #view: DataView
  readonly #what: string

  /** @param what names the buffer in messages, e.g. "message 2's metadata" */
  constructor(bytes: Uint8Array, what: string) {
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    this.#what = what
  }

  get length(): number {
    return this.#view.byteLength
  }

  /** The root table. */
  root(): Table {
    return this.table(this.#offset(0))
  }

  /** The table at `at` (where its soffset to the vtable is). */
  table(at: number): Table {
    this.#check(at, 4)
    const vtable = at - this.#view.getInt32(at, true)
    this.#check(vtable, 4)
    const vtableSize = this.#view.getUint16(vtable, true)
    if (vtableSize < 4 || vtableSize % 2 !== 0) throw this.corrupt(`a vtable of ${vtableSize} bytes at ${vtable}`)
    this.#check(vtable, vtableSize)
    this.#check(at, this.#view.getUint16(vtable + 2, true))
    return { at, vtable, vtableSize }
  }

  /** Position of field `index` of `table`, or 0 when it is absent (its default applies). */
  field(table: Table, index: number): number {
    const slot = 4 + 2 * index
    if (slot + 2 > table.vtableSize) return 0
    const offset = this.#view.getUint16(table.vtable + slot, true)
    return offset === 0 ? 0 : table.at + offset
  }

  uint8(table: Table, index: number, fallback: number): number {
    const at = this.field(table, index)
    return at ? this.#check(at, 1).getUint8(at) : fallback
  }

  int16(table: Table, index: number, fallback: number): number {
    const at = this.field(table, index)
    return at ? this.#check(at, 2).getInt16(at, true) : fallback
  }

  int32(table: Table, index: number, fallback: number): number {
    const at = this.field(table, index)
    return at ? this.#check(at, 4).getInt32(at, true) : fallback
  }

  int64(table: Table, index: number, fallback: number): number {
    const at = this.field(table, index)
    return at ? this.int64At(at) : fallback
  }

  /** An int64 at a position (a struct's field); beyond ±2^53 it is refused rather than rounded. */
  int64At(at: number): number {
    this.#check(at, 8)
    const value = this.#view.getInt32(at + 4, true) * 4294967296 + this.#view.getUint32(at, true)
    if (!Number.isSafeInteger(value)) throw this.corrupt(`a 64-bit value out of range at ${at}`)
    return value
  }

  /** The table a field points at, or undefined when absent. */
  child(table: Table, index: number): Table | undefined {
    const at = this.field(table, index)
    return at ? this.table(this.#offset(at)) : undefined
  }

  /** A vector field whose elements take `stride` bytes each; empty when absent. */
  vector(table: Table, index: number, stride: number): Vector {
    const at = this.field(table, index)
    if (!at) return { start: 0, length: 0 }
    const base = this.#offset(at)
    this.#check(base, 4)
    const length = this.#view.getUint32(base, true)
    // The check that matters: a claimed length must fit in the bytes that follow.
    if (length > (this.length - base - 4) / stride)
      throw this.corrupt(`a vector of ${length} entries at ${base}, past the end`)
    return { start: base + 4, length }
  }

  /** Entry `i` of a vector of tables. */
  tableAt(vector: Vector, i: number): Table {
    return this.table(this.#offset(vector.start + 4 * i))
  }

  /** A string field (UTF-8), or undefined when absent. */
  string(table: Table, index: number): string | undefined {
    const at = this.field(table, index)
    if (!at) return undefined
    const base = this.#offset(at)
    this.#check(base, 4)
    const length = this.#view.getUint32(base, true)
    this.#check(base + 4, length)
    const v = this.#view
    return utf8.decode(new Uint8Array(v.buffer, v.byteOffset + base + 4, length))
  }

  /** An error naming the buffer and what was wrong in it. */
  corrupt(what: string): InvalidRequestError {
    return new InvalidRequestError(`${this.#what} is malformed: ${what}`)
  }

  /** The position a uoffset at `at` points to. */
  #offset(at: number): number {
    this.#check(at, 4)
    return at + this.#view.getUint32(at, true)
  }

  #check(at: number, bytes: number): DataView {
    if (at < 0 || at + bytes > this.length)
      throw this.corrupt(`${bytes} bytes at ${at} lie outside its ${this.length} bytes`)
    return this.#view
  }
}
