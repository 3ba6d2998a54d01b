/**
 * The promotion rule under continuous checking, simulated at the rule's level: the arms' samples
 * grow as traffic arrives, and at every evaluation (every 500 rows per arm) the rule's test
 * ({@link contestTest}, what the evaluator runs on its samples) is read with the rule's defaults
 * (confidence 0.95, min_samples 1000); a run promotes at the first look whose verdict is
 * `challenger_better`. Seeded runs (mulberry32), binary classifiers scored on accuracy:
 * - A/A (both arms right 80% of the time), up to 12,000 rows per arm: at most 5% of runs promote,
 *   for a split and for a shadow; the same looks with a fixed-sample two-proportion z-test at 95%
 *   "promote" in far more runs (the inflation the sequential test exists to avoid);
 * - a two-point lift (0.80 → 0.82) is promoted in at least 80% of runs by the sample sizes the
 *   README states ({@link RULE_POWER_ROWS}): per arm of a 50/50 split, and rows of a shadow (both
 *   right 78%, the champion alone 2%, the challenger alone 4%).
 */
import { describe, expect, it } from 'vitest'
import { contestTest } from '../../src/outcomes/champion.js'
import { promotionRuleSchema, RULE_POWER_ROWS } from '../../src/outcomes/promotion-spec.js'
import type { ArmSamples } from '../../src/outcomes/samples.js'
import { mulberry32 } from '../../src/random.js'

const rule = promotionRuleSchema.parse({})
const EVERY = 500
const RUNS = 200

/** `n` rows of a binary classifier whose truth is class 1 (predictions filled by the run). */
function arm(name: string, shadow: boolean, n: number): ArmSamples {
  return {
    arm: name,
    version: 1,
    shadow,
    width: 2,
    time: Float64Array.from({ length: n }, (_, i) => i),
    predictions: new Float64Array(2 * n),
    outcomes: new Float64Array(n).fill(1),
  }
}

/** Row `i` predicts class 1 (right) with 0.7, or class 0 (wrong). */
function setRow(a: ArmSamples, i: number, right: boolean): void {
  a.predictions[2 * i] = right ? 0.3 : 0.7
  a.predictions[2 * i + 1] = right ? 0.7 : 0.3
}

/** The first `n` rows: the samples as the evaluator reads them at a look. */
function first(a: ArmSamples, n: number): ArmSamples {
  return {
    ...a,
    time: a.time.subarray(0, n),
    predictions: a.predictions.subarray(0, 2 * n),
    outcomes: a.outcomes.subarray(0, n),
  }
}

/**
 * Champion right with `pA`, challenger with `pB`: independent rows for a split; for a shadow one
 * draw per row, both right with `pA` − 0.02 and the champion alone right with 0.02.
 */
function draw(seed: number, pA: number, pB: number, paired: boolean, max: number): [ArmSamples, ArmSamples] {
  const rand = mulberry32(seed)
  const a = arm('a:1', false, max)
  const b = arm('b:1', paired, max)
  const both = pA - 0.02
  for (let i = 0; i < max; i++) {
    if (paired) {
      const u = rand()
      setRow(a, i, u < pA)
      setRow(b, i, u < both || (u >= pA && u < pA + pB - both))
    } else {
      setRow(a, i, rand() < pA)
      setRow(b, i, rand() < pB)
    }
  }
  return [a, b]
}

/** Rows per arm at the first look that promotes (Infinity: none by `max`). */
function promotedAt(a: ArmSamples, b: ArmSamples, paired: boolean, max: number): number {
  for (let n = EVERY; n <= max; n += EVERY)
    if (contestTest(first(a, n), first(b, n), rule, paired).verdict === 'challenger_better') return n
  return Number.POSITIVE_INFINITY
}

/** Whether a fixed-sample two-proportion z-test at 95% (one-sided, as a promotion) fires at any look. */
function naiveFires(a: ArmSamples, b: ArmSamples, max: number): boolean {
  let rightA = 0
  let rightB = 0
  for (let i = 0; i < max; i++) {
    rightA += (a.predictions[2 * i + 1] as number) > 0.5 ? 1 : 0
    rightB += (b.predictions[2 * i + 1] as number) > 0.5 ? 1 : 0
    const n = i + 1
    if (n % EVERY !== 0 || n < rule.min_samples) continue
    const pooled = (rightA + rightB) / (2 * n)
    const z = (rightB - rightA) / n / Math.sqrt((pooled * (1 - pooled) * 2) / n)
    if (z > 1.6449) return true
  }
  return false
}

describe('the promotion rule under continuous checking, simulated', () => {
  for (const paired of [false, true])
    it(`promotes at most 5 percent of A/A runs looked at every 500 rows (${paired ? 'shadow' : 'split'})`, () => {
      const max = 12_000
      let promoted = 0
      let naive = 0
      for (let s = 0; s < RUNS; s++) {
        const [a, b] = draw(7000 + s, 0.8, 0.8, paired, max)
        if (Number.isFinite(promotedAt(a, b, paired, max))) promoted++
        if (!paired && naiveFires(a, b, max)) naive++
      }
      expect(promoted / RUNS).toBeLessThanOrEqual(0.05)
      if (!paired) expect(naive / RUNS).toBeGreaterThan(0.15) // repeated fixed-sample tests: inflated
    }, 300_000)

  for (const [paired, rows] of [
    [false, RULE_POWER_ROWS.split],
    [true, RULE_POWER_ROWS.shadow],
  ] as const)
    it(`promotes a two-point lift by ${rows} rows in at least 80 percent of runs (${paired ? 'shadow' : 'split'})`, () => {
      let promoted = 0
      for (let s = 0; s < RUNS; s++) {
        const [a, b] = draw(9000 + s, 0.8, 0.82, paired, rows)
        if (promotedAt(a, b, paired, rows) <= rows) promoted++
      }
      expect(promoted / RUNS).toBeGreaterThanOrEqual(0.8)
    }, 300_000)
})
