/**
 * Triton's binary tensor data extension, element by element: numeric inputs as raw little-endian
 * bytes at any offset, BYTES as a 4-byte little-endian length then the UTF-8 bytes per element
 * (tritonclient's `serialize_byte_tensor`), every size checked at its boundary, and outputs
 * written the same way. Expected bytes are written out by hand.
 */
import { describe, expect, it } from 'vitest'
import type { AnyTensor } from '../../src/engine/tensor.js'
import { InvalidInputError, InvalidRequestError } from '../../src/errors.js'
import { TensorBudget } from '../../src/formats/limits.js'
import { binaryOutput, binaryTensor, bytesTensor } from '../../src/formats/oip-binary.js'

const unlimited = () => new TensorBudget(Number.POSITIVE_INFINITY)

function expectRefusal(f: () => unknown, cls: typeof InvalidRequestError | typeof InvalidInputError, message: string) {
  let error: unknown
  try {
    f()
  } catch (e) {
    error = e
  }
  expect(error).toBeInstanceOf(cls)
  expect((error as Error).message).toBe(message)
}

describe('numeric binary inputs', () => {
  it('reads little-endian values at an unaligned offset, and only the bytes of the input', () => {
    // One byte before, then int16 0x1234 and -2, then a byte after.
    const binary = Uint8Array.of(9, 0x34, 0x12, 0xfe, 0xff, 7)
    expect(binaryTensor('w', 'int16', [2], binary, 1, 4, unlimited())).toStrictEqual({
      dtype: 'int16',
      dims: [2],
      data: Int16Array.of(0x1234, -2),
    })
  })

  it('reads BOOL as one byte each and FP16 as the half bits', () => {
    expect(binaryTensor('b', 'bool', [1, 3], Uint8Array.of(1, 0, 1), 0, 3, unlimited())).toStrictEqual({
      dtype: 'bool',
      dims: [1, 3],
      data: Uint8Array.of(1, 0, 1),
    })
    expect(binaryTensor('h', 'float16', [1], Uint8Array.of(0x00, 0x3c), 0, 2, unlimited()).data).toStrictEqual(
      Uint16Array.of(0x3c00),
    )
  })

  it('refuses a size past the bytes left after the offset', () => {
    const binary = new Uint8Array(10)
    expect(binaryTensor('w', 'int16', [2], binary, 6, 4, unlimited()).data).toStrictEqual(Int16Array.of(0, 0))
    expectRefusal(
      () => binaryTensor('w', 'int16', [3], binary, 6, 6, unlimited()),
      InvalidRequestError,
      "input 'w': parameters.binary_data_size is 6 but the binary part has 4 bytes left",
    )
  })

  it('refuses a size other than the shape needs, either way', () => {
    expectRefusal(
      () => binaryTensor('w', 'int16', [2, 3], new Uint8Array(10), 0, 10, unlimited()),
      InvalidInputError,
      "input 'w': parameters.binary_data_size is 10 but shape [2,3] of int16 needs 12 bytes",
    )
    expectRefusal(
      () => binaryTensor('w', 'int16', [2, 3], new Uint8Array(14), 0, 14, unlimited()),
      InvalidInputError,
      "input 'w': parameters.binary_data_size is 14 but shape [2,3] of int16 needs 12 bytes",
    )
  })

  it('counts bytes exactly up to 2^53 - 1 and says "more than 2^53" past it', () => {
    const f64 = (n: number) => () => binaryTensor('d', 'float64', [n], new Uint8Array(8), 0, 8, unlimited())
    // (2^53 - 1) / 8 = 1125899906842623.875 elements of 8 bytes fit a safe integer count.
    expectRefusal(
      f64(1125899906842623),
      InvalidInputError,
      "input 'd': parameters.binary_data_size is 8 but shape [1125899906842623] of float64 needs 9007199254740984 bytes",
    )
    expectRefusal(
      f64(1125899906842624),
      InvalidInputError,
      "input 'd': parameters.binary_data_size is 8 but shape [1125899906842624] of float64 needs more than 2^53 bytes",
    )
    expectRefusal(
      () => binaryTensor('u', 'uint8', [9007199254740991], new Uint8Array(1), 0, 1, unlimited()),
      InvalidInputError,
      "input 'u': parameters.binary_data_size is 1 but shape [9007199254740991] of uint8 needs 9007199254740991 bytes",
    )
  })

  it('charges the budget one element a row at least, before copying', () => {
    // Shape [1000, 0]: no values, but 1000 rows of 4 bytes.
    expect(binaryTensor('x', 'float32', [1000, 0], new Uint8Array(0), 0, 0, new TensorBudget(4000)).dims).toStrictEqual(
      [1000, 0],
    )
    expectRefusal(
      () => binaryTensor('x', 'float32', [1000, 0], new Uint8Array(0), 0, 0, new TensorBudget(3999)),
      InvalidInputError,
      "input 'x': 0 values of float32 need 4000 bytes, more than the 3999 bytes left of the request's limit of 3999 (LASTMILE_TENSOR_LIMIT_BYTES)",
    )
    expect(binaryTensor('s', 'int32', [], Uint8Array.of(5, 0, 0, 0), 0, 4, new TensorBudget(4)).data).toStrictEqual(
      Int32Array.of(5),
    )
  })
})

