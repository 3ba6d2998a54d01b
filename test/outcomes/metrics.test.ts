/**
 * Outcome metrics against independent references: scikit-learn's numbers (provenance below), DeLong's
 * variance by explicit pair loops, Wilson's interval and the calibration table worked by hand, the
 * normal quantile against Python's, and the AUC intervals' coverage by simulation with a known AUC.
 */
import { describe, expect, it } from 'vitest'
import { InvalidInputError } from '../../src/errors.js'
import { aucInterval, classifierMetrics, normalQuantile, regressorMetrics, wilson } from '../../src/outcomes/metrics.js'
import { mulberry32 } from '../../src/random.js'

/*
 * Reference numbers: scikit-learn 1.2.1, NumPy 1.24.2 (Debian's python3-sklearn), from
 *
 *   import numpy as np
 *   from sklearn.metrics import roc_auc_score, log_loss, accuracy_score, mean_absolute_error, mean_squared_error
 *   p1 = np.array([0.9, 0.8, 0.8, 0.7, 0.6, 0.6, 0.6, 0.4, 0.3, 0.3, 0.2, 0.1, 0.05])
 *   yb = np.array([1, 1, 0, 1, 1, 0, 0, 1, 0, 0, 1, 0, 0]); Pb = np.column_stack([1 - p1, p1])
 *   roc_auc_score(yb, p1); log_loss(yb, Pb); accuracy_score(yb, Pb.argmax(1))
 *   P3 = np.array(THREE_CLASS_PROBS); y3 = np.array(THREE_CLASS_LABELS)
 *   roc_auc_score(y3, P3, multi_class='ovr', average='macro'); [roc_auc_score(y3 == k, P3[:, k]) for k in range(3)]
 *   log_loss(y3, P3); accuracy_score(y3, P3.argmax(1))
 *   log_loss([1, 1, 0], [[1.0, 0.0], [0.0, 1.0], [0.75, 0.25]], labels=[0, 1])
 *   a = np.array(ACTUAL); f = np.array(PREDICTED)
 *   mean_absolute_error(a, f); mean_squared_error(a, f, squared=False)
 *
 * The rows' probabilities sum to one, so 1.2's renormalization in log_loss changes nothing.
 */
const BINARY_P1 = [0.9, 0.8, 0.8, 0.7, 0.6, 0.6, 0.6, 0.4, 0.3, 0.3, 0.2, 0.1, 0.05]
const BINARY_LABELS = [1, 1, 0, 1, 1, 0, 0, 1, 0, 0, 1, 0, 0]
const THREE_CLASS_PROBS = [
  [0.7, 0.2, 0.1],
  [0.5, 0.3, 0.2],
  [0.5, 0.25, 0.25],
  [0.4, 0.4, 0.2],
  [0.2, 0.5, 0.3],
  [0.6, 0.3, 0.1],
  [0.1, 0.8, 0.1],
  [0.3, 0.4, 0.3],
  [0.2, 0.6, 0.2],
  [0.25, 0.5, 0.25],
  [0.5, 0.3, 0.2],
  [0.1, 0.3, 0.6],
  [0.2, 0.2, 0.6],
  [0.4, 0.3, 0.3],
]
const THREE_CLASS_LABELS = [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2]
const ACTUAL = [3.0, -0.5, 2.0, 7.0, 4.2, 0.0, 10.0, 1.5, -2.0]
const PREDICTED = [2.5, 0.0, 2.0, 8.0, 3.9, -0.4, 12.5, 1.5, -1.0]

const binaryProbs = (p1: readonly number[]) => Float64Array.from(p1.flatMap((p) => [1 - p, p]))
const Z95 = 1.959963984540054

/** DeLong's variance by pair loops: V10 per positive, V01 per negative, S10/m + S01/n. */
function delongBrute(scores: readonly number[], positive: readonly boolean[]): { auc: number; variance: number } {
  const pos = scores.filter((_, i) => positive[i])
  const neg = scores.filter((_, i) => !positive[i])
  const psi = (x: number, y: number) => (x > y ? 1 : x === y ? 0.5 : 0)
  const v10 = pos.map((x) => neg.reduce((s, y) => s + psi(x, y), 0) / neg.length)
  const v01 = neg.map((y) => pos.reduce((s, x) => s + psi(x, y), 0) / pos.length)
  const auc = v10.reduce((a, b) => a + b, 0) / pos.length
  const s10 = v10.reduce((s, v) => s + (v - auc) ** 2, 0) / (pos.length - 1)
  const s01 = v01.reduce((s, v) => s + (v - auc) ** 2, 0) / (neg.length - 1)
  return { auc, variance: s10 / pos.length + s01 / neg.length }
}

