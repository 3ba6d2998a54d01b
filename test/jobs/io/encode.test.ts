/**
 * One job chunk as an Arrow IPC stream (src/jobs/io/encode.ts): each column kind it encodes itself
 * (strings and large strings, int64 and uint64 from numbers or bigints, timestamps in every unit,
 * doubles) and the ones it leaves to flechette, nulls in later rows (validity bitmaps past the
 * first byte), empty chunks, and the refusals. The bytes are read back with the independent Arrow
 * library @uwdata/flechette (and message framing with test/fuzz/arrow-craft.ts); expected values,
 * raw 64-bit storage and bitmaps are written out by hand from the Arrow columnar format.
 */
import {
  bool,
  float32,
  float64,
  int32,
  int64,
  largeList,
  largeUtf8,
  list,
  type Table,
  TimeUnit,
  tableFromIPC,
  timeMicrosecond,
  timestamp,
  uint64,
  utf8,
} from '@uwdata/flechette'
import { describe, expect, it } from 'vitest'
import { encodeChunk } from '../../../src/jobs/io/encode.js'
import type { SchemaField } from '../../../src/jobs/io/types.js'
import { messagesOf } from '../../fuzz/arrow-craft.js'
import { expectRefusal, refusal } from '../../helpers/refusal.js'

type DataType = SchemaField['type']

/** The chunk's bytes read back by flechette, 64-bit integers as bigints. */
const decode = (bytes: Uint8Array): Table => tableFromIPC(bytes, { useBigInt: true })

/** One column `x` of `type` encoded from `values`, read back. */
const encodeOne = (type: DataType, values: ArrayLike<unknown>) =>
  decode(encodeChunk([{ name: 'x', type }], { x: values }, values.length))

/** Column `x`'s values as flechette extracts them. */
const valuesOf = (t: Table) => Array.from(t.getChild('x').toArray() as ArrayLike<unknown>)

/** The first batch of column `x`: its raw buffers as stored in the file. */
const batchOf = (t: Table) =>
  t.getChild('x').data[0] as unknown as { values: ArrayLike<unknown>; validity: Uint8Array; nullCount: number }

describe('encodeChunk refusals', () => {
  it('refuses a schema column without values', () => {
    expectRefusal(
      () =>
        encodeChunk(
          [
            { name: 'a', type: float64() },
            { name: 'b', type: float64() },
          ],
          { a: [1] },
          1,
        ),
      Error,
      "encodeChunk: no values for column 'b'",
    )
  })

  it('refuses a column with more or fewer values than rows', () => {
    expectRefusal(
      () => encodeChunk([{ name: 'a', type: float64() }], { a: [1, 2] }, 3),
      Error,
      "encodeChunk: column 'a' has 2 values, expected 3",
    )
    expectRefusal(
      () => encodeChunk([{ name: 'a', type: utf8() }], { a: ['x', 'y'] }, 1),
      Error,
      "encodeChunk: column 'a' has 2 values, expected 1",
    )
  })

  it('refuses a bigint past int64, and takes both ends of the range', () => {
    expectRefusal(
      () => encodeOne(int64(), [1n, 2n ** 63n]),
      Error,
      "encodeChunk: column 'x' holds 9223372036854775808, past int64",
    )
    expectRefusal(
      () => encodeOne(int64(), [-(2n ** 63n) - 1n]),
      Error,
      "encodeChunk: column 'x' holds -9223372036854775809, past int64",
    )
    expect(valuesOf(encodeOne(int64(), [2n ** 63n - 1n, -(2n ** 63n)]))).toEqual([2n ** 63n - 1n, -(2n ** 63n)])
  })

  it('refuses a bigint past uint64, and takes both ends of the range', () => {
    expectRefusal(() => encodeOne(uint64(), [-1n]), Error, "encodeChunk: column 'x' holds -1, past uint64")
    expectRefusal(
      () => encodeOne(uint64(), [0n, 2n ** 64n]),
      Error,
      "encodeChunk: column 'x' holds 18446744073709551616, past uint64",
    )
    expect(valuesOf(encodeOne(uint64(), [2n ** 64n - 1n, 0n]))).toEqual([2n ** 64n - 1n, 0n])
  })
})

