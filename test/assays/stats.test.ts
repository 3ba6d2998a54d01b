/**
 * Assay statistics against independent computations: brute-force ECDFs for KS and Wasserstein,
 * published critical values for the Kolmogorov distribution, hand-worked PSI and Jensen–Shannon,
 * a null-hypothesis simulation for KS p-values, and the radix sort against Array.prototype.sort.
 */
import { describe, expect, it } from 'vitest'
import { radixSort } from '../../src/assays/sort.js'
import {
  jensenShannon,
  kolmogorovQ,
  ks,
  ksPValue,
  maxDiff,
  psi,
  quantile,
  sumDiff,
  summarize,
  wasserstein1,
} from '../../src/assays/stats.js'
import { mulberry32, normal } from '../../src/random.js'
import { freshSeed } from '../helpers/compare.js'

const sorted = (v: ArrayLike<number>) => Float64Array.from(v).sort()
/** ECDF of ascending `s` at x by counting. */
const ecdf = (s: Float64Array, x: number) => s.filter((v) => v <= x).length / s.length

describe('assay statistics', () => {
  it('sorts like Array.prototype.sort, float32 and float64 paths, ±inf and -0 included', () => {
    const rand = mulberry32(freshSeed())
    for (const make of [
      () => (rand() - 0.5) * 10 ** (rand() * 20 - 10),
      () => Math.fround((rand() - 0.5) * 100),
      (i: number) => [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, 0, 5e-324, -5e-324][i % 6] as number,
    ]) {
      const v = Float64Array.from({ length: 50_000 }, (_, i) => make(i))
      // Typed-array sort is the reference: it orders -0 before +0, as the IEEE total order does.
      expect(Array.from(radixSort(v))).toEqual(Array.from(Float64Array.from(v).sort()))
    }
  })

  it('quantiles interpolate between order statistics (NumPy default)', () => {
    const s = sorted(Array.from({ length: 100 }, (_, i) => i + 1))
    expect([0, 0.25, 0.5, 0.75, 1].map((p) => quantile(s, p))).toEqual([1, 25.75, 50.5, 75.25, 100])
  })

  it('summarizes with the sample standard deviation', () => {
    const s = summarize(sorted([2, 4, 4, 4, 5, 5, 7, 9]))
    expect(s).toMatchObject({ count: 8, min: 2, max: 9, mean: 5, median: 4.5 })
    expect(s.std).toBeCloseTo(Math.sqrt(32 / 7), 12)
    // A plain running sum loses both 1s next to ±1e16 and reports 0; the compensated sum does not.
    expect(summarize(sorted([1e16, 1, -1e16, 1])).mean).toBe(0.5)
  })

  it('the standard deviation of values with a large mean and a small spread (float64 two-pass reference)', () => {
    // 1e4 + {0.1, 0.4, …, 3.6}: NumPy 1.24, x.mean() = 10001.59, x.std(ddof=1) = 1.1560949595754202.
    // A one-pass E[x²] − E[x]² in float32 gives a variance of 0 here (x² ≈ 1e8, where float32's
    // spacing is 8); in float64 it keeps only ~8 digits.
    const x = sorted([0.1, 0.4, 0.5, 0.9, 1.3, 1.7, 2.2, 2.3, 2.9, 3.6].map((d) => 1e4 + d))
    const s = summarize(x)
    expect(s.mean).toBeCloseTo(10001.59, 10)
    expect(s.std).toBeCloseTo(1.1560949595754202, 12)
    // Shifted by 1e8 the spread is the same (float64 two-pass: x − mean is exact here).
    const far = sorted([0, 0.5, 1, 1.5, 2].map((d) => 1e8 + d))
    expect(summarize(far).std).toBeCloseTo(Math.sqrt(2.5 / 4), 12)
  })

  it('PSI, maxdiff and sumdiff by their formulas, with empty bins floored', () => {
    const b = [0.25, 0.25, 0.5, 0]
    const w = [0.1, 0.4, 0.5, 0]
    expect(psi(b, w)).toBeCloseTo((0.1 - 0.25) * Math.log(0.1 / 0.25) + (0.4 - 0.25) * Math.log(0.4 / 0.25), 12)
    // Empty bins are floored at 1e-4 (the README's documented floor), written out rather than read
    // from the module: 0.5·ln 2 + (1e-4 − 0.5)·ln(1e-4 / 0.5) = 4.60431846666895 (Python 3 float64).
    // A floor of 1e-3 would give 3.4477.
    expect(psi([0.5, 0.5], [1, 0])).toBeCloseTo(4.60431846666895, 12)
    // Floors on both sides: NumPy 1.24, b = max([0, .3, .7], 1e-4), w = max([.2, .8, 0], 1e-4),
    // np.sum((w - b) * np.log(w / b)) = 8.206515461251737.
    expect(psi([0, 0.3, 0.7], [0.2, 0.8, 0])).toBeCloseTo(8.206515461251737, 12)
    expect(maxDiff(b, w)).toBeCloseTo(0.15, 12)
    expect(sumDiff(b, w)).toBeCloseTo(0.3, 12)
  })

  it('KS statistic equals the largest ECDF gap, exactly', () => {
    const rand = mulberry32(freshSeed())
    for (let t = 0; t < 5; t++) {
      const a = sorted(normal(rand, 300 + t * 7))
      const b = sorted(normal(rand, 200, 0.3, 1.2).map((x) => Math.round(x * 10) / 10)) // ties
      let d = 0
      for (const x of [...a, ...b]) d = Math.max(d, Math.abs(ecdf(a, x) - ecdf(b, x)))
      expect(ks(a, b).statistic).toBeCloseTo(d, 14)
    }
  })

  it('KS with ties across the samples: a sample against itself is 0, and a hand-counted case', () => {
    // Ties across samples must advance both ECDFs before the gap is taken.
    const tied = sorted([3, 1, 2, 2, 5, 3, 3, 4, 1, 2, 5, 5, 0.5, 2, 3, 4, 4, 1, 3, 2, 2, 5])
    expect(ks(tied, tied.slice()).statistic).toBe(0)
    const distinct = sorted(Array.from({ length: 22 }, (_, i) => (i * 7) % 22))
    expect(ks(distinct, distinct.slice()).statistic).toBe(0)
    // a = 1 2 2 3 3 3 4 5, b = 2 2 3 3 3 3 5 5 6 6: F_a(3) − F_b(3) = 6/8 − 6/10, F_a(4) − F_b(4) =
    // 7/8 − 6/10 = 11/40, the largest gap (counted by hand; Python fractions over every point agree).
    expect(ks(sorted([1, 2, 2, 3, 3, 3, 4, 5]), sorted([2, 2, 3, 3, 3, 3, 5, 5, 6, 6])).statistic).toBeCloseTo(
      11 / 40,
      15,
    )
  })

  it("KS p-values carry Stephens' small-sample correction", () => {
    // n = m = 50: nₑ = 25, λ = (5 + 0.12 + 0.11/5) · D; D = 1.3581 / 5.142 puts λ at the published
    // 5% critical value of the Kolmogorov distribution, so p = 0.05. Without the correction λ = 5·D
    // = 1.3206 and p = 0.0608.
    expect(ksPValue(1.3581 / 5.142, 50, 50)).toBeCloseTo(0.05, 3)
    // The tied case above, D = 11/40, n = 8, m = 10: Q_KS((√nₑ + 0.12 + 0.11/√nₑ)·D) =
    // 0.8264987889000925 (Python 3 float64, 100 terms of 2Σ(−1)^(k−1) e^(−2k²λ²)); without
    // the correction 0.8899057825289229. The series stops once a term is under 1e-8 of the sum.
    const r = ks(sorted([1, 2, 2, 3, 3, 3, 4, 5]), sorted([2, 2, 3, 3, 3, 3, 5, 5, 6, 6]))
    expect(r.p_value).toBeCloseTo(0.8264987889000925, 8)
  })

  it('the Kolmogorov distribution matches its published critical values', () => {
    // Q(1.3581) = 0.05 and Q(1.6276) = 0.01 (Kolmogorov–Smirnov tables)
    expect(kolmogorovQ(1.3581)).toBeCloseTo(0.05, 3)
    expect(kolmogorovQ(1.6276)).toBeCloseTo(0.01, 3)
    expect(kolmogorovQ(0)).toBe(1)
  })

  it('KS p-values are calibrated: about 5% of same-distribution pairs fall below 0.05', () => {
    const rand = mulberry32(freshSeed())
    let rejected = 0
    const trials = 400
    for (let t = 0; t < trials; t++) {
      if (ks(sorted(normal(rand, 150)), sorted(normal(rand, 200))).p_value < 0.05) rejected++
    }
    expect(rejected / trials).toBeGreaterThan(0.015)
    expect(rejected / trials).toBeLessThan(0.09)
    expect(ks(sorted(normal(rand, 500)), sorted(normal(rand, 500, 1))).p_value).toBeLessThan(1e-6) // a shift of 1 sd: p < 1e-18 in 2000 seeds
  })

  it('Wasserstein-1 is the area between the ECDFs', () => {
    expect(wasserstein1(sorted([0]), sorted([1]))).toBe(1)
    const rand = mulberry32(freshSeed())
    const a = sorted(normal(rand, 400))
    expect(
      wasserstein1(
        a,
        a.map((x) => x + 2.5),
      ),
    ).toBeCloseTo(2.5, 10)
    const b = sorted(normal(rand, 300, 1, 2))
    const xs = sorted([...a, ...b])
    let area = 0
    for (let i = 0; i + 1 < xs.length; i++)
      area +=
        Math.abs(ecdf(a, xs[i] as number) - ecdf(b, xs[i] as number)) * ((xs[i + 1] as number) - (xs[i] as number))
    expect(wasserstein1(a, b)).toBeCloseTo(area, 10)
  })

  it('Jensen–Shannon distance: 0 for equal, 1 for disjoint, and a hand-worked case', () => {
    expect(jensenShannon([0.2, 0.8], [0.2, 0.8])).toBe(0)
    expect(jensenShannon([1, 0], [0, 1])).toBeCloseTo(1, 12)
    // m = [0.75, 0.25]; KL(p‖m) = 0.2075187…, KL(q‖m) = 0.4150375…; √(mean) = 0.5579230…
    expect(jensenShannon([0.5, 0.5], [1, 0])).toBeCloseTo(0.557923, 6)
  })
})
