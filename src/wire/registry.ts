/**
 * What the registry routes answer (workspaces, models, pipelines, deployments, API keys), as zod
 * schemas: the server documents its routes with them (`/openapi.json`), its handlers are typed by
 * them, and lastmile's client takes its types from them. Every key is snake_case.
 */
import { z } from 'zod'
import { BACKENDS } from '../engine/types.js'
import type { deployRequestSchema } from '../registry/schemas.js'
import { autoscalingSchema, batchingSchema, NON_FINITE_POLICIES, sessionSettingsSchema } from '../serving/settings.js'
import { type Slo, sloSchema } from '../slo/spec.js'
import { ROLES } from '../store/schemas.js'
import type { ApiKeyRecord, AuditRecord, ModelRecord, PipelineRecord, WorkspaceRecord } from '../store/types.js'
import { timestamp } from './common.js'

/** A workspace as listed. */
export const workspaceSchema = z.object({ name: z.string(), created_at: timestamp }).meta({ id: 'Workspace' })

/** A workspace and its counts. */
export const workspaceDetailSchema = workspaceSchema
  .extend({
    models: z.number().int().describe('Distinct model names.'),
    pipelines: z.number().int(),
    deployed: z.array(z.string()).describe("Names of the workspace's deployed pipelines."),
  })
  .meta({ id: 'WorkspaceDetail' })

/** A model input or output. */
export const tensorMetaSchema = z
  .object({
    name: z.string(),
    datatype: z.string().describe('Open Inference Protocol datatype (FP32, INT64, BYTES, ...).'),
    shape: z.array(z.number().int()).describe('-1 for a dimension of any size.'),
  })
  .meta({ id: 'TensorMeta' })

/** One version of a model. */
export const modelVersionSchema = z
  .object({
    workspace: z.string(),
    name: z.string(),
    version: z.number().int().min(1),
    /** Of the model's bytes, hex. */
    sha256: z.string(),
    size: z.number().int().describe('Bytes.'),
    inputs: z.array(tensorMetaSchema),
    outputs: z.array(tensorMetaSchema),
    created_at: timestamp,
  })
  .meta({ id: 'ModelVersion' })

/** The answer to an upload: the version, and whether it is new. */
export const modelUploadSchema = modelVersionSchema
  .extend({ created: z.boolean().describe('false: these bytes were already this version') })
  .meta({ id: 'ModelUpload' })

/** A model as listed: its version count and latest version. */
export const modelSummarySchema = z
  .object({ name: z.string(), versions: z.number().int(), latest: modelVersionSchema })
  .meta({ id: 'ModelSummary' })

/** A model and every version of it. */
export const modelSchema = z.object({ name: z.string(), versions: z.array(modelVersionSchema) }).meta({ id: 'Model' })

/** One version of a pipeline: its steps. */
export const pipelineVersionSchema = z
  .object({
    workspace: z.string(),
    name: z.string(),
    version: z.number().int().min(1),
    steps: z.array(z.unknown()).describe('The steps as given when the version was created.'),
    slo: sloSchema.nullable().describe("The version's service-level objectives, defaults filled in; null without."),
    created_at: timestamp,
  })
  .meta({ id: 'PipelineVersion' })

/** The answer to a PUT of steps: the new version, and whether the deployment moved to it. */
export const pipelinePutSchema = pipelineVersionSchema
  .extend({ deployed: z.boolean().describe('whether the deployed pipeline moved to this version') })
  .meta({ id: 'PipelinePut' })

/**
 * The body of a deploy request as a client writes it (every field optional): version, engine,
 * batching, replicas or autoscaling, non_finite_inputs, and reset.
 */
export type DeployOptions = z.input<typeof deployRequestSchema>

const backend = z.enum(BACKENDS)

/** One change of an autoscaled deployment's replica count (src/serving/autoscaler.ts). */
const scaleDecisionSchema = z.object({
  time: z.number().describe('when, ms since the epoch'),
  from: z.number().int(),
  to: z.number().int(),
  direction: z.enum(['up', 'down']),
  mode: z.enum(['panic', 'stable']).describe('which average decided: the panic window (up only) or the stable one'),
  reason: z.string().describe('e.g. "panic: in-flight avg 37.2 over 6 s ≥ 2× target (1 replica × 5.6)"'),
  stable_in_flight: z.number().describe('mean requests in flight over the stable window'),
  panic_in_flight: z.number().describe('mean requests in flight over the panic window'),
})

