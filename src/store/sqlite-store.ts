/**
 * The embedded store: SQLite through better-sqlite3, in WAL mode with synchronous=FULL (a commit
 * that returned is on disk), schema versions applied in order and recorded in `user_version`.
 * The workspace `default` always exists.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { DIR_MODE, FILE_MODE } from '../durable.js'
import { ConflictError, NotFoundError } from '../errors.js'
import { EXPLANATIONS_ATTEMPTS_MIGRATION, EXPLANATIONS_MIGRATION, SqliteExplanations } from './sqlite-explanations.js'
import { JOBS_ATTEMPTS_MIGRATION, JOBS_MIGRATION, SqliteJobs } from './sqlite-jobs.js'
import type {
  ApiKeyRecord,
  AssayRecord,
  AssayResultRecord,
  DeploymentRecord,
  ExplanationStore,
  JobStore,
  ModelRecord,
  PipelineRecord,
  Store,
  WorkspaceRecord,
} from './types.js'

/** Schema versions; each runs once, in order, in its own transaction. Never edit a released one. */
export const MIGRATIONS: string[] = [
  `CREATE TABLE workspaces (name TEXT PRIMARY KEY, created_at TEXT NOT NULL);
   CREATE TABLE models (
     workspace TEXT NOT NULL REFERENCES workspaces(name) ON DELETE CASCADE,
     name TEXT NOT NULL, version INTEGER NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL,
     inputs TEXT NOT NULL, outputs TEXT NOT NULL, created_at TEXT NOT NULL,
     PRIMARY KEY (workspace, name, version), UNIQUE (workspace, name, sha256));
   CREATE TABLE pipelines (
     workspace TEXT NOT NULL REFERENCES workspaces(name) ON DELETE CASCADE,
     name TEXT NOT NULL, version INTEGER NOT NULL, steps TEXT NOT NULL, created_at TEXT NOT NULL,
     PRIMARY KEY (workspace, name, version));
   CREATE TABLE deployments (
     workspace TEXT NOT NULL REFERENCES workspaces(name) ON DELETE CASCADE,
     pipeline TEXT NOT NULL, version INTEGER NOT NULL, config TEXT NOT NULL, deployed_at TEXT NOT NULL,
     PRIMARY KEY (workspace, pipeline));
   CREATE TABLE api_keys (
     id TEXT PRIMARY KEY, workspace TEXT NOT NULL REFERENCES workspaces(name) ON DELETE CASCADE,
     name TEXT NOT NULL, role TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL);`,
  `CREATE TABLE assays (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     workspace TEXT NOT NULL REFERENCES workspaces(name) ON DELETE CASCADE,
     pipeline TEXT NOT NULL, name TEXT NOT NULL, config TEXT NOT NULL, baseline BLOB NOT NULL,
     active INTEGER NOT NULL, created_at TEXT NOT NULL);
   CREATE TABLE assay_results (
     assay_id INTEGER NOT NULL REFERENCES assays(id) ON DELETE CASCADE,
     window_start INTEGER NOT NULL, window_end INTEGER NOT NULL, score REAL NOT NULL, status TEXT NOT NULL,
     result TEXT NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY (assay_id, window_start, window_end));`,
  JOBS_MIGRATION,
  EXPLANATIONS_MIGRATION,
  `${JOBS_ATTEMPTS_MIGRATION}\n${EXPLANATIONS_ATTEMPTS_MIGRATION}`,
]

type Row = Record<string, unknown>

const now = () => new Date().toISOString()

function modelFrom(r: Row): ModelRecord {
  return {
    workspace: r.workspace as string,
    name: r.name as string,
    version: r.version as number,
    sha256: r.sha256 as string,
    size: r.size as number,
    inputs: JSON.parse(r.inputs as string),
    outputs: JSON.parse(r.outputs as string),
    createdAt: r.created_at as string,
  }
}

function pipelineFrom(r: Row): PipelineRecord {
  return {
    workspace: r.workspace as string,
    name: r.name as string,
    version: r.version as number,
    steps: JSON.parse(r.steps as string),
    createdAt: r.created_at as string,
  }
}