describe('classifier metrics', () => {
  it("match scikit-learn on a binary set with ties and unequal classes; AUC's interval is DeLong's", () => {
    const m = classifierMetrics(BINARY_LABELS, binaryProbs(BINARY_P1), 2)
    expect(m.n).toBe(13)
    expect(m.auc?.value).toBeCloseTo(0.7261904761904762, 14)
    expect(m.log_loss.value).toBeCloseTo(0.6179812579300206, 14)
    expect(m.accuracy.value).toBeCloseTo(0.6153846153846154, 14)
    const ref = delongBrute(
      BINARY_P1,
      BINARY_LABELS.map((y) => y === 1),
    )
    expect(ref.auc).toBeCloseTo(0.7261904761904762, 14)
    expect(m.auc?.low).toBeCloseTo(ref.auc - Z95 * Math.sqrt(ref.variance), 12)
    expect(m.auc?.high).toBe(1) // 0.726 + 1.96 · 0.148, clipped
    const z = normalQuantile(0.8)
    const narrow = aucInterval(BINARY_LABELS, binaryProbs(BINARY_P1), 2, z)
    expect(narrow?.low).toBeCloseTo(ref.auc - z * Math.sqrt(ref.variance), 12)
    expect(narrow?.high).toBeCloseTo(ref.auc + z * Math.sqrt(ref.variance), 12)
  })

  it('match scikit-learn one-vs-rest macro AUC, log loss and accuracy on three classes', () => {
    const m = classifierMetrics(THREE_CLASS_LABELS, Float64Array.from(THREE_CLASS_PROBS.flat()), 3)
    expect(m.auc?.value).toBeCloseTo(0.8933712121212122, 14)
    expect((0.84375 + 0.8666666666666667 + 0.9696969696969697) / 3).toBeCloseTo(0.8933712121212122, 14)
    expect(m.log_loss.value).toBeCloseTo(0.7537519654879301, 14)
    expect(m.accuracy.value).toBeCloseTo(0.7857142857142857, 14)
  })

  it("macro AUC's variance: each row's placements summed over the classes, by pair loops", () => {
    const probs = Float64Array.from(THREE_CLASS_PROBS.flat())
    const n = THREE_CLASS_LABELS.length
    const psi = (x: number, y: number) => (x > y ? 1 : x === y ? 0.5 : 0)
    const influence = new Float64Array(n)
    for (let k = 0; k < 3; k++) {
      const col = (i: number) => probs[i * 3 + k] as number
      const pos = [...Array(n).keys()].filter((i) => THREE_CLASS_LABELS[i] === k)
      const neg = [...Array(n).keys()].filter((i) => THREE_CLASS_LABELS[i] !== k)
      for (const i of pos)
        influence[i] =
          (influence[i] as number) + neg.reduce((s, j) => s + psi(col(i), col(j)), 0) / neg.length / pos.length / 3
      for (const j of neg)
        influence[j] =
          (influence[j] as number) + pos.reduce((s, i) => s + psi(col(i), col(j)), 0) / pos.length / neg.length / 3
    }
    let variance = 0
    for (let c = 0; c < 3; c++) {
      const g = Array.from(influence).filter((_, i) => THREE_CLASS_LABELS[i] === c)
      const mean = g.reduce((a, b) => a + b, 0) / g.length
      variance += (g.length * g.reduce((s, v) => s + (v - mean) ** 2, 0)) / (g.length - 1)
    }
    const z = normalQuantile(0.9)
    const got = aucInterval(THREE_CLASS_LABELS, probs, 3, z)
    expect(got?.high).toBeCloseTo(0.8933712121212122 + z * Math.sqrt(variance), 12)
    expect(got?.low).toBeCloseTo(0.8933712121212122 - z * Math.sqrt(variance), 12)
  })

  it('AUC intervals cover a known AUC about 95% of the time, binary and three classes', () => {
    // Class c's rows: one uniform U per row; column c is U^(1/a_c) (Beta(a_c, 1)), every other column
    // 1 − U (uniform), so each one-vs-rest AUC is P(Beta(a, 1) > uniform) = a / (a + 1), and a row's
    // columns move together: the classes' AUCs are correlated, which the variance must carry.
    const rand = mulberry32(20_261_201)
    const a = [1.5, 2.5, 4]
    for (const classes of [2, 3]) {
      const truth = classes === 2 ? 2.5 / 3.5 : a.reduce((s, x) => s + x / (x + 1), 0) / 3
      const runs = 400
      const rows = 300
      let covered = 0
      for (let r = 0; r < runs; r++) {
        const labels = Array.from({ length: rows }, (_, i) => i % classes)
        const probs = new Float64Array(rows * classes)
        for (let i = 0; i < rows; i++) {
          const u = rand()
          const c = labels[i] as number
          for (let k = 0; k < classes; k++)
            probs[i * classes + k] = k === c ? u ** (1 / (a[classes === 2 ? 1 : c] as number)) : 1 - u
          if (classes === 2 && c === 0) probs[i * 2 + 1] = 1 - u
        }
        const auc = aucInterval(labels, probs, classes, Z95)
        if (auc && auc.low <= truth && truth <= auc.high) covered++
      }
      // 400 runs: the binomial standard deviation of a 95% coverage is 1.1 points. Measured with this
      // seed: 96.3% (two classes), 95.8% (three).
      expect(covered / runs).toBeGreaterThan(0.92)
      expect(covered / runs).toBeLessThan(0.98)
    }
  })

  it("log loss clips a true class's probability to [ε, 1 − ε] as scikit-learn (ε = 2⁻⁵², eps='auto')", () => {
    const m = classifierMetrics([1, 1, 0], Float64Array.from([1, 0, 0, 1, 0.75, 0.25]), 2)
    expect(m.log_loss.value).toBeCloseTo(12.110445153856311, 13)
    expect(m.log_loss.value).toBeCloseTo((-Math.log(2 ** -52) - Math.log(1 - 2 ** -52) - Math.log(0.75)) / 3, 13)
  })

  it('a true class at probability 1 still costs −ln(1 − ε) = 2⁻⁵², as scikit-learn', () => {
    expect(classifierMetrics([1], Float64Array.from([0, 1]), 2).log_loss.value).toBe(-Math.log(1 - 2 ** -52))
    expect(-Math.log(1 - 2 ** -52)).toBeGreaterThan(0)
  })

  it('binary AUC reads the class-1 column only, whatever column 0 holds', () => {
    const probs = Float64Array.from(BINARY_P1.flatMap((p) => [0.5, p]))
    expect(classifierMetrics(BINARY_LABELS, probs, 2).auc?.value).toBeCloseTo(0.7261904761904762, 14)
  })

  it('log loss interval: mean ± z·s/√n of the per-row losses, never below zero', () => {
    const m = classifierMetrics([0, 1, 1, 0], Float64Array.from([0.5, 0.5, 0.5, 0.5, 0.25, 0.75, 0.8, 0.2]), 2)
    const losses = [Math.log(2), Math.log(2), -Math.log(0.75), -Math.log(0.8)]
    const mean = losses.reduce((a, b) => a + b, 0) / 4
    const sd = Math.sqrt(losses.reduce((s, l) => s + (l - mean) ** 2, 0) / 3)
    expect(m.log_loss.value).toBeCloseTo(mean, 14)
    expect(m.log_loss.high).toBeCloseTo(mean + (Z95 * sd) / 2, 13)
    expect(m.log_loss.low).toBeCloseTo(mean - (Z95 * sd) / 2, 13)
    expect(classifierMetrics([0, 1], Float64Array.from([0.5, 0.5, 1e-300, 1]), 2).log_loss.low).toBe(0)
    expect(m.accuracy.value).toBe(0.75) // a 0.5/0.5 row's argmax is class 0: right for row 0, wrong for row 1
  })

  it("accuracy's interval is Wilson's, worked by hand for 8 of 10", () => {
    // z = 1.959963984540054, p = 0.8, z² = 3.841458820694124, denominator 1 + z²/10 = 1.3841458820694124,
    // centre (0.8 + z²/20) / 1.3841458820694124 = 0.7167401600411333,
    // half-width z / 1.3841458820694124 · √(0.8 · 0.2 / 10 + z² / 400) = 0.2265776885044915.
    const w = wilson(8, 10, Z95)
    expect(w.low).toBeCloseTo(0.4901624715366418, 14)
    expect(w.high).toBeCloseTo(0.9433178485456248, 14)
    expect(wilson(0, 5, Z95).low).toBe(0)
    expect(wilson(5, 5, Z95).high).toBe(1)
    const labels = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1]
    const probs = Float64Array.from(labels.flatMap((_, i) => (i < 9 ? [0.9, 0.1] : [0.1, 0.9])))
    // Rows 0–7 and 9 right; row 8's label is 1 and its top class 0.
    const acc = classifierMetrics(labels, probs, 2).accuracy
    expect(acc.value).toBe(0.9)
    expect(acc.low).toBeCloseTo(wilson(9, 10, Z95).low, 14)
    expect(acc.high).toBeCloseTo(wilson(9, 10, Z95).high, 14)
  })

  it('calibration: ten bins of the top-class probability, ECE weighted by the bins’ rows', () => {
    // Top classes: 0.95 right, 0.92 right, 0.65 wrong, 0.6 right, 0.55 wrong, 0.4 right (three classes).
    // Bins [0.4, 0.5): 0.4; [0.5, 0.6): 0.55; [0.6, 0.7): 0.65 and 0.6; [0.9, 1]: 0.95 and 0.92.
    const probs = Float64Array.from(
      [
        [0.95, 0.03, 0.02],
        [0.04, 0.92, 0.04],
        [0.65, 0.3, 0.05],
        [0.2, 0.2, 0.6],
        [0.55, 0.4, 0.05],
        [0.4, 0.35, 0.25],
      ].flat(),
    )
    const labels = [0, 1, 1, 2, 1, 0]
    const { calibration } = classifierMetrics(labels, probs, 3)
    expect(calibration.bins.map((b) => b.n)).toEqual([1, 1, 2, 2])
    expect(calibration.bins[0]).toEqual({ predicted: 0.4, observed: 1, n: 1 })
    expect(calibration.bins[1]).toEqual({ predicted: 0.55, observed: 0, n: 1 })
    expect(calibration.bins[2]?.predicted).toBeCloseTo(0.625, 15)
    expect(calibration.bins[2]?.observed).toBe(0.5)
    expect(calibration.bins[3]?.predicted).toBeCloseTo(0.935, 15)
    expect(calibration.bins[3]?.observed).toBe(1)
    const ece = (1 / 6) * 0.6 + (1 / 6) * 0.55 + (2 / 6) * 0.125 + (2 / 6) * 0.065
    expect(calibration.ece).toBeCloseTo(ece, 14)
  })

  it('has no AUC when a class has no row; a probability of exactly 1 is the top bin', () => {
    const m = classifierMetrics([1, 1], Float64Array.from([0, 1, 0.3, 0.7]), 2)
    expect(m.auc).toBeNull()
    expect(m.calibration.bins).toEqual([
      { predicted: 0.7, observed: 1, n: 1 },
      { predicted: 1, observed: 1, n: 1 },
    ])
    expect(classifierMetrics([0, 1, 1], Float64Array.from([1, 0, 0, 0, 1, 0, 0, 1, 0]), 3).auc).toBeNull()
  })

  it('refuses mismatched sizes, labels out of range, probabilities outside [0, 1], no rows, a bad confidence', () => {
    const bad: [() => unknown, RegExp][] = [
      [() => classifierMetrics([0, 1], Float64Array.from([0.5, 0.5, 1]), 2), /3 values, expected 2 rows × 2/],
      [() => classifierMetrics([0, 2], Float64Array.from([0.5, 0.5, 1, 0]), 2), /label 2 of row 1/],
      [() => classifierMetrics([0, 0.5], Float64Array.from([0.5, 0.5, 1, 0]), 2), /label 0.5/],
      [() => classifierMetrics([0, -1], Float64Array.from([0.5, 0.5, 1, 0]), 2), /label -1/],
      [() => classifierMetrics([0, 1], Float64Array.from([0.5, 0.5, Number.NaN, 0]), 2), /NaN of row 1/],
      [() => classifierMetrics([0, 1], Float64Array.from([0.5, 0.5, 1.5, -0.5]), 2), /1.5 of row 1/],
      [() => classifierMetrics([0], Float64Array.from([-0.1, 1.1]), 2), /-0.1 of row 0/],
      [() => classifierMetrics([], new Float64Array(0), 2), /no rows/],
      [() => classifierMetrics([0], Float64Array.from([1]), 1), /classes must be an integer ≥ 2, got 1/],
      [() => classifierMetrics([0], Float64Array.from([1, 0]), 2.5), /got 2.5/],
      [() => classifierMetrics([0], Float64Array.from([1, 0]), 2, 1), /confidence must be in \(0, 1\), got 1/],
      [() => classifierMetrics([0], Float64Array.from([1, 0]), 2, 0), /got 0/],
      [() => regressorMetrics([1, 2], [1]), /1 predictions for 2 outcomes/],
      [() => regressorMetrics([], []), /no rows/],
      [
        () => regressorMetrics([1, Number.POSITIVE_INFINITY], [1, 2]),
        /row 1: predicted and actual values must be finite/,
      ],
      [() => regressorMetrics([1, 2], [1, Number.NaN]), /row 1/],
      [() => regressorMetrics([1], [1], Number.NaN), /confidence/],
    ]
    for (const [call, message] of bad) {
      expect(call).toThrow(InvalidInputError)
      expect(call).toThrow(message)
    }
  })
})

