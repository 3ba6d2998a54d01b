/**
 * What the champion vs challenger routes answer: a pipeline's promotion rule and its latest
 * evaluation, the decisions it took with their evidence, and the report comparing a version's
 * arms (outcome metrics with intervals, latency, drift between their predictions, the sequential
 * test). Every key is snake_case; a number that is not finite is null.
 */
import { z } from 'zod'
import { PROMOTION_METRICS, promotionRuleSchema } from '../outcomes/promotion-spec.js'
import { measure, timestamp } from './common.js'

const interval = z.object({ value: measure, low: measure, high: measure })

const sequentialTestSchema = z
  .object({
    n: z.array(z.number().int()).length(2).describe('rows scored: [champion, challenger] (paired: the same)'),
    difference: interval.describe('challenger − champion mean score, always-valid interval at the confidence'),
    p_value: measure.describe('always-valid p-value of "no difference" (mixture SPRT)'),
    verdict: z.enum(['challenger_better', 'champion_better', 'undecided']),
  })
  .meta({ id: 'SequentialTest' })

const contestSchema = z.object({
  step: z.number().int().describe('index of the split or shadow step'),
  kind: z.enum(['random_split', 'shadow']),
  champion: z.string(),
  challenger: z.string(),
  models: z.array(z.string()),
})

/** A rule's latest evaluation in the process that evaluates it (null elsewhere, and before the first). */
const evaluationSchema = z
  .object({
    time: timestamp,
    version: z.number().int().nullable(),
    state: z.enum([
      'not_deployed',
      'no_contest',
      'no_outcome_settings',
      'collecting',
      'undecided',
      'decided',
      'failed',
    ]),
    note: z.string().nullable(),
    contest: contestSchema.nullable(),
    test: sequentialTestSchema.nullable(),
  })
  .nullable()

export const promotionRuleViewSchema = z
  .object({
    workspace: z.string(),
    pipeline: z.string(),
    rule: promotionRuleSchema,
    updated_at: timestamp,
    evaluation: evaluationSchema,
  })
  .meta({ id: 'PromotionRule' })

export type PromotionRuleView = z.infer<typeof promotionRuleViewSchema>

export const decisionSchema = z
  .looseObject({
    id: z.number().int(),
    workspace: z.string(),
    pipeline: z.string(),
    time: timestamp,
    action: z.enum(['promote', 'rollback']),
    applied: z.boolean().describe('whether a version keeping one model was created and deployed'),
    reason: z.string().describe('challenger_better, champion_better, assay_alert or slo_alert'),
    version: z.number().int().describe('the version whose contest was decided'),
    new_version: z.number().int().nullable(),
    kept: z.string().describe('the model the new version keeps'),
    test: sequentialTestSchema.nullable(),
    arms: z.array(z.record(z.string(), z.unknown())).describe('each arm with its outcome metrics and latency'),
    alert: z.record(z.string(), z.unknown()).nullable().optional().describe('the alert that fired'),
    error: z.string().nullable(),
  })
  .meta({ id: 'PromotionDecision' })

export type Decision = z.infer<typeof decisionSchema>

const latencySchema = z.object({
  shared: z.boolean().describe("a shadow's: the request's latency, with every model of the step in it"),
  rows: z.number().int(),
  p50_ms: measure,
  p99_ms: measure,
})

const armSchema = z.object({
  model: z.string(),
  role: z.enum(['champion', 'challenger', 'other']),
  shadow: z.boolean(),
  rows: z.number().int(),
  labeled: z.number().int().describe('rows whose outcome arrived'),
  metrics: z
    .looseObject({ n: z.number().int() })
    .nullable()
    .describe(
      'accuracy, auc, log_loss, calibration (a classifier) or mae, rmse, bias (a regressor), each {value, low, high}',
    ),
  note: z.string().nullable(),
  latency: latencySchema,
})

const comparisonSchema = z.object({
  champion: z.string(),
  model: z.string(),
  paired: z.boolean(),
  test: sequentialTestSchema.nullable(),
  drift: z
    .object({
      value: z.string(),
      psi: measure,
      ks: z.object({ statistic: measure, p_value: measure }),
      wasserstein: measure,
      jensen_shannon: measure,
    })
    .nullable(),
  note: z.string().nullable(),
})

export const challengerReportSchema = z
  .object({
    workspace: z.string(),
    pipeline: z.string(),
    version: z.number().int(),
    contest: contestSchema.nullable(),
    note: z.string().nullable(),
    range: z.object({ start: z.number(), end: z.number() }).describe('ms since the epoch, [start, end)'),
    rows: z.number().int(),
    truncated: z.boolean(),
    metric: z.enum(PROMOTION_METRICS),
    confidence: z.number(),
    arms: z.array(armSchema),
    comparisons: z.array(comparisonSchema),
    evaluation: evaluationSchema,
  })
  .meta({ id: 'ChallengerReport' })

export type ChallengerReportWire = z.infer<typeof challengerReportSchema>

export const challengerPutSchema = z
  .object({
    version: z.number().int().describe('the new version, deployed'),
    steps: z.array(z.record(z.string(), z.unknown())),
  })
  .meta({ id: 'ChallengerDeployed' })