/** 'eu', '', 'été' (UTF-8 c3 a9 74 c3 a9) as tritonclient's serialize_byte_tensor lays them out. */
const EU_EMPTY_ETE = [2, 0, 0, 0, 101, 117, 0, 0, 0, 0, 5, 0, 0, 0, 0xc3, 0xa9, 0x74, 0xc3, 0xa9]

describe('BYTES binary inputs', () => {
  it('reads length-prefixed UTF-8 elements at an offset, empty ones too', () => {
    const binary = Uint8Array.of(0xaa, 0xbb, ...EU_EMPTY_ETE, 0xcc)
    const t = bytesTensor('key', [3], binary, 2, 19, unlimited())
    expect(t).toStrictEqual({ dtype: 'string', dims: [3], data: ['eu', '', 'été'] })
    expect(bytesTensor('key', [1, 3], Uint8Array.from(EU_EMPTY_ETE), 0, 19, unlimited())).toStrictEqual({
      dtype: 'string',
      dims: [1, 3],
      data: ['eu', '', 'été'],
    })
  })

  it('reads a length past 255 little-endian', () => {
    const binary = new Uint8Array(4 + 300).fill(0x61)
    binary.set([44, 1, 0, 0]) // 300 = 0x012c
    expect(bytesTensor('key', [1], binary, 0, 304, unlimited()).data).toStrictEqual(['a'.repeat(300)])
  })

  it('reads as many empty elements as 4-byte prefixes fit, and refuses one more up front', () => {
    expect(bytesTensor('key', [2], new Uint8Array(8), 0, 8, unlimited()).data).toStrictEqual(['', ''])
    const eleven = Uint8Array.of(1, 0, 0, 0, 97, 2, 0, 0, 0, 98, 99)
    expect(bytesTensor('key', [2], eleven, 0, 11, unlimited()).data).toStrictEqual(['a', 'bc'])
    expectRefusal(
      () => bytesTensor('key', [3], new Uint8Array(11), 0, 11, unlimited()),
      InvalidInputError,
      "input 'key': shape [3] of BYTES needs at least 4 bytes an element, but parameters.binary_data_size is 11",
    )
  })

  it('refuses an element without its length prefix', () => {
    expectRefusal(
      () => bytesTensor('key', [2], Uint8Array.of(2, 0, 0, 0, 97, 98, 0, 0), 0, 8, unlimited()),
      InvalidInputError,
      "input 'key': element 1 has no length prefix; the 8 bytes end at 6",
    )
  })

  it('takes a last element that ends at the size, and refuses one byte more', () => {
    const fits = Uint8Array.of(1, 0, 0, 0, 122, 3, 0, 0, 0, 97, 98, 99)
    expect(bytesTensor('key', [2], fits, 0, 12, unlimited()).data).toStrictEqual(['z', 'abc'])
    const over = Uint8Array.of(1, 0, 0, 0, 122, 4, 0, 0, 0, 97, 98, 99)
    expectRefusal(
      () => bytesTensor('key', [2], over, 0, 12, unlimited()),
      InvalidInputError,
      "input 'key': element 1 claims 4 bytes but 3 are left of binary_data_size 12",
    )
  })

  it('refuses a length prefix read big-endian-large', () => {
    expectRefusal(
      () => bytesTensor('key', [1], Uint8Array.of(0, 0, 0, 1, 97), 0, 5, unlimited()),
      InvalidInputError,
      "input 'key': element 0 claims 16777216 bytes but 1 are left of binary_data_size 5",
    )
  })

  it('refuses an element that is not UTF-8', () => {
    expectRefusal(
      () => bytesTensor('key', [2], Uint8Array.of(1, 0, 0, 0, 97, 2, 0, 0, 0, 0xc3, 0x28), 0, 11, unlimited()),
      InvalidInputError,
      "input 'key': element 1 is not UTF-8 text",
    )
  })

  it('refuses bytes left over after the last element', () => {
    expectRefusal(
      () => bytesTensor('key', [1], Uint8Array.of(1, 0, 0, 0, 97, 0, 0, 0, 0, 0), 0, 10, unlimited()),
      InvalidInputError,
      "input 'key': the 1 elements of shape [1] take 5 bytes but parameters.binary_data_size is 10",
    )
  })

  it('refuses a size past the bytes left', () => {
    expectRefusal(
      () => bytesTensor('key', [1], new Uint8Array(12), 5, 8, unlimited()),
      InvalidRequestError,
      "input 'key': parameters.binary_data_size is 8 but the binary part has 7 bytes left",
    )
  })

  it('charges the budget 8 bytes a string, one a row at least', () => {
    expectRefusal(
      () => bytesTensor('key', [5, 0], new Uint8Array(0), 0, 0, new TensorBudget(39)),
      InvalidInputError,
      "input 'key': 0 values of string need 40 bytes, more than the 39 bytes left of the request's limit of 39 (LASTMILE_TENSOR_LIMIT_BYTES)",
    )
    expect(bytesTensor('key', [5, 0], new Uint8Array(0), 0, 0, new TensorBudget(40))).toStrictEqual({
      dtype: 'string',
      dims: [5, 0],
      data: [],
    })
  })
})

