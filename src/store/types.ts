/**
 * The metadata store's interface, one small store per aggregate (workspaces, model versions,
 * pipeline versions, deployments, API keys, assays with their results, batch jobs, explanation
 * jobs, objectives, the audit trail, leases, the change feed, shared model bytes) composed by
 * {@link Store}, and the records they keep. Backend-neutral: the embedded implementation is SQLite
 * (`sqlite-store.ts` and a `sqlite-<aggregate>.ts` file per store); the PostgreSQL one, for servers
 * on several hosts sharing state, implements the same interfaces (`pg-store.ts` and a
 * `pg-<aggregate>.ts` file per store), which is why every method is async and no backend type
 * appears here. Both parse what they read with the schemas of `schemas.ts` (`table-rows.ts`).
 */
import type { z } from 'zod'
import type {
  EXPLANATION_STATUSES,
  JOB_STATUSES,
  jobOptionsSchema,
  jobRowErrorSchema,
  OPTIMIZATION_STATUSES,
  ROLES,
  tensorMetaSchema,
} from './schemas.js'

/** One input or output of a model version. */
type TensorMeta = z.infer<typeof tensorMetaSchema>

/** A workspace: the namespace of models, pipelines, deployments, keys, assays and jobs. */
export interface WorkspaceRecord {
  name: string
  createdAt: string
}

/** A model version: its bytes' sha256 (the artifact) and the tensors it takes and gives. */
export interface ModelRecord {
  workspace: string
  name: string
  version: number
  sha256: string
  size: number
  inputs: TensorMeta[]
  outputs: TensorMeta[]
  createdAt: string
}

/** A pipeline version: its steps, with model references pinned to versions. */
export interface PipelineRecord {
  workspace: string
  name: string
  version: number
  /** The steps as given (validated JSON). */
  steps: unknown[]
  /** The version's service-level objectives as given (validated JSON), or null. */
  slo: unknown
  createdAt: string
}

/** A deployed pipeline version and the settings it was deployed with. */
export interface DeploymentRecord {
  workspace: string
  pipeline: string
  /** Pipeline version deployed. */
  version: number
  /** Engine and batching settings of the deploy request. */
  config: Record<string, unknown>
  deployedAt: string
}

/** What an API key may do in its workspace. */
export type Role = (typeof ROLES)[number]

/** An API key: its owner, role and the sha256 of the key (never the key). */
export interface ApiKeyRecord {
  id: string
  workspace: string
  name: string
  role: Role
  /** sha256 of the secret, hex. */
  hash: string
  createdAt: string
}

/** A drift assay: its definition and the baseline's values. */
export interface AssayRecord {
  id: number
  workspace: string
  pipeline: string
  name: string
  /** The definition as given (validated JSON), baseline values excluded. */
  config: Record<string, unknown>
  /** The baseline's values, frozen at creation. */
  baseline: Float64Array
  active: boolean
  createdAt: string
}

/** One scored window of an assay. */
export interface AssayResultRecord {
  assayId: number
  windowStart: number
  windowEnd: number
  score: number
  status: string
  result: Record<string, unknown>
  createdAt: string
}

/** A batch job's state. */
export type JobStatus = (typeof JOB_STATUSES)[number]

/** A row a job could not score. */
export type JobRowError = z.infer<typeof jobRowErrorSchema>

/** The options a batch job was created with. */
export type JobOptions = z.infer<typeof jobOptionsSchema>

/** A batch scoring job: its input, options, progress (committed chunks) and outcome. */
export interface JobRecord {
  id: string
  workspace: string
  pipeline: string
  status: JobStatus
  /** Input file format. */
  format: string
  /** The input file (in the job's folder for uploads; where it lies for in-process jobs). */
  inputPath: string
  inputBytes: number
  /** Options the job was created with (features, max_error_share, chunk and batch rows). */
  options: JobOptions
  /** Known up front for Parquet and Arrow files; set at the end otherwise. */
  rowsTotal: number | null
  /** Rows in committed chunks: a resumed job continues from here. */
  rowsDone: number
  chunksDone: number
  errorCount: number
  /** The first row errors (capped), in row order. */
  errors: JobRowError[]
  /** Why the job failed. */
  error: string | null
  /**
   * Starts the server did not survive: counted (and committed) before each start or resume, given
   * back when a graceful shutdown stops the job. At the limit the job is failed, not resumed.
   */
  attempts: number
  /** Id of the API key that created the job (null when auth is off or in-process): it may cancel or delete it. */
  createdBy: string | null
  createdAt: string
  startedAt: string | null
  finishedAt: string | null
}

