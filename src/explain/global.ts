/**
 * Global explanations over reference rows, summarised as Arquero tables:
 * - permutation feature importance (Breiman; scikit-learn's `permutation_importance`): shuffle one
 *   feature's column, re-predict, and measure the change — the increase of an error metric against
 *   a target (the drop for r2/accuracy), or without one the mean absolute change of the output —
 *   with mean and standard deviation over `repeats` shuffles;
 * - partial dependence with ICE curves (Friedman; Goldstein et al.): set one feature to each of
 *   `num_points` grid values over its bounds in every row; the ICE curve is a row's predictions, the
 *   PDP their mean.
 * Perturbed rows are described to the evaluator, which builds them a batch at a time.
 */
import * as aq from 'arquero'
import { InvalidRequestError } from '../errors.js'
import { mulberry32 } from '../random.js'
import { type FillRows, type Predict, rowsOf } from './evaluate.js'

export type Metric = 'mae' | 'mse' | 'rmse' | 'r2' | 'accuracy'

/** Metrics where larger is better: importance is the drop, not the increase. */
const HIGHER_IS_BETTER = new Set<Metric>(['r2', 'accuracy'])

function score(metric: Metric, target: Float64Array, p: Float64Array): number {
  const n = target.length
  let s = 0
  if (metric === 'accuracy') {
    for (let i = 0; i < n; i++) s += Number((p[i] as number) >= 0.5) === (target[i] as number) ? 1 : 0
    return s / n
  }
  if (metric === 'r2') {
    let mean = 0
    for (let i = 0; i < n; i++) mean += (target[i] as number) / n
    let res = 0
    let tot = 0
    for (let i = 0; i < n; i++) {
      res += ((target[i] as number) - (p[i] as number)) ** 2
      tot += ((target[i] as number) - mean) ** 2
    }
    return 1 - res / tot
  }
  for (let i = 0; i < n; i++) {
    const d = (p[i] as number) - (target[i] as number)
    s += metric === 'mae' ? Math.abs(d) : d * d
  }
  return metric === 'rmse' ? Math.sqrt(s / n) : s / n
}

/** A seeded Fisher–Yates shuffle of 0…n−1. */
function shuffled(n: number, rand: () => number): Uint32Array {
  const order = new Uint32Array(n)
  for (let i = 0; i < n; i++) order[i] = i
  for (let i = n - 1; i > 0; i--) {
    const k = Math.floor(rand() * (i + 1))
    const a = order[i] as number
    order[i] = order[k] as number
    order[k] = a
  }
  return order
}

/** Rows of X ([n, F]) with column `j` taken from the rows `order` names. */
const withColumnFrom =
  (X: Float64Array, F: number, j: number, order: Uint32Array): FillRows =>
  (into, first, count) => {
    into.set(X.subarray(first * F, (first + count) * F))
    for (let i = 0; i < count; i++) into[i * F + j] = X[(order[first + i] as number) * F + j] as number
  }

export interface Importance {
  feature: string
  importance_mean: number
  importance_std: number
  importances: number[]
}

export async function permutationImportance(
  predict: Predict,
  X: Float64Array,
  n: number,
  names: string[],
  features: number[],
  o: { repeats: number; seed: number; target?: Float64Array; metric?: Metric },
): Promise<{ measure: string; baseline: number | null; importances: Importance[]; table: aq.ColumnTable }> {
  const F = names.length
  if (o.target && o.target.length !== n)
    throw new InvalidRequestError(`target has ${o.target.length} values for ${n} reference rows`)
  const metric = o.target ? (o.metric ?? 'mse') : undefined
  const base = await predict(n, rowsOf(X, F))
  const baseline = metric && o.target ? score(metric, o.target, base) : null
  const rows: Array<{ feature: string; repeat: number; importance: number }> = []
  for (const j of features) {
    for (let r = 0; r < o.repeats; r++) {
      const p = await predict(n, withColumnFrom(X, F, j, shuffled(n, mulberry32(o.seed * 7919 + j * 101 + r))))
      let v: number
      if (metric && o.target && baseline !== null) {
        const s = score(metric, o.target, p)
        v = HIGHER_IS_BETTER.has(metric) ? baseline - s : s - baseline
      } else {
        v = 0
        for (let i = 0; i < n; i++) v += Math.abs((p[i] as number) - (base[i] as number)) / n
      }
      rows.push({ feature: names[j] as string, repeat: r, importance: v })
    }
  }
  const table = aq
    .from(rows)
    .groupby('feature')
    .rollup({
      importance_mean: aq.op.mean('importance'),
      importance_std: aq.op.stdev('importance'),
      importances: aq.op.array_agg('importance'),
    })
    .orderby(aq.desc('importance_mean')) as aq.ColumnTable
  const importances = (table.objects() as Importance[]).map((r) => ({ ...r, importance_std: r.importance_std ?? 0 }))
  return {
    measure: metric ? `${HIGHER_IS_BETTER.has(metric) ? 'drop' : 'increase'} of ${metric}` : 'mean |Δ output|',
    baseline,
    importances,
    table: table.select('feature', 'importance_mean', 'importance_std') as aq.ColumnTable,
  }
}

export interface PartialDependence {
  feature: string
  grid: number[]
  pdp: number[]
  /** ICE curves of the first rows (one per row, over the grid). */
  ice: number[][]
}

export async function partialDependence(
  predict: Predict,
  X: Float64Array,
  n: number,
  names: string[],
  features: number[],
  o: { numPoints: number; bounds: Record<string, [number, number]>; iceRows: number },
): Promise<{ curves: PartialDependence[]; table: aq.ColumnTable }> {
  const F = names.length
  const summary: { feature: string[]; point: number[]; value: number[]; pdp: number[] } = {
    feature: [],
    point: [],
    value: [],
    pdp: [],
  }
  const curves: PartialDependence[] = []
  for (const j of features) {
    const name = names[j] as string
    let [lo, hi] = o.bounds[name] ?? [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]
    if (!o.bounds[name]) {
      for (let i = 0; i < n; i++) {
        lo = Math.min(lo, X[i * F + j] as number)
        hi = Math.max(hi, X[i * F + j] as number)
      }
    }
    const grid = Array.from({ length: o.numPoints }, (_, g) => lo + ((hi - lo) * g) / (o.numPoints - 1))
    // Row g·n + i: reference row i with feature j set to grid value g.
    const p = await predict(o.numPoints * n, (into, first, count) => {
      for (let r = 0; r < count; r++) {
        const i = (first + r) % n
        into.set(X.subarray(i * F, (i + 1) * F), r * F)
        into[r * F + j] = grid[Math.floor((first + r) / n)] as number
      }
    })
    // The PDP is the mean ICE curve: the mean prediction over the rows at each grid point.
    const pdp = grid.map((_, g) => {
      let sum = 0
      for (let i = 0; i < n; i++) sum += p[g * n + i] as number
      return sum / n
    })
    grid.forEach((v, g) => {
      summary.feature.push(name)
      summary.point.push(g)
      summary.value.push(v)
      summary.pdp.push(pdp[g] as number)
    })
    const ice = Array.from({ length: Math.min(o.iceRows, n) }, (_, i) => grid.map((_, g) => p[g * n + i] as number))
    curves.push({ feature: name, grid, pdp, ice })
  }
  return { curves, table: aq.table(summary) as aq.ColumnTable }
}
