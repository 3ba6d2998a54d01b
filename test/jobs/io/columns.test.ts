/**
 * Column arrays out of decoded Arrow tables (src/jobs/io/columns.ts): the schema a chunk reports
 * (dictionaries as their values), every column kind as the array a chunk holds (int64 exact past
 * 2^53, timestamps in every unit as milliseconds, strings ASCII or not, 32- and 64-bit offsets,
 * several batches, nulls), and slicing and joining column arrays. Tables are written by the
 * independent Arrow library @uwdata/flechette (or built from hand-made buffers) and read back as
 * the job readers read them; expected values are written out by hand.
 */
import {
  Batch,
  bool,
  Column,
  type DataType,
  dictionary,
  field,
  float16,
  float32,
  float64,
  int8,
  int16,
  int32,
  int64,
  largeList,
  largeUtf8,
  list,
  type Table,
  TimeUnit,
  Type,
  tableFromArrays,
  tableFromColumns,
  tableFromIPC,
  tableToIPC,
  timeMicrosecond,
  timestamp,
  uint32,
  uint64,
  utf8,
} from '@uwdata/flechette'
import { describe, expect, it } from 'vitest'
import { concatValues, sliceValues, TABLE_OPTIONS, tableColumns, tableSchema } from '../../../src/jobs/io/columns.js'

/** Through IPC bytes and back, decoded as the job readers decode (64-bit integers as bigints). */
const roundTrip = (t: Table) => tableFromIPC(tableToIPC(t, { format: 'stream' }) as Uint8Array, { useBigInt: true })

/** One column `x` of `type` holding `values`, in batches of `maxBatchRows` rows, as read from IPC. */
const one = (values: unknown[], type: DataType, maxBatchRows?: number) =>
  roundTrip(tableFromArrays({ x: values }, { types: { x: type }, ...(maxBatchRows ? { maxBatchRows } : {}) }))

const only = (t: Table) => tableColumns(t)[0]

describe('TABLE_OPTIONS', () => {
  it('decodes 64-bit integers as bigints and nothing else differently', () => {
    expect(TABLE_OPTIONS).toEqual({ useBigInt: true })
  })
})

describe('tableSchema', () => {
  it('reports plain columns with their own types, in order', () => {
    const t = roundTrip(
      tableFromArrays(
        { b: [true], f: Float32Array.of(1), s: ['a'] },
        { types: { b: bool(), f: float32(), s: utf8() } },
      ),
    )
    expect(tableSchema(t).map((f) => [f.name, f.type.typeId])).toEqual([
      ['b', Type.Bool],
      ['f', Type.Float],
      ['s', Type.Utf8],
    ])
  })

  it('reports a dictionary column as its value type, and a list of dictionary values likewise', () => {
    const t = roundTrip(
      tableFromArrays(
        { d: ['x', 'y', 'x'], l: [['p'], ['q', 'p'], []], ll: [['u'], [], ['v']], n: [[1], [2], [3]] },
        {
          types: {
            d: dictionary(utf8(), int32()),
            l: list(dictionary(utf8(), int16())),
            ll: largeList(dictionary(largeUtf8(), int8())),
            n: list(int32()),
          },
        },
      ),
    )
    const schema = tableSchema(t)
    expect(schema.map((f) => f.name)).toEqual(['d', 'l', 'll', 'n'])
    expect(schema[0]?.type.typeId).toBe(Type.Utf8)
    const l = schema[1]?.type as {
      typeId: number
      children: Array<{ name: string; nullable: boolean; type: { typeId: number } }>
    }
    expect(l.typeId).toBe(Type.List)
    expect(l.children.map((c) => [c.type.typeId, c.nullable])).toEqual([[Type.Utf8, true]])
    const ll = schema[2]?.type as typeof l
    expect(ll.typeId).toBe(Type.LargeList)
    expect(ll.children[0]?.type.typeId).toBe(Type.LargeUtf8)
    const n = schema[3]?.type as typeof l
    expect(n.children[0]?.type.typeId).toBe(Type.Int)
  })

  it('keeps a list child non-nullable where the file says so, and its name', () => {
    const type = list(field('item', dictionary(utf8(), int32()), false))
    const t = roundTrip(tableFromArrays({ l: [['a'], ['b', 'a']] }, { types: { l: type } }))
    const l = tableSchema(t)[0]?.type as {
      children: Array<{ name: string; nullable: boolean; type: { typeId: number } }>
    }
    expect(l.children.map((c) => [c.name, c.type.typeId, c.nullable])).toEqual([['item', Type.Utf8, false]])
  })
})