/** Jobs, and the commit point of each chunk (one UPDATE: the chunk counts, or it does not). */
export interface JobStore {
  add(job: JobRecord): Promise<void>
  get(id: string): Promise<JobRecord | undefined>
  /** Newest first. */
  list(filter?: { workspace?: string; status?: JobStatus[] }): Promise<JobRecord[]>
  update(id: string, patch: Partial<Omit<JobRecord, 'id' | 'workspace' | 'pipeline' | 'createdAt'>>): Promise<void>
  delete(id: string): Promise<boolean>
}

/** An explanation job: its request, and once finished its report and summary table. */
export interface ExplanationRecord {
  id: string
  workspace: string
  pipeline: string
  method: string
  /** The validated request, run again from the start if a restart interrupts it. */
  request: unknown
  status: (typeof EXPLANATION_STATUSES)[number]
  error: string | null
  /** Starts the server did not survive, as {@link JobRecord.attempts}. */
  attempts: number
  /** The JSON report. */
  report: unknown | null
  /** The summary table as Arrow IPC (stream) bytes. */
  summary: Uint8Array | null
  createdAt: string
  finishedAt: string | null
}

/** Explanation jobs: kept so a restart runs an interrupted one again, and to answer finished ones. */
export interface ExplanationStore {
  add(record: ExplanationRecord): Promise<void>
  finish(
    id: string,
    end: Pick<ExplanationRecord, 'status' | 'error' | 'report' | 'summary' | 'finishedAt'>,
  ): Promise<void>
  get(id: string): Promise<ExplanationRecord | undefined>
  /** Add `delta` to a running job's attempts (+1 before a start, -1 after a graceful stop). */
  addAttempts(id: string, delta: number): Promise<void>
  /** Jobs a restart interrupted, oldest first. */
  running(): Promise<ExplanationRecord[]>
  /** Delete finished jobs beyond the newest `keep`. */
  prune(keep: number): Promise<void>
}

/** A measured tuning run of a deployed pipeline (src/optimize/): its request, then its report. */
export interface OptimizationRecord {
  id: string
  workspace: string
  pipeline: string
  /** The pipeline version measured. */
  version: number
  status: (typeof OPTIMIZATION_STATUSES)[number]
  /** The validated request (JSON). */
  request: unknown
  /** The report once it has succeeded (JSON). */
  report: unknown | null
  error: string | null
  createdAt: string
  finishedAt: string | null
}

/** Measured tuning runs, newest first per pipeline. */
export interface OptimizationStore {
  add(record: OptimizationRecord): Promise<void>
  finish(id: string, end: Pick<OptimizationRecord, 'status' | 'report' | 'error' | 'finishedAt'>): Promise<void>
  get(id: string): Promise<OptimizationRecord | undefined>
  /** A pipeline's runs, newest first, at most `limit`. */
  list(workspace: string, pipeline: string, limit: number): Promise<OptimizationRecord[]>
  /** Delete a pipeline's finished runs beyond its newest `keep`. */
  prune(workspace: string, pipeline: string, keep: number): Promise<void>
}

/** Workspaces; `default` always exists. */
export interface WorkspaceStore {
  /** Throws ConflictError when the name is taken. */
  create(name: string): Promise<WorkspaceRecord>
  get(name: string): Promise<WorkspaceRecord | undefined>
  /** By name. */
  list(): Promise<WorkspaceRecord[]>
  /** Deletes the workspace and everything in it (callers check deployments first); NotFoundError when absent. */
  delete(name: string): Promise<void>
}

/** Model versions: metadata only, the bytes are in the artifact folder under their sha256. */
export interface ModelStore {
  /**
   * Record a model version; the same bytes (sha256) under the same name return the existing
   * version with `created: false`.
   */
  add(model: Omit<ModelRecord, 'version' | 'createdAt'>): Promise<{ record: ModelRecord; created: boolean }>
  /** Every version of every model in the workspace, by name then version. */
  list(workspace: string): Promise<ModelRecord[]>
  /** Every version of a model, oldest first. */
  versions(workspace: string, name: string): Promise<ModelRecord[]>
  get(workspace: string, name: string, version: number): Promise<ModelRecord | undefined>
  /** Deletes every version of the model. */
  delete(workspace: string, name: string): Promise<void>
  /** Whether any model (any workspace) still references these bytes. */
  artifactInUse(sha256: string): Promise<boolean>
}