describe('encodeChunk framing', () => {
  it('writes a stream: a schema message, one record batch, and the end marker', () => {
    const bytes = encodeChunk([{ name: 'x', type: float64() }], { x: Float64Array.of(1, 2, 3) }, 3)
    expect(messagesOf(bytes).map((m) => [m.type, m.bodyLength])).toEqual([
      [1, 0],
      [3, 24],
    ])
    expect(Array.from(bytes.subarray(-8))).toEqual([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0])
  })

  it('writes an empty chunk as the schema alone, for every kind of column', () => {
    const schema: SchemaField[] = [
      { name: 's', type: utf8() },
      { name: 'i', type: int64() },
      { name: 'f', type: float64() },
      { name: 'b', type: bool() },
      { name: 'l', type: list(float32()) },
    ]
    const bytes = encodeChunk(schema, { s: [], i: [], f: new Float64Array(0), b: [], l: [] }, 0)
    expect(messagesOf(bytes).map((m) => m.type)).toEqual([1])
    const t = decode(bytes)
    expect(t.numRows).toBe(0)
    expect(t.schema.fields.map((f) => f.name)).toEqual(['s', 'i', 'f', 'b', 'l'])
  })

  it('writes every column of the schema in its order, ignoring extra values', () => {
    const t = decode(
      encodeChunk(
        [
          { name: 'b', type: int32() },
          { name: 'a', type: utf8() },
        ],
        { a: ['p', 'q'], b: Int32Array.of(7, -8), extra: [1, 2] },
        2,
      ),
    )
    expect(t.schema.fields.map((f) => f.name)).toEqual(['b', 'a'])
    expect(Array.from(t.getChild('b').toArray() as Int32Array)).toEqual([7, -8])
    expect(t.getChild('a').toArray()).toEqual(['p', 'q'])
  })
})

describe('encodeChunk strings', () => {
  it('writes ASCII strings with nulls in later rows', () => {
    const values = ['ab', '', 'cde', 'f', 'g', 'h', 'i', 'j', null, 'kl', undefined]
    const t = encodeOne(utf8(), values)
    expect(valuesOf(t)).toEqual(['ab', '', 'cde', 'f', 'g', 'h', 'i', 'j', null, 'kl', null])
    // Rows 0-7 valid, row 8 null, row 9 valid, row 10 null; the bitmap is padded to 8 bytes.
    expect(Array.from(batchOf(t).validity)).toEqual([0xff, 0b010, 0, 0, 0, 0, 0, 0])
    expect(batchOf(t).nullCount).toBe(2)
  })

  it('writes UTF-8 strings of 2, 3 and 4 bytes a character', () => {
    const values = ['é', null, '日本', 'a😀b', 'plain']
    expect(valuesOf(encodeOne(utf8(), values))).toEqual(values)
  })

  it('writes the offsets as the strings’ byte lengths', () => {
    const t = encodeOne(utf8(), ['é', null, 'xyz', '€'])
    const batch = t.getChild('x').data[0] as unknown as { offsets: Int32Array }
    expect(Array.from(batch.offsets)).toEqual([0, 2, 2, 5, 8])
  })

  it('describes its string buffers by their exact lengths: no validity without nulls, the bytes unpadded', () => {
    /** The record batch's Buffer structs (offset, length), as arrow-craft finds them in the metadata. */
    const buffersOf = (bytes: Uint8Array) => {
      const batch = messagesOf(bytes)[1] as ReturnType<typeof messagesOf>[number]
      const view = new DataView(bytes.buffer, bytes.byteOffset)
      return batch.buffersAt.map((at) => [Number(view.getBigInt64(at, true)), Number(view.getBigInt64(at + 8, true))])
    }
    // 'ab', 'c', 'é': 4 offsets of 4 bytes, then 5 bytes of UTF-8 (é is 2).
    const plain = encodeChunk([{ name: 'x', type: utf8() }], { x: ['ab', 'c', 'é'] }, 3)
    expect(buffersOf(plain)).toEqual([
      [0, 0],
      [0, 16],
      [16, 5],
    ])
    // With a missing value: an 8-byte bitmap first; 5 offsets of 8 bytes for large strings.
    const large = encodeChunk([{ name: 'x', type: largeUtf8() }], { x: ['ab', undefined, 'c', 'd'] }, 4)
    expect(buffersOf(large)).toEqual([
      [0, 8],
      [8, 40],
      [48, 4],
    ])
  })

  it('writes large strings with 64-bit offsets', () => {
    const t = encodeOne(largeUtf8(), ['one', null, 'ünï', ''])
    expect(valuesOf(t)).toEqual(['one', null, 'ünï', ''])
    const batch = t.getChild('x').data[0] as unknown as { offsets: BigInt64Array }
    expect(Array.from(batch.offsets)).toEqual([0n, 3n, 3n, 8n, 8n])
  })

  it('writes lone surrogates as U+FFFD each, even where two would pair up when joined', () => {
    expect(valuesOf(encodeOne(utf8(), ['\ud83d', '\ude00']))).toEqual(['\ufffd', '\ufffd'])
    expect(valuesOf(encodeOne(utf8(), ['a\ud83d', '\ude00b', 'c']))).toEqual(['a\ufffd', '\ufffdb', 'c'])
  })

  it('leaves a column with a value that is no string to flechette (which writes its text)', () => {
    expect(valuesOf(encodeOne(utf8(), ['a', 5, null]))).toEqual(['a', '5', null])
  })
})

