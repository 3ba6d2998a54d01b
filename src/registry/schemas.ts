/** Request bodies of the registry routes (zod); the OpenAPI document is generated from these. */
import { z } from 'zod'
import { batchingSchema, NON_FINITE_POLICIES } from '../serving/settings.js'
import { ROLES } from '../store/schemas.js'

export const deployRequestSchema = z
  .object({
    /** Pipeline version to deploy; the latest by default (an earlier one is a rollback). */
    version: z.number().int().min(1).optional(),
    /** Backend for this pipeline's models: auto (the server's setting), webgpu, cpu or wasm. */
    engine: z.enum(['auto', 'webgpu', 'cpu', 'wasm']).optional(),
    /** Dynamic batching settings (see the README's table for defaults). */
    batching: batchingSchema.partial().optional(),
    /** Copies of the pipeline's sessions; up to this many batches run at once (CPU cores). */
    replicas: z.number().int().min(1).max(64).default(1),
    /**
     * NaN and ±Infinity in float inputs (JSON null, or a number past float32's range, too):
     * `refuse` (the default) answers 400 naming the row and column; `pass` hands them to the model.
     * NaN in a column a tabular pre step imputes always passes.
     */
    non_finite_inputs: z.enum(NON_FINITE_POLICIES).optional(),
  })
  .strict()

export type DeployRequest = z.infer<typeof deployRequestSchema>

export const pipelineRequestSchema = z.object({ steps: z.array(z.unknown()).min(1) }).strict()

export const workspaceRequestSchema = z.object({ name: z.string().min(1) }).strict()

export const keyRequestSchema = z
  .object({
    /** What the key is for (shown in listings). */
    name: z.string().min(1).max(128),
    role: z.enum(ROLES),
  })
  .strict()
