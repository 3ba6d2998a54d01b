/**
 * Each table's row as both backends read it: the same column names and values in SQLite and in
 * PostgreSQL (JSON documents as text, ids and counts as integers, bytes as BLOB or bytea), so one
 * parser per table turns a row into its record. The one difference, a boolean column (SQLite's 0 or
 * 1, PostgreSQL's boolean), is a parameter of the assays' parser. And the other way for the wide
 * tables: a record's values in the order of its insert's columns ({@link Insert}), each backend
 * writing the statement with its own placeholders.
 */
import { z } from 'zod'
import { booleanInteger, bytesBlob, float64Blob, jsonText, rowParser } from './rows.js'
import {
  EXPLANATION_STATUSES,
  JOB_STATUSES,
  jobOptionsSchema,
  jobRowErrorSchema,
  jsonObjectSchema,
  OPTIMIZATION_STATUSES,
  ROLES,
  tensorMetaSchema,
} from './schemas.js'
import type {
  ApiKeyRecord,
  AssayRecord,
  AssayResultRecord,
  AuditRecord,
  DecisionRecord,
  DeploymentRecord,
  ExplanationRecord,
  JobRecord,
  ModelRecord,
  OptimizationRecord,
  OutcomeRecord,
  OutcomeSpecRecord,
  PipelineRecord,
  PromotionRuleRecord,
  SloAlertRecord,
  WorkspaceRecord,
} from './types.js'

const count = z.int().min(0)

/** A table's insert: its columns, and a record's values in their order (JSON documents as text). */
export interface Insert<T> {
  table: string
  columns: readonly string[]
  values(r: T): unknown[]
}

/** The INSERT statement of `insert`, with SQLite's (`?`) or PostgreSQL's (`$1`…) placeholders. */
export function insertSql(insert: Insert<never>, placeholders: 'sqlite' | 'pg'): string {
  const marks = insert.columns.map((_, i) => (placeholders === 'sqlite' ? '?' : `$${i + 1}`))
  return `INSERT INTO ${insert.table} (${insert.columns.join(', ')}) VALUES (${marks.join(', ')})`
}

/** Bytes as both drivers take them (a Buffer over the same memory). */
export const bytesParam = (b: Uint8Array | null) =>
  b === null ? null : Buffer.from(b.buffer, b.byteOffset, b.byteLength)

export const modelInsert: Insert<ModelRecord> = {
  table: 'models',
  columns: ['workspace', 'name', 'version', 'sha256', 'size', 'inputs', 'outputs', 'created_at'],
  values: (m) => [
    m.workspace,
    m.name,
    m.version,
    m.sha256,
    m.size,
    JSON.stringify(m.inputs),
    JSON.stringify(m.outputs),
    m.createdAt,
  ],
}

export const auditInsert: Insert<Omit<AuditRecord, 'id'>> = {
  table: 'audit',
  columns: ['time', 'workspace', 'key_id', 'key_name', 'role', 'method', 'path', 'status'],
  values: (r) => [
    r.time,
    r.workspace ?? null,
    r.key?.id ?? null,
    r.key?.name ?? null,
    r.key?.role ?? null,
    r.method,
    r.path,
    r.status,
  ],
}

export const jobInsert: Insert<JobRecord> = {
  table: 'jobs',
  columns: [
    'id',
    'workspace',
    'pipeline',
    'status',
    'format',
    'input_path',
    'input_bytes',
    'options',
    'rows_total',
    'rows_done',
    'chunks_done',
    'error_count',
    'errors',
    'error',
    'attempts',
    'created_by',
    'created_at',
    'started_at',
    'finished_at',
  ],
  values: (j) => [
    j.id,
    j.workspace,
    j.pipeline,
    j.status,
    j.format,
    j.inputPath,
    j.inputBytes,
    JSON.stringify(j.options),
    j.rowsTotal,
    j.rowsDone,
    j.chunksDone,
    j.errorCount,
    JSON.stringify(j.errors),
    j.error,
    j.attempts,
    j.createdBy,
    j.createdAt,
    j.startedAt,
    j.finishedAt,
  ],
}

export const explanationInsert: Insert<ExplanationRecord> = {
  table: 'explanations',
  columns: [
    'id',
    'workspace',
    'pipeline',
    'method',
    'request',
    'status',
    'error',
    'attempts',
    'report',
    'summary',
    'created_at',
    'finished_at',
  ],
  values: (r) => [
    r.id,
    r.workspace,
    r.pipeline,
    r.method,
    JSON.stringify(r.request),
    r.status,
    r.error,
    r.attempts,
    r.report === null ? null : JSON.stringify(r.report),
    bytesParam(r.summary),
    r.createdAt,
    r.finishedAt,
  ],
}