function assayFrom(r: Row): AssayRecord {
  const blob = r.baseline as Buffer
  const copy = new Uint8Array(blob.byteLength)
  copy.set(blob)
  return {
    id: r.id as number,
    workspace: r.workspace as string,
    pipeline: r.pipeline as string,
    name: r.name as string,
    config: JSON.parse(r.config as string),
    baseline: new Float64Array(copy.buffer),
    active: (r.active as number) === 1,
    createdAt: r.created_at as string,
  }
}

function keyFrom(r: Row): ApiKeyRecord {
  return {
    id: r.id as string,
    workspace: r.workspace as string,
    name: r.name as string,
    role: r.role as ApiKeyRecord['role'],
    hash: r.hash as string,
    createdAt: r.created_at as string,
  }
}

export class SqliteStore implements Store {
  readonly jobs: JobStore
  readonly explanations: ExplanationStore

  private constructor(private readonly db: Database.Database) {
    this.jobs = new SqliteJobs(db)
    this.explanations = new SqliteExplanations(db)
  }

  /** Open (creating) `<dataDir>/lastmile.db` and bring its schema up to date; folder 0700, files 0600. */
  static open(dataDir: string): SqliteStore {
    mkdirSync(dataDir, { recursive: true, mode: DIR_MODE })
    chmodSync(dataDir, DIR_MODE)
    const path = join(dataDir, 'lastmile.db')
    // SQLite creates the -wal and -shm files with the database file's mode: create that one private.
    closeSync(openSync(path, 'a', FILE_MODE))
    for (const f of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(f)) chmodSync(f, FILE_MODE)
    const db = new Database(path)
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = FULL')
    db.pragma('foreign_keys = ON')
    db.pragma('busy_timeout = 5000')
    const store = new SqliteStore(db)
    store.migrate()
    db.prepare('INSERT OR IGNORE INTO workspaces (name, created_at) VALUES (?, ?)').run('default', now())
    return store
  }