/** An autoscaled deployment: its settings, what its autoscaler sees and its latest decisions. */
const autoscalingStatusSchema = z.object({
  config: autoscalingSchema,
  desired_replicas: z.number().int().describe('the count the autoscaler wants; `replicas` follows it'),
  panic: z.boolean().describe('whether the panic window decides (scale-up only)'),
  in_flight: z.number().int().describe('requests admitted and not yet answered, now'),
  stable_in_flight: z.number().describe('mean requests in flight over the stable window'),
  panic_in_flight: z.number().describe('mean requests in flight over the panic window'),
  decisions: z.array(scaleDecisionSchema).describe('the latest decisions (at most 20), oldest first'),
})

const pathName = z.enum(['ort', 'captured', 'kernels', 'cpu'])

/** How a model came to run the way it does on the GPU (src/engine/gpu-paths.ts). */
const gpuPathSchema = z
  .object({
    chosen: pathName.describe('the path serving the model'),
    baseline: pathName.describe("today's path without measurement (onnxruntime-web, `ort`)"),
    how: z
      .enum(['measured', 'set', 'single', 'unmeasured'])
      .describe('measured at deploy; set by session.gpu_path or LASTMILE_GPU_PATH; the only path; or not measurable'),
    batches: z.array(z.number().int()).describe('the batch sizes timed'),
    candidates: z.array(
      z.object({
        path: pathName,
        ms: z.record(z.string(), z.number()).optional().describe('median ms per run (host in, host out) by batch size'),
        score: z.number().optional().describe('geometric mean of ms over the batch sizes'),
        error: z
          .string()
          .optional()
          .describe('why the path could not serve: failed to load or run, or disagreed with the baseline'),
      }),
    ),
    reason: z.string(),
  })
  .describe('How the model runs on webgpu and why; absent on cpu and wasm.')

/** A captured model's padding and memory (src/engine/captured-session.ts). */
const captureSchema = z
  .object({
    buckets: z
      .array(z.number().int())
      .describe('batch sizes with a captured session each; batches are padded to the next'),
    runs: z.number().int(),
    rows: z.number().int().describe('real rows run'),
    padded_rows: z.number().int().describe('zero rows added to fill buckets (the padding cost)'),
    buffer_bytes: z.number().int().describe("GPU bytes held for the buckets' inputs and outputs"),
    sessions: z.number().int().describe("captured sessions loaded (each holds the model's weights)"),
    fallbacks: z.number().int().describe('runs answered by a plain session after a captured run failed'),
  })
  .describe('On the captured path: padding and memory of this replica.')

/** A deployment: what runs, where, and its queue and batching. */
export const deploymentStatusSchema = z
  .object({
    workspace: z.string(),
    pipeline: z.string(),
    pipeline_version: z.number().int(),
    model: z.string().describe('The pipeline\'s models, e.g. "a:1" or "a:1,b:2".'),
    models: z.array(z.string()),
    state: z.enum(['ready', 'draining', 'stopped']),
    backend,
    active_backend: backend,
    path: z.enum(['gpu', 'cpu']).describe('Where the first model runs right now.'),
    replicas: z.number().int().describe('Replicas serving now.'),
    autoscaling: autoscalingStatusSchema.nullable().describe('null when the replica count is fixed'),
    /** Per model stage: its routing, and where each model runs right now. */
    stages: z.array(
      z.object({
        routing: z.string(),
        models: z.array(
          z.object({
            model: z.string(),
            backend,
            active_backend: backend,
            path: z.enum(['gpu', 'cpu']),
            backend_note: z
              .string()
              .optional()
              .describe(
                'Why the model runs on another backend than `auto` chose (webgpu cannot run one of its operators).',
              ),
            gpu_path: gpuPathSchema.optional(),
            capture: captureSchema.optional(),
          }),
        ),
      }),
    ),
    inputs: z
      .array(tensorMetaSchema)
      .describe("The pipeline's inputs: what a request sends (key columns of splits included)."),
    outputs: z.array(tensorMetaSchema).describe("The pipeline's outputs: what an answer holds."),
    queued_rows: z.number().int(),
    batching: batchingSchema,
    session: sessionSettingsSchema.describe(
      "The sessions' intra-op threads and graph optimization level as deployed; {} = the server's settings.",
    ),
    non_finite_inputs: z
      .enum(NON_FINITE_POLICIES)
      .describe('NaN and ±Infinity in float inputs: refused with a 400, or passed to the model.'),
  })
  .meta({ id: 'DeploymentStatus' })

/** A pipeline as listed: its latest version and deployment. */
export const pipelineSummarySchema = pipelineVersionSchema
  .extend({ deployment: deploymentStatusSchema.nullable() })
  .meta({ id: 'PipelineSummary' })

