/**
 * What the live routes answer: a deployed pipeline's activity over the last seconds (rates,
 * latency per stage, rows per split arm), its last minute second by second, and its deployment.
 * Every key is snake_case.
 */
import { z } from 'zod'
import { deploymentStatusSchema } from './registry.js'

const ms = z.number().nullable()

const stageSchema = z.object({
  count: z.number().describe('observations in the window: requests (total, queue) or batch runs (pre, model, post)'),
  mean_ms: ms,
  p50_ms: ms.describe(
    'from a histogram with buckets 9% wide: within 4.5% of the true quantile; null without observations',
  ),
  p99_ms: ms,
})

export const liveSnapshotSchema = z
  .object({
    time: z.number().describe('when the snapshot was taken, ms since the epoch'),
    window_seconds: z
      .number()
      .int()
      .describe('the window the rates and latencies cover, the second in progress included'),
    requests_per_second: z.number(),
    rows_per_second: z.number(),
    client_errors_per_second: z.number().describe('answers 4xx'),
    server_errors_per_second: z.number().describe('answers 5xx'),
    latency: z
      .object({ total: stageSchema, queue: stageSchema, pre: stageSchema, model: stageSchema, post: stageSchema })
      .describe('per stage: total and queue per request, from arrival; pre, model and post per batch run'),
    arms: z
      .array(z.object({ model: z.string(), rows_per_second: z.number(), share: z.number() }))
      .describe('rows answered per model (the arms of a split), largest first'),
    series: z
      .array(
        z.object({
          time: z.number().describe("the second's start, ms since the epoch"),
          requests: z.number().int(),
          rows: z.number().int(),
          errors: z.number().int(),
          p99_ms: ms,
        }),
      )
      .describe('the last 60 seconds, oldest first, the second in progress last'),
    deployment: deploymentStatusSchema.nullable().describe('null when the pipeline is not deployed'),
    gpu: z
      .object({
        state: z.string().describe('ready, lost, recovering, unavailable, not_opened, …'),
        adapter: z
          .object({ description: z.string(), backend: z.string(), software: z.boolean() })
          .nullable()
          .describe('the adapter the webgpu backend runs on; null when no GPU was opened'),
      })
      .describe("the server's GPU, which deployments on webgpu use"),
  })
  .meta({ id: 'LiveSnapshot' })

export type LiveSnapshotWire = z.infer<typeof liveSnapshotSchema>
