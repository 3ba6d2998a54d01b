/**
 * The one configuration object. Parsed once from the environment (and CLI flags, which win);
 * nothing else in lastmile reads `process.env`. Every setting has a default and a doc comment;
 * the README's configuration table mirrors `ENV_VARS` below. The settings themselves, with their
 * defaults, are `configSchema` in src/config-schema.ts.
 */
import type { z } from 'zod'
import { configSchema } from './config-schema.js'
import { InvalidConfigError } from './errors.js'

export type Config = z.infer<typeof configSchema>
export type GpuConfig = Config['gpu']
export type BackendChoice = Config['backend']

/** How one environment variable is read. */
interface EnvVar {
  /** The config path it sets. */
  path: string[]
  parse: (v: string) => unknown
  /** An older name still read when this one is unset, for one release (a warning names this one). */
  alias?: string
}

/** A number of the inference log, and its variable's name before the rename (LASTMILE_LOG_*). */
const inferenceLogVar = (key: string, alias: string): EnvVar => ({ path: ['inferenceLog', key], parse: Number, alias })

/** Environment variable → config path, with its parser. The README documents each, and each alias. */
export const ENV_VARS: Record<string, EnvVar> = {
  LASTMILE_DATA_DIR: { path: ['dataDir'], parse: String },
  LASTMILE_STORE_URL: { path: ['storeUrl'], parse: String },
  LASTMILE_BACKEND: { path: ['backend'], parse: String },
  LASTMILE_CPU_THREADS: { path: ['cpuThreads'], parse: Number },
  LASTMILE_CPU_SPIN: { path: ['cpuSpin'], parse: parseBool },
  LASTMILE_LOG_LEVEL: { path: ['logLevel'], parse: String },
  LASTMILE_GPU_BACKEND: { path: ['gpu', 'backend'], parse: String },
  LASTMILE_GPU_ADAPTER: { path: ['gpu', 'adapter'], parse: String },
  LASTMILE_GPU_FEATURE_LEVEL: { path: ['gpu', 'featureLevel'], parse: String },
  LASTMILE_GPU_POWER_PREFERENCE: { path: ['gpu', 'powerPreference'], parse: String },
  LASTMILE_GPU_RECOVER: { path: ['gpu', 'recover'], parse: parseBool },
  LASTMILE_GPU_VALIDATE: { path: ['gpu', 'validate'], parse: parseBool },
  LASTMILE_GPU_PATH: { path: ['gpu', 'path'], parse: String },
  LASTMILE_GPU_MEASURE_MS: { path: ['gpu', 'measureMs'], parse: Number },
  LASTMILE_HOST: { path: ['server', 'host'], parse: String },
  LASTMILE_PORT: { path: ['server', 'port'], parse: Number },
  LASTMILE_BODY_LIMIT_BYTES: { path: ['server', 'bodyLimitBytes'], parse: Number },
  LASTMILE_DEMO: { path: ['server', 'demo'], parse: parseBool },
  LASTMILE_WORKERS: { path: ['server', 'workers'], parse: (v) => (v === 'auto' ? v : Number(v)) },
  LASTMILE_MODEL_LIMIT_BYTES: { path: ['server', 'modelLimitBytes'], parse: Number },
  LASTMILE_JSON_BODY_MAX_VALUES: { path: ['server', 'jsonMaxValues'], parse: Number },
  LASTMILE_TENSOR_LIMIT_BYTES: { path: ['server', 'tensorLimitBytes'], parse: Number },
  LASTMILE_MODEL_LOAD_MEMORY_BYTES: { path: ['server', 'modelLoadMemoryBytes'], parse: Number },
  LASTMILE_MODEL_LOAD_TIMEOUT_MS: { path: ['server', 'modelLoadTimeoutMs'], parse: Number },
  LASTMILE_AUTH: { path: ['server', 'auth'], parse: String },
  LASTMILE_ALLOWED_ORIGINS: { path: ['server', 'allowedOrigins'], parse: parseList },
  LASTMILE_METRICS_PUBLIC: { path: ['server', 'metricsPublic'], parse: parseBool },
  LASTMILE_LARGE_BODY_BYTES: { path: ['bodies', 'largeBytes'], parse: Number },
  LASTMILE_BODY_WORKERS: { path: ['bodies', 'workers'], parse: Number },
  LASTMILE_LARGE_BODIES_PER_WORKER: { path: ['bodies', 'perWorker'], parse: Number },
  LASTMILE_LARGE_BODY_QUEUE: { path: ['bodies', 'queue'], parse: Number },
  LASTMILE_LARGE_BODY_MIN_BYTES_PER_SECOND: { path: ['bodies', 'minBytesPerSecond'], parse: Number },
  LASTMILE_LARGE_BODY_GRACE_MS: { path: ['bodies', 'graceMs'], parse: Number },
  LASTMILE_URL: { path: ['client', 'url'], parse: String },
  LASTMILE_INFERENCE_LOG_SAMPLE_RATE: inferenceLogVar('sampleRate', 'LASTMILE_LOG_SAMPLE_RATE'),
  LASTMILE_INFERENCE_LOG_RETENTION_HOURS: inferenceLogVar('retentionHours', 'LASTMILE_LOG_RETENTION_HOURS'),
  LASTMILE_INFERENCE_LOG_ROLL_BYTES: inferenceLogVar('rollBytes', 'LASTMILE_LOG_ROLL_BYTES'),
  LASTMILE_INFERENCE_LOG_ROLL_SECONDS: inferenceLogVar('rollSeconds', 'LASTMILE_LOG_ROLL_SECONDS'),
  LASTMILE_INFERENCE_LOG_FLUSH_MS: inferenceLogVar('flushMs', 'LASTMILE_LOG_FLUSH_MS'),
  LASTMILE_INFERENCE_LOG_MAX_BUFFERED_BYTES: inferenceLogVar('maxBufferedBytes', 'LASTMILE_LOG_MAX_BUFFERED_BYTES'),
  LASTMILE_INFERENCE_LOG_QUERY_MAX_ROWS: { path: ['inferenceLog', 'queryMaxRows'], parse: Number },
  LASTMILE_ASSAY_TICK_MS: { path: ['assays', 'tickMs'], parse: Number },
  LASTMILE_WEBHOOK_ATTEMPTS: { path: ['assays', 'webhookAttempts'], parse: Number },
  LASTMILE_ASSAY_MIN_WINDOW_MS: { path: ['assays', 'minWindowMs'], parse: Number },
  LASTMILE_ASSAY_MAX_RUN_WINDOWS: { path: ['assays', 'maxRunWindows'], parse: Number },
  LASTMILE_ASSAY_MAX_TICK_WINDOWS: { path: ['assays', 'maxTickWindows'], parse: Number },
  LASTMILE_ASSAY_MAX_REQUEST_VALUES: { path: ['assays', 'maxRequestValues'], parse: Number },
  LASTMILE_ASSAY_MAX_WEBHOOKS: { path: ['assays', 'maxWebhooks'], parse: Number },
  LASTMILE_EXPORT_DIR: { path: ['exports', 'dir'], parse: String },
  LASTMILE_EXPORT_MAX_ROWS: { path: ['exports', 'maxRows'], parse: Number },
  LASTMILE_EXPORT_TICK_MS: { path: ['exports', 'tickMs'], parse: Number },
  LASTMILE_LIVE_MAX_STREAMS: { path: ['live', 'maxStreams'], parse: Number },
  LASTMILE_AUDIT_MAX_ROWS: { path: ['audit', 'maxRows'], parse: Number },
  LASTMILE_SLO_FLUSH_MS: { path: ['slo', 'flushMs'], parse: Number },
  LASTMILE_SLO_TICK_MS: { path: ['slo', 'tickMs'], parse: Number },
  LASTMILE_OUTBOUND_ALLOW_LOCAL: { path: ['outbound', 'allowLocal'], parse: parseBool },
  LASTMILE_OUTBOUND_ALLOWLIST: { path: ['outbound', 'allowlist'], parse: parseList },
  LASTMILE_OUTBOUND_CONNECT_TIMEOUT_MS: { path: ['outbound', 'connectTimeoutMs'], parse: Number },
  LASTMILE_OUTBOUND_RESPONSE_TIMEOUT_MS: { path: ['outbound', 'responseTimeoutMs'], parse: Number },
  LASTMILE_OUTBOUND_MAX_RESPONSE_BYTES: { path: ['outbound', 'maxResponseBytes'], parse: Number },
  LASTMILE_EXPLAIN_MAX_MODEL_ROWS: { path: ['explain', 'maxModelRows'], parse: Number },
  LASTMILE_EXPLAIN_MAX_REFERENCE_ROWS: { path: ['explain', 'maxReferenceRows'], parse: Number },
  LASTMILE_EXPLAIN_MAX_ROWS: { path: ['explain', 'maxRows'], parse: Number },
  LASTMILE_EXPLAIN_MAX_BACKGROUND: { path: ['explain', 'maxBackground'], parse: Number },
  LASTMILE_EXPLAIN_MAX_NSAMPLES: { path: ['explain', 'maxNsamples'], parse: Number },
  LASTMILE_EXPLAIN_MAX_PERMUTATIONS: { path: ['explain', 'maxPermutations'], parse: Number },
  LASTMILE_EXPLAIN_MAX_REPEATS: { path: ['explain', 'maxRepeats'], parse: Number },
  LASTMILE_EXPLAIN_MAX_NUM_POINTS: { path: ['explain', 'maxNumPoints'], parse: Number },
  LASTMILE_OPTIMIZE_MAX_SECONDS: { path: ['optimize', 'maxSeconds'], parse: Number },
  LASTMILE_JOB_CHUNK_ROWS: { path: ['jobs', 'chunkRows'], parse: Number },
  LASTMILE_JOB_CHUNK_CELLS: { path: ['jobs', 'chunkCells'], parse: Number },
  LASTMILE_JOB_BATCH_ROWS: { path: ['jobs', 'batchRows'], parse: Number },
  LASTMILE_JOB_CONCURRENCY: { path: ['jobs', 'concurrency'], parse: Number },
  LASTMILE_JOB_MAX_ERROR_SHARE: { path: ['jobs', 'maxErrorShare'], parse: Number },
  LASTMILE_JOB_UPLOAD_LIMIT_BYTES: { path: ['jobs', 'uploadLimitBytes'], parse: Number },
  LASTMILE_JOB_VIEWER_UPLOAD_LIMIT_BYTES: { path: ['jobs', 'viewerUploadLimitBytes'], parse: Number },
  LASTMILE_JOB_MAX_ROWS: { path: ['jobs', 'maxRows'], parse: Number },
  LASTMILE_JOB_MAX_RECORD_BYTES: { path: ['jobs', 'maxRecordBytes'], parse: Number },
  LASTMILE_JOB_MAX_COLUMNS: { path: ['jobs', 'maxColumns'], parse: Number },
  LASTMILE_JOB_MAX_ATTEMPTS: { path: ['jobs', 'maxAttempts'], parse: Number },
  LASTMILE_JOB_STALL_SECONDS: { path: ['jobs', 'stallSeconds'], parse: Number },
  LASTMILE_API_KEY: { path: ['client', 'apiKey'], parse: String },
}

