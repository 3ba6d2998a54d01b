/**
 * FP16 in JSON: numbers round straight from double to the nearest half (ties to even), checked
 * against a reference that searches every finite half for the nearest one, and against published
 * half-precision values (Wikipedia, "Half-precision floating-point format", examples); halves
 * decode to their exact value.
 */
import { describe, expect, it } from 'vitest'
import { halfToNumber, numberToHalf } from '../../src/half.js'
import { mulberry32 } from '../../src/random.js'

/** The exact value of every non-negative finite half, by bit pattern (0x0000..0x7bff), from the format's definition. */
const HALVES = Array.from({ length: 0x7c00 }, (_, h) => {
  const e = h >> 10
  const m = h & 0x3ff
  return e === 0 ? m / 2 ** 24 : (1 + m / 1024) * 2 ** (e - 15)
})

/** Reference rounding: the nearest half by search over all halves; a tie takes the even bit pattern. */
function reference(x: number): number {
  if (Number.isNaN(x)) return 0x7e00
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0
  const a = Math.abs(x)
  // Past 65504 the next step would be 65536: halfway (65520) and above is infinity.
  if (a >= 65520) return sign | 0x7c00
  let lo = 0
  let hi = HALVES.length - 1
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1
    if ((HALVES[mid] as number) <= a) lo = mid
    else hi = mid - 1
  }
  if (lo === HALVES.length - 1) return sign | lo
  const below = HALVES[lo] as number
  const above = HALVES[lo + 1] as number
  const d = a - below - (above - a)
  return sign | (d < 0 ? lo : d > 0 ? lo + 1 : lo % 2 === 0 ? lo : lo + 1)
}

describe('FP16 conversion', () => {
  it('encodes the published half-precision values', () => {
    const published: Array<[number, number]> = [
      [1, 0x3c00],
      [1.0009765625, 0x3c01], // the next half after 1
      [0.99951171875, 0x3bff], // the largest below 1
      [-2, 0xc000],
      [65504, 0x7bff], // the largest half
      [-65504, 0xfbff],
      [0.00006103515625, 0x0400], // the smallest positive normal, 2^-14
      [0.00006097555160522461, 0x03ff], // the largest subnormal
      [5.9604644775390625e-8, 0x0001], // the smallest positive subnormal, 2^-24
      [1 / 3, 0x3555], // 0.333251953125
      [0, 0x0000],
      [-0, 0x8000],
      [Number.POSITIVE_INFINITY, 0x7c00],
      [Number.NEGATIVE_INFINITY, 0xfc00],
    ]
    for (const [x, bits] of published) expect([x, numberToHalf(x)]).toEqual([x, bits])
    expect(numberToHalf(Number.NaN)).toBe(0x7e00)
  })

  it("answers the issue's values: [1.0, -2.0, 0.5, 65504] are the halves 15360, 49152, 14336, 31743", () => {
    expect([1, -2, 0.5, 65504].map(numberToHalf)).toEqual([15360, 49152, 14336, 31743])
    expect([15360, 49152, 14336, 31743].map(halfToNumber)).toEqual([1, -2, 0.5, 65504])
  })

  it('overflows to infinity from 65520 (halfway past 65504) and rounds ties to even', () => {
    expect(numberToHalf(65519.99)).toBe(0x7bff)
    expect(numberToHalf(65520)).toBe(0x7c00)
    expect(numberToHalf(-1e300)).toBe(0xfc00)
    expect(numberToHalf(2 ** -25)).toBe(0x0000) // halfway between 0 and 2^-24: to the even 0
    expect(numberToHalf(3 * 2 ** -25)).toBe(0x0002) // halfway between 1 and 2 (× 2^-24): to 2
    expect(numberToHalf(2 ** -25 + 2 ** -60)).toBe(0x0001)
    expect(numberToHalf(-(2 ** -26))).toBe(0x8000) // underflow keeps the sign
    expect(numberToHalf(1 + 2 ** -11)).toBe(0x3c00) // halfway between 1 and 1+2^-10: even
    expect(numberToHalf(1 + 3 * 2 ** -11)).toBe(0x3c02)
  })

  it('rounds once, from the double: 1 + 2^-11 + 2^-40 is above halfway (via float32 it would tie down to 1)', () => {
    const x = 1 + 2 ** -11 + 2 ** -40
    expect(Math.fround(x)).toBe(1 + 2 ** -11) // what a float32 step would leave
    expect(numberToHalf(x)).toBe(0x3c01)
  })

  it('agrees with the nearest-half search on every midpoint, its neighbours and random doubles', () => {
    const cases: number[] = []
    for (let h = 0; h < HALVES.length - 1; h++) {
      const mid = ((HALVES[h] as number) + (HALVES[h + 1] as number)) / 2 // exact: one more bit than a half has
      cases.push(mid, mid * (1 + 2 ** -52), mid * (1 - 2 ** -52), HALVES[h] as number)
    }
    const random = mulberry32(7)
    for (let i = 0; i < 20_000; i++) cases.push((random() - 0.5) * 2 ** Math.floor(random() * 44 - 28))
    for (const x of cases) {
      for (const v of [x, -x])
        if (numberToHalf(v) !== reference(v)) expect([v, numberToHalf(v)]).toEqual([v, reference(v)])
    }
  })

  it('decodes every half exactly, and encoding its value gives the same bits back', () => {
    for (let h = 0; h < 0x10000; h++) {
      const v = halfToNumber(h)
      if ((h & 0x7c00) === 0x7c00 && h & 0x3ff) {
        expect(v).toBeNaN()
        continue
      }
      const magnitude = (h & 0x7fff) === 0x7c00 ? Number.POSITIVE_INFINITY : (HALVES[h & 0x7fff] as number)
      const expected = h & 0x8000 ? -magnitude : magnitude
      if (!Object.is(v, expected) || numberToHalf(v) !== h) expect([h, v, numberToHalf(v)]).toEqual([h, expected, h])
    }
  })
})