/** A pipeline, every version of it and its deployment. */
export const pipelineSchema = z
  .object({ name: z.string(), versions: z.array(pipelineVersionSchema), deployment: deploymentStatusSchema.nullable() })
  .meta({ id: 'Pipeline' })

const role = z.enum(ROLES)

/** An API key as listed: never its secret. */
export const apiKeySchema = z
  .object({ id: z.string(), workspace: z.string(), name: z.string(), role, created_at: timestamp })
  .meta({ id: 'ApiKey' })

/** One change made through the API, as the audit routes answer it. */
export const auditRowSchema = z
  .object({
    id: z.number().int(),
    time: timestamp,
    workspace: z.string().nullable().describe('the workspace it changed; null for a server-wide change'),
    key: z
      .object({ id: z.string(), name: z.string(), role })
      .nullable()
      .describe('the key that made it (never its secret); null when keys are off'),
    method: z.string(),
    path: z.string(),
    status: z.number().int().describe('what it was answered: 2xx done, 4xx refused, 5xx failed'),
  })
  .meta({ id: 'AuditRow' })

/** An audit record on the wire. */
export function auditJson(a: AuditRecord): AuditRow {
  return {
    id: a.id,
    time: a.time,
    workspace: a.workspace ?? null,
    key: a.key ?? null,
    method: a.method,
    path: a.path,
    status: a.status,
  }
}

/** Who a request's key is (GET /v1/me): what a console shows and hides by. */
export const callerSchema = z
  .object({
    auth: z.boolean().describe('whether this server requires API keys; false: every request may do everything'),
    key: apiKeySchema.nullable().describe('the key the request was sent with; null when keys are off'),
    server_admin: z.boolean().describe('an admin of workspace default (or keys off): every workspace'),
  })
  .meta({ id: 'Caller' })

/** A key just created, with its secret. */
export const createdApiKeySchema = apiKeySchema
  .extend({ key: z.string().describe('the secret, shown this once: send it as `Authorization: Bearer <key>`') })
  .meta({ id: 'CreatedApiKey' })

// Records as the wire shows them: the store's camelCase fields become snake_case keys here, once.

/** A workspace record on the wire. */
export function workspaceJson(w: WorkspaceRecord): Workspace {
  return { name: w.name, created_at: w.createdAt }
}

/** A model version record on the wire. */
export function modelJson(m: ModelRecord): ModelVersion {
  const { workspace, name, version, sha256, size, inputs, outputs } = m
  return { workspace, name, version, sha256, size, inputs, outputs, created_at: m.createdAt }
}

/** A pipeline version record on the wire. */
export function pipelineJson(p: PipelineRecord): PipelineVersion {
  return {
    workspace: p.workspace,
    name: p.name,
    version: p.version,
    steps: p.steps,
    slo: p.slo as Slo | null, // validated when the version was created
    created_at: p.createdAt,
  }
}

/** A key as listed: its record without the secret's hash (the secret, when given, is shown once). */
export function apiKeyJson(k: Omit<ApiKeyRecord, 'hash'>): ApiKey {
  return { id: k.id, workspace: k.workspace, name: k.name, role: k.role, created_at: k.createdAt }
}

/** The answer of a DELETE: the name removed. */
export const deletedSchema = z.object({ deleted: z.string() })
/** The answer of undeploy: the pipeline. */
export const undeployedSchema = z.object({ undeployed: z.string() })
/** The answer of revoking a key: its id. */
export const revokedSchema = z.object({ revoked: z.string() })

export type TensorMeta = z.infer<typeof tensorMetaSchema>
export type Workspace = z.infer<typeof workspaceSchema>
export type WorkspaceDetail = z.infer<typeof workspaceDetailSchema>
export type ModelVersion = z.infer<typeof modelVersionSchema>
export type ModelUpload = z.infer<typeof modelUploadSchema>
export type ModelSummary = z.infer<typeof modelSummarySchema>
export type Model = z.infer<typeof modelSchema>
export type PipelineVersion = z.infer<typeof pipelineVersionSchema>
export type PipelinePut = z.infer<typeof pipelinePutSchema>
export type PipelineSummary = z.infer<typeof pipelineSummarySchema>
export type Pipeline = z.infer<typeof pipelineSchema>
export type DeploymentStatus = z.infer<typeof deploymentStatusSchema>
export type ApiKey = z.infer<typeof apiKeySchema>
export type CreatedApiKey = z.infer<typeof createdApiKeySchema>
export type Caller = z.infer<typeof callerSchema>
export type AuditRow = z.infer<typeof auditRowSchema>
