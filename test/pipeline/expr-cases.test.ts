/**
 * Validation expressions case by case: every operator at and around its boundary, precedence and
 * associativity, the tokenizer's number, string and name forms, each function, each kind of value a
 * row holds (int64, bool, strings, rows of several dimensions), and the compile errors' exact text
 * and position. Expected values are worked out by hand and written literally.
 */
import { describe, expect, it } from 'vitest'
import { tensor } from '../../src/engine/tensor.js'
import { InvalidConfigError } from '../../src/errors.js'
import { compileValidations } from '../../src/pipeline/expr.js'

// Two rows each; row 1 differs from row 0 so a test that reads the wrong row fails.
const inputs = {
  v: tensor('float32', [2, 3], [1, 2, 3, -4, 5, 8]),
  // [2, 2, 3]: row 0 is 10..15, row 1 is 20..25, so element [i][j] of row r is 10(r+1) + 3i + j.
  t: tensor('float32', [2, 2, 3], [10, 11, 12, 13, 14, 15, 20, 21, 22, 23, 24, 25]),
  flag: tensor('bool', [2], [1, 0]),
  my_var2: tensor('float32', [2], [4, 5]),
  _n: tensor('float32', [2], [6, 7]),
  s: { dtype: 'string' as const, dims: [2], data: ["it's", 'a"b"c'] },
  path: { dtype: 'string' as const, dims: [2], data: ['c\\d', ''] },
}
const outputs = { label: tensor('int64', [2], [0, 7]) }
const ctx = (row: number) => ({
  row,
  tensor: (scope: 'in' | 'out', name: string) => (scope === 'in' ? inputs : outputs)[name as never],
})
/** The verdict on rows 0 and 1. */
const rows = (expr: string) => {
  const [v] = compileValidations({ v: expr })
  return [0, 1].map((r) => v?.check(ctx(r)))
}
/** The verdict on row 0 (for expressions that do not read the row). */
const holds = (expr: string) => rows(expr)[0]
/** The InvalidConfigError's message for a malformed expression. */
const compileError = (expr: string, name = 'v') => {
  try {
    compileValidations({ [name]: expr })
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidConfigError)
    return (e as Error).message
  }
  throw new Error(`"${expr}" compiled`)
}

describe('validation expressions: operators', () => {
  it('orders numbers with < <= > >=, exactly at the boundary too', () => {
    expect([holds('1 < 2'), holds('2 < 2'), holds('3 < 2')]).toEqual([true, false, false])
    expect([holds('1 <= 2'), holds('2 <= 2'), holds('3 <= 2')]).toEqual([true, true, false])
    expect([holds('3 > 2'), holds('2 > 2'), holds('1 > 2')]).toEqual([true, false, false])
    expect([holds('3 >= 2'), holds('2 >= 2'), holds('1 >= 2')]).toEqual([true, true, false])
  })

  it('tests equality strictly, for numbers, strings and booleans', () => {
    expect([holds('2 == 2'), holds('2 == 3'), holds('2 != 3'), holds('2 != 2')]).toEqual([true, false, true, false])
    expect([holds("'a' == 'a'"), holds("'a' == 'b'"), holds("'a' != 'b'"), holds("'a' != 'a'")]).toEqual([
      true,
      false,
      true,
      false,
    ])
    expect(holds("1 == '1'")).toBe(false)
    expect(holds('(2 > 1) == true')).toBe(true)
  })

  it('orders only numbers and booleans (true is 1): a string operand fails the row', () => {
    expect(holds('true > false')).toBe(true)
    expect(holds('true + true == 2')).toBe(true)
    expect(holds('false + 3 == 3')).toBe(true)
    expect(rows('in.s > 0')).toEqual([false, false])
    expect(rows("in.s < 'z'")).toEqual([false, false])
    expect(rows('in.s + 1 == 1')).toEqual([false, false])
  })

  it('does arithmetic with the usual precedence, left to right', () => {
    expect(holds('2 + 3 == 5')).toBe(true)
    expect(holds('7 - 2 == 5')).toBe(true)
    expect(holds('7 - 2 - 1 == 4')).toBe(true) // (7 - 2) - 1, not 7 - (2 - 1) = 6
    expect(holds('1 + 2 + 3 == 6')).toBe(true) // a chain of the same operator, not only of mixed ones
    expect(holds('1 + 2 - 4 + 8 == 7')).toBe(true)
    expect(holds('2 * 3 * 4 == 24')).toBe(true)
    expect(holds('2 * 9 / 3 * 2 == 12')).toBe(true)
    expect(holds('3 * 4 == 12')).toBe(true)
    expect(holds('7 / 2 == 3.5')).toBe(true)
    expect(holds('24 / 4 / 2 == 3')).toBe(true) // (24 / 4) / 2, not 24 / (4 / 2) = 12
    expect(holds('17 % 5 == 2')).toBe(true)
    expect(holds('17 % 5 % 3 == 2')).toBe(true) // (17 % 5) % 3, not 17 % (5 % 3) = 1
    expect(holds('2 + 3 * 4 == 14')).toBe(true)
    expect(holds('10 - 4 / 2 == 8')).toBe(true)
    expect(holds('1 + 7 % 4 == 4')).toBe(true)
    expect(holds('(2 + 3) * 4 == 20')).toBe(true)
    expect(holds('2 * (3 + 4) == 14')).toBe(true)
  })

  it('has unary minus and not', () => {
    expect(holds('-3 + 5 == 2')).toBe(true)
    expect(holds('- -3 == 3')).toBe(true)
    expect(holds('-true == -1')).toBe(true)
    expect([holds('!true'), holds('!false'), holds('!0'), holds('!!2')]).toEqual([false, true, true, true])
    expect(holds('!true == false')).toBe(true)
  })

  it('has && and || with && binding tighter, over truthy values', () => {
    expect([holds('true && true'), holds('true && false'), holds('false && true'), holds('false && false')]).toEqual([
      true,
      false,
      false,
      false,
    ])
    expect([holds('true || true'), holds('true || false'), holds('false || true'), holds('false || false')]).toEqual([
      true,
      true,
      true,
      false,
    ])
    expect(holds('false || false || true')).toBe(true)
    expect(holds('true && true && false')).toBe(false)
    expect(holds('true || false && false')).toBe(true) // true || (false && false)
    expect(holds('(true || false) && false')).toBe(false)
    expect(holds('0 || 2')).toBe(true)
    expect([holds('2'), holds('0'), holds("'x'"), holds("''"), holds('true'), holds('false')]).toEqual([
      true,
      false,
      true,
      false,
      true,
      false,
    ])
  })
})

