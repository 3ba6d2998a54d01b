/**
 * JSON values to typed tensor data (src/formats/values.ts): each dtype's setter at the edges of
 * its range (OIP v2 datatypes: INT8 is [-128, 127], UINT64 is [0, 2^64 - 1], ...), and the shape
 * walk's messages. Expected values are written out by hand.
 */
import { describe, expect, it } from 'vitest'
import type { DType } from '../../src/engine/tensor.js'
import { InvalidInputError } from '../../src/errors.js'
import { TensorBudget } from '../../src/formats/limits.js'
import { columnFromJson, setter, stringsFromJson, tensorFromJson } from '../../src/formats/values.js'

type Cell = number | bigint

/** A 3-element array of `dtype` filled with 99, so that a write of 0 shows. */
function scratch(dtype: DType): { [i: number]: Cell } {
  switch (dtype) {
    case 'int64':
      return new BigInt64Array(3).fill(99n)
    case 'uint64':
      return new BigUint64Array(3).fill(99n)
    case 'float32':
      return new Float32Array(3).fill(99)
    case 'float64':
      return new Float64Array(3).fill(99)
    case 'int8':
      return new Int8Array(3).fill(99)
    case 'int16':
      return new Int16Array(3).fill(99)
    case 'int32':
      return new Int32Array(3).fill(99)
    case 'uint16':
    case 'float16':
      return new Uint16Array(3).fill(99)
    case 'uint32':
      return new Uint32Array(3).fill(99)
    default: // uint8, bool
      return new Uint8Array(3).fill(99)
  }
}

const WHERE = "input 'x' element 1"

/** What the setter of `dtype` writes at index 1 for `value` (the neighbours must stay 99). */
function stored(dtype: DType, value: unknown): Cell {
  const out = scratch(dtype)
  setter(dtype)(out as never, 1, value, () => WHERE)
  expect([out[0], out[2]].map(Number)).toEqual([99, 99])
  return out[1] as Cell
}

/** The message the setter of `dtype` refuses `value` with (an InvalidInputError). */
function refusal(dtype: DType, value: unknown): string {
  try {
    stored(dtype, value)
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidInputError)
    return (e as Error).message
  }
  throw new Error(`${dtype} took ${String(value)}`)
}

describe('setter: bool', () => {
  it('takes true, false, 0 and 1', () => {
    expect(stored('bool', true)).toBe(1)
    expect(stored('bool', false)).toBe(0)
    expect(stored('bool', 0)).toBe(0)
    expect(stored('bool', 1)).toBe(1)
  })

  it('refuses other numbers and strings, naming the element', () => {
    expect(refusal('bool', 2)).toBe(`${WHERE} is 2; expected true or false`)
    expect(refusal('bool', -1)).toBe(`${WHERE} is -1; expected true or false`)
    expect(refusal('bool', 'true')).toBe(`${WHERE} is "true"; expected true or false`)
    expect(refusal('bool', null)).toBe(`${WHERE} is null; expected true or false`)
  })
})

describe('setter: floats', () => {
  it('stores float32 and float64 numbers as they are, NaN and ±Infinity included', () => {
    expect(stored('float32', 1.5)).toBe(1.5)
    expect(stored('float32', -0.1)).toBe(-0.10000000149011612) // the nearest float32
    expect(stored('float64', -0.1)).toBe(-0.1)
    expect(stored('float64', Number.NEGATIVE_INFINITY)).toBe(Number.NEGATIVE_INFINITY)
    expect(stored('float64', Number.NaN)).toBeNaN()
  })

  it('takes null as NaN (how JSON libraries without NaN write a missing float)', () => {
    expect(stored('float32', null)).toBeNaN()
    expect(stored('float64', null)).toBeNaN()
    expect(stored('float16', null)).toBe(0x7e00)
  })

  it('takes bigints (exact JSON integers) as their nearest number', () => {
    expect(stored('float64', 1152921504606846977n)).toBe(2 ** 60) // 2^60 + 1 rounds to 2^60
    expect(stored('float32', -7n)).toBe(-7)
    expect(stored('float16', 3n)).toBe(0x4200)
  })

  it('stores float16 as half bits, rounded to the nearest half', () => {
    expect(stored('float16', 1)).toBe(0x3c00)
    expect(stored('float16', -2)).toBe(0xc000)
    expect(stored('float16', 65504)).toBe(0x7bff)
    expect(stored('float16', 0.1)).toBe(0x2e66)
    expect(stored('float16', 0)).toBe(0)
  })

  it('refuses strings, booleans, arrays and objects, naming the dtype', () => {
    expect(refusal('float32', 'a')).toBe(`${WHERE} is "a"; expected a number (float32)`)
    expect(refusal('float16', true)).toBe(`${WHERE} is true; expected a number (float16)`)
    expect(refusal('float64', [1, 2])).toBe(`${WHERE} is [1,2]; expected a number (float64)`)
    expect(refusal('float64', { a: 1 })).toBe(`${WHERE} is {…}; expected a number (float64)`)
    expect(refusal('float32', undefined)).toBe(`${WHERE} is undefined; expected a number (float32)`)
  })
})

