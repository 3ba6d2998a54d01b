/**
 * When a pipeline's training set is exported (a log range joined with its outcomes, as Parquet): on
 * an assay alert, on a schedule, or on request. Part of the pipeline's outcome settings
 * (`outcomeSpecSchema`); a schema only, so the settings' parser needs no exporter.
 */
import { z } from 'zod'

export const retrainingSchema = z
  .object({
    /** Export when an assay of the pipeline raises an alert. */
    on_assay_alert: z.boolean().default(false),
    /** Export every this many seconds (none when absent). */
    every_s: z
      .number()
      .int()
      .min(60)
      .max(366 * 86_400)
      .optional(),
    /** The log range exported: the last this many seconds. */
    window_s: z
      .number()
      .int()
      .min(60)
      .max(366 * 86_400)
      .default(7 * 86_400),
    /** Only rows whose outcome arrived (else every row, with a null outcome where none did). */
    labeled_only: z.boolean().default(true),
    /** URLs told of each export (its location, schema and rows), through the outbound policy (checked when set too). */
    webhooks: z
      .array(z.url({ protocol: /^https?$/ }))
      .max(8)
      .default([]),
  })
  .strict()
