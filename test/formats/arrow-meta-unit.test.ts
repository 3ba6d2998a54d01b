/**
 * Arrow IPC message metadata (Message.fbs, Schema.fbs) parsed from flatbuffers written by hand
 * with test/formats/flatbuffer-write.ts, field by field as the format defines them
 * (https://arrow.apache.org/docs/format/Columnar.html#serialization-and-interprocess-communication-ipc):
 * each type's width and name, each header's counts, and the exact refusal of every lie and of
 * every type lastmile does not read. A last test reads schemas flechette wrote.
 */
import {
  dateDay,
  decimal,
  dictionary,
  duration,
  fixedSizeBinary,
  fixedSizeList,
  float16,
  int16,
  interval,
  largeList,
  largeUtf8,
  map,
  tableFromArrays,
  tableToIPC,
  time,
  timestamp,
  uint8,
  utf8,
} from '@uwdata/flechette'
import { describe, expect, it } from 'vitest'
import { InvalidRequestError } from '../../src/errors.js'
import { columnName, type MessageMeta, parseMessage } from '../../src/formats/arrow-meta.js'
import { messagesOf } from '../fuzz/arrow-craft.js'
import { refusal as thrown } from '../helpers/refusal.js'
import { build, i16, i32, i64, longs, type Obj, pairs, str, table, tables, u8 } from './flatbuffer-write.js'

/** Message: version, header type, header, body length. */
const message = (type: number, header: Obj | undefined, bodyLength?: number, version = 4) =>
  table(i16(version), u8(type), header, bodyLength === undefined ? undefined : i64(bodyLength))
const parse = (root: Obj, size?: number) => parseMessage(build(root, size), 'message 1')

/** What `f` threw, checked to be an InvalidRequestError. */
function refusal(f: () => unknown): Error {
  const e = thrown(f)
  expect(e).toBeInstanceOf(InvalidRequestError)
  return e
}
const malformed = (what: string) => `message 1 is malformed: ${what}`

/** RecordBatch: length, nodes, buffers, compression, variadic buffer counts. */
const batch = (
  length: number | undefined,
  nodes?: Array<[number, number]>,
  buffers?: Array<[number, number]>,
  extra: { compression?: Obj; variadic?: number[] } = {},
) =>
  table(
    length === undefined ? undefined : i64(length),
    nodes && pairs(...nodes),
    buffers && pairs(...buffers),
    extra.compression,
    extra.variadic && longs(...extra.variadic),
  )

describe('columnName', () => {
  it('names top-level, struct and list columns', () => {
    expect(columnName('', 'x')).toBe('x')
    expect(columnName('s', 'a')).toBe('s.a')
    expect(columnName('s.a', '')).toBe('s.a[]')
    expect(columnName('', '')).toBe('')
  })
})

