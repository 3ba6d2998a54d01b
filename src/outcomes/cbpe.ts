/**
 * Performance estimated before the outcomes arrive: NannyML's confidence-based performance
 * estimation (CBPE). If the model is calibrated, its probability of a class is the chance that the
 * class is the outcome, so each row's expected confusion counts follow from its probabilities alone:
 * - expected accuracy: the mean over rows of the probability of the predicted (argmax) class;
 * - expected ROC AUC: at each distinct score threshold t, expected true positives Σ p_i over the rows
 *   scoring t or more and expected false positives Σ (1 − p_i) over the same rows, divided by Σ p_i
 *   and Σ (1 − p_i) over all rows for the expected TPR and FPR; the AUC of that curve by the
 *   trapezoid rule (rows tied at one threshold count one half against each other). Binary: the class-1 column; more
 *   classes: one-vs-rest, macro average, as `metrics.ts`'s realized AUC.
 *
 * Limitation: the estimate is only as good as the calibration. An over-confident model (its
 * probabilities sharper than the outcomes' frequencies) gets an estimate above what it achieves,
 * by the gap between its stated and true probabilities; test/outcomes/cbpe.test.ts shows the gap.
 * Recalibrate on a labeled reference set before trusting an estimate, and compare it with the
 * realized metrics once outcomes arrive.
 */
import { InvalidInputError } from '../errors.js'

export interface EstimatedPerformance {
  accuracy: number
  /** Null when no row has a positive (or no row a negative) expectation for some scored class. */
  auc: number | null
}

/** CBPE of `probs` (rows × classes, row-major, each in [0, 1]; at least one row). */
export function estimatePerformance(probs: Float64Array, classes: number): EstimatedPerformance {
  if (!Number.isInteger(classes) || classes < 2)
    throw new InvalidInputError(`classes must be an integer ≥ 2, got ${classes}`)
  if (probs.length === 0 || probs.length % classes !== 0)
    throw new InvalidInputError(
      `probabilities hold ${probs.length} values, not a positive multiple of ${classes} classes`,
    )
  const n = probs.length / classes
  let expectedRight = 0
  for (let i = 0; i < n; i++) {
    let top = 0
    for (let k = 0; k < classes; k++) {
      const p = probs[i * classes + k] as number
      if (!(p >= 0 && p <= 1)) throw new InvalidInputError(`probability ${p} of row ${i} is not in [0, 1]`)
      // Stryker disable next-line EqualityOperator: taking an equal probability again leaves the same maximum
      if (p > top) top = p
    }
    expectedRight += top
  }
  const scored = classes === 2 ? [1] : Array.from({ length: classes }, (_, k) => k)
  const score = new Float64Array(n)
  let sum = 0
  for (const k of scored) {
    // Stryker disable next-line EqualityOperator: a write past the end of a typed array is dropped
    for (let i = 0; i < n; i++) score[i] = probs[i * classes + k] as number
    const auc = expectedAuc(score)
    if (auc === null) return { accuracy: expectedRight / n, auc: null }
    sum += auc
  }
  return { accuracy: expectedRight / n, auc: sum / scored.length }
}

/**
 * The expected AUC of scores that are also the positives' probabilities (sorted in place); null
 * without both kinds.
 * Each row, from the highest score down, steps the expected curve by (1 − p, p) in counts. Rows
 * tied on a score have the same p, so their steps are collinear and need no grouping: the
 * trapezoids of the steps are the trapezoid of the threshold's one step.
 */
function expectedAuc(sorted: Float64Array): number | null {
  sorted.sort()
  let positives = 0
  for (const x of sorted) positives += x
  const negatives = sorted.length - positives
  if (!(positives > 0 && negatives > 0)) return null
  let area = 0
  let tp = 0
  for (let j = sorted.length - 1; j >= 0; j--) {
    const x = sorted[j] as number
    area += (1 - x) * (tp + x / 2)
    tp += x
  }
  return area / (positives * negatives)
}
