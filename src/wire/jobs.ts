/**
 * What the batch job routes answer: a job's status and progress (the same view for creating,
 * listing, following and cancelling it). Every key is snake_case.
 */
import { z } from 'zod'
import { JOB_FORMATS } from '../jobs/io/formats.js'
import { timestamp } from './common.js'

/** A batch job's status and progress. */
export const jobSchema = z
  .object({
    id: z.string(),
    workspace: z.string(),
    pipeline: z.string(),
    status: z.enum(['queued', 'running', 'succeeded', 'failed', 'cancelled']),
    format: z.enum(JOB_FORMATS).describe("The input file's format."),
    rows_done: z.number().int(),
    rows_total: z
      .number()
      .int()
      .nullable()
      .describe('Known up front for Parquet and Arrow files; at the end for the others.'),
    progress: z.number().nullable().describe('0..1, from rows when the total is known, else from bytes read.'),
    rows_per_second: z.number().nullable(),
    eta_seconds: z.number().nullable(),
    error_count: z.number().int(),
    errors: z
      .array(z.object({ row: z.number().int(), message: z.string() }))
      .describe('The first row errors (capped), in row order; rows count from 0.'),
    error: z.string().nullable().describe('Why the job failed.'),
    attempts: z.number().int().describe('Starts the server did not survive (see LASTMILE_JOB_MAX_ATTEMPTS).'),
    created_at: timestamp,
    started_at: timestamp.nullable(),
    finished_at: timestamp.nullable(),
  })
  .meta({ id: 'Job' })

export type Job = z.infer<typeof jobSchema>
