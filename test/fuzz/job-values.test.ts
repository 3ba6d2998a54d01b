/**
 * Fuzzing how a job file's values become a model's elements (src/jobs/features.ts): numbers
 * (NaN, ±Infinity, fractions, huge ones), bigints in and past every 64-bit range, numeric text
 * of up to 25 digits, decimal, hex and non-finite text, booleans and junk, for every dtype, read
 * as a `features` column and as an input's own column. Each row is either fed with exactly the
 * element a reference conversion written here expects, or refused as a row error naming its
 * column; nothing throws, nothing is wrapped or cut.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DTYPES, type DType } from '../../src/engine/tensor.js'
import { numberToHalf } from '../../src/half.js'
import { extractFeeds, planFeeds } from '../../src/jobs/features.js'
import { fuzzParams } from './budget.js'

/** Each integer dtype's range, written out. */
const RANGE: Partial<Record<DType, [bigint, bigint]>> = {
  int8: [-128n, 127n],
  uint8: [0n, 255n],
  int16: [-32768n, 32767n],
  uint16: [0n, 65535n],
  int32: [-2147483648n, 2147483647n],
  uint32: [0n, 4294967295n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
}

/**
 * What text stands for, trimmed: integer digits (up to 20, any 64-bit integer) exactly; a
 * decimal as a CSV writer prints it (digits, one point, an exponent; no hex) as the nearest
 * double; nan/inf/infinity in any case with a sign; anything else nothing.
 */
function textValue(text: string): number | bigint | undefined {
  const t = text.trim()
  if (/^[+-]?\d{1,20}$/.test(t)) return BigInt(t)
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) return Number(t)
  const word = /^([+-]?)(nan|inf|infinity)$/i.exec(t)
  if (!word) return undefined
  if (word[2]?.toLowerCase() === 'nan') return Number.NaN
  return word[1] === '-' ? -Infinity : Infinity
}

/** The exact integer a file value stands for, when it stands for one exactly. */
function exactInteger(v: unknown): bigint | undefined {
  const x = typeof v === 'string' ? textValue(v) : v
  if (typeof x === 'bigint') return x
  if (typeof x === 'number') return Number.isSafeInteger(x) ? BigInt(x) : undefined
  return undefined
}

/** The number a file value stands for, or undefined for none. */
function numberOf(v: unknown): number | undefined {
  const x = typeof v === 'string' ? textValue(v) : v
  if (typeof x === 'number') return x
  // Integer text as a double is the text's nearest one, "-0" negative zero.
  if (typeof x === 'bigint') return typeof v === 'string' ? Number(v.trim()) : Number(x)
  return undefined
}

/** What the element must be, or undefined where the value must be refused. */
function expected(dtype: DType, v: unknown): number | bigint | undefined {
  if (dtype === 'bool') {
    // true/false, or a value (a number, a bigint, number text) that is 0 or 1.
    if (typeof v === 'boolean') return v ? 1 : 0
    const x = numberOf(v)
    return x === 0 ? 0 : x === 1 ? 1 : undefined
  }
  const range = RANGE[dtype]
  if (range) {
    const i = exactInteger(v)
    if (i === undefined || i < range[0] || i > range[1]) return undefined
    return dtype === 'int64' || dtype === 'uint64' ? i : Number(i)
  }
  const x = numberOf(v)
  if (x === undefined) return undefined
  if (dtype === 'float16') return numberToHalf(x)
  return dtype === 'float32' ? Math.fround(x) : x
}

const value = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.bigInt({ min: -(2n ** 65n), max: 2n ** 65n }),
  fc.constantFrom(2n ** 63n - 1n, 2n ** 63n, -(2n ** 63n), 2n ** 64n - 1n, 2n ** 64n, 2n ** 53n + 1n),
  fc.bigInt({ min: -(10n ** 25n), max: 10n ** 25n }).map(String),
  fc.constantFrom(
    'nan',
    'NaN',
    ' 12 ',
    '1e3',
    '0x10',
    '0b1',
    '',
    'abc',
    '-0',
    '+7',
    '2.5',
    'Infinity',
    '-inf',
    '1',
    '0',
  ),
  fc.constantFrom(true, false, null, 0, 1, -0, 2 ** 53, 2 ** 63, 1e300),
  fc.double().map(String),
)

describe('fuzz: job values into model elements', () => {
  it('feeds exactly the expected element or refuses the row naming the column, for every dtype', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...DTYPES),
        fc.boolean(),
        fc.array(value, { minLength: 1, maxLength: 8 }),
        (dtype, asFeature, values) => {
          // A features column (one number per row) or the input's own column (its row's one value).
          const c = asFeature ? 'c' : 'in.x'
          const plan = planFeeds([{ name: 'x', dtype, shape: ['N'] }], [c], asFeature ? [c] : undefined)
          const rows = values.length
          const out = extractFeeds(plan, { [c]: values }, rows, 100, new Set())
          const data = out.feeds.x?.data as ArrayLike<number | bigint>
          let k = 0
          values.forEach((v, r) => {
            const want = v === null ? undefined : expected(dtype, v)
            const error = out.errors.find((e) => e.row === 100 + r)
            if (want === undefined) {
              expect(error?.message, `${dtype} ${String(v)}`).toContain(`column '${c}'`)
              return
            }
            expect(error, `${dtype} ${String(v)}`).toBeUndefined()
            expect(out.kept[k]).toBe(r)
            const got = data[k++]
            if (typeof want === 'number' && Number.isNaN(want)) expect(Number.isNaN(got as number)).toBe(true)
            else expect(got, `${dtype} ${String(v)}`).toBe(want)
          })
          expect(k).toBe(out.kept.length)
        },
      ),
      fuzzParams(600),
    )
  })
})
