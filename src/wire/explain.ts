/**
 * What the explanation routes answer: a report (its fields depend on the method) and an
 * explanation job's progress. Every key is snake_case.
 */
import { z } from 'zod'
import { timestamp } from './registry.js'

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
  baseline_score: z.number().nullable(),
  repeats: z.number().int(),
  importances: z.array(
    z.object({
      feature: z.string(),
      importance_mean: z.number(),
      importance_std: z.number(),
      /** One per repeat. */
      importances: z.array(z.number()),
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
      grid: z.array(z.number()),
      pdp: z.array(z.number()),
      /** ICE curves of the first reference rows, one per row, over the grid. */
      ice: z.array(z.array(z.number())),
    }),
  ),
})

const local = {
  ...common,
  base_value: z.number(),
  background_rows: z.number().int(),
  rows: z.array(
    z.object({
      row: z.number().int(),
      prediction: z.number(),
      /** One per feature: they add up to prediction − base_value. */
      attributions: z.array(z.number()),
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
