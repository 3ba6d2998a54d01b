/**
 * OIP v2 request decoding under hostile shapes and sizes: every claimed size is checked against
 * the values or bytes present, and the configured limit, before a tensor is allocated; each
 * refusal names the input and the field. Expected values are written out by hand.
 */
import { describe, expect, it } from 'vitest'
import type { ColumnSpec } from '../../src/engine/tensor.js'
import { InvalidInputError, InvalidRequestError } from '../../src/errors.js'
import { decodeOipRequest, splitBinaryBody } from '../../src/formats/oip.js'

const specs: ColumnSpec[] = [
  { name: 'x', dtype: 'float32', shape: ['N', 4] },
  { name: 'k', dtype: 'int64', shape: ['N'] },
  { name: 'key', dtype: 'string', shape: ['N'] },
]
const input = (over: Record<string, unknown>) => ({ name: 'x', datatype: 'FP32', shape: [2, 4], ...over })
const decode = (inputs: unknown[], binary?: Uint8Array, maxTensorBytes = Number.POSITIVE_INFINITY) =>
  decodeOipRequest({ inputs }, binary, specs, { maxTensorBytes })
const bytesOf = (a: Float32Array) => new Uint8Array(a.buffer)

/** Runs `f` and returns what it threw, with how long it took. */
function refusal(f: () => unknown): { error: Error; ms: number } {
  const t0 = performance.now()
  try {
    f()
  } catch (error) {
    return { error: error as Error, ms: performance.now() - t0 }
  }
  throw new Error('expected a refusal')
}

describe('OIP shapes against the data present', () => {
  it.each([
    [[1.4e9, 4], /input 'x': shape \[1400000000,4\] needs 5600000000 values, data has 8/],
    [[1e9, 4], /input 'x': shape \[1000000000,4\] needs 4000000000 values, data has 8/],
    [[2 ** 40, 2 ** 40, 2 ** 40], /needs more than 2\^53 values, data has 8/],
  ])('refuses shape %j with 8 values at once, before allocating', (shape, message) => {
    const { error, ms } = refusal(() => decode([input({ shape, data: [1, 2, 3, 4, 5, 6, 7, 8] })]))
    expect(error).toBeInstanceOf(InvalidInputError)
    expect(error.message).toMatch(message)
    expect(ms).toBeLessThan(1000) // an allocation of 16 GB would take far longer, or fail
  })

  it('refuses a nested claim as soon as a level is shorter than its dim', () => {
    const { error } = refusal(() => decode([input({ shape: [1e9, 4], data: [[1, 2, 3, 4]] })]))
    expect(error.message).toMatch(/input 'x': ragged data at the top level: 1 items, expected 1000000000/)
    const late = refusal(() =>
      decode([
        input({
          shape: [3, 4],
          data: [
            [1, 2, 3, 4],
            [5, 6, 7, 8],
            [9, 10, 11],
          ],
        }),
      ]),
    )
    expect(late.error.message).toMatch(/ragged data at \[2\]: 3 items, expected 4 for shape \[3,4\]/)
  })

  it('refuses shapes that are not small arrays of non-negative integers, naming the field', () => {
    for (const shape of [[-1, 4], [1.5, 4], ['2', 4], 'x', Array(33).fill(1), [2 ** 60, 1]]) {
      const { error } = refusal(() => decode([input({ shape, data: [] })]))
      expect(error).toBeInstanceOf(InvalidRequestError)
      expect(error.message).toMatch(/input 'x': "shape" must be an array of at most 32 non-negative integers/)
    }
  })

  it('decodes flat and nested data row-major, and zero-size shapes without values', () => {
    const flat = decode([input({ data: [1, 2, 3, 4, 5, 6, 7, 8.5] })]).feeds.x
    const nested = decode([
      input({
        data: [
          [1, 2, 3, 4],
          [5, 6, 7, 8.5],
        ],
      }),
    ]).feeds.x
    for (const t of [flat, nested]) {
      expect(t?.dims).toEqual([2, 4])
      expect(Array.from(t?.data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6, 7, 8.5])
    }
    expect(decode([input({ shape: [0, 1e12], data: [] })]).feeds.x?.dims).toEqual([0, 1e12])
  })

  it('refuses a key column whose shape claims more strings than it has', () => {
    const { error } = refusal(() => decode([{ name: 'key', datatype: 'BYTES', shape: [1e9], data: ['a', 'b'] }]))
    expect(error.message).toMatch(/input 'key': shape \[1000000000\] needs 1000000000 values, data has 2/)
  })
})

