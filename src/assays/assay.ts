/**
 * One assay computation: a baseline against a window of values, with Wallaroo's summarizer
 * semantics (bins from the baseline, outlier bins, density/cumulative/edges aggregation, PSI or
 * bin differences, warning and alert thresholds) plus KS, Wasserstein-1 and Jensen–Shannon.
 * The scheduled assays and the preview route both call {@link computeAssay}. Everything is computed
 * from the sorted samples: bins by binary search, KS and Wasserstein-1 in one merge, exact.
 */
import { z } from 'zod'
import { InvalidConfigError } from '../errors.js'
import { radixSort } from './sort.js'
import {
  ecdfDistances,
  jensenShannon,
  ksPValue,
  maxDiff,
  psi,
  quantile,
  type Summary,
  sumDiff,
  summarize,
} from './stats.js'

const finite = z.number().refine(Number.isFinite, 'must be a finite number')

export const summarizerSchema = z
  .object({
    /** Bin edges: baseline quantiles, equal widths between the baseline's min and max, or `edges`. */
    bin_mode: z.enum(['quantile', 'equal', 'provided']).default('quantile'),
    num_bins: z.number().int().min(1).max(1000).default(5),
    /** For `provided`: strictly increasing edges. */
    edges: z.array(finite).min(2).optional(),
    /** Bins below the first and above the last edge (otherwise those values join the end bins). */
    add_outlier_edges: z.boolean().default(true),
    /** What is compared: bin shares, cumulative shares, or the window's quantiles at the baseline's edge levels. */
    aggregation: z.enum(['density', 'cumulative', 'edges']).default('density'),
    metric: z.enum(['psi', 'maxdiff', 'sumdiff']).default('psi'),
  })
  .strict()

export type Summarizer = z.infer<typeof summarizerSchema>

export const thresholdsSchema = z.object({
  warning_threshold: finite.optional(),
  alert_threshold: finite.default(0.25),
})

type Status = 'ok' | 'warning' | 'alert'

export interface AssayResult {
  score: number
  status: Status
  bins: { labels: string[]; edges: number[]; baseline: number[]; window: number[] }
  baseline_summary: Summary & { edges: number[]; nan: number }
  window_summary: Summary & { nan: number }
  ks: { statistic: number; p_value: number }
  wasserstein: number
  jensen_shannon: number
}

/** A baseline ready for many windows: NaN removed, sorted once, edges fixed. */
export interface PreparedBaseline {
  sorted: Float64Array
  nan: number
  summary: Summary
  edges: number[]
  /** Quantile level of each edge (for the `edges` aggregation). */
  levels: number[]
  /** Its bin counts ({@link sortedBinCounts}). */
  counts: Uint32Array
}

function dropNaN(values: ArrayLike<number>): { finite: Float64Array; nan: number } {
  let nan = 0
  for (let i = 0; i < values.length; i++) if (Number.isNaN(values[i] as number)) nan++
  if (nan === 0) return { finite: values instanceof Float64Array ? values : Float64Array.from(values), nan }
  const out = new Float64Array(values.length - nan)
  let k = 0
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number
    if (!Number.isNaN(v)) out[k++] = v
  }
  return { finite: out, nan }
}

/** Strictly increasing, deduplicated; a constant sample gets one narrow bin around its value. */
function strict(edges: number[]): number[] {
  const out: number[] = []
  for (const e of edges) if (out.length === 0 || e > (out[out.length - 1] as number)) out.push(e)
  if (out.length === 1) {
    const v = out[0] as number
    out.push(v + Math.max(Math.abs(v), 1) * 1e-9)
  }
  return out
}

export function prepareBaseline(values: ArrayLike<number>, s: Summarizer): PreparedBaseline {
  const { finite, nan } = dropNaN(values)
  if (finite.length === 0) throw new InvalidConfigError('the baseline has no values (all NaN or empty)')
  const sorted = radixSort(finite)
  const summary = summarize(sorted)
  const K = s.num_bins
  let edges: number[]
  let levels: number[]
  if (s.bin_mode === 'provided') {
    if (!s.edges) throw new InvalidConfigError('bin_mode "provided" needs "edges"')
    edges = s.edges
    for (let i = 1; i < edges.length; i++) {
      if (!((edges[i] as number) > (edges[i - 1] as number)))
        throw new InvalidConfigError('provided edges must be strictly increasing')
    }
    levels = edges.map((e) => lowerShare(sorted, e))
  } else if (s.bin_mode === 'equal') {
    edges = strict(Array.from({ length: K + 1 }, (_, k) => summary.min + ((summary.max - summary.min) * k) / K))
    levels = edges.map((e) => lowerShare(sorted, e))
  } else {
    levels = Array.from({ length: K + 1 }, (_, k) => k / K)
    edges = strict(levels.map((p) => quantile(sorted, p)))
    if (edges.length !== levels.length) levels = edges.map((e) => lowerShare(sorted, e))
  }
  if (s.metric === 'psi' && s.aggregation === 'edges') {
    throw new InvalidConfigError(
      'metric "psi" compares shares: use aggregation "density" or "cumulative", or metric maxdiff/sumdiff',
    )
  }
  return { sorted, nan, summary, edges, levels, counts: sortedBinCounts(sorted, edges, nan) }
}

