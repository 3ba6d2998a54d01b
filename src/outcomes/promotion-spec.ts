/**
 * A pipeline's promotion rule (champion vs challenger), and the pure pieces of its decisions: which
 * two models of the deployed version it compares (a `random_split`'s arms or a `shadow`'s champion
 * and challenger), the per-row score of its metric (higher is better), and the steps of the version
 * that promotes one of them (the split or shadow step replaced by that model alone).
 */
import { z } from 'zod'
import { InvalidConfigError } from '../errors.js'
import type { Step } from '../pipeline/steps.js'
import { LOG_LOSS_EPS } from './metrics.js'

/** A model reference as pipeline steps take it: `name` or `name:version`. */
export const modelRef = z
  .string()
  .regex(/^[A-Za-z0-9_.-]+(:[1-9][0-9]*)?$/, 'a model name, optionally with ":<version>"')

/** Metrics a rule compares arms on; each row's score is higher when the prediction is better. */
export const PROMOTION_METRICS = ['accuracy', 'log_loss', 'mae', 'rmse'] as const
export type PromotionMetric = (typeof PROMOTION_METRICS)[number]

/**
 * Rows by which a rule with the defaults (confidence 0.95, min_samples 1000, τ 0.02), evaluated
 * every 500 rows per arm, promotes a two-point accuracy lift (0.80 → 0.82) in at least 80% of runs:
 * per arm of a 50/50 split, and rows of a shadow (the arms right together 78% of the time).
 * Measured by test/outcomes/promotion-sim.test.ts (200 seeded runs each).
 */
export const RULE_POWER_ROWS = { split: 12_000, shadow: 3_000 } as const

/** Webhooks one rule may name. */
const MAX_RULE_WEBHOOKS = 10

export const promotionRuleSchema = z
  .object({
    /** The model that serves now (default: the split's heaviest arm, or the shadow's champion). */
    champion: modelRef.optional(),
    /** The model that may replace it (default: the split's other arm, or the shadow's one challenger). */
    challenger: modelRef.optional(),
    /** 1 − alpha of the sequential test: promote when the challenger is better at this confidence. */
    confidence: z.number().min(0.8).max(0.9999).default(0.95),
    metric: z.enum(PROMOTION_METRICS).default('accuracy'),
    /**
     * The mixture's spread τ, in the metric's per-row score units: about the smallest difference
     * worth acting on (default 0.02, two points of accuracy; give one for the other metrics).
     */
    tau: z.number().positive().max(1e9).optional(),
    /** Rows with an outcome each arm needs before any verdict. */
    min_samples: z.int().min(10).max(100_000_000).default(1000),
    /** Seconds between evaluations. */
    interval_s: z.int().min(10).max(86_400).default(60),
    /** Which alerts roll the challenger back. */
    rollback_on: z
      .object({ assay_alerts: z.boolean().default(true), slo_alerts: z.boolean().default(true) })
      .strict()
      .default({ assay_alerts: true, slo_alerts: true }),
    /** `promote`: act (new version, deployed); `report_only`: store and send the decision, change nothing. */
    action: z.enum(['promote', 'report_only']).default('promote'),
    /**
     * Put a newer version of the deployed model (one uploaded by a retraining job) beside it as a
     * challenger, when the deployed version is one model step and no contest runs: as a `shadow`,
     * or a `canary` given `weight`% of the rows. A version a decision already judged is not tried
     * again. Absent: challengers are deployed by hand (`POST …/challenger`).
     */
    auto_challenger: z
      .object({ mode: z.enum(['shadow', 'canary']).default('shadow'), weight: z.number().gt(0).lt(100).default(10) })
      .strict()
      .optional(),
    /** URLs POSTed every decision (through the outbound policy). */
    webhooks: z
      .array(z.url({ protocol: /^https?$/ }))
      .max(MAX_RULE_WEBHOOKS)
      .refine((w) => new Set(w).size === w.length, 'a webhook is listed twice')
      .default([]),
  })
  .strict()

/** A rule with every default filled in, as stored. */
export type PromotionRule = z.infer<typeof promotionRuleSchema>

/** Parse a rule; InvalidConfigError names each field that is wrong. */
export function parseRule(raw: unknown): PromotionRule {
  const parsed = promotionRuleSchema.safeParse(raw)
  if (!parsed.success)
    throw new InvalidConfigError(
      `promotion rule: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}`,
    )
  return parsed.data
}

/** Which metrics fit a task: a classifier's probabilities or a regressor's values. */
export function metricFits(metric: PromotionMetric, task: 'classification' | 'regression'): boolean {
  return (metric === 'accuracy' || metric === 'log_loss') === (task === 'classification')
}

/** The two models a rule compares in a version, and the step that holds them. */
export interface Contest {
  /** Index of the split or shadow step in the version's steps. */
  step: number
  kind: 'random_split' | 'shadow'
  champion: string
  challenger: string
  /** Every model of the step (a split's arms, a shadow's champion then challengers). */
  models: string[]
}