describe('setter: 8- to 32-bit integers', () => {
  const ranges: Array<[DType, number, number, string]> = [
    ['int8', -128, 127, '[-128, 127]'],
    ['uint8', 0, 255, '[0, 255]'],
    ['int16', -32768, 32767, '[-32768, 32767]'],
    ['uint16', 0, 65535, '[0, 65535]'],
    ['int32', -2147483648, 2147483647, '[-2147483648, 2147483647]'],
    ['uint32', 0, 4294967295, '[0, 4294967295]'],
  ]
  for (const [dtype, lo, hi, range] of ranges) {
    it(`${dtype}: takes ${lo} and ${hi}, refuses one past either`, () => {
      expect(stored(dtype, lo)).toBe(lo)
      expect(stored(dtype, hi)).toBe(hi)
      expect(stored(dtype, 0)).toBe(0)
      expect(refusal(dtype, lo - 1)).toBe(`${WHERE} is ${lo - 1}; expected an integer in ${range} (${dtype})`)
      expect(refusal(dtype, hi + 1)).toBe(`${WHERE} is ${hi + 1}; expected an integer in ${range} (${dtype})`)
    })
  }

  it('refuses fractions, NaN and bigints by range, and non-numbers as such', () => {
    expect(refusal('int8', 1.5)).toBe(`${WHERE} is 1.5; expected an integer in [-128, 127] (int8)`)
    expect(refusal('uint16', Number.NaN)).toBe(`${WHERE} is NaN; expected an integer in [0, 65535] (uint16)`)
    expect(refusal('int32', 7n)).toBe(`${WHERE} is 7; expected an integer in [-2147483648, 2147483647] (int32)`)
    expect(refusal('int8', '7')).toBe(`${WHERE} is "7"; expected a number (int8)`)
    expect(refusal('int16', null)).toBe(`${WHERE} is null; expected a number (int16)`)
    expect(refusal('uint8', true)).toBe(`${WHERE} is true; expected a number (uint8)`)
  })

  it('stores in-range values exactly', () => {
    expect(stored('int8', -100)).toBe(-100)
    expect(stored('uint32', 3000000000)).toBe(3000000000)
    expect(stored('int16', -1)).toBe(-1)
  })
})