describe('validation expressions: tokens', () => {
  it('reads numbers with several digits, decimals, exponents and a leading or trailing point', () => {
    expect(holds('12 + 3 == 15')).toBe(true)
    expect(holds('100 == 100')).toBe(true)
    expect(holds('1.25 * 4 == 5')).toBe(true)
    expect(holds('2. * 2 == 4')).toBe(true)
    expect(holds('.5 + .25 == 0.75')).toBe(true)
    expect(holds('1e3 == 1000')).toBe(true)
    expect(holds('1E3 == 1000')).toBe(true)
    expect(holds('1e+2 == 100')).toBe(true)
    expect(holds('2.5e-1 == 0.25')).toBe(true)
    expect(holds('.5e1 == 5')).toBe(true)
    expect(holds('.5e+1 == 5')).toBe(true)
    expect(holds('.25e-1 == 0.025')).toBe(true)
    expect(holds('.5e12 == 500000000000')).toBe(true)
    expect(holds('12e10 == 120000000000')).toBe(true)
  })

  it('takes any whitespace between tokens, none, or some before and after', () => {
    expect(holds('1+2==3')).toBe(true)
    expect(holds('  1 \t+\n  2 ==   3   ')).toBe(true)
    expect(holds('1 == 1  ')).toBe(true)
  })

  it('reads names with digits and underscores', () => {
    expect(rows('in.my_var2 == 4')).toEqual([true, false])
    expect(rows('in._n == 7')).toEqual([false, true])
  })

  it('reads a string that holds a parenthesis as a string, not as a group', () => {
    expect(holds("'(' == '('")).toBe(true)
    expect(holds('"(" != ")"')).toBe(true)
  })

  it('reads strings in either quotes, with backslash escapes', () => {
    expect(rows(`in.s == "it's"`)).toEqual([true, false])
    expect(rows(`in.s == 'it\\'s'`)).toEqual([true, false])
    expect(rows(`in.s == 'a"b"c'`)).toEqual([false, true])
    expect(rows(`in.s == "a\\"b\\"c"`)).toEqual([false, true]) // every escape, not just the first
    expect(rows(`in.path == 'c\\\\d'`)).toEqual([true, false]) // \\ is one backslash
    expect(rows(`in.path == ""`)).toEqual([false, true])
    expect(holds(`'\\q' == 'q'`)).toBe(true) // any escaped character stands for itself
    expect(holds(`'(' == '('`)).toBe(true) // a string that looks like an operator is a string
    expect(holds(`'-' == "-"`)).toBe(true)
  })
})

