/**
 * The JSON a pipeline step carries for pre- and post-processing, as zod schemas. These are a
 * public contract (pipeline definitions are written against them): the README documents them.
 *
 * @example
 * { "pre": { "tabular": { "features": [ { "standardize": { "mean": 5.8, "std": 0.8 }, "impute": "mean" },
 *                                       { "onehot": [0, 1, 2] } ] } } }
 * { "post": { "activation": "softmax", "topk": 3, "labels": ["setosa", "versicolor", "virginica"] } }
 */
import { z } from 'zod'
import { MAX_TOPK } from '../kernels/topk.js'

const finite = z.number().refine(Number.isFinite, 'must be a finite number')

const tabularFeatureSchema = z
  .object({
    standardize: z.object({ mean: finite, std: finite }).strict().optional(),
    minmax: z.object({ min: finite, max: finite }).strict().optional(),
    onehot: z.array(finite).min(1).max(1024).optional(),
    impute: z.union([finite, z.literal('mean')]).optional(),
    clip: z.tuple([z.number(), z.number()]).optional(),
  })
  .strict()

const tensorNames = {
  /** Request input holding the raw values; defaults to `output`. */
  input: z.string().min(1).optional(),
  /** Model input the step feeds; defaults to the model's only input of the right kind. */
  output: z.string().min(1).optional(),
}

const tabularStepSchema = z
  .object({ ...tensorNames, features: z.array(tabularFeatureSchema).min(1).max(4096) })
  .strict()

const triple = z.tuple([finite, finite, finite])

const imageStepSchema = z
  .object({
    ...tensorNames,
    height: z.number().int().min(1).max(8192),
    width: z.number().int().min(1).max(8192),
    scale: finite.default(1 / 255),
    mean: triple.default([0, 0, 0]),
    std: triple.default([1, 1, 1]),
    bgr: z.boolean().default(false),
  })
  .strict()

export const preSpecSchema = z.union([
  z.object({ tabular: tabularStepSchema }).strict(),
  z.object({ image: imageStepSchema }).strict(),
])

export const postSpecSchema = z
  .object({
    /** Model output to post-process; defaults to the model's first float32 output. */
    input: z.string().min(1).optional(),
    /** Applied first; its result is the `scores` output. */
    activation: z.enum(['none', 'softmax', 'sigmoid']).default('none'),
    /** Emit `label`: the argmax of the scores (ties to the lower index, NaN last). */
    argmax: z.boolean().default(false),
    /** Emit `label`: 1/0 for one column; the argmax, or -1 below the threshold, for several. */
    threshold: finite.optional(),
    /** Emit `topk_index` and `topk_score`, best first. */
    topk: z.number().int().min(1).max(MAX_TOPK).optional(),
    /** Class names: add `label_name` (and `topk_label`) outputs. */
    labels: z.array(z.string()).min(1).optional(),
  })
  .strict()

export type PreSpec = z.infer<typeof preSpecSchema>
export type PreSpecInput = z.input<typeof preSpecSchema>
export type PostSpec = z.infer<typeof postSpecSchema>
export type PostSpecInput = z.input<typeof postSpecSchema>
