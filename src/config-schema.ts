/**
 * The settings' schema: every setting of the one configuration object (src/config.ts reads it
 * from the environment), with its doc comment, its bounds and its default.
 */
import { availableParallelism } from 'node:os'
import { z } from 'zod'

/**
 * How a model runs on the `webgpu` backend (src/engine/gpu-paths.ts): `auto` times the paths that
 * can run it and serves with the fastest; `ort` is onnxruntime-web's WebGPU EP, `captured` the same
 * with graph capture (one session per batch bucket), `kernels` lastmile's own WGSL kernels.
 */
export const GPU_PATH_CHOICES = ['auto', 'ort', 'captured', 'kernels'] as const
/** One of {@link GPU_PATH_CHOICES}. */
export type GpuPathChoice = (typeof GPU_PATH_CHOICES)[number]

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
  /** The server's default GPU path; a deployment's `session.gpu_path` overrides it. */
  path: z.enum(GPU_PATH_CHOICES).default('auto'),
  /** How long `auto` may time the candidate paths of one model at deploy, in ms (loading them is extra). */
  measureMs: z.number().int().min(0).max(60_000).default(2000),
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

/** What the store URL accepts, for messages (never with the value: a URL may carry a password). */
export const STORE_URL_EXPECTED =
  "expected '' (SQLite in the data folder) or a PostgreSQL URL: postgres://user:password@host:port/database (or postgresql://)"

/** Whether `s` is a PostgreSQL URL (`postgres://` or `postgresql://`), which selects the shared store. */
export function isPostgresUrl(s: string): boolean {
  try {
    const u = new URL(s)
    return u.protocol === 'postgres:' || u.protocol === 'postgresql:'
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

/** Every setting, with its default: `loadConfig` parses the environment and flags with it. */
export const configSchema = z.object({
  /** Folder for lastmile's embedded store (models, metadata, logs). */
  dataDir: z.string().min(1).default('.lastmile-data'),
  /**
   * Where the metadata store is: empty for SQLite in the data folder (one server, or the workers of
   * one), or a `postgres://` (`postgresql://`) URL of a PostgreSQL database several servers share,
   * model bytes included. Messages and logs show it without its password.
   */
  storeUrl: z
    .string()
    .refine((s) => s === '' || isPostgresUrl(s), STORE_URL_EXPECTED)
    .default(''),
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
      /** Attempts per webhook alert, of assays and of objectives (exponential backoff from 1 s). */
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
  /** Training sets for retraining: a log range joined with its outcomes, exported as Parquet. */
  exports: z
    .object({
      /** Folder the training sets are written in (`<dir>/<ws>/<pipeline>/…parquet`); empty: `<dataDir>/exports`. */
      dir: z.string().default(''),
      /** Log rows one export reads at most: a range holding more is cut there (and the export says so). */
      maxRows: z.number().int().min(1).default(10_000_000),
      /** How often pipelines with `retraining.every_s` are looked at for an export that is due, in ms. */
      tickMs: z.number().int().min(10).default(30_000),
    })
    .prefault({}),
  /** The audit trail of changes made through the API (…/audit). */
  audit: z
    .object({
      /** Rows kept, over all workspaces; the oldest are dropped as new ones come. */
      maxRows: z.number().int().min(1).default(100_000),
    })
    .prefault({}),
  /** The live view of deployments (…/stats, …/live). */
  live: z
    .object({
      /** Event streams (…/live) open at once, over all clients; more are answered 429. */
      maxStreams: z.number().int().min(0).default(64),
    })
    .prefault({}),
  /** Service-level objectives: how often their counts are written and their burn rates evaluated. */
  slo: z
    .object({
      /** How often the counted requests are written to the store, in ms (a crash loses at most this much). */
      flushMs: z.number().int().min(10).default(5000),
      /** How often burn rates are evaluated and alerts sent, in ms. */
      tickMs: z.number().int().min(10).default(30_000),
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
  /** Measured tuning (`…/optimize`, src/optimize/). */
  optimize: z
    .object({
      /** Longest a tuning run may take, in seconds: the default budget of a run, and the most one may ask for. */
      maxSeconds: z.number().gt(0).max(3600).default(60),
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
       * Processes serving one port (`lastmile serve`): each has its own engine sessions and shares
       * the store and the data folder; `auto` is one per CPU core. Capped at 256.
       */
      workers: z.union([z.literal('auto'), z.number().int().min(1).max(256)]).default(1),
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
