/**
 * What the training-set routes take and answer: an export's record (src/outcomes/export.ts),
 * every key snake_case, as its record file holds it.
 */
import { z } from 'zod'
import { timestamp } from './common.js'

/** The body of a request for an export: the log range `[start, end)`. */
export const trainingSetRequestSchema = z
  .object({
    start: z.union([z.string(), z.number()]).describe('ISO 8601 time, or ms since the epoch'),
    end: z.union([z.string(), z.number()]).describe('rows before this time'),
  })
  .strict()

const fieldSchema = z.object({
  name: z.string(),
  type: z
    .enum(['timestamp[ms, tz=UTC]', 'int32', 'string', 'double', 'list<double>', 'list<string>'])
    .describe("the column's type, as pyarrow prints it"),
})

export const trainingSetSchema = z
  .object({
    file: z.string().describe("the file's name, chosen by the server"),
    workspace: z.string(),
    pipeline: z.string(),
    status: z.enum(['running', 'done', 'failed']),
    reason: z.enum(['request', 'schedule', 'assay_alert']).describe('what started it'),
    assay: z
      .object({
        id: z.number().int(),
        name: z.string(),
        window: z.object({ start: timestamp, end: timestamp }),
      })
      .nullable()
      .describe('the assay whose alert started it, and the window that alerted'),
    start: timestamp.describe('the log range read: rows with start <= time < end'),
    end: timestamp,
    labeled_only: z.boolean().describe('only rows whose outcome arrived'),
    rows: z.number().int().describe('rows in the file'),
    labeled_rows: z.number().int().describe('rows in the file with an outcome'),
    read_rows: z.number().int().describe('log rows read'),
    truncated: z.boolean().describe('LASTMILE_EXPORT_MAX_ROWS stopped the read before the range ended'),
    last_row_time: timestamp.nullable().describe('the time of the last log row read'),
    dropped_columns: z.array(z.string()).describe('logged inputs whose values are not in the file'),
    schema: z.array(fieldSchema).describe("the file's columns"),
    bytes: z.number().int(),
    created_at: timestamp,
    finished_at: timestamp.nullable(),
    url: z.string().describe('where to download it'),
    error: z.string().nullable().describe('why it failed'),
  })
  .meta({ id: 'TrainingSet' })

export type TrainingSet = z.infer<typeof trainingSetSchema>
