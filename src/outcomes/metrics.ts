/**
 * Outcome metrics: how good a model's predictions were, once the outcomes arrived. Each with its
 * documented formula and a two-sided interval at `confidence` (0.95 unless told):
 * - accuracy (argmax of each row's probabilities, the first on ties as NumPy's argmax), with the
 *   Wilson score interval;
 * - ROC AUC as scikit-learn's `roc_auc_score` (ties count one half: the trapezoid rule); binary: of
 *   the class-1 column; more classes: one-vs-rest, macro average. Its interval is DeLong's (DeLong,
 *   DeLong & Clarke-Pearson 1988, in Sun & Xu's 2014 placement form), normal, clipped to [0, 1]. For
 *   the macro average the variance keeps the covariances between the classes' AUCs, which share
 *   rows: each row's placement values (V10 / m_k where it is class k's positive, V01 / n_k where
 *   it is a negative) are averaged over the classes into one influence value, and the variance is
 *   Σ over true classes c of n_c times the sample variance of that value among class c's rows (the
 *   rows of one class are exchangeable given the labels). For two classes this is DeLong's
 *   S10/m + S01/n exactly; test/outcomes/metrics.test.ts measures the coverage (about 95%);
 * - log loss as scikit-learn's `log_loss` (each row's probabilities as given, the true class's
 *   clipped to [ε, 1 − ε] with ε = 2⁻⁵² the float64 machine epsilon: scikit-learn's `eps="auto"`
 *   since 1.2, where it was 1e-15 before), interval by the normal approximation of the per-row
 *   losses' mean;
 * - calibration: 10 equal-width bins of the top-class probability, expected calibration error
 *   ECE = Σ n_b / n · |accuracy_b − confidence_b|;
 * - regressors: MAE, RMSE and bias = mean(predicted − actual), normal intervals of the means (of
 *   |e|, e² and e); RMSE's is the square root of mean squared error's (a monotone map of an interval
 *   of MSE: the delta method's first order, and never below zero).
 * Normal intervals, not Student's t: outcome sets are hundreds of rows or more. A spread needs two
 * rows: with one, an interval is the point.
 */
import { InvalidInputError } from '../errors.js'

/** A point estimate and its two-sided interval. */
export interface Interval {
  value: number
  low: number
  high: number
}

/** One calibration bin: mean top-class probability, share of rows whose top class was right, rows. */
interface CalibrationBin {
  predicted: number
  observed: number
  n: number
}

export interface ClassifierMetrics {
  n: number
  /** Wilson interval. */
  accuracy: Interval
  /** Binary: DeLong; more classes: one-vs-rest macro average. Null when a class has no row. */
  auc: Interval | null
  log_loss: Interval
  /** The non-empty bins of the ten, lowest first. */
  calibration: { ece: number; bins: CalibrationBin[] }
}

export interface RegressorMetrics {
  n: number
  mae: Interval
  rmse: Interval
  bias: Interval
}

/** scikit-learn's clipping of probabilities before the logarithm (float64's machine epsilon). */
export const LOG_LOSS_EPS = Number.EPSILON
/** Bins of the calibration table. */
const CALIBRATION_BINS = 10

/**
 * Metrics of a classifier. `labels`: the true class index per row (0 .. classes − 1); `probs`: rows ×
 * classes, row-major, each in [0, 1]. Refuses (InvalidInputError) mismatched sizes, classes out of
 * range, non-finite or out-of-range values, and no rows.
 */
