/**
 * Decode limits: element counts that stop at a bound, the tensor byte budget, and the short
 * previews of JSON values that error messages quote. Expected values are written out by hand.
 */
import { describe, expect, it } from 'vitest'
import { InvalidInputError } from '../../src/errors.js'
import { preview, shapeElements, TensorBudget, UNLIMITED } from '../../src/formats/limits.js'
import { refusal } from '../helpers/refusal.js'

describe('shapeElements', () => {
  it('multiplies dims up to and including the bound', () => {
    expect(shapeElements([2, 3, 5], 30)).toBe(30)
    expect(shapeElements([2, 3], 6)).toBe(6)
    expect(shapeElements([7], 7)).toBe(7)
    expect(shapeElements([], 1)).toBe(1)
  })

  it('answers Infinity one past the bound', () => {
    expect(shapeElements([2, 3, 5], 29)).toBe(Number.POSITIVE_INFINITY)
    expect(shapeElements([8], 7)).toBe(Number.POSITIVE_INFINITY)
  })

  it('answers 0 for a zero dim even after a product past the bound', () => {
    expect(shapeElements([1e9, 1e9, 0], 10)).toBe(0)
    expect(shapeElements([4, 0, 3], 1)).toBe(0)
  })
})

describe('TensorBudget', () => {
  it('takes bytes up to the limit exactly, then names what is left', () => {
    const budget = new TensorBudget(100)
    budget.take('input a', 10, 2, 'float64') // 80 bytes
    budget.take('input b', 5, 5, 'int32') // 20 bytes: 100 in all
    const e = refusal(() => budget.take('input c', 1, 1, 'uint8'))
    expect(e).toBeInstanceOf(InvalidInputError)
    expect(e.message).toBe(
      "input c: 1 values of uint8 need 1 bytes, more than the 0 bytes left of the request's limit of 100 (LASTMILE_TENSOR_LIMIT_BYTES)",
    )
  })

  it('counts a string as 8 bytes and at least one element per row', () => {
    const budget = new TensorBudget(40, '4 × the body')
    budget.take('names', 3, 1, 'string') // 24 bytes
    const e = refusal(() => budget.take('empty rows', 0, 3, 'string'))
    expect(e).toBeInstanceOf(InvalidInputError)
    expect(e.message).toBe(
      "empty rows: 0 values of string need 24 bytes, more than the 16 bytes left of the request's limit of 40 (4 × the body)",
    )
  })
})

describe('UNLIMITED', () => {
  it('has no tensor byte cap', () => {
    expect(UNLIMITED).toEqual({ maxTensorBytes: Number.POSITIVE_INFINITY })
  })
})

describe('preview', () => {
  it('writes scalars as JSON, numbers as clients write them', () => {
    expect(preview(-2.5)).toBe('-2.5')
    expect(preview(Number.NaN)).toBe('NaN')
    expect(preview(Number.NEGATIVE_INFINITY)).toBe('-Infinity')
    expect(preview(18446744073709551615n)).toBe('18446744073709551615')
    expect(preview(-3n)).toBe('-3')
    expect(preview('a"b')).toBe('"a\\"b"')
    expect(preview(true)).toBe('true')
    expect(preview(null)).toBe('null')
    expect(preview(undefined)).toBe('undefined')
  })

  it('writes an object as {…}, never its members', () => {
    expect(preview({ a: 1 })).toBe('{…}')
    expect(preview({})).toBe('{…}')
  })

  it('writes up to 4 elements of an array, nested values as […] and {…}', () => {
    expect(preview([])).toBe('[]')
    expect(preview([1, 'a', null, false])).toBe('[1,"a",null,false]')
    expect(preview([[2, 3], { b: 4 }, null, 7n])).toBe('[[…],{…},null,7]')
    expect(preview([undefined, Number.NaN])).toBe('[undefined,NaN]')
  })

  it('ends an array of 5 or more with ,…', () => {
    expect(preview([9, 8, 7, 6, 5])).toBe('[9,8,7,6,…]')
    expect(preview([[1], 2, 3, 4, { x: 5 }, 6])).toBe('[[…],2,3,4,…]')
  })

  it('keeps a text of exactly max characters and cuts one longer', () => {
    expect(preview(12345, 5)).toBe('12345')
    expect(preview(123456, 5)).toBe('12345…')
    expect(preview('abcdefgh', 4)).toBe('"abc…')
    expect(preview([10, 20, 30], 8)).toBe('[10,20,3…')
    expect(preview([10, 20, 30], 10)).toBe('[10,20,30]')
  })

  it('cuts at 60 characters by default', () => {
    const text = 'x'.repeat(100)
    expect(preview(text)).toBe(`"${'x'.repeat(59)}…`)
    expect(preview('y'.repeat(58))).toBe(`"${'y'.repeat(58)}"`)
    expect(preview('y'.repeat(59))).toBe(`"${'y'.repeat(59)}…`)
  })
})