function parseBool(v: string): boolean {
  return !['0', 'false', 'no', 'off'].includes(v.toLowerCase())
}

/** A comma-separated list; blanks dropped. */
function parseList(v: string): string[] {
  return v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
}

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] }
export type ConfigOverrides = DeepPartial<Config>

/**
 * Build the config from environment variables, then `overrides` (CLI flags, tests).
 * Throws {@link InvalidConfigError} naming the setting and what it accepts.
 *
 * @example loadConfig(process.env, { backend: 'cpu' })
 */
export function loadConfig(
  env: Record<string, string | undefined> = process.env,
  overrides: ConfigOverrides = {},
): Config {
  const raw: Record<string, unknown> = {}
  for (const [name, { path, parse, alias }] of Object.entries(ENV_VARS)) {
    const value = readVar(env, name) ?? (alias === undefined ? undefined : readVar(env, alias))
    if (value !== undefined) setPath(raw, path, parse(value))
  }
  merge(raw, overrides as Record<string, unknown>)
  const parsed = configSchema.safeParse(raw)
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => {
      const path = i.path.join('.')
      // A list item's path ends in its index; the variable is named after the list.
      const setting = i.path.filter((p) => typeof p === 'string').join('.')
      const [name, v] = Object.entries(ENV_VARS).find(([, v]) => v.path.join('.') === setting) ?? []
      // The variable the value came from: the old name when only that one is set.
      const envName = name !== undefined && readVar(env, name) === undefined && v?.alias ? v.alias : name
      return `${path}${envName ? ` (${envName})` : ''}: ${i.message}`
    })
    throw new InvalidConfigError(`invalid configuration: ${issues.join('; ')}`, { issues })
  }
  return parsed.data
}