describe('setter: 64-bit integers', () => {
  const I64 = '[-9223372036854775808, 9223372036854775807] (int64)'
  const U64 = '[0, 18446744073709551615] (uint64)'
  const HINT = ', written without a fraction or exponent'

  it('takes numbers up to ±(2^53 - 1) as bigints', () => {
    expect(stored('int64', 9007199254740991)).toBe(9007199254740991n)
    expect(stored('int64', -9007199254740991)).toBe(-9007199254740991n)
    expect(stored('int64', 0)).toBe(0n)
    expect(stored('uint64', 9007199254740991)).toBe(9007199254740991n)
    expect(stored('uint64', 0)).toBe(0n)
    expect(stored('uint64', 12)).toBe(12n)
  })

  it('takes bigints over the full range, and not one past', () => {
    expect(stored('int64', -9223372036854775808n)).toBe(-9223372036854775808n)
    expect(stored('int64', 9223372036854775807n)).toBe(9223372036854775807n)
    expect(stored('uint64', 0n)).toBe(0n)
    expect(stored('uint64', 18446744073709551615n)).toBe(18446744073709551615n)
    expect(refusal('int64', -9223372036854775809n)).toBe(
      `${WHERE} is -9223372036854775809; expected an integer in ${I64}`,
    )
    expect(refusal('int64', 9223372036854775808n)).toBe(
      `${WHERE} is 9223372036854775808; expected an integer in ${I64}`,
    )
    expect(refusal('uint64', -1n)).toBe(`${WHERE} is -1; expected an integer in ${U64}`)
    expect(refusal('uint64', 18446744073709551616n)).toBe(
      `${WHERE} is 18446744073709551616; expected an integer in ${U64}`,
    )
  })

  it('refuses integral numbers past 2^53 - 1 with a hint: they were rounded before they got here', () => {
    expect(refusal('int64', 9007199254740992)).toBe(
      `${WHERE} is 9007199254740992; expected an integer in ${I64}${HINT}`,
    )
    expect(refusal('int64', -9007199254740992)).toBe(
      `${WHERE} is -9007199254740992; expected an integer in ${I64}${HINT}`,
    )
    expect(refusal('uint64', 1e19)).toBe(`${WHERE} is 10000000000000000000; expected an integer in ${U64}${HINT}`)
  })

  it('refuses fractions without the hint, and non-numbers as such', () => {
    expect(refusal('int64', 1.5)).toBe(`${WHERE} is 1.5; expected an integer in ${I64}`)
    expect(refusal('uint64', -0.5)).toBe(`${WHERE} is -0.5; expected an integer in ${U64}`)
    expect(refusal('int64', '5')).toBe(`${WHERE} is "5"; expected a number (int64)`)
    expect(refusal('uint64', false)).toBe(`${WHERE} is false; expected a number (uint64)`)
    expect(refusal('int64', null)).toBe(`${WHERE} is null; expected a number (int64)`)
  })
})

describe('setter: the rounding hint names only values that rounding explains', () => {
  const U64 = '[0, 18446744073709551615] (uint64)'
  const I64 = '[-9223372036854775808, 9223372036854775807] (int64)'

  it('says nothing of fractions for integers outside the full 64-bit range', () => {
    expect(refusal('uint64', -1)).toBe(`${WHERE} is -1; expected an integer in ${U64}`)
    expect(refusal('uint64', -1e18)).toBe(`${WHERE} is -1000000000000000000; expected an integer in ${U64}`)
    expect(refusal('int64', 1e19)).toBe(`${WHERE} is 10000000000000000000; expected an integer in ${I64}`)
    expect(refusal('int64', -1e19)).toBe(`${WHERE} is -10000000000000000000; expected an integer in ${I64}`)
    expect(refusal('uint64', 2e19)).toBe(`${WHERE} is 20000000000000000000; expected an integer in ${U64}`)
  })

  it('gives the hint up to the ends of the range as doubles reach them', () => {
    const HINT = ', written without a fraction or exponent'
    // -2^63 is a double; 2^63 - 1 and 2^64 - 1 are not: the nearest below are 2^63 - 1024 and 2^64 - 2048.
    expect(refusal('int64', -(2 ** 63))).toBe(`${WHERE} is -9223372036854776000; expected an integer in ${I64}${HINT}`)
    expect(refusal('int64', 2 ** 63 - 1024)).toBe(
      `${WHERE} is 9223372036854775000; expected an integer in ${I64}${HINT}`,
    )
    expect(refusal('int64', 2 ** 63)).toBe(`${WHERE} is 9223372036854776000; expected an integer in ${I64}`)
    expect(refusal('uint64', 2 ** 64 - 2048)).toBe(
      `${WHERE} is 18446744073709550000; expected an integer in ${U64}${HINT}`,
    )
    expect(refusal('uint64', 2 ** 64)).toBe(`${WHERE} is 18446744073709552000; expected an integer in ${U64}`)
  })
})

/** What `f` throws: an InvalidInputError's message. */
function thrown(f: () => unknown): string {
  try {
    f()
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidInputError)
    return (e as Error).message
  }
  throw new Error('nothing thrown')
}

/** A tensor's values as a plain list. */
const list = (a: ArrayLike<number | bigint>): Array<number | bigint> => Array.from(a)

const roomy = () => new TensorBudget(1e9)
const X = "input 'x'"

