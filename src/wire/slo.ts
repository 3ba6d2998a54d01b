/**
 * What the objective routes answer: each objective of the deployed version with its figures per
 * series (the whole pipeline, and each split arm when measured per arm). Every key is snake_case.
 */
import { z } from 'zod'
import { timestamp } from './common.js'

const share = z.number().nullable()

const seriesSchema = z.object({
  arm: z.string().nullable().describe('the split arm (model reference), or null for the whole pipeline'),
  good: z.number().describe('good events over the time window'),
  total: z.number().describe('events over the time window: requests, or minutes with traffic for throughput'),
  attainment: share.describe('good ÷ total over the time window; null without events'),
  error_budget_remaining: share.describe('1 − (1 − attainment) ÷ (1 − target): below 0 once overspent'),
  burn_rates: z
    .record(z.string(), z.number())
    .describe('error ratio ÷ (1 − target) over each alert window and the time window, by duration'),
  alerts: z
    .array(
      z.object({
        severity: z.string(),
        since: timestamp,
        rule: z.record(z.string(), z.unknown()).describe('the rule that fired and its burn rates'),
      }),
    )
    .describe('the alerts firing, one per severity, page first'),
})

export const sloStatusSchema = z
  .object({
    workspace: z.string(),
    pipeline: z.string(),
    version: z.number().int().describe('the deployed version whose objectives these are'),
    time_window: z.string(),
    evaluated_at: timestamp,
    objectives: z.array(
      z.object({
        name: z.string(),
        indicator: z.enum(['latency', 'availability', 'throughput']),
        op: z.enum(['lte', 'gte']).nullable(),
        value: z.number().nullable().describe('ms for latency, rows per second for throughput'),
        target: z.number(),
        budgeting_method: z.enum(['occurrences', 'timeslices']),
        series: z.array(seriesSchema),
      }),
    ),
  })
  .meta({ id: 'SloStatus' })

export type SloStatus = z.infer<typeof sloStatusSchema>