describe('validation expressions: values and functions', () => {
  it('reads int64 as numbers, bool as true/false, a one-element row as its value', () => {
    expect(rows('out.label == 7')).toEqual([false, true])
    expect(rows('out.label + 1 == 1')).toEqual([true, false])
    expect(rows('in.flag == true')).toEqual([true, false])
    expect(rows('in.flag == false')).toEqual([false, true])
    expect(rows('in.flag')).toEqual([true, false])
    expect(rows('!in.flag')).toEqual([false, true])
  })

  it('indexes rows of several dimensions row-major', () => {
    expect(rows('in.t[1][2] == 15')).toEqual([true, false])
    expect(rows('in.t[1][2] == 25')).toEqual([false, true])
    expect(rows('in.t[0][1] == 21')).toEqual([false, true])
    expect(rows('in.t[1][0] == 13')).toEqual([true, false])
    expect(rows('in.v[2] == 8')).toEqual([false, true])
    expect(rows('len(in.t) == 6')).toEqual([true, true])
  })

  it('reads a sub-row as a list when given fewer indices than the row has dimensions', () => {
    // in.t[1] of row 0 is [13, 14, 15]; of row 1, [23, 24, 25].
    expect(rows('sum(in.t[1]) == 42')).toEqual([true, false])
    expect(rows('sum(in.t[1]) == 72')).toEqual([false, true])
    expect(rows('sum(in.t[0]) == 33')).toEqual([true, false]) // 10 + 11 + 12
    expect(rows('len(in.t[1]) == 3')).toEqual([true, true])
    expect(rows('max(in.t[0][2], min(13, 99)) == 13')).toEqual([true, false])
    expect(rows('mean(in.t[1]) == 24')).toEqual([false, true])
  })

  it('fails a row whose index is out of range, even when the expression compares it with itself', () => {
    expect(rows('in.v[2] == in.v[2]')).toEqual([true, true])
    expect(rows('in.v[3] == in.v[3]')).toEqual([false, false])
    expect(rows('in.v[0][0] == in.v[0][0]')).toEqual([false, false]) // one index too many
    expect(rows('in.t[2][0] == in.t[2][0]')).toEqual([false, false])
    expect(rows('in.t[0][3] == in.t[0][3]')).toEqual([false, false])
    expect(rows('in.nope == in.nope')).toEqual([false, false])
    expect(rows('out.v == out.v')).toEqual([false, false]) // v is an input, not an output
  })

  it('has abs, min, max, sqrt, exp, log and isnan', () => {
    expect(holds('abs(-2.5) == 2.5')).toBe(true)
    expect(holds('abs(3) == 3')).toBe(true)
    expect(holds('min(3, 1, 2) == 1')).toBe(true)
    expect(holds('max(3, 1, 2) == 3')).toBe(true)
    expect(rows('min(in.v) == 1')).toEqual([true, false])
    expect(rows('min(in.v) == -4')).toEqual([false, true])
    expect(rows('max(in.v) == 3')).toEqual([true, false])
    expect(rows('min(in.v, 0) == 0')).toEqual([true, false])
    expect(rows('max(in.v, 10) == 10')).toEqual([true, true])
    expect(holds('min(true, 5) == 1')).toBe(true)
    expect(holds('sqrt(16) == 4')).toBe(true)
    expect(holds('sqrt(2) > 1.4142 && sqrt(2) < 1.4143')).toBe(true) // √2 = 1.41421356…
    expect(holds('exp(0) == 1')).toBe(true)
    expect(holds('exp(2) > 7.389 && exp(2) < 7.3891')).toBe(true) // e² = 7.3890561…
    expect(holds('log(1) == 0')).toBe(true)
    expect(holds('log(8) > 2.0794 && log(8) < 2.0795')).toBe(true) // ln 8 = 2.0794415…
    expect([holds('isnan(0 / 0)'), holds('isnan(1)'), holds('isnan(1 / 0)')]).toEqual([true, false, false])
  })

  it('has sum, mean and len over a whole row, or over one value', () => {
    expect(rows('sum(in.v) == 6')).toEqual([true, false])
    expect(rows('sum(in.v) == 9')).toEqual([false, true])
    expect(rows('mean(in.v) == 2')).toEqual([true, false])
    expect(rows('mean(in.v) == 3')).toEqual([false, true])
    expect(rows('len(in.v) == 3')).toEqual([true, true])
    expect(holds('sum(5) == 5')).toBe(true)
    expect(holds('mean(4) == 4')).toBe(true)
    expect(holds('len(5) == 1')).toBe(true)
    expect(holds('sum(true) == 1')).toBe(true)
  })

  it('fails a row where a function gets a string', () => {
    expect(holds("isnan(min('a', 1))")).toBe(false)
    expect(holds("sum('a') == 0")).toBe(false)
    expect(holds("abs('a') == 0")).toBe(false)
  })

  it('keeps each validation under its name with its source', () => {
    const vs = compileValidations({ small: 'in.v[0] < 0', wide: 'len(in.v) == 3' })
    expect(vs.map((v) => [v.name, v.source])).toEqual([
      ['small', 'in.v[0] < 0'],
      ['wide', 'len(in.v) == 3'],
    ])
    expect(vs.map((v) => [0, 1].map((r) => v.check(ctx(r))))).toEqual([
      [false, true],
      [true, true],
    ])
  })
})