/** Pipeline versions, numbered from 1 per pipeline. */
export interface PipelineStore {
  add(workspace: string, name: string, steps: unknown[], slo?: unknown): Promise<PipelineRecord>
  /** Latest version of each pipeline in the workspace, by name. */
  latest(workspace: string): Promise<PipelineRecord[]>
  /** Every version of a pipeline, oldest first. */
  versions(workspace: string, name: string): Promise<PipelineRecord[]>
  get(workspace: string, name: string, version: number): Promise<PipelineRecord | undefined>
  /** Deletes every version of the pipeline. */
  delete(workspace: string, name: string): Promise<void>
}

/** What is deployed, so a restart deploys it again: one record per deployed pipeline. */
export interface DeploymentStore {
  /** Record a deployment, replacing the pipeline's previous one. */
  put(d: DeploymentRecord): Promise<void>
  remove(workspace: string, pipeline: string): Promise<void>
  /** One workspace's (by pipeline), or every workspace's (by workspace, then pipeline). */
  list(workspace?: string): Promise<DeploymentRecord[]>
}

/** API keys, found by the sha256 of the key presented. */
export interface ApiKeyStore {
  add(key: ApiKeyRecord): Promise<void>
  find(hash: string): Promise<ApiKeyRecord | undefined>
  /** One workspace's, or every workspace's, oldest first. */
  list(workspace?: string): Promise<ApiKeyRecord[]>
  /** Whether a key was deleted. */
  delete(id: string): Promise<boolean>
}

/** One change made through the API: when, by which key, what, and the status it was answered with. */
export interface AuditRecord {
  id: number
  time: string
  /** The workspace it changed; undefined for server-wide changes (creating a workspace). */
  workspace?: string
  /** The key that made it; undefined when keys are off. */
  key?: { id: string; name: string; role: Role }
  method: string
  path: string
  status: number
}

/** The audit trail, newest first; the oldest rows beyond `maxRows` are dropped as new ones come. */
export interface AuditStore {
  append(row: Omit<AuditRecord, 'id'>, maxRows: number): Promise<void>
  /** One workspace's rows (or every row), newest first: at most `limit`, older than id `before` when given. */
  list(workspace: string | undefined, limit: number, before?: number): Promise<AuditRecord[]>
}

/** Assays and their window results (deleted with their assay). */
export interface AssayStore {
  add(a: Omit<AssayRecord, 'id' | 'createdAt'>): Promise<AssayRecord>
  /** One workspace's, or every workspace's, by id. */
  list(workspace?: string): Promise<AssayRecord[]>
  get(workspace: string, id: number): Promise<AssayRecord | undefined>
  /** Whether an assay was deleted (with its results). */
  delete(workspace: string, id: number): Promise<boolean>
  /** Store a window's result (replacing one for the same window). */
  putResult(r: AssayResultRecord): Promise<void>
  /** Results of windows inside [start, end] (ms), by window start. */
  results(assayId: number, start?: number, end?: number): Promise<AssayResultRecord[]>
}

/** One series of an objective: the pipeline as a whole (arm '') or one split arm (a model reference). */
export interface SloSeriesKey {
  workspace: string
  pipeline: string
  objective: string
  arm: string
}

/** Good and total events of a series in one minute (`minute`: its start, ms since the epoch). */
export interface SloBucket extends SloSeriesKey {
  minute: number
  good: number
  total: number
}

/** A burn-rate alert that is firing (one per series and severity), kept so a restart neither forgets nor repeats it. */
export interface SloAlertRecord extends SloSeriesKey {
  severity: string
  /** When it started firing (ms since the epoch). */
  since: number
  /** The rule and numbers that fired it, and where it was sent (JSON object). */
  detail: Record<string, unknown>
}

/**
 * Objective accounting in fixed one-minute buckets: a window costs one indexed range read, and
 * 30 days of a series are at most 43,200 rows. With `floor`, a bucket is a time slice: it counts
 * as an event when its total reaches the floor, and as a good one when its good count does too.
 */