describe('encodeChunk 64-bit integers', () => {
  it('writes numbers rounded to integers, across the 32-bit halves, and NaN and missing as null', () => {
    const values = [0, -1, 2.5, -2.5, 4294967296 + 5, -4294967296 - 7, 2 ** 53, -(2 ** 53), NaN, null, undefined, 7]
    const t = encodeOne(int64(), values)
    expect(Array.from(batchOf(t).values as BigInt64Array)).toEqual([
      0n,
      -1n,
      3n,
      -2n,
      4294967301n,
      -4294967303n,
      9007199254740992n,
      -9007199254740992n,
      0n,
      0n,
      0n,
      7n,
    ])
    // Rows 8, 9 and 10 are null.
    expect(Array.from(batchOf(t).validity)).toEqual([0xff, 0b1000, 0, 0, 0, 0, 0, 0])
    expect(batchOf(t).nullCount).toBe(3)
  })

  it('writes bigints exactly, mixed with numbers', () => {
    const t = encodeOne(int64(), [2n ** 62n + 3n, 5, -(2n ** 60n)])
    expect(Array.from(batchOf(t).values as BigInt64Array)).toEqual([2n ** 62n + 3n, 5n, -(2n ** 60n)])
    expect(batchOf(t).nullCount).toBe(0)
    expect(batchOf(t).validity.length).toBe(0)
  })

  it('writes uint64 numbers and bigints, high halves included', () => {
    const t = encodeOne(uint64(), [3 * 4294967296 + 1, 2n ** 63n + 9n, 4294967295, null])
    expect(Array.from(batchOf(t).values as BigUint64Array)).toEqual([12884901889n, 2n ** 63n + 9n, 4294967295n, 0n])
    expect(valuesOf(t)).toEqual([12884901889n, 2n ** 63n + 9n, 4294967295n, null])
  })

  it('leaves 64-bit times to flechette: negatives written, not refused as unsigned', () => {
    const t = encodeOne(timeMicrosecond(), [-1n, 5n, 86399999999n])
    expect(Array.from(batchOf(t).values as BigInt64Array)).toEqual([-1n, 5n, 86399999999n])
  })

  it('keeps bigints exact in an int64 column left to flechette', () => {
    expect(valuesOf(encodeOne(int64(), [2n ** 60n + 1n, '7']))).toEqual([2n ** 60n + 1n, 7n])
  })

  it('leaves a column with an infinity or a string to flechette', () => {
    expect(refusal(() => encodeOne(int64(), [1, Infinity]))).toBeInstanceOf(RangeError)
    expect(valuesOf(encodeOne(int64(), [1, '7']))).toEqual([1n, 7n])
  })
})

describe('encodeChunk timestamps', () => {
  const raw = (unit: Parameters<typeof timestamp>[0], values: unknown[]) =>
    Array.from(batchOf(encodeOne(timestamp(unit), values)).values as BigInt64Array)

  it('writes milliseconds in the column’s unit, rounded', () => {
    expect(raw(TimeUnit.SECOND, [1500.4, 2500, -1499, 1700000000000])).toEqual([2n, 3n, -1n, 1700000000n])
    expect(raw(TimeUnit.MILLISECOND, [1500.4, -7, 1700000000123])).toEqual([1500n, -7n, 1700000000123n])
    expect(raw(TimeUnit.MICROSECOND, [1.5, -0.25, 1700000000123.25])).toEqual([1500n, -250n, 1700000000123250n])
    // 1.700000000123e18 is past 2^53: the double nearest it is 1700000000123000064.
    expect(raw(TimeUnit.NANOSECOND, [1.25, 1700000000123])).toEqual([1250000n, 1700000000123000064n])
  })

  it('writes bigints as they are, signed: negatives taken, past int64 refused', () => {
    expect(raw(TimeUnit.MILLISECOND, [-5n, 2n ** 63n - 1n])).toEqual([-5n, 2n ** 63n - 1n])
    expectRefusal(
      () => raw(TimeUnit.MICROSECOND, [2n ** 63n]),
      Error,
      "encodeChunk: column 'x' holds 9223372036854775808, past int64",
    )
  })

  it('writes NaN and missing as null, negatives through their high half', () => {
    const t = encodeOne(timestamp(TimeUnit.MILLISECOND), [-4294967296 - 1, NaN, 3, null])
    expect(Array.from(batchOf(t).values as BigInt64Array)).toEqual([-4294967297n, 0n, 3n, 0n])
    expect(valuesOf(t)).toEqual([-4294967297, null, 3, null])
  })
})

