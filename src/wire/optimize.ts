/**
 * What the measured tuning routes answer: a run (its progress, then its report: the table of
 * measured points and the recommendation). Every key is snake_case.
 */
import { z } from 'zod'
import { GPU_PATH_CHOICES } from '../config-schema.js'
import { BACKENDS, GRAPH_OPTIMIZATION_LEVELS } from '../engine/types.js'
import type { optimizeRequestSchema } from '../optimize/request.js'
import { batchingSchema, sessionSettingsSchema } from '../serving/settings.js'
import { timestamp } from './common.js'

/** The body of a tuning request as a client writes it (every field optional). */
export type OptimizeOptions = z.input<typeof optimizeRequestSchema>

const point = {
  backend: z.enum(BACKENDS),
  max_batch_size: z.number().int(),
  max_queue_delay_ms: z.number(),
  threads: z.number().int().nullable().describe('intra-op threads of the cpu sessions; null on wasm and webgpu'),
  graph_optimization: z.enum(GRAPH_OPTIMIZATION_LEVELS),
  gpu_path: z
    .enum(GPU_PATH_CHOICES)
    .exclude(['auto'])
    .nullable()
    .describe('how the webgpu sessions ran the models (session.gpu_path); null on cpu and wasm'),
}

/** One measured point of the grid. */
const tuningRowSchema = z
  .object({
    ...point,
    rows_per_s: z.number(),
    p50_ms: z.number().describe('per request'),
    p99_ms: z.number().describe('per request'),
    memory_bytes: z
      .number()
      .describe("the process's peak resident memory during the point, less its resident memory before the run"),
    windows: z.number().int().describe('windows measured'),
    stable: z.boolean().describe('whether its last three windows agreed within 10% (rows/s and mean latency)'),
    meets_target: z.boolean(),
  })
  .meta({ id: 'TuningRow' })

/** The settings a deploy takes to run the recommended point. */
const settingsSchema = z.object({
  engine: z.enum(BACKENDS),
  batching: batchingSchema.describe("the deployment's batching with the recommended size and delay"),
  session: sessionSettingsSchema,
})

/** A finished run's report. */
const tuningReportSchema = z
  .object({
    pipeline_version: z.number().int(),
    target_p99_ms: z.number(),
    concurrency: z.number().int(),
    rows_per_request: z.number().int(),
    rows: z.enum(['synthetic', 'log']),
    search: z.enum(['quick', 'exhaustive']),
    grid_points: z.number().int().describe('points in the grid'),
    max_points: z.number().int().describe('points the search could measure: 10% of the grid for quick'),
    measured_points: z.number().int().describe('points measured, failed ones included'),
    truncated: z.boolean().describe('whether the budget or max_points ended the search before its plan'),
    seconds: z.number(),
    budget_s: z.number(),
    table: z.array(tuningRowSchema).describe('every point measured, in the order measured'),
    failed: z.array(z.object({ ...point, error: z.string() })).describe('points that could not be measured'),
    recommendation: tuningRowSchema
      .extend({ settings: settingsSchema })
      .nullable()
      .describe('the row with the most rows/s meeting the target; null when none does'),
    applied: z.boolean().describe('whether the recommendation was deployed (?apply=true)'),
    apply_error: z.string().optional().describe('why applying it failed'),
  })
  .meta({ id: 'TuningReport' })

/** A tuning run: its progress, then its report. */
export const optimizationSchema = z
  .object({
    id: z.string(),
    workspace: z.string(),
    pipeline: z.string(),
    pipeline_version: z.number().int(),
    status: z.enum(['running', 'succeeded', 'failed']),
    measured_points: z.number().int().describe('so far'),
    max_points: z.number().int(),
    budget_s: z.number(),
    error: z.string().nullable(),
    created_at: timestamp,
    finished_at: timestamp.nullable(),
    report: tuningReportSchema.nullable(),
  })
  .meta({ id: 'Optimization' })

export type TuningRow = z.infer<typeof tuningRowSchema>
export type Optimization = z.infer<typeof optimizationSchema>
