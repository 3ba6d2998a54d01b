/**
 * Tolerance checks against float64 references. An fp32 result `a` matches a reference `r` when
 * |a − r| ≤ rtol·(|r| + max|r|·floor) elementwise: relative error ≤ rtol, with values much smaller
 * than the tensor's largest judged against `floor` (default 1%) of that scale (fp32 sums of
 * mixed-sign terms lose relative precision near zero). rtol = 1e-4 unless a test says otherwise;
 * tests that compare after a chain of fp32 steps (image resampling, whole pipelines) use
 * floor = 1, i.e. errors up to rtol of the tensor's range.
 */
import { expect } from 'vitest'

const RTOL = 1e-4

function maxAbs(values: ArrayLike<number>): number {
  let m = 0
  for (let i = 0; i < values.length; i++) m = Math.max(m, Math.abs(values[i] as number))
  return m
}

/** Largest scaled error of `actual` against `expected` (≤ 1 means within tolerance). */
function scaledError(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rtol = RTOL,
  floorFraction = 1e-2,
): number {
  const floor = maxAbs(expected) * floorFraction
  let worst = 0
  for (let i = 0; i < expected.length; i++) {
    const r = expected[i] as number
    const a = actual[i] as number
    const err = Math.abs(a - r) / (rtol * (Math.abs(r) + floor) || Number.MIN_VALUE)
    worst = Math.max(worst, Number.isNaN(err) ? Number.POSITIVE_INFINITY : err)
  }
  return worst
}

export function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  what: string,
  rtol = RTOL,
  floorFraction = 1e-2,
): void {
  expect(actual.length, `${what}: length`).toBe(expected.length)
  const err = scaledError(actual, expected, rtol, floorFraction)
  expect(err, `${what}: worst error ${err.toFixed(3)}× the tolerance (rtol ${rtol})`).toBeLessThanOrEqual(1)
}

/**
 * Like {@link expectClose}, but NaN and ±inf must appear at exactly the same positions; the
 * finite values are compared with the same tolerance.
 */
export function expectCloseSpecial(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  what: string,
  rtol = RTOL,
  floorFraction = 1e-2,
): void {
  expect(actual.length, `${what}: length`).toBe(expected.length)
  const a: number[] = []
  const e: number[] = []
  const wrong: string[] = []
  for (let i = 0; i < expected.length; i++) {
    const x = actual[i] as number
    const r = expected[i] as number
    if (!Number.isFinite(r)) {
      if (!(Object.is(x, r) || (Number.isNaN(x) && Number.isNaN(r)))) wrong.push(`[${i}] expected ${r}, got ${x}`)
    } else if (!Number.isFinite(x)) {
      wrong.push(`[${i}] expected ${r}, got ${x}`)
    } else {
      a.push(x)
      e.push(r)
    }
  }
  expect(wrong.slice(0, 10), `${what}: NaN/inf positions`).toEqual([])
  if (e.length > 0) expectClose(a, e, what, rtol, floorFraction)
}

/** A fresh seed per run, printed on failure so a failing draw can be replayed with SEED=... */
export function freshSeed(): number {
  const fromEnv = Number(process.env.SEED)
  return Number.isFinite(fromEnv) && fromEnv > 0 ? fromEnv : (Math.random() * 2 ** 31) >>> 0
}