describe('encodeChunk doubles', () => {
  it('writes a Float64Array as it is, without a validity bitmap', () => {
    const t = encodeOne(float64(), Float64Array.of(1.5, -0, NaN, 1e300))
    expect(Array.from(batchOf(t).values as Float64Array)).toEqual([1.5, -0, NaN, 1e300])
    expect(batchOf(t).validity.length).toBe(0)
  })

  it('writes numbers, bigints as the nearest doubles, and nulls in later rows', () => {
    const values = [1, 2, 3, 4, 5, 6, 7, 8, 9, null, 2n ** 60n + 1n, undefined, -0.5]
    const t = encodeOne(float64(), values)
    expect(valuesOf(t)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, null, 2 ** 60, null, -0.5])
    // Rows 9 and 11 are null: byte 1 holds rows 8-15, of which 8, 10 and 12 are valid.
    expect(Array.from(batchOf(t).validity)).toEqual([0xff, 0b10101, 0, 0, 0, 0, 0, 0])
    expect(batchOf(t).nullCount).toBe(2)
  })

  it('pads a bitmap of 65 rows to 16 bytes', () => {
    const values: Array<number | null> = Array.from({ length: 65 }, (_, i) => (i === 3 ? null : i))
    const validity = batchOf(encodeOne(float64(), values)).validity
    expect(validity.length).toBe(16)
    expect(Array.from(validity)).toEqual([0b11110111, 255, 255, 255, 255, 255, 255, 255, 1, 0, 0, 0, 0, 0, 0, 0])
  })

  it('leaves a column with a string to flechette', () => {
    expect(valuesOf(encodeOne(float64(), [1, '7']))).toEqual([1, 7])
  })
})

describe('encodeChunk other columns (flechette builds them)', () => {
  it('writes bigints in a float32 column as the nearest doubles (then floats)', () => {
    expect(valuesOf(encodeOne(float32(), [1.5, 2n ** 24n + 1n, null]))).toEqual([1.5, 16777216, null])
  })

  it('writes bigints in lists of floats as doubles, other lists and typed arrays as they are', () => {
    const t = encodeOne(list(float64()), [[1, 2n ** 60n], null, [0.5]])
    expect(valuesOf(t).map((v) => (v ? Array.from(v as ArrayLike<number>) : v))).toEqual([[1, 2 ** 60], null, [0.5]])
    const ints = encodeOne(list(int64()), [[1n, 2n ** 60n + 1n], [3n]])
    expect(valuesOf(ints).map((v) => Array.from(v as ArrayLike<bigint>))).toEqual([[1n, 2n ** 60n + 1n], [3n]])
    expect(valuesOf(encodeOne(int32(), Int32Array.of(3, -4)))).toEqual([3, -4])
  })

  it('writes lists of nothing but bigints, and large lists, of floats as doubles', () => {
    const all = encodeOne(list(float64()), [[2n ** 60n + 1n, 3n], [0.5]])
    expect(valuesOf(all).map((v) => Array.from(v as ArrayLike<number>))).toEqual([[2 ** 60, 3], [0.5]])
    const large = encodeOne(largeList(float64()), [[1, 2n ** 60n + 1n], null])
    expect(valuesOf(large).map((v) => (v ? Array.from(v as ArrayLike<number>) : v))).toEqual([[1, 2 ** 60], null])
  })

  it('writes booleans with nulls, and takes an array-like that is no array', () => {
    expect(valuesOf(encodeOne(bool(), [true, null, false]))).toEqual([true, null, false])
    expect(valuesOf(encodeOne(float32(), { length: 2, 0: 0.25, 1: 2n }))).toEqual([0.25, 2])
    expect(valuesOf(encodeOne(int32(), { length: 2, 0: 5, 1: 6 }))).toEqual([5, 6])
  })
})