describe('tableColumns: 64-bit integers', () => {
  it('gives signed int64 as doubles when all are safe, across the 32-bit halves and batches', () => {
    const values = [0n, -1n, 4294967296n + 5n, -4294967296n - 7n, 2n ** 53n - 1n, -(2n ** 53n - 1n), 123n]
    const col = only(one(values, int64(), 3))
    expect(col).toBeInstanceOf(Float64Array)
    expect(Array.from(col as Float64Array)).toEqual([
      0, -1, 4294967301, -4294967303, 9007199254740991, -9007199254740991, 123,
    ])
  })

  it('gives unsigned uint64 as doubles when all are safe', () => {
    const col = only(one([3n * 4294967296n + 1n, 4294967295n, 0n], uint64()))
    expect(col).toBeInstanceOf(Float64Array)
    expect(Array.from(col as Float64Array)).toEqual([12884901889, 4294967295, 0])
  })

  it('gives int64 past 2^53 exactly, as a BigInt64Array joined across batches', () => {
    const values = [1n, 2n ** 53n + 1n, -(2n ** 63n), 2n ** 63n - 1n, -5n]
    const col = only(one(values, int64(), 2))
    expect(col).toBeInstanceOf(BigInt64Array)
    expect(Array.from(col as BigInt64Array)).toEqual(values)
  })

  it('gives uint64 past 2^63 exactly, as a BigUint64Array', () => {
    const values = [2n ** 64n - 1n, 7n, 2n ** 63n]
    const col = only(one(values, uint64(), 2))
    expect(col).toBeInstanceOf(BigUint64Array)
    expect(Array.from(col as BigUint64Array)).toEqual(values)
  })

  it('gives an int64 column with a null as numbers where safe, bigints past 2^53, and the null', () => {
    const col = only(one([5n, 2n ** 60n, -3n, null], int64()))
    expect(Array.isArray(col)).toBe(true)
    expect(col).toEqual([5, 2n ** 60n, -3, null])
  })

  it('gives a table with no batches empty arrays (an int64 one a JS array)', () => {
    const t = tableFromIPC(
      tableToIPC(tableFromArrays({ i: [], s: [] }, { types: { i: int64(), s: utf8() } }), {
        format: 'stream',
      }) as Uint8Array,
      { useBigInt: true },
    )
    const [i, s] = tableColumns(t)
    expect(Array.isArray(i)).toBe(true)
    expect(i).toEqual([])
    expect(Array.from(s as ArrayLike<unknown>)).toEqual([])
  })
})

