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
  output: z.string().describe('The explained output value, `out.<output>[i]`.'),
  features: z.array(z.string()).describe("The flattened input features' names."),
  reference_rows: z.number().int(),
  evaluated_rows: z.number().int().describe('Model rows run.'),
  seconds: z.number(),
}

const permutation = z.object({
  ...common,
  method: z.literal('permutation'),
  measure: z.string().describe('What a shuffled feature changes, e.g. "increase of mse" or "mean |Δ output|".'),
  baseline_score: measure.describe('The metric on the unshuffled reference (null without targets).'),
  repeats: z.number().int(),
  importances: z.array(
    z.object({
      feature: z.string(),
      importance_mean: measure,
      importance_std: measure,
      importances: z.array(measure).describe('One per repeat.'),
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
      ice: z.array(z.array(measure)).describe('ICE curves of the first reference rows, one per row, over the grid.'),
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
      attributions: z.array(measure).describe('One per feature: they add up to prediction − base_value.'),
    }),
  ),
}

/** An explanation report: the fields common to every method, then the method's own. */
export const explainReportSchema = z
  .discriminatedUnion('method', [
    permutation,
    pdp,
    z.object({ ...local, method: z.literal('kernel_shap'), nsamples: z.number().int() }),
    z.object({ ...local, method: z.literal('permutation_shap'), npermutations: z.number().int() }),
  ])
  .meta({ id: 'ExplainReport' })

/** An explanation run as a job: its progress, then its report. */
export const explanationJobSchema = z
  .object({
    id: z.string(),
    workspace: z.string(),
    pipeline: z.string(),
    method: z.enum(['permutation', 'pdp', 'kernel_shap', 'permutation_shap']),
    status: z.enum(['running', 'succeeded', 'failed']),
    evaluated_rows: z.number().int(),
    planned_rows: z.number().int(),
    progress: z.number().describe('0..1.'),
    error: z.string().nullable(),
    created_at: timestamp,
    report: explainReportSchema.optional().describe('Once it has succeeded.'),
  })
  .meta({ id: 'ExplanationJob' })

export type ExplainReport = z.infer<typeof explainReportSchema>
export type ExplanationJob = z.infer<typeof explanationJobSchema>
