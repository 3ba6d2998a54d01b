/**
 * The one configuration object. Parsed once from the environment (and CLI flags, which win);
 * nothing else in lastmile reads `process.env`. Every setting has a default and a doc comment;
 * the README's configuration table mirrors `ENV_VARS` below.
 */
import { availableParallelism } from 'node:os'
import { z } from 'zod'
import { InvalidConfigError } from './errors.js'

const gpuSchema = z.object({
  /** Dawn backend to open: `vulkan` (hardware GPUs, Mesa lavapipe), `opengles` (Mesa llvmpipe through EGL), or `auto` (vulkan, then opengles). */
  backend: z.enum(['auto', 'vulkan', 'opengles']).default('auto'),
  /** Pick the adapter whose name contains this text (Dawn's `adapter=` option); empty = Dawn's choice. */
  adapter: z.string().default(''),
  /** WebGPU feature level: `core`, `compatibility` (needed on OpenGL ES), or `auto` (core on vulkan, compatibility on opengles). */
  featureLevel: z.enum(['auto', 'core', 'compatibility']).default('auto'),
  /** Adapter power preference passed to `requestAdapter`. */
  powerPreference: z.enum(['high-performance', 'low-power']).default('high-performance'),
  /** After a lost device, keep requesting a new one (runs fall back to the CPU backend meanwhile). */
  recover: z.boolean().default(true),
  /** Check every batch of our kernels with WebGPU validation error scopes (slower; tests, debugging). */
  validate: z.boolean().default(false),
})

const ORIGIN_EXPECTED =
  'expected an origin as browsers send it: scheme://host[:port] in lower case, no path or trailing slash (e.g. https://console.example.com)'

/** Whether `s` is exactly an http(s) origin (what a browser puts in its `Origin` header). */
function isOrigin(s: string): boolean {
  try {
    const u = new URL(s)
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.origin === s
  } catch {
    return false
  }
}

/** Default longest CSV record or JSONL line (LASTMILE_JOB_MAX_RECORD_BYTES), also the job readers' default. */
export const DEFAULT_MAX_RECORD_BYTES = 16 * 2 ** 20

/** Default most columns in a job file (LASTMILE_JOB_MAX_COLUMNS), also the job readers' default. */
export const DEFAULT_MAX_COLUMNS = 4096

/** Body workers by default: a quarter of the cores, 1 to 4 (the event loop and the model need the rest). */
const DEFAULT_BODY_WORKERS = Math.min(4, Math.max(1, Math.floor(availableParallelism() / 4)))

