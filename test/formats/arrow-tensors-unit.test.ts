/**
 * tensorsFromArrow on checked batches built by hand (schemas, array layouts and bodies written
 * byte by byte, little-endian), so that list offsets may start past 0 as in a sliced array, a
 * validity bitmap may sit past the start of its body, and children may hold entries no row uses:
 * rows are cut where the offsets say, types feed only the inputs they fit, and messages name the row.
 */
import { describe, expect, it } from 'vitest'
import type { ColumnSpec } from '../../src/engine/tensor.js'
import { InvalidInputError } from '../../src/errors.js'
import type { CheckedRecordBatch } from '../../src/formats/arrow-ipc.js'
import type { ArrayLayout } from '../../src/formats/arrow-layout.js'
import type { ArrowField, ArrowType, BodyRange } from '../../src/formats/arrow-meta.js'
import { tensorsFromArrow } from '../../src/formats/arrow-tensors.js'
import { TensorBudget } from '../../src/formats/limits.js'
import { expectRefusal } from '../helpers/refusal.js'

const t = (id: number, layout: ArrowType['layout'], width: number, name: string, signed = true): ArrowType => ({
  id,
  layout,
  width,
  signed,
  name,
})
const I8 = t(2, 'fixed', 1, 'int8')
const U8 = t(2, 'fixed', 1, 'uint8', false)
const I16 = t(2, 'fixed', 2, 'int16')
const U16 = t(2, 'fixed', 2, 'uint16', false)
const I32 = t(2, 'fixed', 4, 'int32')
const U32 = t(2, 'fixed', 4, 'uint32', false)
const I64 = t(2, 'fixed', 8, 'int64')
const U64 = t(2, 'fixed', 8, 'uint64', false)
const F16 = t(3, 'fixed', 2, 'float16')
const F32 = t(3, 'fixed', 4, 'float32')
const BOOL = t(6, 'bool', 0, 'bool', false)
const UTF8 = t(5, 'bytes', 4, 'utf8', false)
const BINARY = t(4, 'bytes', 4, 'binary', false)
const TIMESTAMP = t(10, 'fixed', 8, 'timestamp[ms]')
const STRUCT = t(13, 'struct', 0, 'struct', false)
const list = (of: string) => t(12, 'list', 4, `list<${of}>`, false)
const fixedList = (size: number, of: string) => t(16, 'fixed-list', size, `fixed_size_list<${of}, ${size}>`, false)

const field = (name: string, type: ArrowType, children: ArrowField[] = []): ArrowField => ({ name, type, children })
const arr = (
  f: ArrowField,
  length: number,
  buffers: BodyRange[],
  children: ArrayLayout[] = [],
  nullCount = 0,
): ArrayLayout => ({ field: f, length, nullCount, buffers, children })
const batch = (length: number, body: Uint8Array, ...arrays: ArrayLayout[]): CheckedRecordBatch => ({
  length,
  arrays,
  body,
  dictionaries: new Map(),
})
const spec = (name: string, dtype: ColumnSpec['dtype'], shape: ColumnSpec['shape'] = ['N']): ColumnSpec => ({
  name,
  dtype,
  shape,
})