describe('messages', () => {
  const record = batch(2, [[2, 0]], [[0, 8]])

  it('reads a record batch message of V4 and of V5', () => {
    const expected: MessageMeta = {
      type: 3,
      bodyLength: 16,
      batch: { length: 2, nodes: [{ length: 2, nullCount: 0 }], buffers: [{ offset: 0, length: 8 }] },
    }
    expect(parse(message(3, record, 16, 3))).toEqual(expected)
    expect(parse(message(3, record, 16, 4))).toEqual(expected)
  })

  it('refuses metadata versions before V4 and after V5, naming them as Arrow does (V1 = 0)', () => {
    for (const [version, name] of [
      [0, 'V1'],
      [2, 'V3'],
      [5, 'V6'],
      [-1, 'V0'],
    ] as const) {
      expect(refusal(() => parse(message(3, record, 16, version))).message).toBe(
        malformed(`metadata version ${name}; Arrow IPC V4 and V5 (Arrow 0.8 and later) are read`),
      )
    }
    // Absent, the version is V1's 0.
    expect(refusal(() => parse(table(undefined, u8(3), record, i64(16)))).message).toBe(
      malformed('metadata version V1; Arrow IPC V4 and V5 (Arrow 0.8 and later) are read'),
    )
  })

  it('takes an absent body length as 0 and refuses a negative one', () => {
    expect(parse(message(3, batch(0)))).toEqual({
      type: 3,
      bodyLength: 0,
      batch: { length: 0, nodes: [], buffers: [] },
    })
    expect(refusal(() => parse(message(3, batch(0), -1))).message).toBe(malformed('a negative body length -1'))
  })

  it('refuses a message without a header, and header types it does not read', () => {
    expect(refusal(() => parse(message(3, undefined, 16))).message).toBe(malformed('a message without a header'))
    expect(refusal(() => parse(message(1, undefined))).message).toBe(malformed('a message without a header'))
    for (const type of [0, 4, 5]) {
      expect(refusal(() => parse(message(type, record, 16))).message).toBe(
        malformed(`message type ${type}; schema, dictionary batch and record batch messages are read`),
      )
    }
  })

  it('reads a dictionary batch: its id, whether it is a delta, and its data', () => {
    const data = batch(3, [[3, 1]], [[8, 8]])
    const dict = (id: number | undefined, delta: number | undefined) =>
      message(2, table(id === undefined ? undefined : i64(id), data, delta === undefined ? undefined : u8(delta)), 16)
    const expected = { length: 3, nodes: [{ length: 3, nullCount: 1 }], buffers: [{ offset: 8, length: 8 }] }
    expect(parse(dict(7, 1))).toEqual({ type: 2, bodyLength: 16, id: 7, isDelta: true, batch: expected })
    expect(parse(dict(7, 0))).toEqual({ type: 2, bodyLength: 16, id: 7, isDelta: false, batch: expected })
    expect(parse(dict(undefined, undefined))).toEqual({
      type: 2,
      bodyLength: 16,
      id: 0,
      isDelta: false,
      batch: expected,
    })
    expect(refusal(() => parse(message(2, table(i64(7)), 16))).message).toBe(
      malformed('a dictionary batch without data'),
    )
    // The data's buffers are checked against the message's body.
    expect(refusal(() => parse(message(2, table(i64(7), data), 15))).message).toBe(
      malformed('buffer 0 (offset 8, 8 bytes) lies outside the 15-byte body'),
    )
  })
})

describe('record batch headers', () => {
  const body = (b: Obj, bodyLength = 32) => parse(message(3, b, bodyLength))

  it('reads every node and buffer, in order', () => {
    expect(
      body(
        batch(
          5,
          [
            [5, 5],
            [4, 0],
            [9, 2],
          ],
          [
            [0, 0],
            [0, 8],
            [8, 24],
          ],
        ),
      ),
    ).toEqual({
      type: 3,
      bodyLength: 32,
      batch: {
        length: 5,
        nodes: [
          { length: 5, nullCount: 5 },
          { length: 4, nullCount: 0 },
          { length: 9, nullCount: 2 },
        ],
        buffers: [
          { offset: 0, length: 0 },
          { offset: 0, length: 8 },
          { offset: 8, length: 24 },
        ],
      },
    })
  })

  it('refuses a negative length', () => {
    expect(refusal(() => body(batch(-3))).message).toBe(malformed('a negative record batch length -3'))
  })

  it('refuses field nodes with a negative length or null count, or more nulls than values', () => {
    for (const [node, text] of [
      [[3, 4], 'length 3 and null count 4'],
      [[-1, 0], 'length -1 and null count 0'],
      [[2, -1], 'length 2 and null count -1'],
      [[-2, -3], 'length -2 and null count -3'],
    ] as const) {
      expect(refusal(() => body(batch(3, [[3, 0], [...node]]))).message).toBe(malformed(`field node 1 has ${text}`))
    }
  })

  it('refuses buffers that start before the body, are negative, or end past it', () => {
    const two = (second: [number, number]) => body(batch(1, [[1, 0]], [[0, 8], second]), 16)
    expect(two([8, 8]).type).toBe(3)
    for (const [range, text] of [
      [[8, 9], 'buffer 1 (offset 8, 9 bytes) lies outside the 16-byte body'],
      [[16, 1], 'buffer 1 (offset 16, 1 bytes) lies outside the 16-byte body'],
      [[-1, 2], 'buffer 1 (offset -1, 2 bytes) lies outside the 16-byte body'],
      [[8, -1], 'buffer 1 (offset 8, -1 bytes) lies outside the 16-byte body'],
    ] as const) {
      expect(refusal(() => two([...range])).message).toBe(malformed(text))
    }
  })

  it('refuses compressed bodies and variadic buffers, and takes an empty variadic vector', () => {
    const compressed = refusal(() => body(batch(1, [], [], { compression: table(u8(0)) })))
    expect(compressed.message).toBe('compressed Arrow bodies (LZ4, ZSTD) are not supported: write without compression')
    expect(refusal(() => body(batch(1, [], [], { variadic: [4] }))).message).toBe(
      malformed('variadic buffers (view types are not read)'),
    )
    expect(body(batch(1, [], [], { variadic: [] }))).toEqual({
      type: 3,
      bodyLength: 32,
      batch: { length: 1, nodes: [], buffers: [] },
    })
  })
})