export const workspaceFrom = rowParser(
  'workspaces',
  z
    .object({ name: z.string(), created_at: z.string() })
    .transform((r): WorkspaceRecord => ({ name: r.name, createdAt: r.created_at })),
  ['name'],
)

export const modelFrom = rowParser(
  'models',
  z
    .object({
      workspace: z.string(),
      name: z.string(),
      version: z.int().min(1),
      sha256: z.string(),
      size: count,
      inputs: jsonText(z.array(tensorMetaSchema)),
      outputs: jsonText(z.array(tensorMetaSchema)),
      created_at: z.string(),
    })
    .transform(
      (r): ModelRecord => ({
        workspace: r.workspace,
        name: r.name,
        version: r.version,
        sha256: r.sha256,
        size: r.size,
        inputs: r.inputs,
        outputs: r.outputs,
        createdAt: r.created_at,
      }),
    ),
  ['workspace', 'name', 'version'],
)

export const pipelineFrom = rowParser(
  'pipelines',
  z
    .object({
      workspace: z.string(),
      name: z.string(),
      version: z.int().min(1),
      // The registry parses the steps where it uses them (parseSteps); here they are a JSON array.
      steps: jsonText(z.array(z.unknown())),
      // The registry parses the objectives where it uses them (parseSlo).
      slo: z.union([z.null(), jsonText(z.record(z.string(), z.unknown()))]),
      created_at: z.string(),
    })
    .transform(
      (r): PipelineRecord => ({
        workspace: r.workspace,
        name: r.name,
        version: r.version,
        steps: r.steps,
        slo: r.slo,
        createdAt: r.created_at,
      }),
    ),
  ['workspace', 'name', 'version'],
)

export const deploymentFrom = rowParser(
  'deployments',
  z
    .object({
      workspace: z.string(),
      pipeline: z.string(),
      version: z.int().min(1),
      // The registry parses the settings again when it deploys them (deployRequestSchema).
      config: jsonText(jsonObjectSchema),
      deployed_at: z.string(),
    })
    .transform(
      (r): DeploymentRecord => ({
        workspace: r.workspace,
        pipeline: r.pipeline,
        version: r.version,
        config: r.config,
        deployedAt: r.deployed_at,
      }),
    ),
  ['workspace', 'pipeline'],
)

export const apiKeyFrom = rowParser(
  'api_keys',
  z
    .object({
      id: z.string(),
      workspace: z.string(),
      name: z.string(),
      role: z.enum(ROLES),
      hash: z.string(),
      created_at: z.string(),
    })
    .transform(
      (r): ApiKeyRecord => ({
        id: r.id,
        workspace: r.workspace,
        name: r.name,
        role: r.role,
        hash: r.hash,
        createdAt: r.created_at,
      }),
    ),
  ['id'],
)

export const auditFrom = rowParser(
  'audit',
  z
    .object({
      id: z.int(),
      time: z.string(),
      workspace: z.string().nullable(),
      key_id: z.string().nullable(),
      key_name: z.string().nullable(),
      role: z.enum(ROLES).nullable(),
      method: z.string(),
      path: z.string(),
      status: z.int(),
    })
    .transform(
      (r): AuditRecord => ({
        id: r.id,
        time: r.time,
        ...(r.workspace === null ? {} : { workspace: r.workspace }),
        ...(r.key_id === null || r.key_name === null || r.role === null
          ? {}
          : { key: { id: r.key_id, name: r.key_name, role: r.role } }),
        method: r.method,
        path: r.path,
        status: r.status,
      }),
    ),
  ['id'],
)

/** The assays' parser, given how the backend holds the `active` boolean. */
function assayParser(active: z.ZodType<boolean>) {
  // The assay service reads its definition and results; here they are JSON objects.
  return rowParser(
    'assays',
    z
      .object({
        id: z.int().min(1),
        workspace: z.string(),
        pipeline: z.string(),
        name: z.string(),
        config: jsonText(jsonObjectSchema),
        baseline: float64Blob,
        active,
        created_at: z.string(),
      })
      .transform(
        (r): AssayRecord => ({
          id: r.id,
          workspace: r.workspace,
          pipeline: r.pipeline,
          name: r.name,
          config: r.config,
          baseline: r.baseline,
          active: r.active,
          createdAt: r.created_at,
        }),
      ),
    ['id'],
  )
}

/** An assay row of SQLite (`active` is 0 or 1) or of PostgreSQL (`active` is a boolean). */
export const assayFrom = { sqlite: assayParser(booleanInteger), pg: assayParser(z.boolean()) }