const le = (width: number, ...xs: Array<number | bigint>) => {
  const out = new Uint8Array(width * xs.length)
  const view = new DataView(out.buffer)
  xs.forEach((x, i) => {
    if (width === 1) view.setUint8(i, Number(x) & 0xff)
    else if (width === 2) view.setUint16(i * 2, Number(x) & 0xffff, true)
    else if (width === 4) view.setUint32(i * 4, Number(x) >>> 0, true)
    else view.setBigUint64(i * 8, BigInt.asUintN(64, BigInt(x)), true)
  })
  return Array.from(out)
}
/** A body with 0xEE garbage in bytes 0..7 and each part from a multiple of 8 after: the body and the parts' ranges. */
function body(...parts: number[][]): { bytes: Uint8Array; at: BodyRange[] } {
  const at: BodyRange[] = []
  let end = 8
  for (const p of parts) {
    at.push({ offset: end, length: p.length })
    end += Math.ceil(p.length / 8) * 8
  }
  const bytes = new Uint8Array(end)
  bytes.fill(0xee, 0, 8)
  parts.forEach((p, i) => {
    bytes.set(p, (at[i] as BodyRange).offset)
  })
  return { bytes, at }
}
const values = (x: { data: ArrayLike<unknown> } | undefined) => Array.from(x?.data ?? [])
const NONE: BodyRange = { offset: 0, length: 0 }
const decode = (fields: ArrowField[], batches: CheckedRecordBatch[], specs: ColumnSpec[], limit = 1 << 20) =>
  tensorsFromArrow(fields, batches, specs, new TensorBudget(limit))
/** One scalar column of `type` holding `values`. */
function scalars(name: string, type: ArrowType, values: Array<number | bigint>) {
  const f = field(name, type)
  const { bytes, at } = body(le(type.width, ...values))
  return { fields: [f], batches: [batch(values.length, bytes, arr(f, values.length, [NONE, at[0] as BodyRange]))] }
}

const refused = (f: () => unknown, message: string) => expectRefusal(f, InvalidInputError, message)

describe('columns for inputs', () => {
  it('takes the column named as the input before one named in.<input>, and refuses a missing one', () => {
    const x = field('x', I8)
    const inX = field('in.x', I8)
    const inY = field('in.y', I8)
    const { bytes, at } = body(le(1, 1, 2), le(1, 3, 4), le(1, 5, 6))
    const b = batch(
      2,
      bytes,
      arr(inX, 2, [NONE, at[0] as BodyRange]),
      arr(x, 2, [NONE, at[1] as BodyRange]),
      arr(inY, 2, [NONE, at[2] as BodyRange]),
    )
    const feeds = decode([inX, x, inY], [b], [spec('x', 'int8'), spec('y', 'int8')])
    expect(values(feeds.x)).toEqual([3, 4])
    expect(values(feeds.y)).toEqual([5, 6])
    refused(() => decode([inX, x, inY], [b], [spec('z', 'int8')]), "missing column for input 'z'")
  })
})

describe('int and float columns', () => {
  it('copies a column of the same type byte for byte, float16 included', () => {
    const h = scalars('h', F16, [0x3c00, 0xc000, 0x7bff])
    expect(decode(h.fields, h.batches, [spec('h', 'float16')]).h).toEqual({
      dtype: 'float16',
      dims: [3],
      data: Uint16Array.of(0x3c00, 0xc000, 0x7bff),
    })
    const u = scalars('u', U32, [4000000000, 7])
    expect(decode(u.fields, u.batches, [spec('u', 'uint32')]).u).toEqual({
      dtype: 'uint32',
      dims: [2],
      data: Uint32Array.of(4000000000, 7),
    })
  })

  it('converts an int column to a float input by value, not by its bytes', () => {
    const i = scalars('i', I32, [1, -2, 300])
    expect(values(decode(i.fields, i.batches, [spec('i', 'float32')]).i)).toEqual([1, -2, 300])
  })

  it.each<[ArrowType, Array<number | bigint>, ColumnSpec['dtype'], string]>([
    [I8, [5, -1], 'uint8', 'is -1; expected an integer in [0, 255] (uint8)'],
    [U8, [5, 200], 'int8', 'is 200; expected an integer in [-128, 127] (int8)'],
    [I16, [5, -2], 'uint16', 'is -2; expected an integer in [0, 65535] (uint16)'],
    [U16, [5, 40000], 'int16', 'is 40000; expected an integer in [-32768, 32767] (int16)'],
    [I32, [5, -3], 'uint32', 'is -3; expected an integer in [0, 4294967295] (uint32)'],
    [U32, [5, 3000000000], 'int32', 'is 3000000000; expected an integer in [-2147483648, 2147483647] (int32)'],
    [I64, [5n, -4n], 'uint64', 'is -4; expected an integer in [0, 18446744073709551615] (uint64)'],
    [
      U64,
      [5n, 9223372036854775808n],
      'int64',
      'is 9223372036854775808; expected an integer in [-9223372036854775808, 9223372036854775807] (int64)',
    ],
  ])('range-checks a %s column of the other signedness (%s, %s)', (type, values, dtype, why) => {
    const c = scalars('c', type, values)
    refused(() => decode(c.fields, c.batches, [spec('c', dtype)]), `input 'c' (Arrow) row 1 ${why}`)
  })

  it('takes a float16 input only from a float16 column', () => {
    const f = scalars('f', F32, [1])
    refused(
      () => decode(f.fields, f.batches, [spec('f', 'float16')]),
      "input 'f' (Arrow): column 'f' holds float32; float16 takes float16, as scalars or (fixed-size) lists nested less than 32 deep",
    )
    const i = scalars('i', I16, [1])
    refused(
      () => decode(i.fields, i.batches, [spec('i', 'float16')]),
      "input 'i' (Arrow): column 'i' holds int16; float16 takes float16, as scalars or (fixed-size) lists nested less than 32 deep",
    )
  })
})