export function classifierMetrics(
  labels: ArrayLike<number>,
  probs: Float64Array,
  classes: number,
  confidence = 0.95,
): ClassifierMetrics {
  const z = zOf(confidence)
  if (!Number.isInteger(classes) || classes < 2)
    throw new InvalidInputError(`classes must be an integer ≥ 2, got ${classes}`)
  const n = labels.length
  if (n === 0) throw new InvalidInputError('no rows with an outcome')
  if (probs.length !== n * classes)
    throw new InvalidInputError(`probabilities hold ${probs.length} values, expected ${n} rows × ${classes} classes`)
  for (let i = 0; i < n; i++) {
    const y = labels[i] as number
    if (!Number.isInteger(y) || y < 0 || y >= classes)
      throw new InvalidInputError(`label ${y} of row ${i} is not a class index in [0, ${classes})`)
  }
  for (let i = 0; i < probs.length; i++) {
    const p = probs[i] as number
    if (!(p >= 0 && p <= 1))
      throw new InvalidInputError(`probability ${p} of row ${Math.floor(i / classes)} is not in [0, 1]`)
  }
  const losses = new Float64Array(n)
  const binN = new Float64Array(CALIBRATION_BINS)
  const binConf = new Float64Array(CALIBRATION_BINS)
  const binRight = new Float64Array(CALIBRATION_BINS)
  let right = 0
  // Stryker disable next-line EqualityOperator: row n is past the end, reads give undefined and writes to typed arrays are dropped: the extra pass changes nothing
  for (let i = 0; i < n; i++) {
    const row = i * classes
    let top = 0
    for (let k = 1; k < classes; k++) if ((probs[row + k] as number) > (probs[row + top] as number)) top = k
    const y = labels[i] as number
    const hit = top === y ? 1 : 0
    right += hit
    const p = Math.min(Math.max(probs[row + y] as number, LOG_LOSS_EPS), 1 - LOG_LOSS_EPS)
    losses[i] = -Math.log(p)
    const conf = probs[row + top] as number
    const b = Math.min(CALIBRATION_BINS - 1, Math.floor(conf * CALIBRATION_BINS))
    binN[b] = (binN[b] as number) + 1
    binConf[b] = (binConf[b] as number) + conf
    binRight[b] = (binRight[b] as number) + hit
  }
  const bins: CalibrationBin[] = []
  let ece = 0
  for (let b = 0; b < CALIBRATION_BINS; b++) {
    const m = binN[b] as number
    if (m === 0) continue
    const bin = { predicted: (binConf[b] as number) / m, observed: (binRight[b] as number) / m, n: m }
    bins.push(bin)
    ece += (m / n) * Math.abs(bin.observed - bin.predicted)
  }
  const loss = meanInterval(losses, z)
  return {
    n,
    accuracy: wilson(right, n, z),
    auc: aucInterval(labels, probs, classes, z),
    log_loss: { value: loss.value, low: Math.max(0, loss.low), high: loss.high },
    calibration: { ece, bins },
  }
}

/** Metrics of a regressor: `actual` and `predicted` values per row, finite, the same count (≥ 1). */
export function regressorMetrics(
  actual: ArrayLike<number>,
  predicted: ArrayLike<number>,
  confidence = 0.95,
): RegressorMetrics {
  const z = zOf(confidence)
  const n = actual.length
  if (predicted.length !== n) throw new InvalidInputError(`${predicted.length} predictions for ${n} outcomes`)
  if (n === 0) throw new InvalidInputError('no rows with an outcome')
  const err = new Float64Array(n)
  const abs = new Float64Array(n)
  const sq = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    const e = (predicted[i] as number) - (actual[i] as number)
    if (!Number.isFinite(e)) throw new InvalidInputError(`row ${i}: predicted and actual values must be finite`)
    err[i] = e
    abs[i] = Math.abs(e)
    sq[i] = e * e
  }
  const mae = meanInterval(abs, z)
  const mse = meanInterval(sq, z)
  return {
    n,
    mae: { value: mae.value, low: Math.max(0, mae.low), high: mae.high },
    rmse: { value: Math.sqrt(mse.value), low: Math.sqrt(Math.max(0, mse.low)), high: Math.sqrt(mse.high) },
    bias: meanInterval(err, z),
  }
}