export const assayResultFrom = rowParser(
  'assay_results',
  z
    .object({
      assay_id: z.int(),
      window_start: z.int(),
      window_end: z.int(),
      score: z.number(),
      status: z.string(),
      result: jsonText(jsonObjectSchema),
      created_at: z.string(),
    })
    .transform(
      (r): AssayResultRecord => ({
        assayId: r.assay_id,
        windowStart: r.window_start,
        windowEnd: r.window_end,
        score: r.score,
        status: r.status,
        result: r.result,
        createdAt: r.created_at,
      }),
    ),
  ['assay_id', 'window_start', 'window_end'],
)

/** JobRecord field → column (JSON-encoded where marked), for the fields an update may set. */
const JOB_COLUMNS: Record<string, { column: string; json?: boolean }> = {
  status: { column: 'status' },
  format: { column: 'format' },
  inputPath: { column: 'input_path' },
  inputBytes: { column: 'input_bytes' },
  options: { column: 'options', json: true },
  rowsTotal: { column: 'rows_total' },
  rowsDone: { column: 'rows_done' },
  chunksDone: { column: 'chunks_done' },
  errorCount: { column: 'error_count' },
  errors: { column: 'errors', json: true },
  error: { column: 'error' },
  attempts: { column: 'attempts' },
  startedAt: { column: 'started_at' },
  finishedAt: { column: 'finished_at' },
}

/** The columns a job update sets and their values: names from {@link JOB_COLUMNS} only, never from the patch. */
export function jobPatch(patch: Partial<JobRecord>): Array<{ column: string; value: unknown }> {
  const out: Array<{ column: string; value: unknown }> = []
  for (const [k, v] of Object.entries(patch)) {
    const c = JOB_COLUMNS[k]
    if (c && v !== undefined) out.push({ column: c.column, value: c.json ? JSON.stringify(v) : v })
  }
  return out
}

export const jobFrom = rowParser(
  'jobs',
  z
    .object({
      id: z.string(),
      workspace: z.string(),
      pipeline: z.string(),
      status: z.enum(JOB_STATUSES),
      format: z.string(),
      input_path: z.string(),
      input_bytes: count,
      options: jsonText(jobOptionsSchema),
      rows_total: count.nullable(),
      rows_done: count,
      chunks_done: count,
      error_count: count,
      errors: jsonText(z.array(jobRowErrorSchema)),
      error: z.string().nullable(),
      attempts: count,
      created_by: z.string().nullable(),
      created_at: z.string(),
      started_at: z.string().nullable(),
      finished_at: z.string().nullable(),
    })
    .transform(
      (r): JobRecord => ({
        id: r.id,
        workspace: r.workspace,
        pipeline: r.pipeline,
        status: r.status,
        format: r.format,
        inputPath: r.input_path,
        inputBytes: r.input_bytes,
        options: r.options,
        rowsTotal: r.rows_total,
        rowsDone: r.rows_done,
        chunksDone: r.chunks_done,
        errorCount: r.error_count,
        errors: r.errors,
        error: r.error,
        attempts: r.attempts,
        createdBy: r.created_by,
        createdAt: r.created_at,
        startedAt: r.started_at,
        finishedAt: r.finished_at,
      }),
    ),
  ['id'],
)

// The explain service parses the request again before it runs it (explainSchema); the report is its own JSON.
export const explanationFrom = rowParser(
  'explanations',
  z
    .object({
      id: z.string(),
      workspace: z.string(),
      pipeline: z.string(),
      method: z.string(),
      request: jsonText(z.unknown()),
      status: z.enum(EXPLANATION_STATUSES),
      error: z.string().nullable(),
      attempts: count,
      report: jsonText(z.unknown()).nullable(),
      summary: bytesBlob.nullable(),
      created_at: z.string(),
      finished_at: z.string().nullable(),
    })
    .transform(
      (r): ExplanationRecord => ({
        id: r.id,
        workspace: r.workspace,
        pipeline: r.pipeline,
        method: r.method,
        request: r.request,
        status: r.status,
        error: r.error,
        attempts: r.attempts,
        report: r.report,
        summary: r.summary,
        createdAt: r.created_at,
        finishedAt: r.finished_at,
      }),
    ),
  ['id'],
)

export const optimizationInsert: Insert<OptimizationRecord> = {
  table: 'optimizations',
  columns: [
    'id',
    'workspace',
    'pipeline',
    'version',
    'status',
    'request',
    'report',
    'error',
    'created_at',
    'finished_at',
  ],
  values: (r) => [
    r.id,
    r.workspace,
    r.pipeline,
    r.version,
    r.status,
    JSON.stringify(r.request),
    r.report === null ? null : JSON.stringify(r.report),
    r.error,
    r.createdAt,
    r.finishedAt,
  ],
}