describe('types an input takes', () => {
  const bools = () => {
    const f = field('b', BOOL)
    const { bytes, at } = body([0b101])
    return { fields: [f], batches: [batch(3, bytes, arr(f, 3, [NONE, at[0] as BodyRange]))] }
  }
  const strings = (type: ArrowType) => {
    const f = field('s', type)
    const { bytes, at } = body(le(4, 0, 2, 3), [104, 105, 33])
    return { fields: [f], batches: [batch(2, bytes, arr(f, 2, [NONE, at[0] as BodyRange, at[1] as BodyRange]))] }
  }

  it('takes bools for bool and string inputs, not for number inputs', () => {
    const b = bools()
    expect(values(decode(b.fields, b.batches, [spec('b', 'bool')]).b)).toEqual([1, 0, 1])
    expect(decode(b.fields, b.batches, [spec('b', 'string')]).b).toEqual({
      dtype: 'string',
      dims: [3],
      data: ['true', 'false', 'true'],
    })
    refused(
      () => decode(b.fields, b.batches, [spec('b', 'float32')]),
      "input 'b' (Arrow): column 'b' holds bool; float32 takes ints or floats, as scalars or (fixed-size) lists nested less than 32 deep",
    )
  })

  it('takes numbers and utf8 for string inputs, not binary or timestamps', () => {
    const i = scalars('i', I16, [-3, 40])
    expect(decode(i.fields, i.batches, [spec('i', 'string')]).i).toEqual({
      dtype: 'string',
      dims: [2],
      data: ['-3', '40'],
    })
    const s = strings(UTF8)
    expect(decode(s.fields, s.batches, [spec('s', 'string')]).s).toEqual({
      dtype: 'string',
      dims: [2],
      data: ['hi', '!'],
    })
    const bin = strings(BINARY)
    refused(
      () => decode(bin.fields, bin.batches, [spec('s', 'string')]),
      "input 's' (Arrow): column 's' holds binary; string takes utf8 strings (plain or dictionary-encoded) or numbers, as scalars or (fixed-size) lists nested less than 32 deep",
    )
    const ts = scalars('t', TIMESTAMP, [1n])
    refused(
      () => decode(ts.fields, ts.batches, [spec('t', 'string')]),
      "input 't' (Arrow): column 't' holds timestamp[ms]; string takes utf8 strings (plain or dictionary-encoded) or numbers, as scalars or (fixed-size) lists nested less than 32 deep",
    )
  })

  it('refuses utf8 for a bool input, naming what bool takes', () => {
    const s = strings(UTF8)
    refused(
      () => decode(s.fields, s.batches, [spec('s', 'bool')]),
      "input 's' (Arrow): column 's' holds utf8; bool takes ints or floats (0 or 1) or bools, as scalars or (fixed-size) lists nested less than 32 deep",
    )
  })

  it('takes dictionary-encoded utf8 for a string input only, and only as scalars', () => {
    const dictionary = { id: 0, indexType: I32 }
    const key = { ...field('k', UTF8), dictionary }
    const none: CheckedRecordBatch[] = []
    refused(
      () => decode([key], none, [spec('k', 'float32')]),
      "input 'k' (Arrow): column 'k' holds dictionary<utf8>; float32 takes ints or floats, as scalars or (fixed-size) lists nested less than 32 deep",
    )
    const ints = { ...field('k', I32), dictionary }
    refused(
      () => decode([ints], none, [spec('k', 'string')]),
      "input 'k' (Arrow): column 'k' holds dictionary<int32>; string takes utf8 strings (plain or dictionary-encoded) or numbers, as scalars or (fixed-size) lists nested less than 32 deep",
    )
    const listed = field('l', list('utf8'), [key])
    refused(
      () => decode([listed], none, [spec('l', 'string', ['N', 2])]),
      "input 'l' (Arrow): column 'l' holds dictionary<utf8> in 1 list levels; string takes utf8 strings (plain or dictionary-encoded) or numbers, as scalars or (fixed-size) lists nested less than 32 deep",
    )
    expect(decode([key], none, [spec('k', 'string')]).k).toEqual({ dtype: 'string', dims: [0], data: [] })
  })

  it('does not take a map for a list level', () => {
    const entries = field('entries', STRUCT, [field('key', UTF8), field('value', F32)])
    const map = field('m', t(17, 'list', 4, 'map<struct>', false), [entries])
    refused(
      () => decode([map], [], [spec('m', 'float32', ['N', 1])]),
      "input 'm' (Arrow): column 'm' holds map<struct>; float32 takes ints or floats, as scalars or (fixed-size) lists nested less than 32 deep",
    )
  })

  it('takes lists nested 31 deep, not 32', () => {
    const nest = (levels: number) => {
      let f = field('', F32)
      const { bytes, at } = body(le(4, 0x3fc00000))
      let a = arr(f, 1, [NONE, at[0] as BodyRange])
      for (let k = 0; k < levels; k++) {
        f = field(k === levels - 1 ? 'x' : '', fixedList(1, f.type.name), [f])
        a = arr(f, 1, [NONE], [a])
      }
      return { fields: [f], batches: [batch(1, bytes, a)] }
    }
    const ok = nest(31)
    const x = decode(ok.fields, ok.batches, [spec('x', 'float32', ['N'])]).x
    expect(x?.dims).toEqual(Array.from({ length: 32 }, () => 1))
    expect(values(x)).toEqual([1.5])
    const deep = nest(32)
    refused(
      () => decode(deep.fields, deep.batches, [spec('x', 'float32', ['N'])]),
      "input 'x' (Arrow): column 'x' holds float32 in 32 list levels; float32 takes ints or floats, as scalars or (fixed-size) lists nested less than 32 deep",
    )
  })
})

