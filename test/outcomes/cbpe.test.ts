/**
 * CBPE against a hand-worked curve and a pair-sum formula, then against what happens: outcomes drawn
 * from a calibrated model's probabilities with a seeded generator, the realized accuracy counted and
 * the realized AUC by brute-force pair counting. And its documented failure: an over-confident model
 * is estimated above what it achieves, by the gap its true probabilities predict.
 */
import { describe, expect, it } from 'vitest'
import { InvalidInputError } from '../../src/errors.js'
import { estimatePerformance } from '../../src/outcomes/cbpe.js'
import { mulberry32 } from '../../src/random.js'

/** A standard normal draw (Box–Muller), float64. */
const gauss = (rand: () => number) => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand())

/** Realized one-vs-rest AUC of column `k` by counting every positive–negative pair, ties one half. */
function pairAuc(labels: Int32Array, probs: Float64Array, classes: number, k: number): number {
  const pos: number[] = []
  const neg: number[] = []
  for (let i = 0; i < labels.length; i++) (labels[i] === k ? pos : neg).push(probs[i * classes + k] as number)
  let wins = 0
  for (const x of pos) for (const y of neg) wins += x > y ? 1 : x === y ? 0.5 : 0
  return wins / (pos.length * neg.length)
}

/** Realized accuracy: rows whose argmax (first on ties) is the label. */
function realizedAccuracy(labels: Int32Array, probs: Float64Array, classes: number): number {
  let right = 0
  for (let i = 0; i < labels.length; i++) {
    let top = 0
    for (let k = 1; k < classes; k++)
      if ((probs[i * classes + k] as number) > (probs[i * classes + top] as number)) top = k
    if (top === labels[i]) right++
  }
  return right / labels.length
}

/** Rows of softmax(logits) with `classes` columns; logit k ~ N(shift_k, spread²). */
function softmaxRows(rand: () => number, n: number, shifts: number[], spread: number): Float64Array {
  const classes = shifts.length
  const probs = new Float64Array(n * classes)
  for (let i = 0; i < n; i++) {
    let total = 0
    for (let k = 0; k < classes; k++) {
      const e = Math.exp((shifts[k] as number) + spread * gauss(rand))
      probs[i * classes + k] = e
      total += e
    }
    for (let k = 0; k < classes; k++) probs[i * classes + k] = (probs[i * classes + k] as number) / total
  }
  return probs
}

/** One outcome per row drawn from `truth` (rows × classes). */
function drawLabels(rand: () => number, truth: Float64Array, classes: number): Int32Array {
  const labels = new Int32Array(truth.length / classes)
  for (let i = 0; i < labels.length; i++) {
    let u = rand()
    let k = 0
    while (k < classes - 1 && u >= (truth[i * classes + k] as number)) u -= truth[i * classes + k++] as number
    labels[i] = k
  }
  return labels
}