/** Wilson score interval of `successes` out of `n` trials (n ≥ 1), `z` the normal quantile. */
export function wilson(successes: number, n: number, z: number): Interval {
  const p = successes / n
  const z2 = z * z
  const denom = 1 + z2 / n
  const center = (p + z2 / (2 * n)) / denom
  const half = (z / denom) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))
  return { value: p, low: Math.max(0, center - half), high: Math.min(1, center + half) }
}

/** Mean of `x` with the normal interval mean ± z·s/√n (s the sample standard deviation; none for n = 1). */
function meanInterval(x: Float64Array, z: number): Interval {
  const n = x.length
  let sum = 0
  for (let i = 0; i < n; i++) sum += x[i] as number
  const mean = sum / n
  const half = z * Math.sqrt(sampleVariance(x, mean) / n)
  return { value: mean, low: mean - half, high: mean + half }
}

/** Σ(x − mean)² / (n − 1), 0 below two values. */
function sampleVariance(x: ArrayLike<number>, mean: number): number {
  const n = x.length
  if (n < 2) return 0
  let ss = 0
  for (let i = 0; i < n; i++) {
    const d = (x[i] as number) - mean
    ss += d * d
  }
  return ss / (n - 1)
}

/**
 * ROC AUC with its DeLong interval (see the module's comment); null when a class has no row.
 * Exported for the tests' brute-force comparison of the variance.
 */
export function aucInterval(
  labels: ArrayLike<number>,
  probs: Float64Array,
  classes: number,
  z: number,
): Interval | null {
  const n = labels.length
  const counts = new Float64Array(classes)
  // Stryker disable next-line EqualityOperator: row n is past the end, reads give undefined and writes to typed arrays are dropped: the extra pass changes nothing
  for (let i = 0; i < n; i++) counts[labels[i] as number] = (counts[labels[i] as number] as number) + 1
  // Stryker disable next-line EqualityOperator: counts[classes] is undefined, not 0
  for (let k = 0; k < classes; k++) if (counts[k] === 0) return null
  // Binary: the class-1 column alone (scikit-learn's y_score[:, 1]); else each class against the rest.
  const scored = classes === 2 ? [1] : Array.from({ length: classes }, (_, k) => k)
  const influence = new Float64Array(n)
  const score = new Float64Array(n)
  const order = new Uint32Array(n)
  let sum = 0
  for (const k of scored) {
    // Stryker disable next-line EqualityOperator: row n is past the end, reads give undefined and writes to typed arrays are dropped: the extra pass changes nothing
    for (let i = 0; i < n; i++) {
      score[i] = probs[i * classes + k] as number
      order[i] = i
    }
    order.sort((a, b) => (score[a] as number) - (score[b] as number))
    const pos = counts[k] as number
    const neg = n - pos
    let posBelow = 0
    let negBelow = 0
    let placed = 0
    for (let start = 0; start < n; ) {
      let end = start
      let posTied = 0
      // Stryker disable next-line ConditionalExpression,EqualityOperator: score[order[n]] is undefined, equal to no score, so the run ends at n either way
      while (end < n && score[order[end] as number] === score[order[start] as number]) {
        if (labels[order[end] as number] === k) posTied++
        end++
      }
      const negTied = end - start - posTied
      for (let j = start; j < end; j++) {
        const i = order[j] as number
        if (labels[i] === k) {
          // V10: the share of negatives this positive outranks, ties one half.
          const v10 = (negBelow + negTied / 2) / neg
          placed += v10
          influence[i] = (influence[i] as number) + v10 / pos / scored.length
        } else {
          // V01: the share of positives that outrank this negative, ties one half.
          const v01 = (pos - posBelow - posTied / 2) / pos
          influence[i] = (influence[i] as number) + v01 / neg / scored.length
        }
      }
      posBelow += posTied
      negBelow += negTied
      start = end
    }
    sum += placed / pos
  }
  const auc = sum / scored.length
  let variance = 0
  // Stryker disable next-line EqualityOperator: class `classes` has no rows, so it adds 0 · 0
  for (let c = 0; c < classes; c++) {
    const rows: number[] = []
    // Stryker disable next-line EqualityOperator: labels[n] is undefined, no class
    for (let i = 0; i < n; i++) if (labels[i] === c) rows.push(influence[i] as number)
    const mean = rows.reduce((a, b) => a + b, 0) / rows.length
    variance += rows.length * sampleVariance(rows, mean)
  }
  const half = z * Math.sqrt(variance)
  return { value: auc, low: Math.max(0, auc - half), high: Math.min(1, auc + half) }
}