export interface SloStore {
  /** Add each bucket's counts to what the store holds for its minute. */
  add(buckets: readonly SloBucket[]): Promise<void>
  /** Summed over the minutes in [from, to). */
  tally(key: SloSeriesKey, from: number, to: number, floor?: number): Promise<{ good: number; total: number }>
  /** Summed per step of `stepMs` from `from` (the step's start), for the minutes in [from, to). */
  history(
    key: SloSeriesKey,
    from: number,
    to: number,
    stepMs: number,
    floor?: number,
  ): Promise<Array<{ start: number; good: number; total: number }>>
  /** The arms with buckets for an objective of a pipeline, '' (the whole pipeline) first. */
  arms(workspace: string, pipeline: string, objective: string): Promise<string[]>
  /** Remove a pipeline's buckets of minutes before `before`; how many went. */
  prune(workspace: string, pipeline: string, before: number): Promise<number>
  /** Every firing alert, or a pipeline's. */
  alerts(workspace?: string, pipeline?: string): Promise<SloAlertRecord[]>
  putAlert(a: SloAlertRecord): Promise<void>
  clearAlert(key: SloSeriesKey, severity: string): Promise<void>
  /** Remove a pipeline's buckets and alerts (it was deleted). */
  forget(workspace: string, pipeline: string): Promise<void>
}

/** A pipeline's outcome settings (ground truth): the validated JSON of `outcomeSpecSchema` (src/outcomes/spec.ts). */
export interface OutcomeSpecRecord {
  workspace: string
  pipeline: string
  config: Record<string, unknown>
  updatedAt: string
}

/**
 * One actual outcome a client sent: the key it joins the inference log on (see `requestKey` and
 * `columnKey` in src/outcomes/spec.ts), the outcome (a class label, a class index or a value),
 * and when it was received (ms since the epoch).
 */
export interface OutcomeRecord {
  key: string
  value: number | string
  time: number
}

/** Ground truth per pipeline: its outcome settings, and one outcome per key (the latest received wins). */
export interface OutcomeStore {
  /** Set a pipeline's outcome settings (replacing them). */
  putSpec(workspace: string, pipeline: string, config: Record<string, unknown>): Promise<OutcomeSpecRecord>
  getSpec(workspace: string, pipeline: string): Promise<OutcomeSpecRecord | undefined>
  /** Whether there were settings to delete (the outcomes stay). */
  deleteSpec(workspace: string, pipeline: string): Promise<boolean>
  /**
   * Record outcomes in one transaction, each replacing what its key held (a key twice in `outcomes`:
   * the later one); `updated` counts those that replaced one.
   */
  put(workspace: string, pipeline: string, outcomes: readonly OutcomeRecord[]): Promise<{ updated: number }>
  /** The outcomes held for `keys` (callers ask a few hundred at a time), in no particular order. */
  get(workspace: string, pipeline: string, keys: readonly string[]): Promise<OutcomeRecord[]>
  /** Remove a pipeline's settings and outcomes (it was deleted). */
  forget(workspace: string, pipeline: string): Promise<void>
}

/** A pipeline's promotion rule (champion vs challenger): the rule as given, its defaults filled in. */
export interface PromotionRuleRecord {
  workspace: string
  pipeline: string
  /** The validated rule (JSON object; `promotionRuleSchema` parses it where it is used). */
  config: Record<string, unknown>
  updatedAt: string
}

/** A decision a promotion rule took (a promotion, a rollback, or one it only recommended), with its evidence. */
export interface DecisionRecord {
  id: number
  workspace: string
  pipeline: string
  time: string
  /** What was decided: `promote` or `rollback`. */
  action: string
  /** The evidence and what came of it (JSON object). */
  detail: Record<string, unknown>
}

/** Promotion rules, one per pipeline, and the decisions they took (ids only grow). */
export interface PromotionStore {
  /** Set a pipeline's rule, replacing the one it had. */
  putRule(r: PromotionRuleRecord): Promise<void>
  getRule(workspace: string, pipeline: string): Promise<PromotionRuleRecord | undefined>
  /** One workspace's rules, or every workspace's, by workspace then pipeline. */
  rules(workspace?: string): Promise<PromotionRuleRecord[]>
  /** Whether a rule was deleted (its decisions stay). */
  deleteRule(workspace: string, pipeline: string): Promise<boolean>
  addDecision(d: Omit<DecisionRecord, 'id'>): Promise<DecisionRecord>
  /** A pipeline's decisions, newest first: at most `limit`, with ids below `before` when given. */
  decisions(workspace: string, pipeline: string, limit: number, before?: number): Promise<DecisionRecord[]>
  /** Drop a deleted pipeline's rule and decisions, so one created again under its name starts afresh. */
  forget(workspace: string, pipeline: string): Promise<void>
}

