/**
 * The metadata store's interface: workspaces, model versions, pipeline versions, deployments and
 * API keys. The embedded implementation is SQLite (`sqlite-store.ts`); a PostgreSQL one for
 * replicas sharing state implements the same interface. Methods are async for that reason.
 */

export interface TensorMeta {
  name: string
  /** OIP v2 datatype (FP32, INT64, ...). */
  datatype: string
  /** -1 for symbolic dims. */
  shape: number[]
}

export interface WorkspaceRecord {
  name: string
  createdAt: string
}

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

export interface PipelineRecord {
  workspace: string
  name: string
  version: number
  /** The steps as given (validated JSON). */
  steps: unknown[]
  createdAt: string
}

export interface DeploymentRecord {
  workspace: string
  pipeline: string
  /** Pipeline version deployed. */
  version: number
  /** Engine and batching settings of the deploy request. */
  config: Record<string, unknown>
  deployedAt: string
}

export type Role = 'admin' | 'deployer' | 'viewer'

export interface ApiKeyRecord {
  id: string
  workspace: string
  name: string
  role: Role
  /** sha256 of the secret, hex. */
  hash: string
  createdAt: string
}

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

export interface AssayResultRecord {
  assayId: number
  windowStart: number
  windowEnd: number
  score: number
  status: string
  result: Record<string, unknown>
  createdAt: string
}

export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled'

export interface JobRowError {
  /** Input row number, from 0. */
  row: number
  message: string
}

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
  /** Options the job was created with (features, max_error_share, ...). */
  options: Record<string, unknown>
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
  status: 'running' | 'succeeded' | 'failed'
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

export interface Store {
  createWorkspace(name: string): Promise<WorkspaceRecord>
  getWorkspace(name: string): Promise<WorkspaceRecord | undefined>
  listWorkspaces(): Promise<WorkspaceRecord[]>
  /** Deletes the workspace and everything in it (callers check deployments first). */
  deleteWorkspace(name: string): Promise<void>

  /**
   * Record a model version; the same bytes (sha256) under the same name return the existing
   * version with `created: false`.
   */
  addModelVersion(model: Omit<ModelRecord, 'version' | 'createdAt'>): Promise<{ record: ModelRecord; created: boolean }>
  listModels(workspace: string): Promise<ModelRecord[]>
  /** Every version of a model, oldest first. */
  getModelVersions(workspace: string, name: string): Promise<ModelRecord[]>
  getModelVersion(workspace: string, name: string, version: number): Promise<ModelRecord | undefined>
  deleteModel(workspace: string, name: string): Promise<void>
  /** Whether any model (any workspace) still references these bytes. */
  artifactInUse(sha256: string): Promise<boolean>

  addPipelineVersion(workspace: string, name: string, steps: unknown[]): Promise<PipelineRecord>
  /** Latest version of each pipeline in the workspace. */
  listPipelines(workspace: string): Promise<PipelineRecord[]>
  getPipelineVersions(workspace: string, name: string): Promise<PipelineRecord[]>
  getPipelineVersion(workspace: string, name: string, version: number): Promise<PipelineRecord | undefined>
  deletePipeline(workspace: string, name: string): Promise<void>

  putDeployment(d: DeploymentRecord): Promise<void>
  removeDeployment(workspace: string, pipeline: string): Promise<void>
  listDeployments(workspace?: string): Promise<DeploymentRecord[]>

  addApiKey(key: ApiKeyRecord): Promise<void>
  findApiKey(hash: string): Promise<ApiKeyRecord | undefined>
  listApiKeys(workspace?: string): Promise<ApiKeyRecord[]>
  deleteApiKey(id: string): Promise<boolean>

  addAssay(a: Omit<AssayRecord, 'id' | 'createdAt'>): Promise<AssayRecord>
  listAssays(workspace?: string): Promise<AssayRecord[]>
  getAssay(workspace: string, id: number): Promise<AssayRecord | undefined>
  deleteAssay(workspace: string, id: number): Promise<boolean>
  /** Store a window's result (replacing one for the same window). */
  putAssayResult(r: AssayResultRecord): Promise<void>
  listAssayResults(assayId: number, start?: number, end?: number): Promise<AssayResultRecord[]>

  readonly jobs: JobStore
  readonly explanations: ExplanationStore

  close(): Promise<void>
}