describe('rows of lists', () => {
  it('cuts list rows where the offsets say, when they start past 0 (a sliced array)', () => {
    const leaf = field('item', I16)
    const l = field('l', list('int16'), [leaf])
    const { bytes, at } = body(le(4, 3, 5, 7), le(2, 9, 9, 9, 10, -11, 12, 13))
    const a = arr(l, 2, [NONE, at[0] as BodyRange], [arr(leaf, 7, [NONE, at[1] as BodyRange])])
    const same = decode([l], [batch(2, bytes, a)], [spec('l', 'int16', ['N', 2])]).l
    expect(same?.dims).toEqual([2, 2])
    expect(values(same)).toEqual([10, -11, 12, 13])
    const converted = decode([l], [batch(2, bytes, a)], [spec('l', 'float64', ['N', 2])]).l
    expect(values(converted)).toEqual([10, -11, 12, 13])
  })

  it('steps into a fixed-size list below a list from where the list starts', () => {
    const leaf = field('', I16)
    const pairs = field('item', fixedList(2, 'int16'), [leaf])
    const l = field('l', list('fixed_size_list<int16, 2>'), [pairs])
    const { bytes, at } = body(le(4, 1, 2, 3), le(2, 99, 98, 1, 2, 3, 4))
    const a = arr(l, 2, [NONE, at[0] as BodyRange], [arr(pairs, 3, [NONE], [arr(leaf, 6, [NONE, at[1] as BodyRange])])])
    const x = decode([l], [batch(2, bytes, a)], [spec('l', 'int16', ['N', 1, 2])]).l
    expect(x?.dims).toEqual([2, 1, 2])
    expect(values(x)).toEqual([1, 2, 3, 4])
  })

  it('reads the row shape of nested lists from the first row, wherever its offsets start', () => {
    const leaf = field('', I8)
    const inner = field('item', list('int8'), [leaf])
    const outer = field('l', list('list<int8>'), [inner])
    const { bytes, at } = body(le(4, 1, 3, 5), le(4, 0, 1, 3, 5, 7, 9), le(1, 50, 1, 2, 3, 4, 5, 6, 7, 8))
    const a = arr(
      outer,
      2,
      [NONE, at[0] as BodyRange],
      [arr(inner, 5, [NONE, at[1] as BodyRange], [arr(leaf, 9, [NONE, at[2] as BodyRange])])],
    )
    const x = decode([outer], [batch(2, bytes, a)], [spec('l', 'int8', ['N', 2, 2])]).l
    expect(x?.dims).toEqual([2, 2, 2])
    expect(values(x)).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
  })

  it('reads a list below a fixed-size list below a list, each from where its parent starts', () => {
    const leaf = field('', I8)
    const inner = field('', list('int8'), [leaf])
    const pairs = field('item', fixedList(2, 'list<int8>'), [inner])
    const outer = field('l', list('fixed_size_list<list<int8>, 2>'), [pairs])
    const { bytes, at } = body(le(4, 1, 2, 3), le(4, 0, 3, 3, 5, 7, 9, 11), le(1, 90, 91, 92, 1, 2, 3, 4, 5, 6, 7, 8))
    const a = arr(
      outer,
      2,
      [NONE, at[0] as BodyRange],
      [arr(pairs, 3, [NONE], [arr(inner, 6, [NONE, at[1] as BodyRange], [arr(leaf, 11, [NONE, at[2] as BodyRange])])])],
    )
    const x = decode([outer], [batch(2, bytes, a)], [spec('l', 'int8', ['N', 1, 2, 2])]).l
    expect(x?.dims).toEqual([2, 1, 2, 2])
    expect(values(x)).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
  })

  it('reads no offsets below a level whose rows are empty', () => {
    const leaf = field('', I8)
    const inner = field('item', list('int8'), [leaf])
    const outer = field('l', list('list<int8>'), [inner])
    const { bytes, at } = body(le(4, 0, 0, 0))
    const end: BodyRange = { offset: bytes.length, length: 0 }
    const a = arr(outer, 2, [NONE, at[0] as BodyRange], [arr(inner, 0, [NONE, end], [arr(leaf, 0, [NONE, end])])])
    expect(decode([outer], [batch(2, bytes, a)], [spec('l', 'int8', ['N', 0, 0])]).l).toEqual({
      dtype: 'int8',
      dims: [2, 0, 0],
      data: new Int8Array(0),
    })
  })

  it('takes the row shape from the first batch with rows, and reads nothing of empty batches', () => {
    const leaf = field('item', F32)
    const l = field('l', list('float32'), [leaf])
    const end = { offset: 8, length: 0 }
    const empty = batch(0, new Uint8Array(8), arr(l, 0, [NONE, end], [arr(leaf, 0, [NONE, end])]))
    const { bytes, at } = body(le(4, 0, 2), le(4, 0x3f800000, 0xc0000000))
    const rows = batch(1, bytes, arr(l, 1, [NONE, at[0] as BodyRange], [arr(leaf, 2, [NONE, at[1] as BodyRange])]))
    const x = decode([l], [empty, rows, empty], [spec('l', 'float32', ['N', 2])]).l
    expect(x?.dims).toEqual([1, 2])
    expect(values(x)).toEqual([1, -2])
  })

  it('gives fixed sizes, and 0 for lists, when no batch has rows', () => {
    const fixed = field('f', fixedList(3, 'float32'), [field('', F32)])
    const l = field('l', list('float32'), [field('item', F32)])
    const feeds = decode([fixed, l], [], [spec('f', 'float32', ['N', 3]), spec('l', 'float32', ['N', 0])])
    expect([feeds.f?.dims, feeds.l?.dims]).toEqual([
      [0, 3],
      [0, 0],
    ])
  })

  it('refuses a shape past the request’s limit before reserving it', () => {
    const leaf = field('', F32)
    const v = field('v', fixedList(2, 'float32'), [leaf])
    const { bytes, at } = body(le(4, 1, 2, 3, 4, 5, 6))
    const b = batch(3, bytes, arr(v, 3, [NONE], [arr(leaf, 6, [NONE, at[0] as BodyRange])]))
    refused(
      () => decode([v], [b], [spec('v', 'float32', ['N', 2])], 5),
      "input 'v' (Arrow): shape [3,2] holds more values than the request may decode to",
    )
  })
})