/** Field: name, nullable, type id, type table, dictionary encoding, children, custom metadata. */
const field = (
  name: string | undefined,
  typeId: number,
  type?: Obj,
  children?: Obj[],
  extra: { dictionary?: Obj; metadata?: Obj } = {},
) =>
  table(
    name === undefined ? undefined : str(name),
    undefined,
    u8(typeId),
    type,
    extra.dictionary,
    children && tables(...children),
    extra.metadata,
  )
/** Schema: endianness, fields, custom metadata. */
const schema = (fields: Obj[], extra: { endianness?: number; metadata?: Obj } = {}) =>
  table(extra.endianness === undefined ? undefined : i16(extra.endianness), tables(...fields), extra.metadata)
function readSchema(s: Obj, size?: number) {
  const m = parse(message(1, s), size)
  if (m.type !== 1) throw new Error(`a message of type ${m.type}`)
  return m.schema
}
/** The type of a one-column schema's column 'c'. */
const typeOf = (typeId: number, type?: Obj, children?: Obj[]) =>
  readSchema(schema([field('c', typeId, type, children)])).fields[0]?.type

const intType = (bits: number, signed: boolean) => table(i32(bits), u8(signed ? 1 : 0))
const type = (id: number, layout: string, width: number, signed: boolean, name: string) => ({
  id,
  layout,
  width,
  signed,
  name,
})
const INT8 = type(2, 'fixed', 1, true, 'int8')
const FLOAT32 = type(3, 'fixed', 4, true, 'float32')
const UTF8 = type(5, 'bytes', 4, false, 'utf8')

