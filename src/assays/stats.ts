/**
 * The statistics of an assay, each from its documented formula:
 * - quantiles: linear interpolation between order statistics (Hyndman & Fan type 7, NumPy's default);
 * - summaries: count, min, max, median (from the sorted sample), mean (compensated sum) and sample
 *   standard deviation √(Σ(x − mean)² / (n − 1)) (two passes, the numerically stable textbook form);
 * - PSI, max and sum of absolute bin differences;
 * - two-sample Kolmogorov–Smirnov statistic (exact, from the sorted samples) and its asymptotic
 *   p-value (Kolmogorov distribution with Stephens' small-sample correction);
 * - Wasserstein-1 distance: the area between the two empirical CDFs (exact);
 * - Jensen–Shannon distance between the binned densities, base-2 logarithms (in [0, 1]).
 */
/** Empty bins are floored at this share before PSI's logarithm (as Evidently and most PSI tools do). */
const PSI_EPSILON = 1e-4

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
  const n = sorted.length
  if (n === 0)
    return { count: 0, min: Number.NaN, max: Number.NaN, mean: Number.NaN, median: Number.NaN, std: Number.NaN }
  // Neumaier's compensated sum: the mean of 10M float32 values stays exact to ~1 ulp.
  let sum = 0
  let comp = 0
  for (let i = 0; i < n; i++) {
    const x = sorted[i] as number
    const t = sum + x
    comp += Math.abs(sum) >= Math.abs(x) ? sum - t + x : x - t + sum
    sum = t
  }
  const mean = (sum + comp) / n
  let ss = 0
  for (let i = 0; i < n; i++) {
    const d = (sorted[i] as number) - mean
    ss += d * d
  }
  return {
    count: n,
    min: sorted[0] as number,
    max: sorted[n - 1] as number,
    mean,
    median: quantile(sorted, 0.5),
    std: n > 1 ? Math.sqrt(ss / (n - 1)) : 0,
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
 * One merge of two ascending samples gives both distances between their empirical CDFs:
 * KS's D = sup |F_a(x) − F_b(x)| over every sample point, and W1 = ∫ |F_a(x) − F_b(x)| dx.
 */
export function ecdfDistances(a: Float64Array, b: Float64Array): { ks: number; wasserstein: number } {
  const n = a.length
  const m = b.length
  if (n === 0 || m === 0) return { ks: Number.NaN, wasserstein: Number.NaN }
  let i = 0
  let j = 0
  let d = 0
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
    d = Math.max(d, Math.abs(i / n - j / m))
  }
  return { ks: d, wasserstein: area }
}

/**
 * Two-sample KS from ascending samples (statistic {@link ecdfDistances}); the p-value is
 * Q_KS((√nₑ + 0.12 + 0.11/√nₑ) · D) with nₑ = nm/(n + m) and
 * Q_KS(λ) = 2 Σ_{k≥1} (−1)^{k−1} e^{−2k²λ²} (Numerical Recipes' `kstwo`).
 */
export function ksPValue(d: number, n: number, m: number): number {
  if (!Number.isFinite(d) || n === 0 || m === 0) return Number.NaN
  const ne = Math.sqrt((n * m) / (n + m))
  return kolmogorovQ((ne + 0.12 + 0.11 / ne) * d)
}

export function ks(a: Float64Array, b: Float64Array): { statistic: number; p_value: number } {
  const d = ecdfDistances(a, b).ks
  return { statistic: d, p_value: ksPValue(d, a.length, b.length) }
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

/** W1 between the empirical CDFs of ascending samples (see {@link ecdfDistances}). */
export function wasserstein1(a: Float64Array, b: Float64Array): number {
  return ecdfDistances(a, b).wasserstein
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