/** The normal quantile z with Φ(z) = 1 − (1 − confidence)/2; refuses a confidence outside (0, 1). */
function zOf(confidence: number): number {
  if (!(confidence > 0 && confidence < 1))
    throw new InvalidInputError(`confidence must be in (0, 1), got ${confidence}`)
  return normalQuantile(1 - (1 - confidence) / 2)
}

/**
 * The standard normal quantile Φ⁻¹(p), p in (0, 1): Wichura's algorithm AS 241 (PPND16, Applied
 * Statistics 37(3), 1988), about 16 significant digits.
 */
export function normalQuantile(p: number): number {
  const q = p - 0.5
  // Stryker disable next-line EqualityOperator: at |q| = 0.425 both branches agree to the last digits (AS 241 is continuous there)
  if (Math.abs(q) <= 0.425) {
    const r = 0.180625 - q * q
    return (q * poly(AS241_A, r)) / poly(AS241_B, r)
  }
  // Stryker disable next-line EqualityOperator: q = 0 takes the central branch
  let r = Math.sqrt(-Math.log(q < 0 ? p : 1 - p))
  let x: number
  // Stryker disable next-line EqualityOperator: at r = 5 both branches agree to the last digits (AS 241 is continuous there)
  if (r <= 5) {
    r -= 1.6
    x = poly(AS241_C, r) / poly(AS241_D, r)
  } else {
    r -= 5
    x = poly(AS241_E, r) / poly(AS241_F, r)
  }
  // Stryker disable next-line EqualityOperator: q = 0 takes the central branch
  return q < 0 ? -x : x
}

/** Σ c[i]·r^i by Horner's rule. */
function poly(c: readonly number[], r: number): number {
  let y = 0
  // Stryker disable next-line ArithmeticOperator: subtracting negates every polynomial, and each is used as one of a ratio of two
  for (let i = c.length - 1; i >= 0; i--) y = y * r + (c[i] as number)
  return y
}

const AS241_A = [
  3.3871328727963665, 133.14166789178438, 1971.5909503065513, 13731.69376550946, 45921.95393154987, 67265.7709270087,
  33430.57558358813, 2509.0809287301227,
]
const AS241_B = [
  1, 42.31333070160091, 687.1870074920579, 5394.196021424751, 21213.794301586597, 39307.89580009271, 28729.085735721943,
  5226.495278852854,
]
const AS241_C = [
  1.4234371107496835, 4.630337846156546, 5.769497221460691, 3.6478483247632045, 1.2704582524523684, 0.2417807251774506,
  0.022723844989269184, 0.0007745450142783414,
]
const AS241_D = [
  1, 2.053191626637759, 1.6763848301838038, 0.6897673349851, 0.14810397642748008, 0.015198666563616457,
  0.0005475938084995345, 1.0507500716444169e-9,
]
const AS241_E = [
  6.657904643501103, 5.463784911164114, 1.7848265399172913, 0.29656057182850487, 0.026532189526576124,
  0.0012426609473880784, 0.000027115555687434876, 2.0103343992922881e-7,
]
const AS241_F = [
  1, 0.599832206555888, 0.1369298809227358, 0.014875361290850615, 0.0007868691311456133, 0.000018463183175100548,
  1.421511758316446e-7, 2.0442631033899397e-15,
]