/** Whether the rule's reference names `ref` (a pinned `name:version`): equal, or by name when the rule gives none. */
function refMatches(rule: string, ref: string): boolean {
  return rule === ref || (!rule.includes(':') && ref.split(':')[0] === rule)
}

/** A split's or a shadow's models and its default champion; undefined for other steps. */
function contenders(s: Step): { kind: Contest['kind']; models: string[]; champion: string } | undefined {
  if ('shadow' in s)
    return { kind: 'shadow', models: [s.shadow.champion, ...s.shadow.challengers], champion: s.shadow.champion }
  if (!('random_split' in s)) return undefined
  const weights = s.random_split.weights
  const models = [...new Set(weights.map(([, m]) => m))]
  // The heaviest arm (the first of equals): a canary's 90 against its 10.
  const weightOf = (m: string) => weights.filter(([, x]) => x === m).reduce((t, [w]) => t + w, 0)
  return { kind: 'random_split', models, champion: models.reduce((a, m) => (weightOf(m) > weightOf(a) ? m : a)) }
}

/**
 * The contest of a version's steps under `rule`, or why there is none: the version needs exactly one
 * `random_split` or `shadow` step, and its champion and challenger must be found in it.
 */
export function findContest(
  steps: readonly Step[],
  rule: Pick<PromotionRule, 'champion' | 'challenger'>,
): Contest | { none: string } {
  const found = steps.flatMap((s, i) => {
    const c = contenders(s)
    return c ? [{ step: i, ...c }] : []
  })
  if (found.length === 0) return { none: 'the version has no random_split or shadow step: no challenger' }
  if (found.length > 1)
    return { none: `the version has ${found.length} random_split or shadow steps; a rule compares one` }
  const { step, kind, models, champion: answering } = found[0] as (typeof found)[number]
  const pick = (wanted: string, role: string): string | { none: string } => {
    const named = models.filter((m) => refMatches(wanted, m))
    if (named.length === 1) return named[0] as string
    return {
      none: `the rule's ${role} '${wanted}' ${named.length ? 'names several' : 'is none'} of the ${kind} step's models (${models.join(', ')})`,
    }
  }
  const champion = rule.champion === undefined ? answering : pick(rule.champion, 'champion')
  if (typeof champion === 'object') return champion
  if (kind === 'shadow' && champion !== answering)
    return { none: `in a shadow step the champion is the model that answers ('${answering}')` }
  const others = models.filter((m) => m !== champion)
  let challenger: string | { none: string }
  if (rule.challenger !== undefined) challenger = pick(rule.challenger, 'challenger')
  else if (others.length === 1) challenger = others[0] as string
  else
    challenger = {
      none: `the ${kind} step has ${others.length} models besides the champion: name the challenger in the rule`,
    }
  if (typeof challenger === 'object') return challenger
  if (challenger === champion) return { none: `the champion and the challenger are the same model ('${champion}')` }
  return { step, kind, champion, challenger, models }
}

/**
 * The steps with the contest's step replaced by `model` alone (what a promotion or a rollback
 * deploys). A split routed by a `hash_key` becomes a split of one arm on the same key: the key
 * column stays an input of the pipeline, so clients that send it are not refused.
 */
export function settle(steps: readonly Step[], contest: Contest, model: string): Step[] {
  return steps.map((s, i): Step => {
    if (i !== contest.step) return s
    const key = 'random_split' in s ? s.random_split.hash_key : undefined
    return key === undefined ? { model } : { random_split: { weights: [[100, model]], hash_key: key } }
  })
}

/**
 * Each labeled row's score under `metric` (higher is better): 1 or 0 for a right or wrong top class,
 * −ln p(true class) clipped as scikit-learn's log loss, −|error|, or −error² (whose mean orders
 * arms as RMSE does). `predictions` rows × `width`; `outcomes` a class index or value per row, NaN
 * where none arrived (such rows, and a class index outside the width, get NaN).
 */
export function rowScores(
  metric: PromotionMetric,
  predictions: Float64Array,
  width: number,
  outcomes: Float64Array,
): Float64Array {
  const out = new Float64Array(outcomes.length)
  for (let i = 0; i < outcomes.length; i++) {
    const y = outcomes[i] as number
    const row = predictions.subarray(i * width, (i + 1) * width)
    out[i] = Number.NaN
    if (Number.isNaN(y)) continue
    if (metric === 'mae' || metric === 'rmse') {
      const e = (row[0] as number) - y
      out[i] = metric === 'mae' ? -Math.abs(e) : -e * e
      continue
    }
    if (!Number.isInteger(y) || y < 0 || y >= width) continue
    if (metric === 'log_loss') {
      const p = Math.min(1 - LOG_LOSS_EPS, Math.max(LOG_LOSS_EPS, row[y] as number))
      out[i] = Math.log(p)
    } else {
      let top = 0 // the first on ties, as NumPy's argmax
      for (let k = 1; k < width; k++) if ((row[k] as number) > (row[top] as number)) top = k
      out[i] = top === y ? 1 : 0
    }
  }
  return out
}