/** `env[name]` when it is set to something (an empty variable counts as unset). */
function readVar(env: Record<string, string | undefined>, name: string): string | undefined {
  const value = env[name]
  return value === undefined || value === '' ? undefined : value
}

/**
 * One warning for each old variable name `env` sets (see {@link EnvVar.alias}): the name to use
 * instead, and whether that one, also set, is read in its place. `lastmile` prints them at start.
 */
export function deprecatedVariables(env: Record<string, string | undefined> = process.env): string[] {
  const warnings: string[] = []
  for (const [name, { alias }] of Object.entries(ENV_VARS)) {
    if (alias === undefined || readVar(env, alias) === undefined) continue
    warnings.push(
      readVar(env, name) === undefined
        ? `${alias} is read for now but will be dropped in the next release: rename it ${name}`
        : `${alias} is ignored: ${name} is set too and wins; remove ${alias}`,
    )
  }
  return warnings
}

function setPath(obj: Record<string, unknown>, path: string[], value: unknown): void {
  let cur = obj
  for (const key of path.slice(0, -1)) {
    cur[key] = (cur[key] as Record<string, unknown> | undefined) ?? {}
    cur = cur[key] as Record<string, unknown>
  }
  cur[path[path.length - 1] as string] = value
}

function merge(into: Record<string, unknown>, from: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(from)) {
    if (v === undefined) continue
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      into[k] = (into[k] as Record<string, unknown> | undefined) ?? {}
      merge(into[k] as Record<string, unknown>, v as Record<string, unknown>)
    } else into[k] = v
  }
}