describe('tensorFromJson', () => {
  it('flattens nested data row-major', () => {
    const t = tensorFromJson(
      'int16',
      [2, 3],
      [
        [1, -2, 3],
        [40, 5, -600],
      ],
      X,
      roomy(),
    )
    expect(t.dtype).toBe('int16')
    expect(t.dims).toEqual([2, 3])
    expect(list(t.data)).toEqual([1, -2, 3, 40, 5, -600])
    expect(t.data).toBeInstanceOf(Int16Array)
  })

  it('takes flat data for any shape with as many values', () => {
    const t = tensorFromJson('float64', [3, 1], [0.5, -1.25, 7], X, roomy())
    expect(t.dims).toEqual([3, 1])
    expect(list(t.data)).toEqual([0.5, -1.25, 7])
  })

  it('takes a scalar for the scalar shape, and names the input alone when it is wrong', () => {
    const t = tensorFromJson('uint8', [], 200, X, roomy())
    expect(t.dims).toEqual([])
    expect(list(t.data)).toEqual([200])
    expect(thrown(() => tensorFromJson('float32', [], 'a', X, roomy()))).toBe(
      `${X} is "a"; expected a number (float32)`,
    )
  })

  it('refuses a scalar for a shape with dims', () => {
    expect(thrown(() => tensorFromJson('float32', [1], 3, X, roomy()))).toBe(`${X}: data must be an array`)
    expect(thrown(() => tensorFromJson('float32', [2], 3, X, roomy()))).toBe(`${X}: data must be an array`)
  })

  it('refuses an object that looks like nested data', () => {
    const fake = { length: 1, 0: [1] }
    expect(thrown(() => tensorFromJson('float32', [1], fake, X, roomy()))).toBe(`${X}: data must be an array`)
  })

  it('names a flat element by its index, a nested one by its path', () => {
    expect(thrown(() => tensorFromJson('int8', [3], [1, 2, 300], X, roomy()))).toBe(
      `${X} element 2 is 300; expected an integer in [-128, 127] (int8)`,
    )
    expect(
      thrown(() =>
        tensorFromJson(
          'bool',
          [2, 2],
          [
            [true, false],
            [2, true],
          ],
          X,
          roomy(),
        ),
      ),
    ).toBe(`${X} element [1][0] is 2; expected true or false`)
    expect(
      thrown(() =>
        tensorFromJson(
          'float32',
          [1, 2, 2],
          [
            [
              [1, 2],
              [3, 'z'],
            ],
          ],
          X,
          roomy(),
        ),
      ),
    ).toBe(`${X} element [0][1][1] is "z"; expected a number (float32)`)
  })

  it('counts the values of flat data against the shape', () => {
    expect(thrown(() => tensorFromJson('float32', [2, 3], [1, 2, 3, 4, 5], X, roomy()))).toBe(
      `${X}: shape [2,3] needs 6 values, data has 5`,
    )
    expect(thrown(() => tensorFromJson('float32', [1073741824, 1073741824], [1], X, roomy()))).toBe(
      `${X}: shape [1073741824,1073741824] needs more than 2^53 values, data has 1`,
    )
  })

  it('reports ragged and too deep nesting with its path', () => {
    expect(thrown(() => tensorFromJson('float32', [2, 2], [[1, 2], [3]], X, roomy()))).toBe(
      `${X}: ragged data at [1]: 1 items, expected 2 for shape [2,2]`,
    )
    expect(thrown(() => tensorFromJson('float32', [3, 1], [[1], [2]], X, roomy()))).toBe(
      `${X}: ragged data at the top level: 2 items, expected 3 for shape [3,1]`,
    )
    expect(thrown(() => tensorFromJson('float32', [2, 1, 1], [[[1]], [2]], X, roomy()))).toBe(
      `${X}: ragged data at [1][0]: a scalar, expected 1 for shape [2,1,1]`,
    )
    expect(thrown(() => tensorFromJson('float32', [2, 1], [[1], [[2]]], X, roomy()))).toBe(
      `${X}: [1][0] nests deeper than the shape [2,1]`,
    )
  })

  it('takes 32 dims and refuses 33', () => {
    const ones = (n: number) => new Array<number>(n).fill(1)
    const t = tensorFromJson('int32', ones(32), [-5], X, roomy())
    expect(t.dims.length).toBe(32)
    expect(list(t.data)).toEqual([-5])
    expect(thrown(() => tensorFromJson('int32', ones(33), [-5], X, roomy()))).toBe(
      `${X}: shape has 33 dims; at most 32 are accepted`,
    )
    let deep: unknown = [[-5]]
    for (let i = 0; i < 31; i++) deep = [deep]
    expect(thrown(() => tensorFromJson('int32', ones(33), deep, X, roomy()))).toBe(
      `${X}: shape has 33 dims; at most 32 are accepted`,
    )
  })

  it('reserves its bytes from the budget before allocating: one row at least per row', () => {
    // 2 × 3 int32 values: 24 bytes.
    expect(tensorFromJson('int32', [2, 3], [1, 2, 3, 4, 5, 6], X, new TensorBudget(24)).data.length).toBe(6)
    expect(
      thrown(() =>
        tensorFromJson(
          'int32',
          [2, 3],
          [
            [1, 2, 3],
            [4, 5, 6],
          ],
          X,
          new TensorBudget(23),
        ),
      ),
    ).toBe(
      `${X}: 6 values of int32 need 24 bytes, more than the 23 bytes left of the request's limit of 23 (LASTMILE_TENSOR_LIMIT_BYTES)`,
    )
    // 4 empty rows of float64 still cost 4 × 8 bytes.
    expect(thrown(() => tensorFromJson('float64', [4, 0], [[], [], [], []], X, new TensorBudget(31)))).toBe(
      `${X}: 0 values of float64 need 32 bytes, more than the 31 bytes left of the request's limit of 31 (LASTMILE_TENSOR_LIMIT_BYTES)`,
    )
  })
})

