/** Validation expressions: parsing, per-row evaluation, errors. */
import { describe, expect, it } from 'vitest'
import { tensor } from '../../src/engine/tensor.js'
import { compileValidations } from '../../src/pipeline/expr.js'

const inputs = { x: tensor('float32', [2, 3], [1, 2, 3, -4, 5, 6]) }
const outputs = {
  probs: tensor('float32', [2, 2], [0.9, 0.1, 0.4, 0.6]),
  label: tensor('int64', [2], [0, 1]),
  region: { dtype: 'string' as const, dims: [2], data: ['eu', 'us'] },
}
const ctx = (row: number) => ({
  row,
  tensor: (scope: 'in' | 'out', name: string) => (scope === 'in' ? inputs : outputs)[name as never],
})
const evalAll = (expr: string) => {
  const [v] = compileValidations({ v: expr })
  return [0, 1].map((r) => v?.check(ctx(r)))
}

describe('validation expressions', () => {
  it('compares elements of input and output rows', () => {
    expect(evalAll('out.probs[0] < 0.95')).toEqual([true, true])
    expect(evalAll('out.probs[1] > 0.5')).toEqual([false, true])
    expect(evalAll('in.x[0] >= 0 && in.x[2] <= 6')).toEqual([true, false])
    expect(evalAll('in.x[0] >= 0 || out.label == 1')).toEqual([true, true])
  })
  it('has arithmetic with precedence, unary operators and parentheses', () => {
    expect(evalAll('1 + 2 * 3 == 7 && -(2 - 5) == 3 && 7 % 4 == 3 && !(1 > 2)')).toEqual([true, true])
    expect(evalAll('in.x[0] + in.x[1] * 2 == 5')).toEqual([true, false])
  })
  it('has functions over values and whole rows, and string comparison', () => {
    expect(evalAll('abs(in.x[0]) == 1 || abs(in.x[0]) == 4')).toEqual([true, true])
    expect(evalAll('sum(in.x) == 6')).toEqual([true, false])
    expect(evalAll('max(out.probs) >= 0.6 && len(in.x) == 3 && abs(mean(out.probs) - 0.5) < 1e-6')).toEqual([
      true,
      true,
    ])
    expect(evalAll("out.region == 'eu'")).toEqual([true, false])
    expect(evalAll('!isnan(out.probs[0])')).toEqual([true, true])
  })
  it('fails a row whose expression cannot be evaluated (missing tensor, index out of range)', () => {
    expect(evalAll('out.nope > 0')).toEqual([false, false])
    expect(evalAll('out.probs[5] > 0')).toEqual([false, false])
  })
  it('rejects malformed expressions with the validation named', () => {
    expect(() => compileValidations({ bounds: 'out.probs[0] <' })).toThrow(/validation 'bounds': unexpected 'end'/)
    expect(() => compileValidations({ f: 'frobnicate(1)' })).toThrow(/unknown name 'frobnicate'/)
    expect(() => compileValidations({ g: 'in.x[1.5] > 0' })).toThrow(/expected an integer index/)
    expect(() => compileValidations({ h: 'in.x > 0 0' })).toThrow(/unexpected '0'/)
  })
})
