/**
 * A tiny FlatBuffers writer for tests, written from https://flatbuffers.dev/internals and
 * independent of src/formats/flatbuffer.ts: a table is its vtable (u16 vtable bytes, u16 table
 * bytes, a u16 offset per field, 0 for absent) followed by the table (an int32 soffset back to
 * the vtable, then its fields inline); references are uoffsets forward to the object; vectors and
 * strings are a u32 count then their elements. Objects are laid out in the order they are first
 * referenced, so one object referenced from several entries of a vector is written once (what a
 * hostile writer would do to inflate a schema).
 */

export type Scalar = { readonly kind: 'u8' | 'i16' | 'i32' | 'i64'; readonly value: number }
export type Obj =
  | { readonly kind: 'table'; readonly fields: ReadonlyArray<Scalar | Obj | undefined> }
  | { readonly kind: 'string'; readonly text: string }
  | { readonly kind: 'tables'; readonly items: readonly Obj[] }
  /** A vector of 16-byte structs of two int64s each (FieldNode, Buffer). */
  | { readonly kind: 'pairs'; readonly pairs: ReadonlyArray<readonly [number, number]> }
  /** A vector of int64s. */
  | { readonly kind: 'longs'; readonly values: readonly number[] }

export const u8 = (value: number): Scalar => ({ kind: 'u8', value })
export const i16 = (value: number): Scalar => ({ kind: 'i16', value })
export const i32 = (value: number): Scalar => ({ kind: 'i32', value })
export const i64 = (value: number): Scalar => ({ kind: 'i64', value })
export const table = (...fields: Array<Scalar | Obj | undefined>): Obj => ({ kind: 'table', fields })
export const str = (text: string): Obj => ({ kind: 'string', text })
export const tables = (...items: Obj[]): Obj => ({ kind: 'tables', items })
export const pairs = (...items: Array<readonly [number, number]>): Obj => ({ kind: 'pairs', pairs: items })
export const longs = (...values: number[]): Obj => ({ kind: 'longs', values })

const SIZE: Record<Scalar['kind'], number> = { u8: 1, i16: 2, i32: 4, i64: 8 }

/** The flatbuffer whose root is `root`, padded with zeros to `size` bytes when given. */
export function build(root: Obj, size?: number): Uint8Array {
  const out = new Uint8Array(1 << 20)
  const view = new DataView(out.buffer)
  let end = 4
  const written = new Map<Obj, number>()
  const pending: Array<{ slot: number; obj: Obj }> = [{ slot: 0, obj: root }]
  const align = () => {
    while (end % 4 !== 0) end++
  }
  const write = (obj: Obj): number => {
    align()
    switch (obj.kind) {
      case 'table': {
        const sizes = obj.fields.map((f) => (f === undefined ? 0 : 'value' in f ? SIZE[f.kind] : 4))
        const vtable = end
        const vtableBytes = 4 + 2 * obj.fields.length
        const at = vtable + vtableBytes
        view.setUint16(vtable, vtableBytes, true)
        view.setUint16(vtable + 2, 4 + sizes.reduce((a, b) => a + b, 0), true)
        view.setInt32(at, at - vtable, true)
        let inline = 4
        obj.fields.forEach((f, i) => {
          if (f === undefined) return
          view.setUint16(vtable + 4 + 2 * i, inline, true)
          const p = at + inline
          if ('value' in f) {
            if (f.kind === 'u8') view.setUint8(p, f.value)
            else if (f.kind === 'i16') view.setInt16(p, f.value, true)
            else if (f.kind === 'i32') view.setInt32(p, f.value, true)
            else view.setBigInt64(p, BigInt(f.value), true)
          } else pending.push({ slot: p, obj: f })
          inline += sizes[i] as number
        })
        end = at + inline
        return at
      }
      case 'string': {
        const bytes = new TextEncoder().encode(obj.text)
        const at = end
        view.setUint32(at, bytes.length, true)
        out.set(bytes, at + 4)
        end = at + 4 + bytes.length + 1 // the NUL FlatBuffers writes after a string
        return at
      }
      case 'tables': {
        const at = end
        view.setUint32(at, obj.items.length, true)
        obj.items.forEach((item, i) => {
          pending.push({ slot: at + 4 + 4 * i, obj: item })
        })
        end = at + 4 + 4 * obj.items.length
        return at
      }
      case 'pairs': {
        const at = end
        view.setUint32(at, obj.pairs.length, true)
        obj.pairs.forEach(([a, b], i) => {
          view.setBigInt64(at + 4 + 16 * i, BigInt(a), true)
          view.setBigInt64(at + 12 + 16 * i, BigInt(b), true)
        })
        end = at + 4 + 16 * obj.pairs.length
        return at
      }
      case 'longs': {
        const at = end
        view.setUint32(at, obj.values.length, true)
        obj.values.forEach((v, i) => {
          view.setBigInt64(at + 4 + 8 * i, BigInt(v), true)
        })
        end = at + 4 + 8 * obj.values.length
        return at
      }
    }
  }
  for (let next = pending.shift(); next; next = pending.shift()) {
    const at = written.get(next.obj) ?? write(next.obj)
    written.set(next.obj, at)
    if (at <= next.slot) throw new Error('this writer only points forward')
    view.setUint32(next.slot, at - next.slot, true)
  }
  if (size !== undefined && size < end) throw new Error(`the flatbuffer takes ${end} bytes, more than ${size}`)
  return out.slice(0, size ?? end)
}