describe('nulls', () => {
  it('names the row of a null in a later batch, counting earlier batches and list sizes', () => {
    const leaf = field('', F32)
    const v = field('v', fixedList(2, 'float32'), [leaf])
    const first = body(le(4, 1, 2, 3, 4))
    const a = batch(2, first.bytes, arr(v, 2, [NONE], [arr(leaf, 4, [NONE, first.at[0] as BodyRange])]))
    const second = body([0b0111], le(4, 5, 6, 7, 8))
    const b = batch(
      2,
      second.bytes,
      arr(v, 2, [NONE], [arr(leaf, 4, [second.at[0] as BodyRange, second.at[1] as BodyRange], [], 1)]),
    )
    refused(
      () => decode([v], [a, b], [spec('v', 'float32', ['N', 2])]),
      "input 'v' (Arrow) row 3 is null; inputs take no missing values",
    )
  })

  it('reads the validity bit of a row in its byte of the bitmap', () => {
    const x = field('x', I8)
    const { bytes, at } = body([0xff, 0b01], le(1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9))
    bytes[7] = 0xff
    const b = batch(10, bytes, arr(x, 10, [at[0] as BodyRange, at[1] as BodyRange], [], 1))
    refused(
      () => decode([x], [b], [spec('x', 'int8')]),
      "input 'x' (Arrow) row 9 is null; inputs take no missing values",
    )
  })

  it('takes a null no row uses (a child entry past the last offset)', () => {
    const leaf = field('item', F32)
    const l = field('l', list('float32'), [leaf])
    const { bytes, at } = body(le(4, 0, 2, 4), [0b01111], le(4, 0x3f800000, 0x40000000, 0x40400000, 0x40800000, 0))
    const a = arr(l, 2, [NONE, at[0] as BodyRange], [arr(leaf, 5, [at[1] as BodyRange, at[2] as BodyRange], [], 1)])
    const x = decode([l], [batch(2, bytes, a)], [spec('l', 'float32', ['N', 2])]).l
    expect(values(x)).toEqual([1, 2, 3, 4])
  })
})