/** Leases on singleton work (the job runner, the assay scheduler, log retention) among processes sharing a store. */
export interface LeaseStore {
  /** Take or renew `name` for `holder` until now + ttlMs; true when `holder` holds it afterwards (false: another holder's unexpired lease). Expiry is judged by the database's clock in PostgreSQL. */
  acquire(name: string, holder: string, ttlMs: number): Promise<boolean>
  /** Give it up, only if `holder` holds it. */
  release(name: string, holder: string): Promise<void>
  /** Who holds it and until when (ms since the epoch), or undefined when nobody holds an unexpired lease. */
  get(name: string): Promise<{ holder: string; expiresAt: number } | undefined>
}

/** Changes to what every process must see (deployments, keys) announced to every process sharing the store. */
export interface ChangeFeed {
  /** Announce that `topic` changed (e.g. 'deployments', 'keys'). */
  publish(topic: string): Promise<void>
  /** Call `listener(topic)` within a second after any process (this one included) publishes; returns the unsubscribe function. */
  subscribe(listener: (topic: string) => void): () => void
}

/** Bytes shared by every host, by sha256: model artifacts, and the files of {@link SharedFileStore}. */
export interface BlobStore {
  put(sha256: string, bytes: Uint8Array): Promise<void>
  get(sha256: string): Promise<Uint8Array | undefined>
  /** Store the file at `path` under `sha256` (the caller's hash of it), read a part at a time: it may not fit in memory. */
  putFile(sha256: string, path: string): Promise<void>
  /** Write the blob to `path` a part at a time (unchecked: the caller hashes it); false when there is no such blob. */
  getFile(sha256: string, path: string): Promise<boolean>
  delete(sha256: string): Promise<void>
}

/** A file every host can read: its name in its scope, and the blob that holds its bytes. */
export interface SharedFile {
  name: string
  sha256: string
  size: number
}

/**
 * Files every host sees, by scope (`job/<id>`, `log/<workspace>/<pipeline>`) and name, their bytes
 * in the {@link BlobStore}: batch jobs' inputs and committed chunks, the inference log's rolled
 * segments. PostgreSQL only: a server alone keeps them in its data folder.
 */
export interface SharedFileStore {
  /** Record `name` in `scope` as the blob `sha256` (put first), replacing what the name held. */
  put(scope: string, file: SharedFile): Promise<void>
  /** The files of a scope, by name. */
  list(scope: string): Promise<SharedFile[]>
  /** Forget the named files of a scope (every file when `names` is absent); the blobs no file names any longer are deleted. */
  delete(scope: string, names?: readonly string[]): Promise<void>
  /**
   * The next number of a sequence every host draws from, at least `atLeast` (the sequence is raised
   * to it first): unique, and growing in the order numbers are drawn. `log_segments` numbers the
   * inference log's shared segments, from 2^20.
   */
  nextSequence(name: 'log_segments', atLeast: number): Promise<number>
}

/** The metadata store: one store per aggregate, opened and closed together. */
export interface Store {
  readonly workspaces: WorkspaceStore
  readonly models: ModelStore
  readonly pipelines: PipelineStore
  readonly deployments: DeploymentStore
  readonly apiKeys: ApiKeyStore
  readonly assays: AssayStore
  readonly jobs: JobStore
  readonly explanations: ExplanationStore
  readonly optimizations: OptimizationStore
  readonly slo: SloStore
  readonly promotion: PromotionStore
  readonly outcomes: OutcomeStore
  readonly audit: AuditStore
  readonly leases: LeaseStore
  readonly changes: ChangeFeed
  /** Model bytes every host reads (PostgreSQL only; SQLite's artifacts/ folder is all there is). */
  readonly blobs?: BlobStore
  /** Files every host reads (PostgreSQL only, beside `blobs`). */
  readonly files?: SharedFileStore

  /** Close the connections and stop the change feed's timers. */
  close(): Promise<void>
}