describe('schema types', () => {
  it('reads ints of 8 to 64 bits, signed and unsigned', () => {
    expect(typeOf(2, intType(8, true))).toEqual(INT8)
    expect(typeOf(2, intType(16, false))).toEqual(type(2, 'fixed', 2, false, 'uint16'))
    expect(typeOf(2, intType(32, true))).toEqual(type(2, 'fixed', 4, true, 'int32'))
    expect(typeOf(2, intType(64, false))).toEqual(type(2, 'fixed', 8, false, 'uint64'))
    expect(typeOf(2, intType(64, true))).toEqual(type(2, 'fixed', 8, true, 'int64'))
    // is_signed absent: false.
    expect(typeOf(2, table(i32(8)))).toEqual(type(2, 'fixed', 1, false, 'uint8'))
  })

  it('refuses ints of other widths, and an int without its table', () => {
    for (const [bits, text] of [
      [24, 'int of 24 bits'],
      [128, 'int of 128 bits'],
      [0, 'int of 0 bits'],
      [-8, 'int of -8 bits'],
    ] as const) {
      const error = refusal(() => typeOf(2, intType(bits, true)))
      expect(error.message).toBe(`column 'c' has Arrow type ${text}, which lastmile does not read`)
    }
    expect(refusal(() => typeOf(2)).message).toBe(
      "column 'c' has Arrow type int of 0 bits, which lastmile does not read",
    )
  })

  it('reads floats of half, single and double precision, half by default', () => {
    expect(typeOf(3, table(i16(0)))).toEqual(type(3, 'fixed', 2, true, 'float16'))
    expect(typeOf(3, table(i16(1)))).toEqual(FLOAT32)
    expect(typeOf(3, table(i16(2)))).toEqual(type(3, 'fixed', 8, true, 'float64'))
    expect(typeOf(3, table())).toEqual(type(3, 'fixed', 2, true, 'float16'))
    expect(typeOf(3)).toEqual(type(3, 'fixed', 2, true, 'float16'))
    expect(refusal(() => typeOf(3, table(i16(3)))).message).toBe(
      "column 'c' has Arrow type float of precision 3, which lastmile does not read",
    )
    expect(refusal(() => typeOf(3, table(i16(-1)))).message).toBe(
      "column 'c' has Arrow type float of precision -1, which lastmile does not read",
    )
  })

  it('reads null, bool, and binary and utf8 with 32- and 64-bit offsets', () => {
    expect(typeOf(1, table())).toEqual(type(1, 'null', 0, false, 'null'))
    expect(typeOf(6, table())).toEqual(type(6, 'bool', 0, false, 'bool'))
    expect(typeOf(4, table())).toEqual(type(4, 'bytes', 4, false, 'binary'))
    expect(typeOf(19, table())).toEqual(type(19, 'bytes', 8, false, 'large_binary'))
    expect(typeOf(5, table())).toEqual(UTF8)
    expect(typeOf(20, table())).toEqual(type(20, 'bytes', 8, false, 'large_utf8'))
  })

  it('reads decimals of 32 to 256 bits, 128 by default', () => {
    const dec = (bits?: number) => table(i32(10), i32(2), bits === undefined ? undefined : i32(bits))
    expect(typeOf(7, dec(32))).toEqual(type(7, 'fixed', 4, true, 'decimal32'))
    expect(typeOf(7, dec(64))).toEqual(type(7, 'fixed', 8, true, 'decimal64'))
    expect(typeOf(7, dec(128))).toEqual(type(7, 'fixed', 16, true, 'decimal128'))
    expect(typeOf(7, dec(256))).toEqual(type(7, 'fixed', 32, true, 'decimal256'))
    expect(typeOf(7, dec())).toEqual(type(7, 'fixed', 16, true, 'decimal128'))
    expect(typeOf(7)).toEqual(type(7, 'fixed', 16, true, 'decimal128'))
    expect(refusal(() => typeOf(7, dec(16))).message).toBe(
      "column 'c' has Arrow type decimal of 16 bits, which lastmile does not read",
    )
  })

  it('reads dates: days in 32 bits, milliseconds (the default) in 64', () => {
    expect(typeOf(8, table(i16(0)))).toEqual(type(8, 'fixed', 4, true, 'date32'))
    expect(typeOf(8, table(i16(1)))).toEqual(type(8, 'fixed', 8, true, 'date64'))
    expect(typeOf(8, table())).toEqual(type(8, 'fixed', 8, true, 'date64'))
    expect(typeOf(8)).toEqual(type(8, 'fixed', 8, true, 'date64'))
  })

  it('reads times: s and ms in 32 bits, us and ns in 64, ms by default', () => {
    expect(typeOf(9, table(i16(0)))).toEqual(type(9, 'fixed', 4, true, 'time[s]'))
    expect(typeOf(9, table(i16(1)))).toEqual(type(9, 'fixed', 4, true, 'time[ms]'))
    expect(typeOf(9, table(i16(2)))).toEqual(type(9, 'fixed', 8, true, 'time[us]'))
    expect(typeOf(9, table(i16(3)))).toEqual(type(9, 'fixed', 8, true, 'time[ns]'))
    expect(typeOf(9, table())).toEqual(type(9, 'fixed', 4, true, 'time[ms]'))
    for (const unit of [4, -1]) {
      expect(refusal(() => typeOf(9, table(i16(unit)))).message).toBe(
        `column 'c' has Arrow type time of unit ${unit}, which lastmile does not read`,
      )
    }
  })

  it('reads timestamps (s by default) and durations (ms by default) in 64 bits', () => {
    expect(typeOf(10, table())).toEqual(type(10, 'fixed', 8, true, 'timestamp[s]'))
    expect(typeOf(10)).toEqual(type(10, 'fixed', 8, true, 'timestamp[s]'))
    expect(typeOf(10, table(i16(1), str('UTC')))).toEqual(type(10, 'fixed', 8, true, 'timestamp[ms]'))
    expect(typeOf(10, table(i16(3)))).toEqual(type(10, 'fixed', 8, true, 'timestamp[ns]'))
    expect(typeOf(18, table())).toEqual(type(18, 'fixed', 8, true, 'duration[ms]'))
    expect(typeOf(18)).toEqual(type(18, 'fixed', 8, true, 'duration[ms]'))
    expect(typeOf(18, table(i16(0)))).toEqual(type(18, 'fixed', 8, true, 'duration[s]'))
    expect(typeOf(18, table(i16(2)))).toEqual(type(18, 'fixed', 8, true, 'duration[us]'))
    expect(refusal(() => typeOf(10, table(i16(4)))).message).toBe(
      "column 'c' has Arrow type timestamp of unit 4, which lastmile does not read",
    )
    expect(refusal(() => typeOf(18, table(i16(5)))).message).toBe(
      "column 'c' has Arrow type duration of unit 5, which lastmile does not read",
    )
  })

  it('reads intervals of 4, 8 and 16 bytes by unit', () => {
    expect(typeOf(11, table(i16(0)))).toEqual(type(11, 'fixed', 4, true, 'interval'))
    expect(typeOf(11, table(i16(1)))).toEqual(type(11, 'fixed', 8, true, 'interval'))
    expect(typeOf(11, table(i16(2)))).toEqual(type(11, 'fixed', 16, true, 'interval'))
    expect(typeOf(11)).toEqual(type(11, 'fixed', 4, true, 'interval'))
    expect(refusal(() => typeOf(11, table(i16(3)))).message).toBe(
      "column 'c' has Arrow type interval of unit 3, which lastmile does not read",
    )
  })

  it('reads fixed-size binary of any width from 0, and refuses a negative one', () => {
    expect(typeOf(15, table(i32(6)))).toEqual(type(15, 'fixed', 6, false, 'fixed_size_binary[6]'))
    expect(typeOf(15, table(i32(0)))).toEqual(type(15, 'fixed', 0, false, 'fixed_size_binary[0]'))
    expect(typeOf(15)).toEqual(type(15, 'fixed', 0, false, 'fixed_size_binary[0]'))
    expect(refusal(() => typeOf(15, table(i32(-1)))).message).toBe(
      malformed("column 'c' has a fixed-size binary of -1 bytes"),
    )
  })

  it('refuses unions, run-end encoding, views and unknown ids by name', () => {
    for (const [id, name] of [
      [14, 'union'],
      [22, 'run_end_encoded'],
      [23, 'binary_view'],
      [24, 'utf8_view'],
      [25, 'list_view'],
      [26, 'large_list_view'],
      [27, 'id 27'],
      [0, 'id 0'],
    ] as const) {
      expect(refusal(() => typeOf(id, table())).message).toBe(
        `column 'c' has Arrow type ${name}, which lastmile does not read`,
      )
    }
  })
})

