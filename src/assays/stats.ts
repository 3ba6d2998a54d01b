/**
 * The statistics of an assay, each from its documented formula:
 * - quantiles: linear interpolation between order statistics (Hyndman & Fan type 7, NumPy's default);
 * - summaries: count, min, max, mean, median, sample standard deviation (n − 1) — one Arquero rollup;
 * - PSI, max and sum of absolute bin differences;
 * - two-sample Kolmogorov–Smirnov statistic (exact, from the sorted samples) and its asymptotic
 *   p-value (Kolmogorov distribution with Stephens' small-sample correction);
 * - Wasserstein-1 distance: the area between the two empirical CDFs (exact);
 * - Jensen–Shannon distance between the binned densities, base-2 logarithms (in [0, 1]).
 */
import * as aq from 'arquero'

/** Empty bins are floored at this share before PSI's logarithm (as Evidently and most PSI tools do). */
export const PSI_EPSILON = 1e-4

/** Quantile `p` of ascending `sorted` (type 7). */
export function quantile(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length
  if (n === 0) return Number.NaN
  const h = (n - 1) * p
  const lo = Math.floor(h)
  const hi = Math.min(lo + 1, n - 1)
  const a = sorted[lo] as number
  return a + (h - lo) * ((sorted[hi] as number) - a)
}

export interface Summary {
  count: number
  min: number
  max: number
  mean: number
  median: number
  std: number
}

/** Summary of ascending `sorted` values (NaN already removed). */
export function summarize(sorted: Float64Array): Summary {
  if (sorted.length === 0)
    return { count: 0, min: Number.NaN, max: Number.NaN, mean: Number.NaN, median: Number.NaN, std: Number.NaN }
  const [r] = aq
    .table({ v: sorted })
    .rollup({ count: aq.op.count(), mean: aq.op.mean('v'), std: aq.op.stdev('v') })
    .objects() as Array<{ count: number; mean: number; std: number }>
  return {
    count: r?.count ?? 0,
    min: sorted[0] as number,
    max: sorted[sorted.length - 1] as number,
    mean: r?.mean ?? Number.NaN,
    median: quantile(sorted, 0.5),
    std: sorted.length > 1 ? (r?.std ?? Number.NaN) : 0,
  }
}

/** PSI = Σ (w − b) · ln(w / b), shares floored at {@link PSI_EPSILON}. */
export function psi(baseline: ArrayLike<number>, window: ArrayLike<number>): number {
  let s = 0
  for (let i = 0; i < baseline.length; i++) {
    const b = Math.max(baseline[i] as number, PSI_EPSILON)
    const w = Math.max(window[i] as number, PSI_EPSILON)
    s += (w - b) * Math.log(w / b)
  }
  return s
}

export function maxDiff(baseline: ArrayLike<number>, window: ArrayLike<number>): number {
  let m = 0
  for (let i = 0; i < baseline.length; i++) m = Math.max(m, Math.abs((window[i] as number) - (baseline[i] as number)))
  return m
}

export function sumDiff(baseline: ArrayLike<number>, window: ArrayLike<number>): number {
  let s = 0
  for (let i = 0; i < baseline.length; i++) s += Math.abs((window[i] as number) - (baseline[i] as number))
  return s
}

/**
 * Two-sample KS: D = sup |F_a(x) − F_b(x)| over every sample point, from ascending samples; the
 * p-value is Q_KS((√nₑ + 0.12 + 0.11/√nₑ) · D) with nₑ = nm/(n + m) and
 * Q_KS(λ) = 2 Σ_{k≥1} (−1)^{k−1} e^{−2k²λ²} (Numerical Recipes' `kstwo`).
 */
export function ks(a: Float64Array, b: Float64Array): { statistic: number; p_value: number } {
  const n = a.length
  const m = b.length
  if (n === 0 || m === 0) return { statistic: Number.NaN, p_value: Number.NaN }
  let i = 0
  let j = 0
  let d = 0
  while (i < n && j < m) {
    const x = Math.min(a[i] as number, b[j] as number)
    while (i < n && (a[i] as number) <= x) i++
    while (j < m && (b[j] as number) <= x) j++
    d = Math.max(d, Math.abs(i / n - j / m))
  }
  const ne = Math.sqrt((n * m) / (n + m))
  return { statistic: d, p_value: kolmogorovQ((ne + 0.12 + 0.11 / ne) * d) }
}

/** Complementary CDF of the Kolmogorov distribution (Numerical Recipes' `probks`). */
export function kolmogorovQ(lambda: number): number {
  const a2 = -2 * lambda * lambda
  let fac = 2
  let sum = 0
  let before = 0
  for (let j = 1; j <= 100; j++) {
    const term = fac * Math.exp(a2 * j * j)
    sum += term
    if (Math.abs(term) <= 0.001 * before || Math.abs(term) <= 1e-8 * sum) return Math.min(1, Math.max(0, sum))
    fac = -fac
    before = Math.abs(term)
  }
  return 1 // no convergence: λ near 0, where Q → 1
}

/** W1 = ∫ |F_a(x) − F_b(x)| dx between the empirical CDFs of ascending samples. */
export function wasserstein1(a: Float64Array, b: Float64Array): number {
  const n = a.length
  const m = b.length
  if (n === 0 || m === 0) return Number.NaN
  let i = 0
  let j = 0
  let area = 0
  let x = Math.min(a[0] as number, b[0] as number)
  while (i < n || j < m) {
    const next = Math.min(
      i < n ? (a[i] as number) : Number.POSITIVE_INFINITY,
      j < m ? (b[j] as number) : Number.POSITIVE_INFINITY,
    )
    area += Math.abs(i / n - j / m) * (next - x)
    x = next
    while (i < n && (a[i] as number) <= x) i++
    while (j < m && (b[j] as number) <= x) j++
  }
  return area
}

/** √(½ KL(p‖m) + ½ KL(q‖m)), m = (p + q)/2, base 2: 0 for equal densities, 1 for disjoint ones. */
export function jensenShannon(p: ArrayLike<number>, q: ArrayLike<number>): number {
  let js = 0
  for (let i = 0; i < p.length; i++) {
    const a = p[i] as number
    const b = q[i] as number
    const mid = (a + b) / 2
    if (a > 0) js += 0.5 * a * Math.log2(a / mid)
    if (b > 0) js += 0.5 * b * Math.log2(b / mid)
  }
  return Math.sqrt(Math.max(0, js))
}
