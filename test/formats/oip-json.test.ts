/**
 * JSON as inference clients write and read it: exact 64-bit integers and NaN/±Infinity literals
 * in (tritonclient's python-rapidjson sends them; JSON.parse rounds or refuses), and tensor data
 * out as Triton's server writes it. Expected texts are written out by hand.
 */
import { describe, expect, it } from 'vitest'
import type { AnyTensor } from '../../src/engine/tensor.js'
import { InvalidRequestError } from '../../src/errors.js'
import { parseWireJson } from '../../src/formats/json-parse.js'
import { tensorDataJson } from '../../src/formats/json-write.js'

const bytes = (text: string) => new TextEncoder().encode(text)
const parse = (text: string) => parseWireJson(bytes(text))

function refusal(text: string): Error {
  try {
    parse(text)
  } catch (e) {
    return e as Error
  }
  throw new Error(`expected ${text} to be refused`)
}

describe('reading JSON bodies', () => {
  it('reads NaN, Infinity and -Infinity literals as rapidjson does (Inf, -Inf and -NaN too)', () => {
    expect(parse('{"data":[NaN, Infinity,-Infinity, Inf, -Inf, -NaN, 1.5]}')).toEqual({
      data: [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Infinity, -Infinity, Number.NaN, 1.5],
    })
  })

  it('reads integers past 2^53 exactly, as bigints, and keeps smaller ones numbers', () => {
    expect(
      parse(
        '[9223372036854775807, -9223372036854775808, 18446744073709551615, 9007199254740993, 9007199254740991, 12]',
      ),
    ).toEqual([
      9223372036854775807n,
      -9223372036854775808n,
      18446744073709551615n,
      9007199254740993n,
      9007199254740991,
      12,
    ])
    // JSON.parse, for comparison, rounds: 2^63 - 1 becomes 9223372036854775808.
    expect(JSON.parse('[9223372036854775807]')[0]).toBe(2 ** 63)
  })

  it('keeps floats with long fractions and exponents numbers, as JSON.parse reads them', () => {
    const text = '[0.10000000149011612, 1.0000000000000002e-300, 12345678901234567.5, -0, 1E+2]'
    expect(parse(text)).toEqual(JSON.parse(text))
    expect(Object.is((parse('[-0]') as number[])[0], -0)).toBe(true)
  })

  it('reads an integer of more than 20 digits (past any 64-bit type) as a rounded number, without a bigint', () => {
    expect(parse(`[${'9'.repeat(30)}]`)).toEqual([1e30])
  })

  it('reads strings and escapes as JSON.parse does, and keeps "__proto__" an own key', () => {
    const text = '{"a\\u00e9\\n": "x\\"y\\ud83d\\ude00", "__proto__": {"b": NaN}, "k": 9007199254740993}'
    const v = parse(text) as Record<string, unknown>
    expect(v['a\u00e9\n']).toBe('x"y\u{1f600}')
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype)
    expect(Object.keys(v)).toEqual(['a\u00e9\n', '__proto__', 'k'])
    expect(Object.getOwnPropertyDescriptor(v, '__proto__')?.value).toEqual({ b: Number.NaN })
  })

  it('nests 64 levels deep (the documented limit), and refuses a level more with a 400', () => {
    const nested = (n: number) => `${'['.repeat(n)}NaN${']'.repeat(n)}`
    expect(() => parse(nested(64))).not.toThrow()
    const e = refusal(nested(65))
    expect(e).toBeInstanceOf(InvalidRequestError)
    expect(e.message).toMatch(/malformed JSON: nested deeper than 64 levels at position 64/)
  })

  it.each([
    ['{"a": Nan}', /expected Inf at position 6/],
    ['[1,]', /expected a value at position 3/],
    ['[01]', /expected ',' or '\]' at position 2/],
    ['[1.]', /expected a digit after the decimal point at position 3/],
    ['[1e]', /expected a digit in the exponent at position 3/],
    ['{"a" 1}', /expected ':' at position 5/],
    ['{a: 1}', /expected a string key at position 1/],
    ['"abc', /unterminated string/],
    ['"a\\x"', /invalid escape in a string at position 0/],
    ['"a\nb"', /control character in a string at position 2/],
    ['[NaN] x', /unexpected text after the JSON value at position 6/],
    ['[9223372036854775807', /unexpected end; expected a value|expected ',' or '\]' at position 20 \(the end\)/],
    ['', /the request body is empty/],
  ])('refuses %j with a 400 saying what and where', (text, message) => {
    const e = refusal(text)
    expect(e).toBeInstanceOf(InvalidRequestError)
    expect(e.message).toMatch(message)
  })
})

const f32 = (...v: number[]): AnyTensor => ({ dtype: 'float32', dims: [v.length], data: Float32Array.from(v) })
const out = (t: AnyTensor, nonFiniteAsNull = false) => tensorDataJson(t, { nonFiniteAsNull })

describe('writing tensor data', () => {
  it('writes float32 widened to double, and NaN, Infinity, -Infinity, -0 as Triton does', () => {
    expect(out(f32(0.1, 2, -3.5))).toBe('[0.10000000149011612,2,-3.5]')
    expect(out(f32(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, 1e-45))).toBe(
      '[NaN,Infinity,-Infinity,-0.0,1.401298464324817e-45]',
    )
  })

  it('writes floats from 1e16 in exponent form, never as an integer of 17 to 21 digits', () => {
    const big = { dtype: 'float64' as const, dims: [4], data: Float64Array.of(1e16, -1.704952977710855e19, 9e15, 1e21) }
    expect(out(big)).toBe('[1e+16,-1.704952977710855e+19,9000000000000000,1e+21]')
  })

  it('writes every non-finite value as null when the request asks (non_finite_as_null)', () => {
    expect(out(f32(1, Number.NaN, Number.NEGATIVE_INFINITY, -0), true)).toBe('[1,null,null,-0.0]')
    expect(out({ dtype: 'float64', dims: [2], data: Float64Array.of(Number.POSITIVE_INFINITY, 0.1) }, true)).toBe(
      '[null,0.1]',
    )
  })

  it('writes INT64 and UINT64 exactly at their extremes', () => {
    expect(
      out({ dtype: 'int64', dims: [3], data: BigInt64Array.of(-(2n ** 63n), 2n ** 63n - 1n, 9007199254740993n) }),
    ).toBe('[-9223372036854775808,9223372036854775807,9007199254740993]')
    expect(out({ dtype: 'uint64', dims: [2], data: BigUint64Array.of(2n ** 64n - 1n, 0n) })).toBe(
      '[18446744073709551615,0]',
    )
  })

  it('writes FP16 as its value, BOOL as true/false, integers and BYTES as JSON', () => {
    expect(out({ dtype: 'float16', dims: [5], data: Uint16Array.of(15360, 49152, 14336, 31743, 0x7e00) })).toBe(
      '[1,-2,0.5,65504,NaN]',
    )
    expect(out({ dtype: 'bool', dims: [3], data: Uint8Array.of(1, 0, 1) })).toBe('[true,false,true]')
    expect(out({ dtype: 'int8', dims: [2], data: Int8Array.of(-128, 127) })).toBe('[-128,127]')
    expect(out({ dtype: 'string', dims: [2], data: ['a"b', 'é'] })).toBe('["a\\"b","é"]')
  })
})
