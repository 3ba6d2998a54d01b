/**
 * What the assay routes answer: an assay as defined (its baseline's values counted, not listed)
 * and where the scheduler stands with it, and the result of scoring a window. Every key is
 * snake_case.
 */
import { z } from 'zod'
import { summarizerSchema } from '../assays/assay.js'
import { durationSchema, timeSchema } from '../assays/time.js'
import { measure, timestamp } from './common.js'

const summary = {
  count: z.number().int(),
  min: measure,
  max: measure,
  mean: measure,
  median: measure,
  std: measure,
}

/** One window scored against the baseline (also the preview route's answer). */
export const assayResultSchema = z
  .object({
    score: measure,
    status: z.enum(['ok', 'warning', 'alert']),
    /** Shares per bin (outlier bins first and last when kept) and the edges between them. */
    bins: z.object({
      labels: z.array(z.string()),
      edges: z.array(measure),
      baseline: z.array(measure),
      window: z.array(measure),
    }),
    baseline_summary: z.object({ ...summary, edges: z.array(measure), nan: z.number().int() }),
    window_summary: z.object({ ...summary, nan: z.number().int() }),
    ks: z.object({ statistic: measure, p_value: measure }),
    wasserstein: measure,
    jensen_shannon: measure,
  })
  .meta({ id: 'AssayResult' })

const window = { window_start: timestamp, window_end: timestamp }

/** A stored window: scored, or without a value in the log (`no_data`). */
export const assayWindowSchema = z
  .union([
    assayResultSchema.extend(window),
    z.object({ ...window, score: z.null(), status: z.literal('no_data'), values: z.literal(0) }),
  ])
  .meta({ id: 'AssayWindow' })

/** An assay as defined, its baseline's values counted, with where the scheduler stands. */
export const assaySchema = z
  .object({
    id: z.number().int(),
    workspace: z.string(),
    pipeline: z.string(),
    name: z.string(),
    active: z.boolean().describe('Whether the scheduler runs it.'),
    baseline_values: z.number().int().describe('How many values the frozen baseline holds.'),
    created_at: timestamp,
    iopath: z.string().describe('`in.<input>[i]` or `out.<output>[i]`.'),
    baseline: z
      .union([z.object({ start: timeSchema, end: timeSchema }), z.object({ values: z.number().int() })])
      .describe('The log range the baseline was read from, or how many values were given.'),
    summarizer: summarizerSchema,
    warning_threshold: z.number().optional(),
    alert_threshold: z.number(),
    window: z.object({ width: durationSchema, interval: durationSchema.optional(), start: timeSchema }),
    webhooks: z.array(z.string()),
    /** Where the scheduler stands (once it has looked at the assay). */
    schedule: z
      .object({
        next_window_start: timestamp.describe('Start of the next window it will score.'),
        windows_behind: z.number().int().describe('Windows that have ended and are not scored yet.'),
        catching_up: z
          .boolean()
          .describe('More windows were due than one tick scores: they are scored over the next ticks, oldest first.'),
      })
      .optional(),
  })
  .meta({ id: 'Assay' })

/** The answer of deleting an assay: its id. */
export const deletedAssaySchema = z.object({ deleted: z.number().int() })

export type AssayResult = z.infer<typeof assayResultSchema>
export type AssayWindow = z.infer<typeof assayWindowSchema>
export type Assay = z.infer<typeof assaySchema>