describe('validation expressions: compile errors name the validation, the problem and where', () => {
  const FUNCTION_NAMES = 'abs, min, max, sqrt, exp, log, isnan, sum, mean, len'
  it('a character that starts no token', () => {
    expect(compileError('1+@abcdefghijklmn', 'bounds')).toBe(
      `validation 'bounds': unexpected character at 2: '@abcdefghi' in "1+@abcdefghijklmn"`,
    )
    expect(compileError("'abc")).toBe(`validation 'v': unexpected character at 0: ''abc' in "'abc"`)
  })

  it('a missing or wrong closing token', () => {
    expect(compileError('(1 + 2')).toBe(`validation 'v': expected ')' at 6, found 'end' in "(1 + 2"`)
    expect(compileError('(1 + 2   3)')).toBe(`validation 'v': expected ')' at 9, found '3' in "(1 + 2   3)"`)
    expect(compileError('abs 1')).toBe(`validation 'v': expected '(' at 4, found '1' in "abs 1"`)
    expect(compileError('abs(1')).toBe(`validation 'v': expected ')' at 5, found 'end' in "abs(1"`)
    expect(compileError('in x')).toBe(`validation 'v': expected '.' at 3, found 'x' in "in x"`)
    expect(compileError('in.x[1 2]')).toBe(`validation 'v': expected ']' at 7, found '2' in "in.x[1 2]"`)
  })

  it('a token where none may stand, or left over at the end', () => {
    expect(compileError('1 + ')).toBe(`validation 'v': unexpected 'end' at 4 in "1 + "`)
    expect(compileError('  *2')).toBe(`validation 'v': unexpected '*' at 2 in "  *2"`)
    expect(compileError(')')).toBe(`validation 'v': unexpected ')' at 0 in ")"`)
    expect(compileError('in.x >  0   0')).toBe(`validation 'v': unexpected '0' at 12 in "in.x >  0   0"`)
    expect(compileError(`1 ==  'a' 'b'`)).toBe(`validation 'v': unexpected 'b' at 10 in "1 ==  'a' 'b'"`)
    expect(compileError(`'a' '<' 'b'`)).toBe(`validation 'v': unexpected '<' at 4 in "'a' '<' 'b'"`)
    expect(compileError('1 < 2 < 3')).toBe(`validation 'v': unexpected '<' at 6 in "1 < 2 < 3"`)
  })

  it('a reference without a tensor name or with an index that is not an integer', () => {
    expect(compileError('in.(')).toBe(`validation 'v': expected a tensor name after 'in.' at 3 in "in.("`)
    expect(compileError('out.  5')).toBe(`validation 'v': expected a tensor name after 'out.' at 6 in "out.  5"`)
    expect(compileError('in.x[ 1.5]')).toBe(`validation 'v': expected an integer index at 6 in "in.x[ 1.5]"`)
    expect(compileError(`in.x['1']`)).toBe(`validation 'v': expected an integer index at 5 in "in.x['1']"`)
    expect(compileError('in.x[-1]')).toBe(`validation 'v': expected an integer index at 5 in "in.x[-1]"`)
  })

  it('an unknown name, Object.prototype members included', () => {
    expect(compileError('  frob(1)')).toBe(
      `validation 'v': unknown name 'frob' at 2; use in.<input>, out.<output> or one of ${FUNCTION_NAMES} in "  frob(1)"`,
    )
    for (const name of ['toString', 'constructor', 'hasOwnProperty', 'valueOf', '__proto__']) {
      expect(compileError(`${name}(1)`)).toBe(
        `validation 'v': unknown name '${name}' at 0; use in.<input>, out.<output> or one of ${FUNCTION_NAMES} in "${name}(1)"`,
      )
    }
  })
})