const configSchema = z.object({
  /** Folder for lastmile's embedded store (models, metadata, logs). */
  dataDir: z.string().min(1).default('.lastmile-data'),
  /** Inference backend: `auto` (webgpu on a hardware adapter, else cpu), `webgpu`, `cpu` (native onnxruntime), `wasm`. */
  backend: z.enum(['auto', 'webgpu', 'cpu', 'wasm']).default('auto'),
  /** Threads per `cpu` session (onnxruntime intra-op); 0 = onnxruntime's default (all cores). */
  cpuThreads: z.number().int().min(0).max(1024).default(0),
  /**
   * Let onnxruntime's CPU thread pool spin-wait between runs. Off by default: spinning keeps the
   * pool's threads busy after each run, taking the cores the HTTP server needs to parse requests
   * (bench/http: +30–60% single-row req/s with it off on a 2-core machine). Turn it on for a
   * machine that only runs back-to-back batches.
   */
  cpuSpin: z.boolean().default(false),
  /** The process logger's verbosity (lastmile's and onnxruntime's lines on stderr); not the inference log. */
  logLevel: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  gpu: gpuSchema.prefault({}),
  /** The inference log: the answered requests, kept for the assays and explanations to read. */
  inferenceLog: z
    .object({
      /** Share of requests logged, 0..1. */
      sampleRate: z.number().min(0).max(1).default(1),
      /** Hours of log kept (whole segments older than this are deleted). */
      retentionHours: z
        .number()
        .positive()
        .default(24 * 30),
      /** Roll the open segment into an Arrow file past this many bytes... */
      rollBytes: z
        .number()
        .int()
        .min(1024)
        .default(64 * 1024 * 1024),
      /** ...or this many seconds. */
      rollSeconds: z.number().positive().default(3600),
      /** How often buffered rows are written and fsynced, in ms. */
      flushMs: z.number().int().min(10).default(500),
      /** Rows buffered at most; beyond, rows are dropped and counted (lastmile_log_dropped_rows_total). */
      maxBufferedRows: z.number().int().min(1).default(1_000_000),
      /** Tensor bytes buffered at most, likewise (a few requests of wide rows weigh what a million narrow ones do). */
      maxBufferedBytes: z
        .number()
        .int()
        .min(1024)
        .default(256 * 1024 * 1024),
      /**
       * Rows one log query answers at most (`?limit=` beyond is a 400 naming this setting); an
       * answer that stops short of the rows asked for links to the rest (`Link: rel="next"`).
       */
      queryMaxRows: z.number().int().min(1).default(100_000),
    })
    .prefault({}),
  /** Scheduled assays. */
  assays: z
    .object({
      /** How often due assay windows are looked for, in ms. */
      tickMs: z.number().int().min(10).default(30_000),
      /** Attempts per webhook alert (exponential backoff from 1 s). */
      webhookAttempts: z.number().int().min(1).max(20).default(5),
      /** Narrowest window width and interval, in ms (checked when an assay is defined and run). */
      minWindowMs: z.number().int().min(1).default(1000),
      /** Windows one run (a backfill) may score; a range that makes more is refused. */
      maxRunWindows: z.number().int().min(1).default(1000),
      /** Windows the scheduler scores per tick over all assays (oldest first); the rest wait for the next tick. */
      maxTickWindows: z.number().int().min(1).default(100),
      /** Values one request may carry: a preview's baseline and window together, a definition's baseline values. */
      maxRequestValues: z.number().int().min(1).default(1_000_000),
      /** Webhooks one assay may have (each alert is POSTed to every one). */
      maxWebhooks: z.number().int().min(0).default(10),
    })
    .prefault({}),
  /**
   * Outbound calls (webhooks): every one goes through one policy. Loopback, private, link-local,
   * metadata, unspecified, multicast, broadcast and reserved addresses are refused unless opened here.
   */
  outbound: z
    .object({
      /** Allow loopback, private (RFC 1918, CGNAT, fc00::/7) and link-local addresses, as GitLab's "allow requests to the local network". */
      allowLocal: z.boolean().default(false),
      /** Host names (`*.suffix` too), addresses and CIDR ranges allowed whatever their kind (metadata addresses only open this way). */
      allowlist: z.array(z.string().min(1)).default([]),
      /** Deadline for resolving a name and connecting, in ms. */
      connectTimeoutMs: z.number().int().min(1).default(5000),
      /** Deadline for the whole answer, in ms. */
      responseTimeoutMs: z.number().int().min(1).default(10_000),
      /** Response body bytes read at most. */
      maxResponseBytes: z
        .number()
        .int()
        .min(0)
        .default(64 * 1024),
    })
    .prefault({}),
  /** Limits on one explanation, checked before it starts (400 beyond). */
  explain: z
    .object({
      /** Model rows one explanation may evaluate, computed from its parameters before it starts. */
      maxModelRows: z.number().int().min(1).default(10_000_000),
      /** Reference rows: given (`reference.rows`) or read from the log (`reference.limit`). */
      maxReferenceRows: z.number().int().min(1).default(10_000),
      /** Rows a local explanation explains (`rows`). */
      maxRows: z.number().int().min(1).default(1000),
      /** Background rows of a local explanation (`background`). */
      maxBackground: z.number().int().min(1).default(1000),
      /** KernelSHAP coalitions (`nsamples`). */
      maxNsamples: z.number().int().min(2).default(100_000),
      /** Permutation SHAP feature orders (`npermutations`). */
      maxPermutations: z.number().int().min(1).default(1000),
      /** Permutation importance shuffles per feature (`repeats`). */
      maxRepeats: z.number().int().min(1).default(100),
      /** Partial dependence grid points (`num_points`). */
      maxNumPoints: z.number().int().min(2).default(500),
    })
    .prefault({}),
  /** Batch file scoring jobs. */
  jobs: z
    .object({
      /** Rows per committed chunk: the unit of progress, of resume after a crash, and of memory. */
      chunkRows: z.number().int().min(1).max(10_000_000).default(65_536),
      /**
       * Most cells (rows × columns) per chunk: a wide file's chunks hold fewer rows than
       * `chunkRows`, so a chunk's memory and the work done at once on it do not grow with its width.
       */
      chunkCells: z
        .number()
        .int()
        .min(1)
        .default(2 ** 20),
      /** Rows per model batch within a chunk (large: jobs run as bulk batches of their own). */
      batchRows: z.number().int().min(1).max(10_000_000).default(16_384),
      /** Jobs run at once; the rest wait in order. */
      concurrency: z.number().int().min(1).max(64).default(1),
      /** Default share of rows that may fail (bad values, wrong arity) before the job fails. */
      maxErrorShare: z.number().min(0).max(1).default(0.01),
      /**
       * Largest uploaded input file from a deployer or admin key (or any client with auth off). An
       * input stays on disk until its job ends and its result (uncompressed Arrow chunks, often
       * several times a compressed input) until the job is deleted: the default is one a disk holds.
       */
      uploadLimitBytes: z
        .number()
        .int()
        .min(1)
        .default(16 * 2 ** 30),
      /** Largest uploaded input file from a viewer key. */
      viewerUploadLimitBytes: z
        .number()
        .int()
        .min(1)
        .default(2 ** 30),
      /** Most rows one job may score: checked before the 202 where the file says its size (Parquet, Arrow file), while reading otherwise. */
      maxRows: z.number().int().min(1).default(1_000_000_000),
      /** Longest CSV record or JSONL line, in bytes: a longer JSONL line is a row error, a longer CSV record fails the job. */
      maxRecordBytes: z.number().int().min(1024).default(DEFAULT_MAX_RECORD_BYTES),
      /** Most columns in a job file (a CSV header's names, JSONL keys, an Arrow or Parquet schema's fields): more is a 400 before the 202. */
      maxColumns: z.number().int().min(1).default(DEFAULT_MAX_COLUMNS),
      /**
       * Starts of a job (batch or explanation) the server may fail to survive: a job still running
       * after this many is failed at the next start instead of resumed, in case it is what stops the server.
       */
      maxAttempts: z.number().int().min(1).max(100).default(3),
      /** A running job that commits no chunk for this many seconds is failed as stalled. */
      stallSeconds: z.number().positive().default(3600),
    })
    .prefault({}),
  /** Where the `lastmile` admin commands (models, pipelines, workspaces, keys) send requests. */
  client: z
    .object({
      /** The server's URL. */
      url: z.string().url().default('http://127.0.0.1:8080'),
      /** API key sent as `Authorization: Bearer ...`, when the server requires one. */
      apiKey: z.string().default(''),
    })
    .prefault({}),
  server: z
    .object({
      /** Address to listen on; 127.0.0.1 keeps the server private to this machine. */
      host: z.string().min(1).default('127.0.0.1'),
      /** TCP port; 0 picks a free one. */
      port: z.number().int().min(0).max(65535).default(8080),
      /** Largest request body accepted, in bytes (413 beyond). */
      bodyLimitBytes: z
        .number()
        .int()
        .min(1024)
        .default(64 * 1024 * 1024),
      /**
       * JSON values (objects, arrays, strings, numbers, booleans, nulls) one JSON body of the
       * routes that carry data (assays, explanations, pipeline steps) may hold, counted where it
       * is parsed, before anything walks it (400 beyond): what the event loop takes at most from one
       * body parsed in a body worker.
       */
      jsonMaxValues: z.number().int().min(1).default(2_000_000),
      /** Largest model upload accepted, in bytes (413 beyond). */
      modelLimitBytes: z
        .number()
        .int()
        .min(1024)
        .default(1024 * 1024 * 1024),
      /**
       * Largest total size of one inference request's decoded input tensors, in bytes (400 beyond,
       * naming the input), checked before each tensor is allocated. Decoders also stay within a
       * small multiple of the body (4× for JSON, 1× for binary tensor data, 8× for Arrow).
       */
      tensorLimitBytes: z
        .number()
        .int()
        .min(1024)
        .default(256 * 1024 * 1024),
      /**
       * Resident memory an uploaded model's trial load (in a child process, before the server
       * loads it) may reach; a model that needs more is refused with 400.
       */
      modelLoadMemoryBytes: z
        .number()
        .int()
        .min(64 * 1024 * 1024)
        .default(4 * 1024 * 1024 * 1024),
      /** Time an uploaded model's trial load may take, in ms (400 beyond). */
      modelLoadTimeoutMs: z.number().int().min(1).default(120_000),
      /** Deploy the demo pipeline (an MLP classifier) on start, when nothing else is deployed. */
      demo: z.boolean().default(true),
      /**
       * API keys: `on` requires a key on every route but health and the OpenAPI document;
       * `off` requires none; `auto` is off on a loopback address and on otherwise.
       */
      auth: z.enum(['auto', 'on', 'off']).default('auto'),
      /**
       * Origins (`scheme://host[:port]`) of web pages allowed to call the routes that change state
       * (POST, PUT, DELETE), besides the server's own origin: a console served from elsewhere.
       * Browser requests from any other site are refused (403); clients that are not browsers
       * send no `Origin` and are not affected.
       */
      allowedOrigins: z.array(z.string().refine(isOrigin, ORIGIN_EXPECTED)).default([]),
      /** Serve `/metrics` without a key even when keys are on (a scraper on a trusted network). */
      metricsPublic: z.boolean().default(false),
    })
    .prefault({}),
  /**
   * Large inference bodies: parsed, decoded and their answers encoded in worker threads, so the
   * event loop keeps answering health checks and small requests meanwhile; admitted a few at a time.
   */
  bodies: z
    .object({
      /** Bodies (and answers) larger than this many bytes go to a body worker; smaller ones stay on the event loop. */
      largeBytes: z
        .number()
        .int()
        .min(1024)
        .default(1024 * 1024),
      /** Body worker threads; 0 = none (large bodies are decoded on the event loop, and still admitted). Default: a quarter of the cores, 1 to 4. */
      workers: z.number().int().min(0).max(64).default(DEFAULT_BODY_WORKERS),
      /** Large requests worked on at once per worker (reading, decoding, inference, encoding); the rest wait. */
      perWorker: z.number().int().min(1).max(64).default(2),
      /** Large requests waiting at most, their bodies not read yet; beyond, 429 with Retry-After. */
      queue: z.number().int().min(0).max(10_000).default(16),
      /**
       * How fast an admitted large body must arrive, in bytes per second on average from its
       * admission, once `graceMs` have passed; slower, it is answered 408 and its turn passes on.
       */
      minBytesPerSecond: z
        .number()
        .int()
        .min(1)
        .default(256 * 1024),
      /**
       * A large body's allowance, in ms: its first 64 KiB must arrive within it before it waits
       * for a turn, and an admitted body may be this far behind `minBytesPerSecond` (408 beyond).
       */
      graceMs: z.number().int().min(1).default(5000),
    })
    .prefault({}),
})

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
  LASTMILE_HOST: { path: ['server', 'host'], parse: String },
  LASTMILE_PORT: { path: ['server', 'port'], parse: Number },
  LASTMILE_BODY_LIMIT_BYTES: { path: ['server', 'bodyLimitBytes'], parse: Number },
  LASTMILE_DEMO: { path: ['server', 'demo'], parse: parseBool },
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