describe('binary outputs', () => {
  it('writes a numeric tensor as its own bytes, from a view at an offset', () => {
    const whole = Int32Array.of(-1, 0x01020304, -2)
    const t: AnyTensor = { dtype: 'int32', dims: [1], data: whole.subarray(1, 2) }
    expect(Array.from(binaryOutput(t))).toStrictEqual([4, 3, 2, 1])
    const b: AnyTensor = { dtype: 'bool', dims: [3], data: Uint8Array.of(0, 1, 1) }
    expect(Array.from(binaryOutput(b))).toStrictEqual([0, 1, 1])
  })

  it('writes BYTES length-prefixed, little-endian, empty strings too', () => {
    const t: AnyTensor = { dtype: 'string', dims: [3], data: ['eu', '', 'été'] }
    expect(Array.from(binaryOutput(t))).toStrictEqual(EU_EMPTY_ETE)
    const long: AnyTensor = { dtype: 'string', dims: [1], data: ['b'.repeat(300)] }
    const bytes = binaryOutput(long)
    expect(bytes.length).toBe(304)
    expect(Array.from(bytes.subarray(0, 6))).toStrictEqual([44, 1, 0, 0, 98, 98])
    expect(Array.from(binaryOutput({ dtype: 'string', dims: [0], data: [] }))).toStrictEqual([])
  })
})