/** Share of ascending `sorted` below `x` (for edge quantile levels). */
function lowerShare(sorted: Float64Array, x: number): number {
  let lo = 0
  let hi = sorted.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if ((sorted[mid] as number) < x) lo = mid + 1
    else hi = mid
  }
  return lo / Math.max(1, sorted.length - 1)
}

/** First index of ascending `sorted` whose value is ≥ x (`strict`: > x). */
function bound(sorted: Float64Array, x: number, strict: boolean): number {
  let lo = 0
  let hi = sorted.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    const v = sorted[mid] as number
    if (v < x || (strict && v === x)) lo = mid + 1
    else hi = mid
  }
  return lo
}

/**
 * Bin counts of ascending `sorted` in O(bins · log n): [below edges[0], [e₀,e₁), …, [e₋₂, e₋₁]
 * (the last bin closed), above, NaN].
 */
export function sortedBinCounts(sorted: Float64Array, edges: number[], nan: number): Uint32Array {
  const bins = edges.length - 1
  const counts = new Uint32Array(bins + 3)
  const below = edges.map((e) => bound(sorted, e, false))
  const atOrBelowLast = bound(sorted, edges[bins] as number, true)
  counts[0] = below[0] as number
  for (let k = 0; k < bins; k++) {
    const end = k === bins - 1 ? atOrBelowLast : (below[k + 1] as number)
    counts[k + 1] = end - (below[k] as number)
  }
  counts[bins + 1] = sorted.length - atOrBelowLast
  counts[bins + 2] = nan
  return counts
}

/** Bin shares, folded per `add_outlier_edges`. */
function shares(counts: Uint32Array, outliers: boolean): number[] {
  const bins = counts.length - 3 // [under, bins..., over, NaN]
  const c = Array.from(counts.subarray(0, bins + 2))
  if (!outliers) {
    c[1] = (c[1] as number) + (c[0] as number)
    c[bins] = (c[bins] as number) + (c[bins + 1] as number)
    c.splice(bins + 1, 1)
    c.splice(0, 1)
  }
  const total = c.reduce((a, b) => a + b, 0)
  return c.map((v) => (total > 0 ? v / total : 0))
}

function labelsFor(edges: number[], outliers: boolean): string[] {
  const fmt = (v: number) => Number(v.toPrecision(6)).toString()
  const inner = edges
    .slice(0, -1)
    .map((e, i) => `[${fmt(e)}, ${fmt(edges[i + 1] as number)}${i === edges.length - 2 ? ']' : ')'}`)
  return outliers ? ['left_outlier', ...inner, 'right_outlier'] : inner
}

const cumulative = (v: number[]) => {
  let acc = 0
  return v.map((x) => {
    acc += x
    return acc
  })
}

/** Score a window against a prepared baseline (the window is sorted once; everything follows). */
export function computeAssay(
  baseline: PreparedBaseline,
  windowValues: ArrayLike<number>,
  s: Summarizer,
  thresholds: z.infer<typeof thresholdsSchema>,
): AssayResult {
  const { finite, nan } = dropNaN(windowValues)
  const sorted = radixSort(finite)
  const windowSummary = summarize(sorted)
  const bDensity = shares(baseline.counts, s.add_outlier_edges)
  const wDensity = shares(sortedBinCounts(sorted, baseline.edges, nan), s.add_outlier_edges)
  let b: number[]
  let w: number[]
  if (s.aggregation === 'density') [b, w] = [bDensity, wDensity]
  else if (s.aggregation === 'cumulative') [b, w] = [cumulative(bDensity), cumulative(wDensity)]
  else [b, w] = [baseline.edges, baseline.levels.map((p) => quantile(sorted, Math.min(1, Math.max(0, p))))]
  const distances = ecdfDistances(baseline.sorted, sorted)
  const score = s.metric === 'psi' ? psi(b, w) : s.metric === 'maxdiff' ? maxDiff(b, w) : sumDiff(b, w)
  const status: Status =
    score >= thresholds.alert_threshold
      ? 'alert'
      : thresholds.warning_threshold !== undefined && score >= thresholds.warning_threshold
        ? 'warning'
        : 'ok'
  return {
    score,
    status,
    bins: {
      labels:
        s.aggregation === 'edges'
          ? baseline.edges.map((_, i) => `edge_${i}`)
          : labelsFor(baseline.edges, s.add_outlier_edges),
      edges: baseline.edges,
      baseline: b,
      window: w,
    },
    baseline_summary: { ...baseline.summary, edges: baseline.edges, nan: baseline.nan },
    window_summary: { ...windowSummary, nan },
    ks: { statistic: distances.ks, p_value: ksPValue(distances.ks, baseline.sorted.length, sorted.length) },
    wasserstein: distances.wasserstein,
    jensen_shannon: jensenShannon(bDensity, wDensity),
  }
}
