/**
 * Request bodies of the registry routes (zod); the OpenAPI document is generated from these. Also
 * what a deploy body means for a pipeline already deployed: the settings it leaves out keep their
 * deployed values ({@link deploySettings}).
 */
import { z } from 'zod'
import { InvalidConfigError } from '../errors.js'
import {
  autoscalingSchema,
  batchingSchema,
  MAX_REPLICAS,
  NON_FINITE_POLICIES,
  sessionSettingsSchema,
} from '../serving/settings.js'
import { sloSchema } from '../slo/spec.js'
import { ROLES } from '../store/schemas.js'

export const deployRequestSchema = z
  .object({
    /** Pipeline version to deploy; the latest by default (an earlier one is a rollback). */
    version: z.number().int().min(1).optional(),
    /** Backend for this pipeline's models: auto (the server's setting), webgpu, cpu or wasm. */
    engine: z.enum(['auto', 'webgpu', 'cpu', 'wasm']).optional(),
    /** Dynamic batching settings (see the README's table for defaults; `{}` is every default). */
    batching: batchingSchema.partial().optional(),
    /**
     * Copies of the pipeline's sessions; up to this many batches run at once (CPU cores). 1 by
     * default. A fixed count: not with `autoscaling`.
     */
    replicas: z.number().int().min(1).max(MAX_REPLICAS).optional(),
    /**
     * Replicas that follow the load, between `min_replicas` and `max_replicas` (the README's
     * "Autoscaling"). Not with a fixed `replicas`; giving either replaces the other.
     */
    autoscaling: autoscalingSchema.optional(),
    /**
     * NaN and ±Infinity in float inputs (JSON null, or a number past float32's range, too):
     * `refuse` (the default) answers 400 naming the row and column; `pass` hands them to the model.
     * NaN in a column a tabular pre step imputes always passes.
     */
    non_finite_inputs: z.enum(NON_FINITE_POLICIES).optional(),
    /**
     * The sessions' intra-op threads (`cpu`) and onnxruntime graph optimization level, e.g. as
     * measured tuning recommends them (`…/optimize`). An object replaces the deployed one whole.
     */
    session: sessionSettingsSchema.optional(),
    /**
     * A deployed pipeline keeps its engine, batching, replicas (or autoscaling), session and non_finite_inputs for the
     * fields a deploy leaves out (a redeploy, a rollback); `true` gives those fields their defaults.
     */
    reset: z.boolean().optional(),
  })
  .strict()
  .refine((r) => r.replicas === undefined || r.autoscaling === undefined, {
    message:
      'give either replicas (a fixed count) or autoscaling (min_replicas to max_replicas, following the load), not both',
    path: ['autoscaling'],
  })

export type DeployRequest = z.infer<typeof deployRequestSchema>

/** The settings of a deployment, as its deploy request gives them and the store keeps them. */
export type DeploySettings = Omit<DeployRequest, 'version' | 'reset'>

/**
 * The settings a deploy runs with: the request's, and for each setting it leaves out, the one
 * `deployed` holds (the pipeline's current deployment, as stored), unless the request says
 * `reset`. Without a deployment, what is left out takes its default.
 */
export function deploySettings(req: DeployRequest, deployed: Record<string, unknown> | undefined): DeploySettings {
  const { version: _v, reset, ...given } = req
  if (reset || deployed === undefined) return given
  const kept = deployRequestSchema.safeParse(deployed)
  if (!kept.success) {
    throw new InvalidConfigError(
      `the deployed settings stored for this pipeline are not valid (${kept.error.issues[0]?.message}): deploy with "reset": true to replace them`,
    )
  }
  const { version: _kv, reset: _kr, ...previous } = kept.data
  // A fixed count and autoscaling exclude each other: the one given replaces the one deployed.
  if (given.replicas !== undefined) delete previous.autoscaling
  if (given.autoscaling !== undefined) delete previous.replicas
  return { ...previous, ...Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)) }
}

export const pipelineRequestSchema = z
  .object({
    steps: z.array(z.unknown()).min(1),
    /** The version's service-level objectives (the README's "Service-level objectives"). */
    slo: sloSchema.optional(),
  })
  .strict()

export const workspaceRequestSchema = z.object({ name: z.string().min(1) }).strict()

export const keyRequestSchema = z
  .object({
    /** What the key is for (shown in listings). */
    name: z.string().min(1).max(128),
    role: z.enum(ROLES),
  })
  .strict()