describe('nested schema types', () => {
  const int8Child = () => field(undefined, 2, intType(8, true))
  const leaf = (name: string, t: object) => ({ name, type: t, children: [] })

  it('reads lists with 32- and 64-bit offsets, naming their values type', () => {
    const [list] = readSchema(schema([field('l', 12, table(), [int8Child()])])).fields
    expect(list).toEqual({ name: 'l', type: type(12, 'list', 4, false, 'list<int8>'), children: [leaf('', INT8)] })
    const [large] = readSchema(schema([field('l', 21, table(), [field('v', 5, table())])])).fields
    expect(large).toEqual({
      name: 'l',
      type: type(21, 'list', 8, false, 'large_list<utf8>'),
      children: [leaf('v', UTF8)],
    })
  })

  it('refuses a list without exactly one child', () => {
    expect(refusal(() => typeOf(12, table(), [])).message).toBe(
      malformed("column 'c' (list) has 0 child fields, expected 1"),
    )
    expect(refusal(() => typeOf(12, table())).message).toBe(
      malformed("column 'c' (list) has 0 child fields, expected 1"),
    )
    expect(refusal(() => typeOf(21, table(), [int8Child(), int8Child()])).message).toBe(
      malformed("column 'c' (large_list) has 2 child fields, expected 1"),
    )
  })

  it('reads fixed-size lists of any size from 0, and refuses a negative size', () => {
    expect(typeOf(16, table(i32(3)), [field(undefined, 3, table(i16(1)))])).toEqual(
      type(16, 'fixed-list', 3, false, 'fixed_size_list<float32, 3>'),
    )
    expect(typeOf(16, table(i32(0)), [int8Child()])).toEqual(
      type(16, 'fixed-list', 0, false, 'fixed_size_list<int8, 0>'),
    )
    expect(typeOf(16, undefined, [int8Child()])).toEqual(type(16, 'fixed-list', 0, false, 'fixed_size_list<int8, 0>'))
    expect(refusal(() => typeOf(16, table(i32(-2)), [int8Child()])).message).toBe(
      malformed("column 'c' has a fixed-size list of -2 values"),
    )
    expect(refusal(() => typeOf(16, table(i32(2)), [])).message).toBe(
      malformed("column 'c' (fixed_size_list) has 0 child fields, expected 1"),
    )
  })

  it('reads structs of any number of fields, naming nested columns by path', () => {
    const [s] = readSchema(schema([field('s', 13, table(), [int8Child(), field('b', 6, table())])])).fields
    expect(s).toEqual({
      name: 's',
      type: type(13, 'struct', 0, false, 'struct'),
      children: [leaf('', INT8), leaf('b', type(6, 'bool', 0, false, 'bool'))],
    })
    expect(typeOf(13, table(), [])).toEqual(type(13, 'struct', 0, false, 'struct'))
    // A struct's field is named s.a, a list's values s.a[].
    const deep = schema([field('s', 13, table(), [field('a', 12, table(), [field(undefined, 14, table())])])])
    expect(refusal(() => readSchema(deep)).message).toBe(
      "column 's.a[]' has Arrow type union, which lastmile does not read",
    )
  })

  it('reads a map of a struct of key and value', () => {
    const entries = (...children: Obj[]) => field('entries', 13, table(), children)
    const kv = entries(field('key', 5, table()), field('value', 2, intType(32, true)))
    const [m] = readSchema(schema([field('m', 17, table(u8(0)), [kv])])).fields
    expect(m).toEqual({
      name: 'm',
      type: type(17, 'list', 4, false, 'map<struct>'),
      children: [
        {
          name: 'entries',
          type: type(13, 'struct', 0, false, 'struct'),
          children: [leaf('key', UTF8), leaf('value', type(2, 'fixed', 4, true, 'int32'))],
        },
      ],
    })
  })

  it('refuses a map whose entries are not a struct of two fields', () => {
    const entries = (...children: Obj[]) => field('entries', 13, table(), children)
    const key = field('key', 5, table())
    const cases: Array<[Obj[], string]> = [
      [[], "column 'm' is a map whose entries are not a struct of key and value"],
      [[key], "column 'm' is a map whose entries are not a struct of key and value"],
      [[entries(key)], "column 'm' is a map whose entries are not a struct of key and value"],
      [[entries(key, key, key)], "column 'm' is a map whose entries are not a struct of key and value"],
      [[field('entries', 12, table(), [key])], "column 'm' is a map whose entries are not a struct of key and value"],
      [[entries(key, key), entries(key, key)], "column 'm' (map) has 2 child fields, expected 1"],
    ]
    for (const [children, text] of cases) {
      expect(refusal(() => readSchema(schema([field('m', 17, table(), children)]))).message).toBe(malformed(text))
    }
  })
})