describe('OIP input names', () => {
  it("keeps an input named __proto__ an input (for the deployment to refuse), not the feeds' prototype", () => {
    const { feeds } = decode([
      input({ data: [1, 2, 3, 4, 5, 6, 7, 8] }),
      JSON.parse('{"name":"__proto__","datatype":"FP32","shape":[1],"data":[1]}'),
    ])
    expect(Object.getPrototypeOf(feeds)).toBe(Object.prototype)
    expect(Object.keys(feeds)).toEqual(['x', '__proto__'])
  })
})

describe('OIP binary extension sizes', () => {
  const x = Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8)

  it('decodes binary inputs at their offsets', () => {
    const k = new BigInt64Array([7n, -3n])
    const binary = new Uint8Array([...bytesOf(x), ...new Uint8Array(k.buffer)])
    const { feeds } = decode(
      [
        input({ parameters: { binary_data_size: 32 } }),
        { name: 'k', datatype: 'INT64', shape: [2], parameters: { binary_data_size: 16 } },
      ],
      binary.subarray(0), // any alignment
    )
    expect(Array.from(feeds.x?.data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
    expect(Array.from(feeds.k?.data as BigInt64Array)).toEqual([7n, -3n])
  })

  it.each([
    [{ binary_data_size: 1e12 }, [2, 4], /binary_data_size is 1000000000000 but the binary part has 32 bytes left/],
    [
      { binary_data_size: 32 },
      [1e9, 4],
      /binary_data_size is 32 but shape \[1000000000,4\] of float32 needs 16000000000/,
    ],
    [{ binary_data_size: 32 }, [1.4e9, 4], /needs 22400000000 bytes/],
    [{ binary_data_size: 32 }, [2 ** 30, 2 ** 30, 2 ** 30], /needs more than 2\^53 bytes/],
    [{ binary_data_size: -8 }, [2, 4], /binary_data_size must be a non-negative integer, got -8/],
    [{ binary_data_size: '32' }, [2, 4], /binary_data_size must be a non-negative integer, got "32"/],
    [{ binary_data_size: 31.5 }, [2, 4], /binary_data_size must be a non-negative integer/],
  ])('refuses binary_data_size %j with shape %j', (parameters, shape, message) => {
    const { error, ms } = refusal(() => decode([input({ shape, parameters })], bytesOf(x)))
    expect(error.message).toMatch(/input 'x'/)
    expect(error.message).toMatch(message)
    expect(ms).toBeLessThan(1000)
  })

  it('refuses bytes left over after the last binary input', () => {
    const { error } = refusal(() =>
      decode([input({ shape: [1, 4], parameters: { binary_data_size: 16 } })], bytesOf(x)),
    )
    expect(error.message).toMatch(/the binary part has 32 bytes but inputs declare 16/)
  })

  it('splits a body at Inference-Header-Content-Length only for a decimal count within the body', () => {
    const body = new Uint8Array(10)
    expect(splitBinaryBody(body, '4').binary.length).toBe(6)
    expect(splitBinaryBody(body, '10').binary.length).toBe(0)
    for (const bad of ['11', '-1', '1e1', '0x4', '', ' ', '4.0', '99999999999999999999']) {
      const { error } = refusal(() => splitBinaryBody(body, bad))
      expect(error).toBeInstanceOf(InvalidRequestError)
      expect(error.message).toMatch(
        /Inference-Header-Content-Length is .*; expected a byte count from 0 to the body's 10 bytes/,
      )
    }
  })
})

describe('the configured tensor limit', () => {
  it('counts every input of a request against one budget, naming the input that passes it', () => {
    const data = [1, 2, 3, 4, 5, 6, 7, 8]
    // x takes 32 bytes, k 16: 48 fit, 47 do not.
    const inputs = [input({ data }), { name: 'k', datatype: 'INT64', shape: [2], data: [1, 2] }]
    expect(Object.keys(decode(inputs, undefined, 48).feeds)).toEqual(['x', 'k'])
    const { error } = refusal(() => decode(inputs, undefined, 47))
    expect(error).toBeInstanceOf(InvalidInputError)
    expect(error.message).toMatch(
      /input 'k': 2 values of int64 need 16 bytes, more than the 15 bytes left of the request's limit of 47/,
    )
  })

  it('counts a tensor of empty rows by its rows', () => {
    const { error } = refusal(() => decode([input({ shape: [1e6, 0], data: [] })], undefined, 1e6))
    expect(error.message).toMatch(/input 'x': 0 values of float32 need 4000000 bytes/)
  })

  it('applies to binary inputs before they are copied', () => {
    const { error } = refusal(() =>
      decode([input({ parameters: { binary_data_size: 32 } })], bytesOf(Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8)), 31),
    )
    expect(error.message).toMatch(/input 'x': 8 values of float32 need 32 bytes/)
  })
})