  /** The schema version (number of migrations applied). */
  schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number
  }

  private migrate(): void {
    for (let v = this.schemaVersion(); v < MIGRATIONS.length; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v] as string)
        this.db.pragma(`user_version = ${v + 1}`)
      })()
    }
  }

  async createWorkspace(name: string): Promise<WorkspaceRecord> {
    const rec = { name, createdAt: now() }
    const r = this.db
      .prepare('INSERT OR IGNORE INTO workspaces (name, created_at) VALUES (?, ?)')
      .run(name, rec.createdAt)
    if (r.changes === 0) throw new ConflictError(`workspace '${name}' already exists`)
    return rec
  }

  async getWorkspace(name: string): Promise<WorkspaceRecord | undefined> {
    const r = this.db.prepare('SELECT name, created_at FROM workspaces WHERE name = ?').get(name) as Row | undefined
    return r ? { name: r.name as string, createdAt: r.created_at as string } : undefined
  }

  async listWorkspaces(): Promise<WorkspaceRecord[]> {
    return (this.db.prepare('SELECT name, created_at FROM workspaces ORDER BY name').all() as Row[]).map((r) => ({
      name: r.name as string,
      createdAt: r.created_at as string,
    }))
  }

  async deleteWorkspace(name: string): Promise<void> {
    if (name === 'default') throw new ConflictError("workspace 'default' always exists; it cannot be deleted")
    const r = this.db.prepare('DELETE FROM workspaces WHERE name = ?').run(name)
    if (r.changes === 0) throw new NotFoundError(`no workspace '${name}'`)
  }

  async addModelVersion(
    m: Omit<ModelRecord, 'version' | 'createdAt'>,
  ): Promise<{ record: ModelRecord; created: boolean }> {
    return this.db.transaction(() => {
      const existing = this.db
        .prepare('SELECT * FROM models WHERE workspace = ? AND name = ? AND sha256 = ?')
        .get(m.workspace, m.name, m.sha256) as Row | undefined
      if (existing) return { record: modelFrom(existing), created: false }
      const max = this.db
        .prepare('SELECT COALESCE(MAX(version), 0) AS v FROM models WHERE workspace = ? AND name = ?')
        .get(m.workspace, m.name) as Row
      const record: ModelRecord = { ...m, version: (max.v as number) + 1, createdAt: now() }
      this.db
        .prepare(
          'INSERT INTO models (workspace, name, version, sha256, size, inputs, outputs, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
        )
        .run(
          m.workspace,
          m.name,
          record.version,
          m.sha256,
          m.size,
          JSON.stringify(m.inputs),
          JSON.stringify(m.outputs),
          record.createdAt,
        )
      return { record, created: true }
    })()
  }

  async listModels(workspace: string): Promise<ModelRecord[]> {
    return (
      this.db.prepare('SELECT * FROM models WHERE workspace = ? ORDER BY name, version').all(workspace) as Row[]
    ).map(modelFrom)
  }

  async getModelVersions(workspace: string, name: string): Promise<ModelRecord[]> {
    return (
      this.db
        .prepare('SELECT * FROM models WHERE workspace = ? AND name = ? ORDER BY version')
        .all(workspace, name) as Row[]
    ).map(modelFrom)
  }

  async getModelVersion(workspace: string, name: string, version: number): Promise<ModelRecord | undefined> {
    const r = this.db
      .prepare('SELECT * FROM models WHERE workspace = ? AND name = ? AND version = ?')
      .get(workspace, name, version) as Row | undefined
    return r ? modelFrom(r) : undefined
  }

  async deleteModel(workspace: string, name: string): Promise<void> {
    this.db.prepare('DELETE FROM models WHERE workspace = ? AND name = ?').run(workspace, name)
  }

  async artifactInUse(sha256: string): Promise<boolean> {
    return this.db.prepare('SELECT 1 FROM models WHERE sha256 = ? LIMIT 1').get(sha256) !== undefined
  }

  async addPipelineVersion(workspace: string, name: string, steps: unknown[]): Promise<PipelineRecord> {
    return this.db.transaction(() => {
      const max = this.db
        .prepare('SELECT COALESCE(MAX(version), 0) AS v FROM pipelines WHERE workspace = ? AND name = ?')
        .get(workspace, name) as Row
      const record: PipelineRecord = { workspace, name, version: (max.v as number) + 1, steps, createdAt: now() }
      this.db
        .prepare('INSERT INTO pipelines (workspace, name, version, steps, created_at) VALUES (?, ?, ?, ?, ?)')
        .run(workspace, name, record.version, JSON.stringify(steps), record.createdAt)
      return record
    })()
  }

  async listPipelines(workspace: string): Promise<PipelineRecord[]> {
    return (
      this.db
        .prepare(
          `SELECT p.* FROM pipelines p JOIN (SELECT name, MAX(version) v FROM pipelines WHERE workspace = ? GROUP BY name) l
           ON p.name = l.name AND p.version = l.v WHERE p.workspace = ? ORDER BY p.name`,
        )
        .all(workspace, workspace) as Row[]
    ).map(pipelineFrom)
  }

  async getPipelineVersions(workspace: string, name: string): Promise<PipelineRecord[]> {
    return (
      this.db
        .prepare('SELECT * FROM pipelines WHERE workspace = ? AND name = ? ORDER BY version')
        .all(workspace, name) as Row[]
    ).map(pipelineFrom)
  }

  async getPipelineVersion(workspace: string, name: string, version: number): Promise<PipelineRecord | undefined> {
    const r = this.db
      .prepare('SELECT * FROM pipelines WHERE workspace = ? AND name = ? AND version = ?')
      .get(workspace, name, version) as Row | undefined
    return r ? pipelineFrom(r) : undefined
  }

  async deletePipeline(workspace: string, name: string): Promise<void> {
    this.db.prepare('DELETE FROM pipelines WHERE workspace = ? AND name = ?').run(workspace, name)
  }

  async putDeployment(d: DeploymentRecord): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO deployments (workspace, pipeline, version, config, deployed_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (workspace, pipeline) DO UPDATE SET version = excluded.version, config = excluded.config, deployed_at = excluded.deployed_at`,
      )
      .run(d.workspace, d.pipeline, d.version, JSON.stringify(d.config), d.deployedAt)
  }

  async removeDeployment(workspace: string, pipeline: string): Promise<void> {
    this.db.prepare('DELETE FROM deployments WHERE workspace = ? AND pipeline = ?').run(workspace, pipeline)
  }

  async listDeployments(workspace?: string): Promise<DeploymentRecord[]> {
    const rows = (
      workspace === undefined
        ? this.db.prepare('SELECT * FROM deployments ORDER BY workspace, pipeline').all()
        : this.db.prepare('SELECT * FROM deployments WHERE workspace = ? ORDER BY pipeline').all(workspace)
    ) as Row[]
    return rows.map((r) => ({
      workspace: r.workspace as string,
      pipeline: r.pipeline as string,
      version: r.version as number,
      config: JSON.parse(r.config as string),
      deployedAt: r.deployed_at as string,
    }))
  }

  async addApiKey(k: ApiKeyRecord): Promise<void> {
    this.db
      .prepare('INSERT INTO api_keys (id, workspace, name, role, hash, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(k.id, k.workspace, k.name, k.role, k.hash, k.createdAt)
  }

  async findApiKey(hash: string): Promise<ApiKeyRecord | undefined> {
    const r = this.db.prepare('SELECT * FROM api_keys WHERE hash = ?').get(hash) as Row | undefined
    return r ? keyFrom(r) : undefined
  }

  async listApiKeys(workspace?: string): Promise<ApiKeyRecord[]> {
    const rows = (
      workspace === undefined
        ? this.db.prepare('SELECT * FROM api_keys ORDER BY workspace, created_at').all()
        : this.db.prepare('SELECT * FROM api_keys WHERE workspace = ? ORDER BY created_at').all(workspace)
    ) as Row[]
    return rows.map(keyFrom)
  }

  async deleteApiKey(id: string): Promise<boolean> {
    return this.db.prepare('DELETE FROM api_keys WHERE id = ?').run(id).changes > 0
  }

  async addAssay(a: Omit<AssayRecord, 'id' | 'createdAt'>): Promise<AssayRecord> {
    const createdAt = now()
    const r = this.db
      .prepare(
        'INSERT INTO assays (workspace, pipeline, name, config, baseline, active, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      )
      .run(
        a.workspace,
        a.pipeline,
        a.name,
        JSON.stringify(a.config),
        Buffer.from(a.baseline.buffer, a.baseline.byteOffset, a.baseline.byteLength),
        a.active ? 1 : 0,
        createdAt,
      )
    return { ...a, id: Number(r.lastInsertRowid), createdAt }
  }

  async listAssays(workspace?: string): Promise<AssayRecord[]> {
    const rows = (
      workspace === undefined
        ? this.db.prepare('SELECT * FROM assays ORDER BY id').all()
        : this.db.prepare('SELECT * FROM assays WHERE workspace = ? ORDER BY id').all(workspace)
    ) as Row[]
    return rows.map(assayFrom)
  }

  async getAssay(workspace: string, id: number): Promise<AssayRecord | undefined> {
    const r = this.db.prepare('SELECT * FROM assays WHERE workspace = ? AND id = ?').get(workspace, id) as
      | Row
      | undefined
    return r ? assayFrom(r) : undefined
  }

  async deleteAssay(workspace: string, id: number): Promise<boolean> {
    return this.db.prepare('DELETE FROM assays WHERE workspace = ? AND id = ?').run(workspace, id).changes > 0
  }

  async putAssayResult(r: AssayResultRecord): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO assay_results (assay_id, window_start, window_end, score, status, result, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (assay_id, window_start, window_end) DO UPDATE SET score = excluded.score, status = excluded.status, result = excluded.result, created_at = excluded.created_at`,
      )
      .run(r.assayId, r.windowStart, r.windowEnd, r.score, r.status, JSON.stringify(r.result), r.createdAt)
  }

  async listAssayResults(
    assayId: number,
    start = Number.MIN_SAFE_INTEGER,
    end = Number.MAX_SAFE_INTEGER,
  ): Promise<AssayResultRecord[]> {
    return (
      this.db
        .prepare(
          'SELECT * FROM assay_results WHERE assay_id = ? AND window_start >= ? AND window_end <= ? ORDER BY window_start',
        )
        .all(assayId, start, end) as Row[]
    ).map((r) => ({
      assayId: r.assay_id as number,
      windowStart: r.window_start as number,
      windowEnd: r.window_end as number,
      score: r.score as number,
      status: r.status as string,
      result: JSON.parse(r.result as string),
      createdAt: r.created_at as string,
    }))
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close()
  }
}