describe('schemas', () => {
  it('reads every top-level field in order, an absent name as empty', () => {
    const s = readSchema(
      schema([field('a', 2, intType(8, true)), field(undefined, 6, table()), field('é', 5, table())]),
    )
    expect(s.fields.map((f) => [f.name, f.type.name])).toEqual([
      ['a', 'int8'],
      ['', 'bool'],
      ['é', 'utf8'],
    ])
    expect(s.dictionaries.size).toBe(0)
  })

  it('refuses big-endian data, and reads little-endian (0) data', () => {
    const fields = [field('a', 2, intType(8, true))]
    expect(refusal(() => readSchema(schema(fields, { endianness: 1 }))).message).toBe(
      'big-endian Arrow data is not supported',
    )
    expect(readSchema(schema(fields, { endianness: 0 })).fields).toHaveLength(1)
  })

  it('reads dictionary-encoded fields: their id, index type (int32 by default) and values', () => {
    const enc = (id: number, index?: Obj) => table(i64(id), index)
    const s = readSchema(
      schema([
        field('k', 5, table(), [], { dictionary: enc(7, intType(16, false)) }),
        field('j', 3, table(i16(1)), [], { dictionary: enc(-2) }),
        field('x', 2, intType(8, true)),
      ]),
    )
    expect(s.fields).toEqual([
      { name: 'k', type: UTF8, children: [], dictionary: { id: 7, indexType: type(2, 'fixed', 2, false, 'uint16') } },
      {
        name: 'j',
        type: FLOAT32,
        children: [],
        dictionary: { id: -2, indexType: type(2, 'fixed', 4, true, 'int32') },
      },
      { name: 'x', type: INT8, children: [] },
    ])
    expect([...s.dictionaries]).toEqual([
      [7, { name: 'k', type: UTF8, children: [] }],
      [-2, { name: 'j', type: FLOAT32, children: [] }],
    ])
    expect(
      refusal(() => readSchema(schema([field('k', 5, table(), [], { dictionary: enc(0, intType(12, true)) })])))
        .message,
    ).toBe("column 'k' has Arrow type int of 12 bits, which lastmile does not read")
  })

  it('refuses two fields with one dictionary id', () => {
    const enc = table(i64(3))
    const twice = schema([
      field('a', 5, table(), [], { dictionary: enc }),
      field('b', 5, table(), [], { dictionary: table(i64(3)) }),
    ])
    expect(refusal(() => readSchema(twice)).message).toBe(malformed('dictionary id 3 is used by two fields'))
  })

  it('reads types nested 32 deep and refuses 33', () => {
    const chain = (depth: number): Obj =>
      depth === 0 ? field(undefined, 2, intType(8, true)) : field(undefined, 12, table(), [chain(depth - 1)])
    const at32 = readSchema(schema([field('x', 12, table(), [chain(31)])]))
    let node = at32.fields[0]
    let levels = 0
    while (node?.children.length) {
      node = node.children[0]
      levels++
    }
    expect(levels).toBe(32)
    expect(node?.type).toEqual(INT8)
    expect(at32.fields[0]?.type.name).toBe(`${'list<'.repeat(32)}int8${'>'.repeat(32)}`)
    expect(refusal(() => readSchema(schema([field('x', 12, table(), [chain(32)])]))).message).toBe(
      `column 'x${'[]'.repeat(33)}' nests types more than 32 deep`,
    )
  })
})