describe('confidence-based performance estimation', () => {
  it('the expected ROC curve worked by hand, ties at one threshold, and the pair-sum form', () => {
    // P(class 1) 0.9, 0.5, 0.5, 0.2: Σp = 2.1, Σ(1 − p) = 1.9. From the top: (dFP, dTP) = (0.1, 0.9),
    // (1.0, 1.0) for the tied 0.5s, (0.8, 0.2). Trapezoids in counts: 0.1 · 0.45 + 1.0 · 1.4 + 0.8 · 2.0.
    const p1 = [0.9, 0.5, 0.5, 0.2]
    const probs = Float64Array.from(p1.flatMap((p) => [1 - p, p]))
    const est = estimatePerformance(probs, 2)
    expect(est.auc).toBeCloseTo((0.1 * 0.45 + 1.0 * 1.4 + 0.8 * 2.0) / (2.1 * 1.9), 14)
    expect(est.accuracy).toBeCloseTo((0.9 + 0.5 + 0.5 + 0.8) / 4, 15)
    // The same as Σ_i Σ_j p_i (1 − p_j) ψ(s_i, s_j) / (Σp · Σ(1 − p)), ψ = 1, ½, 0 for >, =, <, i = j included.
    let num = 0
    for (const a of p1) for (const b of p1) num += a * (1 - b) * (a > b ? 1 : a === b ? 0.5 : 0)
    expect(est.auc).toBeCloseTo(num / (2.1 * 1.9), 14)
  })

  it('binary: the class-1 column only, whatever column 0 holds', () => {
    const probs = Float64Array.from([0.9, 0.5, 0.5, 0.2].flatMap((p) => [0.5, p]))
    expect(estimatePerformance(probs, 2).auc).toBeCloseTo((0.1 * 0.45 + 1.0 * 1.4 + 0.8 * 2.0) / (2.1 * 1.9), 14)
  })

  it('three classes: one-vs-rest macro average of the expected AUCs', () => {
    const rows = [
      [0.6, 0.3, 0.1],
      [0.2, 0.5, 0.3],
      [0.2, 0.2, 0.6],
      [0.5, 0.25, 0.25],
      [0.1, 0.8, 0.1],
    ]
    const expected = [0, 1, 2].map((k) => {
      const s = rows.map((r) => r[k] as number)
      const pos = s.reduce((a, b) => a + b, 0)
      let num = 0
      for (const a of s) for (const b of s) num += a * (1 - b) * (a > b ? 1 : a === b ? 0.5 : 0)
      return num / (pos * (s.length - pos))
    })
    const est = estimatePerformance(Float64Array.from(rows.flat()), 3)
    expect(est.auc).toBeCloseTo(expected.reduce((a, b) => a + b, 0) / 3, 14)
    expect(est.accuracy).toBeCloseTo((0.6 + 0.5 + 0.6 + 0.5 + 0.8) / 5, 15)
  })

  it('a calibrated binary model: within 0.01 (accuracy) and 0.02 (AUC) of the realized, n = 20,000', () => {
    const rand = mulberry32(1919)
    const n = 20_000
    const probs = softmaxRows(rand, n, [0, 0.4], 1.5)
    const labels = drawLabels(rand, probs, 2)
    const est = estimatePerformance(probs, 2)
    // Measured with this seed: accuracy error −0.0013, AUC error −0.0017 (standard errors about 0.003).
    expect(Math.abs((est.accuracy as number) - realizedAccuracy(labels, probs, 2))).toBeLessThan(0.01)
    expect(Math.abs((est.auc as number) - pairAuc(labels, probs, 2, 1))).toBeLessThan(0.02)
  })

  it('a calibrated three-class model: within 0.01 and 0.02 of the realized, n = 12,000', () => {
    const rand = mulberry32(2020)
    const n = 12_000
    const probs = softmaxRows(rand, n, [0, 0.5, -0.3], 1.2)
    const labels = drawLabels(rand, probs, 3)
    const est = estimatePerformance(probs, 3)
    const realized = [0, 1, 2].reduce((s, k) => s + pairAuc(labels, probs, 3, k), 0) / 3
    // Measured with this seed: accuracy error −0.0005, AUC error +0.0021.
    expect(Math.abs(est.accuracy - realizedAccuracy(labels, probs, 3))).toBeLessThan(0.01)
    expect(Math.abs((est.auc as number) - realized)).toBeLessThan(0.02)
  })

  it('an over-confident model is estimated above what it achieves, by the gap its true probabilities predict', () => {
    // The outcomes follow p; the model says q = sigmoid(2 · logit p): same ranking, sharper probabilities.
    const rand = mulberry32(2121)
    const n = 20_000
    const truth = softmaxRows(rand, n, [0, 0.4], 1)
    const labels = drawLabels(rand, truth, 2)
    const stated = new Float64Array(2 * n)
    let truthAccuracy = 0
    for (let i = 0; i < n; i++) {
      const p = truth[2 * i + 1] as number
      const q = 1 / (1 + ((1 - p) / p) ** 2)
      stated[2 * i] = 1 - q
      stated[2 * i + 1] = q
      truthAccuracy += Math.max(p, 1 - p) // the chance the argmax, the same for p and q, is right
    }
    truthAccuracy /= n
    const est = estimatePerformance(stated, 2)
    const realized = realizedAccuracy(labels, stated, 2)
    // Measured with this seed: estimated 0.832, realized 0.734, predicted by the truth 0.730; AUC
    // estimated 0.911, realized 0.803.
    expect(est.accuracy - realized).toBeGreaterThan(0.05)
    expect(Math.abs(realized - truthAccuracy)).toBeLessThan(0.01)
    // AUC depends on the ranking only: realized is the calibrated model's, estimated is far above.
    const auc = pairAuc(labels, stated, 2, 1)
    expect(auc).toBeCloseTo(estimatePerformance(truth, 2).auc as number, 1)
    expect((est.auc as number) - auc).toBeGreaterThan(0.05)
  })

  it('no AUC without an expected positive or negative; refuses bad sizes and probabilities', () => {
    expect(estimatePerformance(Float64Array.from([1, 0, 1, 0]), 2)).toEqual({ accuracy: 1, auc: null })
    expect(estimatePerformance(Float64Array.from([0, 1, 0, 1]), 2).auc).toBeNull()
    expect(estimatePerformance(Float64Array.from([0.5, 0.5, 0, 0, 1, 0]), 3).auc).toBeNull()
    const bad: [() => unknown, RegExp][] = [
      [() => estimatePerformance(new Float64Array(0), 2), /0 values, not a positive multiple of 2/],
      [() => estimatePerformance(Float64Array.from([0.5, 0.5, 1]), 2), /3 values/],
      [() => estimatePerformance(Float64Array.from([0.5, 0.5]), 1), /classes must be an integer ≥ 2, got 1/],
      [() => estimatePerformance(Float64Array.from([0.5, 0.5]), 1.5), /got 1.5/],
      [() => estimatePerformance(Float64Array.from([0.5, 0.5, 1.2, -0.2]), 2), /1.2 of row 1/],
      [() => estimatePerformance(Float64Array.from([0.5, Number.NaN]), 2), /NaN of row 0/],
      [() => estimatePerformance(Float64Array.from([0.5, 0.5, -0.1, 1]), 2), /-0.1 of row 1/],
    ]
    for (const [call, message] of bad) {
      expect(call).toThrow(InvalidInputError)
      expect(call).toThrow(message)
    }
  })
})
