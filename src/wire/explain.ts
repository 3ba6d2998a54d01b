/**
 * What the explanation routes answer: a report (its fields depend on the method) and an
 * explanation job's progress. Every key is snake_case.
 */
import { z } from 'zod'
import { measure, timestamp } from './common.js'

const common = {
  workspace: z.string(),
  pipeline: z.string(),
  pipeline_version: z.number().int(),
  /** The explained output value, `out.<output>[i]`. */
  output: z.string(),
  /** The flattened input features' names. */
  features: z.array(z.string()),
  reference_rows: z.number().int(),
  /** Model rows run. */
  evaluated_rows: z.number().int(),
  seconds: z.number(),
}

const permutation = z.object({
  ...common,
  method: z.literal('permutation'),
  /** What a shuffled feature changes, e.g. "increase of mse" or "mean |Δ output|". */
  measure: z.string(),
  /** The metric on the unshuffled reference (null without targets). */
  baseline_score: measure,
  repeats: z.number().int(),
  importances: z.array(
    z.object({
      feature: z.string(),
      importance_mean: measure,
      importance_std: measure,
      /** One per repeat. */
      importances: z.array(measure),
    }),
  ),
})

const pdp = z.object({
  ...common,
  method: z.literal('pdp'),
  num_points: z.number().int(),
  curves: z.array(
    z.object({
      feature: z.string(),
      grid: z.array(measure),
      pdp: z.array(measure),
      /** ICE curves of the first reference rows, one per row, over the grid. */
      ice: z.array(z.array(measure)),
    }),
  ),
})

const local = {
  ...common,
  base_value: measure,
  background_rows: z.number().int(),
  rows: z.array(
    z.object({
      row: z.number().int(),
      prediction: measure,
      /** One per feature: they add up to prediction − base_value. */
      attributions: z.array(measure),
    }),
  ),
}

export const explainReportSchema = z
  .discriminatedUnion('method', [
    permutation,
    pdp,
    z.object({ ...local, method: z.literal('kernel_shap'), nsamples: z.number().int() }),
    z.object({ ...local, method: z.literal('permutation_shap'), npermutations: z.number().int() }),
  ])
  .meta({ id: 'ExplainReport' })

export const explanationJobSchema = z
  .object({
    id: z.string(),
    workspace: z.string(),
    pipeline: z.string(),
    method: z.enum(['permutation', 'pdp', 'kernel_shap', 'permutation_shap']),
    status: z.enum(['running', 'succeeded', 'failed']),
    evaluated_rows: z.number().int(),
    planned_rows: z.number().int(),
    /** 0..1. */
    progress: z.number(),
    error: z.string().nullable(),
    created_at: timestamp,
    /** Once it has succeeded. */
    report: explainReportSchema.optional(),
  })
  .meta({ id: 'ExplanationJob' })

export type ExplainReport = z.infer<typeof explainReportSchema>
export type ExplanationJob = z.infer<typeof explanationJobSchema>
