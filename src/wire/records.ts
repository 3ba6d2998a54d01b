/**
 * What the pandas-records inference route answers, as Wallaroo's engine does: one object per input
 * row, its fields chosen and laid out by the `dataset` query (nested by default, flattened with a
 * separator: `in.x`, `out.y`, `metadata.model`).
 */
import { z } from 'zod'

/** One answer row of the pandas-records route. */
export const recordsRowSchema = z
  .object({
    time: z.number().optional().describe('ms since the epoch.'),
    in: z.record(z.string(), z.unknown()).optional(),
    out: z.record(z.string(), z.unknown()).optional(),
    check_failures: z.array(z.unknown()).optional().describe('One entry per failed validation of the row.'),
    anomaly: z.object({ count: z.number().int() }).optional(),
    metadata: z.record(z.string(), z.unknown()).optional(),
  })
  .catchall(z.unknown())
  .meta({ id: 'RecordsRow' })

/** The `dataset` query of Wallaroo's SDK (`dataset[]=*&dataset.exclude[]=metadata&dataset.separator=.`). */
export const datasetQuerySchema = z.object({
  'dataset[]': z
    .array(z.string())
    .optional()
    .describe('fields (time, in, out, check_failures, anomaly, metadata) or field.key paths to answer; * for all'),
  'dataset.exclude[]': z.array(z.string()).optional().describe('fields or field.key paths to leave out'),
  'dataset.separator': z.string().optional().describe('flatten nested fields, joining names with this'),
  'dataset.flatten': z.enum(['true', 'false']).optional().describe('true: flatten with "."'),
})

/**
 * The header that gives a pandas-records or Arrow inference request its id (as OIP's `id` does):
 * logged with the request's rows, so feedback can name them.
 */
export const REQUEST_ID_HEADER = 'x-request-id'