describe('stringsFromJson and columnFromJson', () => {
  it('keeps strings, and writes numbers, bigints and booleans as text', () => {
    const s = stringsFromJson(
      [2, 3],
      [
        ['a', 1.5, 12345678901234567890n],
        [true, -0.25, ''],
      ],
      X,
      roomy(),
    )
    expect(s).toStrictEqual({
      dtype: 'string',
      dims: [2, 3],
      data: ['a', '1.5', '12345678901234567890', 'true', '-0.25', ''],
    })
  })

  it('takes flat and scalar string data', () => {
    expect(stringsFromJson([3], ['x', 'yy', 7], X, roomy()).data).toEqual(['x', 'yy', '7'])
    expect(stringsFromJson([], 'solo', X, roomy())).toStrictEqual({ dtype: 'string', dims: [], data: ['solo'] })
    expect(stringsFromJson([0], [], X, roomy())).toStrictEqual({ dtype: 'string', dims: [0], data: [] })
  })

  it('refuses null, objects and arrays in place of a string', () => {
    expect(thrown(() => stringsFromJson([2], ['a', null], X, roomy()))).toBe(
      `${X} element 1 is null; expected a string or a number`,
    )
    expect(thrown(() => stringsFromJson([1, 2], [['a', { b: 1 }]], X, roomy()))).toBe(
      `${X} element [0][1] is {…}; expected a string or a number`,
    )
    expect(thrown(() => stringsFromJson([], undefined, X, roomy()))).toBe(
      `${X} is undefined; expected a string or a number`,
    )
  })

  it('counts a string as 8 bytes of the budget', () => {
    expect(stringsFromJson([3], ['a', 'b', 'c'], X, new TensorBudget(24)).data).toEqual(['a', 'b', 'c'])
    expect(thrown(() => stringsFromJson([3], ['a', 'b', 'c'], X, new TensorBudget(20)))).toBe(
      `${X}: 3 values of string need 24 bytes, more than the 20 bytes left of the request's limit of 20 (LASTMILE_TENSOR_LIMIT_BYTES)`,
    )
  })

  it('columnFromJson: strings for the string dtype, a typed tensor otherwise', () => {
    expect(columnFromJson('string', [2], [3, 'q'], X, roomy())).toStrictEqual({
      dtype: 'string',
      dims: [2],
      data: ['3', 'q'],
    })
    const t = columnFromJson('uint16', [2], [3, 65535], X, roomy())
    expect(t.dtype).toBe('uint16')
    expect(t.data).toBeInstanceOf(Uint16Array)
    expect(Array.from(t.data as Uint16Array)).toEqual([3, 65535])
  })
})