// The optimize service reads the request and report as its own JSON (they are written only by it).
export const optimizationFrom = rowParser(
  'optimizations',
  z
    .object({
      id: z.string(),
      workspace: z.string(),
      pipeline: z.string(),
      version: z.int().min(1),
      status: z.enum(OPTIMIZATION_STATUSES),
      request: jsonText(z.unknown()),
      report: jsonText(z.unknown()).nullable(),
      error: z.string().nullable(),
      created_at: z.string(),
      finished_at: z.string().nullable(),
    })
    .transform(
      (r): OptimizationRecord => ({
        id: r.id,
        workspace: r.workspace,
        pipeline: r.pipeline,
        version: r.version,
        status: r.status,
        request: r.request,
        report: r.report,
        error: r.error,
        createdAt: r.created_at,
        finishedAt: r.finished_at,
      }),
    ),
  ['id'],
)

/** The key columns of an objective's series. */
const SLO_KEY = ['workspace', 'pipeline', 'objective', 'arm'] as const

export const sloTallyFrom = rowParser('slo_buckets', z.object({ good: count, total: count }), [])
export const sloStepFrom = rowParser('slo_buckets', z.object({ start: z.int(), good: count, total: count }), ['start'])
export const sloArmFrom = rowParser('slo_buckets', z.object({ arm: z.string() }), ['arm'])

export const sloAlertFrom = rowParser(
  'slo_alerts',
  z
    .object({
      workspace: z.string(),
      pipeline: z.string(),
      objective: z.string(),
      arm: z.string(),
      severity: z.string(),
      since: z.int(),
      detail: jsonText(jsonObjectSchema),
    })
    .transform((r): SloAlertRecord => ({ ...r })),
  [...SLO_KEY, 'severity'],
)

/** A lease row, its expiry in ms since the epoch. */
export const leaseFrom = rowParser('leases', z.object({ holder: z.string(), expires_at: z.int() }), ['holder'])

/** A changed topic and the revision it changed at. */
export const changeFrom = rowParser('changes', z.object({ topic: z.string(), revision: z.int().min(1) }), ['topic'])

/** The latest revision of the change feed (0 before the first change). */
export const revisionFrom = rowParser('changes', z.object({ revision: z.int().min(0) }), [])

/** A pipeline's outcome settings row. */
export const outcomeSpecFrom = rowParser(
  'outcome_specs',
  z
    .object({
      workspace: z.string(),
      pipeline: z.string(),
      // src/outcomes/spec.ts parses the settings where they are used (outcomeSpecSchema).
      config: jsonText(jsonObjectSchema),
      updated_at: z.string(),
    })
    .transform(
      (r): OutcomeSpecRecord => ({
        workspace: r.workspace,
        pipeline: r.pipeline,
        config: r.config,
        updatedAt: r.updated_at,
      }),
    ),
  ['workspace', 'pipeline'],
)

/** An outcome row: its value is JSON text of a number or a string. */
export const outcomeFrom = rowParser(
  'outcomes',
  z
    .object({ key: z.string(), value: jsonText(z.union([z.number(), z.string()])), time: z.int() })
    .transform((r): OutcomeRecord => ({ key: r.key, value: r.value, time: r.time })),
  ['key'],
)

/** A pipeline's promotion rule row. */
export const promotionRuleFrom = rowParser(
  'promotion_rules',
  z
    .object({
      workspace: z.string(),
      pipeline: z.string(),
      // src/outcomes/promotion-spec.ts parses the rule where it is used (promotionRuleSchema).
      config: jsonText(jsonObjectSchema),
      updated_at: z.string(),
    })
    .transform(
      (r): PromotionRuleRecord => ({
        workspace: r.workspace,
        pipeline: r.pipeline,
        config: r.config,
        updatedAt: r.updated_at,
      }),
    ),
  ['workspace', 'pipeline'],
)

/** A decision row: its evidence is a JSON object. */
export const decisionFrom = rowParser(
  'decisions',
  z
    .object({
      id: z.int().min(1),
      workspace: z.string(),
      pipeline: z.string(),
      time: z.string(),
      action: z.string(),
      detail: jsonText(jsonObjectSchema),
    })
    .transform((r): DecisionRecord => ({ ...r })),
  ['id'],
)

/**
 * Outcomes to write, each key once (a key sent twice: the later outcome) and in key order (servers
 * writing the same keys at once lock them in the same order), with how many were repeats.
 */
export function outcomeRows(outcomes: readonly OutcomeRecord[]): { rows: OutcomeRecord[]; repeats: number } {
  const latest = new Map<string, OutcomeRecord>()
  for (const o of outcomes) latest.set(o.key, o)
  const rows = [...latest.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  return { rows, repeats: outcomes.length - rows.length }
}

/** What PostgreSQL's upsert of an outcome returns: whether it replaced one. */
export const outcomeUpsertFrom = rowParser('outcomes', z.object({ updated: z.boolean() }), [])