describe('regressor metrics', () => {
  it('match scikit-learn MAE and RMSE; bias and the intervals worked by hand', () => {
    const m = regressorMetrics(ACTUAL, PREDICTED)
    expect(m.n).toBe(9)
    expect(m.mae.value).toBeCloseTo(0.6888888888888889, 14)
    expect(m.rmse.value).toBeCloseTo(1.0, 14)
    // e = predicted − actual: −0.5, 0.5, 0, 1, −0.3, −0.4, 2.5, 0, 1; Σe = 3.8; Σe² = 9; Σ|e| = 6.2.
    const e = [-0.5, 0.5, 0, 1, -0.3, -0.4, 2.5, 0, 1]
    const sd = (x: number[]) => {
      const mean = x.reduce((a, b) => a + b, 0) / x.length
      return Math.sqrt(x.reduce((s, v) => s + (v - mean) ** 2, 0) / (x.length - 1))
    }
    const half = (x: number[]) => (Z95 * sd(x)) / 3
    expect(m.bias.value).toBeCloseTo(3.8 / 9, 14)
    expect(m.bias.low).toBeCloseTo(3.8 / 9 - half(e), 13)
    expect(m.bias.high).toBeCloseTo(3.8 / 9 + half(e), 13)
    const abs = e.map(Math.abs)
    expect(m.mae.low).toBeCloseTo(Math.max(0, 6.2 / 9 - half(abs)), 13)
    expect(m.mae.high).toBeCloseTo(6.2 / 9 + half(abs), 13)
    const sq = e.map((v) => v * v)
    expect(m.rmse.low).toBeCloseTo(Math.sqrt(Math.max(0, 1 - half(sq))), 13)
    expect(m.rmse.high).toBeCloseTo(Math.sqrt(1 + half(sq)), 13)
  })

  it('a perfect or a one-row regressor has point intervals; lower bounds stay at or above zero', () => {
    expect(regressorMetrics([1, 2, 3], [1, 2, 3])).toEqual({
      n: 3,
      mae: { value: 0, low: 0, high: 0 },
      rmse: { value: 0, low: 0, high: 0 },
      bias: { value: 0, low: 0, high: 0 },
    })
    expect(regressorMetrics([1], [3]).bias).toEqual({ value: 2, low: 2, high: 2 })
    const wide = regressorMetrics([0, 0], [0, 10])
    expect(wide.mae.low).toBe(0)
    expect(wide.rmse.low).toBe(0)
    expect(wide.bias.low).toBeLessThan(0)
  })
})

describe('normal quantile (AS 241)', () => {
  it("matches Python's statistics.NormalDist().inv_cdf, which implements the same algorithm", () => {
    const ref: [number, number][] = [
      [0.975, 1.9599639845400536],
      [0.995, 2.5758293035489],
      [0.95, 1.6448536269514715],
      [0.500000001, 2.506628203738712e-9],
      [0.3, -0.5244005127080407],
      [1e-10, -6.361340902404056],
      [1e-300, -37.0470962993612],
      [0.999999, 4.753424308817089],
    ]
    for (const [p, z] of ref) expect(normalQuantile(p)).toBeCloseTo(z, 12)
    expect(normalQuantile(0.5)).toBe(0)
  })
})