describe('tableColumns: timestamps as milliseconds', () => {
  type Unit = Parameters<typeof timestamp>[0]

  /** Raw timestamp values in `unit`, written as an int64 column then relabelled as a timestamp. */
  const raw = (unit: Unit, values: bigint[]) => {
    const ints = tableFromArrays({ x: values }, { types: { x: int64() } })
    const batches = ints.getChild('x').data.map(
      (b) =>
        new Batch({
          length: b.length,
          nullCount: 0,
          type: timestamp(unit),
          validity: new Uint8Array(0),
          values: b.values,
        }),
    )
    return only(roundTrip(tableFromColumns({ x: new Column(batches, timestamp(unit)) })))
  }

  it('scales seconds by 1000, negatives too', () => {
    const col = raw(TimeUnit.SECOND, [3n, -2n, 0n])
    expect(col).toBeInstanceOf(Float64Array)
    expect(Array.from(col as Float64Array)).toEqual([3000, -2000, 0])
  })

  it('takes milliseconds as they are, past 2^32', () => {
    expect(Array.from(raw(TimeUnit.MILLISECOND, [1700000000123n, -1n]) as Float64Array)).toEqual([1700000000123, -1])
  })

  it('splits microseconds into whole and fractional milliseconds', () => {
    expect(Array.from(raw(TimeUnit.MICROSECOND, [1500n, -1500n, 2000n, 1700000000123250n]) as Float64Array)).toEqual([
      1.5, -1.5, 2, 1700000000123.25,
    ])
  })

  it('gives each the double nearest the exact quotient, not the value times 0.001', () => {
    // 1001 × 0.001 is 1.0010000000000001 in doubles; the nearest double to 1.001 is 1.001.
    expect(Array.from(raw(TimeUnit.MICROSECOND, [1001n, -1003n]) as Float64Array)).toEqual([1.001, -1.003])
    expect(Array.from(raw(TimeUnit.NANOSECOND, [1000015n]) as Float64Array)).toEqual([1.000015])
  })

  it('scales seconds past 2^53 (which flechette refuses to convert) exactly', () => {
    // 2^60 s is 125 × 2^63 ms, a double exactly.
    expect(Array.from(raw(TimeUnit.SECOND, [2n ** 60n, 1n]) as Float64Array)).toEqual([125 * 2 ** 63, 1000])
  })

  it('splits nanoseconds likewise', () => {
    expect(Array.from(raw(TimeUnit.NANOSECOND, [1500250000n, -2500000n, 7n * 4294967296n]) as Float64Array)).toEqual([
      1500.25, -2.5, 30064.771072,
    ])
  })

  it('gives a timestamp column with a null as flechette does: numbers of milliseconds and the null', () => {
    const t = roundTrip(tableFromArrays({ x: [1500, null] }, { types: { x: timestamp(TimeUnit.MILLISECOND) } }))
    expect(only(t)).toEqual([1500, null])
  })
})

describe('tableColumns: strings', () => {
  it('gives ASCII strings across batches, empty ones included', () => {
    const col = only(one(['ab', '', 'cde', 'f', '', 'ghij', 'k'], utf8(), 3))
    expect(col).toEqual(['ab', '', 'cde', 'f', '', 'ghij', 'k'])
  })

  it('gives UTF-8 strings (accents, CJK, emoji, a DEL) decoded as UTF-8, not Latin-1', () => {
    const values = ['é', 'a\u007f', '日本', '😀x', 'plain']
    expect(only(one(values, utf8(), 2))).toEqual(values)
  })

  it('reads large strings through their 64-bit offsets, ASCII or not', () => {
    expect(only(one(['one', 'two', '', 'four'], largeUtf8(), 3))).toEqual(['one', 'two', '', 'four'])
    expect(only(one(['ü', 'xy', 'ß€'], largeUtf8()))).toEqual(['ü', 'xy', 'ß€'])
  })

  it('gives strings with a null as flechette does', () => {
    expect(only(one(['a', 'bb', null], utf8()))).toEqual(['a', 'bb', null])
  })

  /** A one-batch utf8 column over hand-made buffers: offsets need not start at 0. */
  const handMade = (offsets: Int32Array | BigInt64Array, text: string, type: DataType = utf8()) => {
    const values = new TextEncoder().encode(text)
    const n = offsets.length - 1
    const batch = new Batch({ length: n, nullCount: 0, type, validity: new Uint8Array(0), values, offsets })
    return only(tableFromColumns({ x: new Column([batch], type) }))
  }

  it('reads only the bytes the offsets span, from a first offset past 0', () => {
    expect(handMade(Int32Array.of(3, 5, 5, 8), 'xyzabcdeQ')).toEqual(['ab', '', 'cde'])
    // x is byte 0, é bytes 1-2, € bytes 3-5, q byte 6.
    expect(handMade(Int32Array.of(1, 3, 6), 'xé€q')).toEqual(['é', '€'])
    expect(handMade(BigInt64Array.of(1n, 3n, 6n, 7n), 'xé€q', largeUtf8())).toEqual(['é', '€', 'q'])
    expect(handMade(BigInt64Array.of(3n, 5n, 6n), 'xyzabc', largeUtf8())).toEqual(['ab', 'c'])
  })

  it('decodes an ASCII span as ASCII when bytes outside it are not', () => {
    expect(handMade(Int32Array.of(2, 4, 6), 'éabcd')).toEqual(['ab', 'cd'])
    expect(handMade(Int32Array.of(0, 2, 3), 'abcé')).toEqual(['ab', 'c'])
  })
})

