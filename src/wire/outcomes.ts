/**
 * What the ground-truth routes take and answer: a pipeline's outcome settings, the answer to a
 * feedback request, and the outcome metrics per window, version and arm (realized beside
 * estimated). Every key is snake_case.
 */
import { z } from 'zod'
import { outcomeSpecSchema } from '../outcomes/spec.js'
import { measure, timestamp } from './common.js'

/** A pipeline's outcome settings as stored and answered (defaults filled in). */
export const outcomeSettingsSchema = z
  .object({
    workspace: z.string(),
    pipeline: z.string(),
    settings: outcomeSpecSchema,
    updated_at: timestamp,
  })
  .meta({ id: 'OutcomeSettings' })

export type OutcomeSettings = z.infer<typeof outcomeSettingsSchema>

/** Outcome settings as a client sends them (defaults may be left out). */
export type OutcomeSpecInput = z.input<typeof outcomeSpecSchema>

export const feedbackResultSchema = z
  .object({
    accepted: z.number().int().describe('outcomes stored'),
    updated: z.number().int().describe('of those, the ones that replaced an outcome their key had'),
  })
  .meta({ id: 'FeedbackResult' })

export type FeedbackResult = z.infer<typeof feedbackResultSchema>

const interval = z.object({ value: measure, low: measure, high: measure })

const classifierSchema = z.object({
  n: z.number().int(),
  accuracy: interval,
  auc: interval.nullable().describe('null when a class has no labeled row'),
  log_loss: interval,
  calibration: z.object({
    ece: measure,
    bins: z.array(z.object({ predicted: measure, observed: measure, n: z.number().int() })),
  }),
})

const regressorSchema = z.object({ n: z.number().int(), mae: interval, rmse: interval, bias: interval })

const armSchema = z.object({
  version: z.number().int(),
  arm: z.string().describe('the model whose predictions these are (a split arm, or a shadow challenger)'),
  shadow: z.boolean(),
  rows: z.number().int().describe('rows logged in the window'),
  labeled: z.number().int().describe('rows whose outcome arrived'),
  realized: z.union([classifierSchema, regressorSchema]).nullable().describe('over the labeled rows'),
  estimated: z
    .object({ accuracy: measure, auc: measure })
    .nullable()
    .describe("a classifier's CBPE estimate from its own probabilities, over every row"),
  error: z.string().optional().describe('why no metrics could be computed'),
})

export const outcomeMetricsSchema = z
  .object({
    workspace: z.string(),
    pipeline: z.string(),
    task: z.enum(['classification', 'regression']),
    start: timestamp,
    end: timestamp,
    window_seconds: z.number(),
    rows: z.number().int().describe('log rows read'),
    truncated: z
      .boolean()
      .describe(
        'the range held more rows than one report reads (1,000,000, or 8,000,000 prediction values for a wide output): narrow it',
      ),
    skipped: z.number().int().describe('predictions missing, or of another width than their arm’s'),
    unknown_outcomes: z.number().int().describe('outcomes that name no class of their arm (or are no number)'),
    windows: z.array(z.object({ start: timestamp, end: timestamp, arms: z.array(armSchema) })),
  })
  .meta({ id: 'OutcomeMetrics' })

export type OutcomeMetrics = z.infer<typeof outcomeMetricsSchema>