describe('schemas that share tables and strings', () => {
  // A writer may point many vector entries at one table: a schema is bounded as a tree, at most
  // a field per 4 bytes of metadata and as many string bytes as the metadata has.
  const kv = (key?: string, value?: string) =>
    table(key === undefined ? undefined : str(key), value === undefined ? undefined : str(value))

  it('counts shared fields as a tree: 111 fields take 444 bytes of metadata', () => {
    const r = field(undefined, 2, intType(8, true))
    const q = field(
      undefined,
      13,
      table(),
      Array.from({ length: 10 }, () => r),
    )
    const p = field(
      'p',
      13,
      table(),
      Array.from({ length: 10 }, () => q),
    )
    // 1 + 10 + 10 × 10 fields.
    expect(build(message(1, schema([p]))).length).toBeLessThanOrEqual(440)
    const s = readSchema(schema([p]), 444)
    expect(s.fields[0]?.children).toHaveLength(10)
    expect(s.fields[0]?.children[9]?.children).toHaveLength(10)
    expect(refusal(() => readSchema(schema([p]), 440)).message).toBe(
      malformed('more fields than the metadata holds (shared tables)'),
    )
  })

  it('counts the bytes of shared custom metadata: 484 string bytes take 484 bytes of metadata', () => {
    const shared = kv('key-0123', 'value-0123456789')
    const metadata = tables(...Array.from({ length: 20 }, () => shared), kv('k'), kv(undefined, 'vv'))
    // 20 × (8 + 16) + 1 + 2, and the field's name 'x'.
    const s = schema([field('x', 2, intType(8, true))], { metadata })
    expect(build(message(1, s)).length).toBeLessThanOrEqual(483)
    expect(readSchema(s, 484).fields.map((f) => f.name)).toEqual(['x'])
    expect(refusal(() => readSchema(s, 483)).message).toBe(
      malformed('more string bytes than the metadata holds (shared strings)'),
    )
  })

  it("counts shared names, fields' custom metadata and time zones: 510 bytes for 510", () => {
    // 30 × ('ts' + 'Europe/Paris' + 'a' + 'bc').
    const ts = field('ts', 10, table(i16(1), str('Europe/Paris')), [], { metadata: tables(kv('a', 'bc')) })
    const s = schema(Array.from({ length: 30 }, () => ts))
    expect(build(message(1, s)).length).toBeLessThanOrEqual(509)
    const read = readSchema(s, 510)
    expect(read.fields).toHaveLength(30)
    expect(read.fields[29]).toEqual({ name: 'ts', type: type(10, 'fixed', 8, true, 'timestamp[ms]'), children: [] })
    expect(refusal(() => readSchema(s, 509)).message).toBe(
      malformed('more string bytes than the metadata holds (shared strings)'),
    )
  })

  it('does not count a string at index 1 of types other than timestamp', () => {
    // A duration's table has no string: 60 × ('d' + 12) would pass 400 bytes if counted.
    const d = field('d', 18, table(i16(1), str('Europe/Paris')))
    const s = schema(Array.from({ length: 60 }, () => d))
    expect(build(message(1, s)).length).toBeLessThanOrEqual(400)
    expect(readSchema(s, 400).fields).toHaveLength(60)
  })
})