describe('tableColumns: other types as flechette extracts them', () => {
  it('gives floats, small ints and booleans as their arrays', () => {
    const t = roundTrip(
      tableFromArrays(
        {
          f16: [1.5, -2],
          f32: Float32Array.of(0.25, 3),
          f64: Float64Array.of(-0.5, 1e300),
          i16: Int16Array.of(-7, 300),
          u32: Uint32Array.of(4294967295, 1),
          b: [true, false],
          l: [[1, 2], []],
        },
        {
          types: {
            f16: float16(),
            f32: float32(),
            f64: float64(),
            i16: int16(),
            u32: uint32(),
            b: bool(),
            l: list(int32()),
          },
        },
      ),
    )
    const [f16, f32, f64, i16, u32, b, l] = tableColumns(t)
    expect(Array.from(f16 as ArrayLike<number>)).toEqual([1.5, -2])
    expect(f32).toBeInstanceOf(Float32Array)
    expect(Array.from(f32 as Float32Array)).toEqual([0.25, 3])
    expect(f64).toBeInstanceOf(Float64Array)
    expect(Array.from(f64 as Float64Array)).toEqual([-0.5, 1e300])
    expect(i16).toBeInstanceOf(Int16Array)
    expect(Array.from(i16 as Int16Array)).toEqual([-7, 300])
    expect(Array.from(u32 as Uint32Array)).toEqual([4294967295, 1])
    expect(b).toEqual([true, false])
    expect((l as Int32Array[]).map((x) => Array.from(x))).toEqual([[1, 2], []])
  })

  it('gives 64-bit times as flechette does, not as int64 or timestamps', () => {
    const col = only(one([1500n, 86399999999n], timeMicrosecond()))
    expect(col).toBeInstanceOf(BigInt64Array)
    expect(Array.from(col as BigInt64Array)).toEqual([1500n, 86399999999n])
  })

  it('gives a float column with a null as a JS array with the null', () => {
    expect(only(one([1.5, null, 3], float64()))).toEqual([1.5, null, 3])
  })
})

describe('sliceValues', () => {
  it('gives rows [start, end) of a typed array as a view on the same memory', () => {
    const values = Float32Array.of(1, 2, 3, 4, 5)
    const part = sliceValues(values, 1, 4)
    expect(part).toBeInstanceOf(Float32Array)
    expect(Array.from(part as Float32Array)).toEqual([2, 3, 4])
    values[2] = 9
    expect((part as Float32Array)[1]).toBe(9)
  })

  it('gives rows [start, end) of a JS array as a copy, and of an array-like', () => {
    const values = ['a', null, 'c', 'd']
    const part = sliceValues(values, 2, 4)
    expect(part).toEqual(['c', 'd'])
    values[2] = 'z'
    expect(part).toEqual(['c', 'd'])
    expect(sliceValues({ length: 3, 0: 'p', 1: 'q', 2: 'r' }, 1, 3)).toEqual(['q', 'r'])
    expect(sliceValues([1, 2, 3], 0, 0)).toEqual([])
  })
})

describe('concatValues', () => {
  it('gives a single part back as it is', () => {
    const part = Int16Array.of(1, 2)
    expect(concatValues([part])).toBe(part)
  })

  it('joins typed arrays of one kind into one of that kind', () => {
    const out = concatValues([Int32Array.of(1, -2), Int32Array.of(), Int32Array.of(3)])
    expect(out).toBeInstanceOf(Int32Array)
    expect(Array.from(out as Int32Array)).toEqual([1, -2, 3])
  })

  it('joins parts of different kinds, or with a JS array, into a JS array', () => {
    expect(concatValues([Float64Array.of(1.5), Float32Array.of(2)])).toEqual([1.5, 2])
    expect(concatValues([Float64Array.of(1), [null, 3], Float64Array.of(4, 5)])).toEqual([1, null, 3, 4, 5])
    expect(concatValues([['a'], ['b', 'c']])).toEqual(['a', 'b', 'c'])
    expect(concatValues([[1], Float64Array.of(2)])).toEqual([1, 2])
  })

  it('gives no parts, or empty ones, as an empty JS array', () => {
    expect(concatValues([])).toEqual([])
    expect(concatValues([[], []])).toEqual([])
    expect(concatValues([[], Float32Array.of()])).toEqual([])
  })
})