describe('schemas flechette wrote', () => {
  it('reads each column type of an empty table', () => {
    const columns = {
      u: uint8(),
      h: float16(),
      s: largeUtf8(),
      d: decimal(10, 2, 64),
      day: dateDay(),
      t: time(2),
      ts: timestamp(3, 'UTC'),
      dur: duration(0),
      iv: interval(1),
      fsb: fixedSizeBinary(5),
      fsl: fixedSizeList(float16(), 3),
      ll: largeList(int16()),
      m: map(utf8(), int16()),
      k: dictionary(utf8(), int16()),
    }
    const bytes = tableToIPC(
      tableFromArrays(Object.fromEntries(Object.keys(columns).map((name) => [name, []])) as never, {
        types: columns as never,
      }),
      { format: 'stream' },
    ) as Uint8Array
    const [first] = messagesOf(bytes)
    expect(first?.type).toBe(1)
    const at = (first?.start as number) + 8
    const meta = parseMessage(bytes.subarray(at, at + (first?.metaLength as number)), 'message 0')
    if (meta.type !== 1) throw new Error('not a schema')
    expect(meta.schema.fields.map((f) => [f.name, f.type.name, f.type.width])).toEqual([
      ['u', 'uint8', 1],
      ['h', 'float16', 2],
      ['s', 'large_utf8', 8],
      ['d', 'decimal64', 8],
      ['day', 'date32', 4],
      ['t', 'time[us]', 8],
      ['ts', 'timestamp[ns]', 8],
      ['dur', 'duration[s]', 8],
      ['iv', 'interval', 8],
      ['fsb', 'fixed_size_binary[5]', 5],
      ['fsl', 'fixed_size_list<float16, 3>', 3],
      ['ll', 'large_list<int16>', 8],
      ['m', 'map<struct>', 4],
      ['k', 'utf8', 4],
    ])
    expect(meta.schema.fields[12]?.children[0]?.children.map((f) => [f.name, f.type.name])).toEqual([
      ['key', 'utf8'],
      ['value', 'int16'],
    ])
    expect(meta.schema.fields[13]?.dictionary?.indexType.name).toBe('int16')
    expect(meta.schema.dictionaries.get(meta.schema.fields[13]?.dictionary?.id as number)?.name).toBe('k')
  })
})
