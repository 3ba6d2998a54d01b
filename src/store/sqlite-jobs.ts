/** Batch jobs in the SQLite store: one row per job; each committed chunk is one UPDATE. */
import type Database from 'better-sqlite3'
import type { JobRecord, JobStatus, JobStore } from './types.js'

export const JOBS_MIGRATION = `CREATE TABLE jobs (
     id TEXT PRIMARY KEY,
     workspace TEXT NOT NULL REFERENCES workspaces(name) ON DELETE CASCADE,
     pipeline TEXT NOT NULL, status TEXT NOT NULL, format TEXT NOT NULL, input_path TEXT NOT NULL,
     input_bytes INTEGER NOT NULL, options TEXT NOT NULL, rows_total INTEGER, rows_done INTEGER NOT NULL,
     chunks_done INTEGER NOT NULL, error_count INTEGER NOT NULL, errors TEXT NOT NULL, error TEXT,
     created_at TEXT NOT NULL, started_at TEXT, finished_at TEXT);
   CREATE INDEX jobs_by_status ON jobs (status);`

/** Attempts (starts the server did not survive) and the creating key, for poison jobs and job roles. */
export const JOBS_ATTEMPTS_MIGRATION = `ALTER TABLE jobs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE jobs ADD COLUMN created_by TEXT;`

/** JobRecord field → column (JSON-encoded where marked). */
const COLUMNS: Record<string, { column: string; json?: boolean }> = {
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

type Row = Record<string, unknown>

function jobFrom(r: Row): JobRecord {
  return {
    id: r.id as string,
    workspace: r.workspace as string,
    pipeline: r.pipeline as string,
    status: r.status as JobStatus,
    format: r.format as string,
    inputPath: r.input_path as string,
    inputBytes: r.input_bytes as number,
    options: JSON.parse(r.options as string),
    rowsTotal: (r.rows_total as number | null) ?? null,
    rowsDone: r.rows_done as number,
    chunksDone: r.chunks_done as number,
    errorCount: r.error_count as number,
    errors: JSON.parse(r.errors as string),
    error: (r.error as string | null) ?? null,
    attempts: r.attempts as number,
    createdBy: (r.created_by as string | null) ?? null,
    createdAt: r.created_at as string,
    startedAt: (r.started_at as string | null) ?? null,
    finishedAt: (r.finished_at as string | null) ?? null,
  }
}

export class SqliteJobs implements JobStore {
  constructor(private readonly db: Database.Database) {}

  async add(j: JobRecord): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO jobs (id, workspace, pipeline, status, format, input_path, input_bytes, options, rows_total,
           rows_done, chunks_done, error_count, errors, error, attempts, created_by, created_at, started_at, finished_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
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
      )
  }

  async get(id: string): Promise<JobRecord | undefined> {
    const r = this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as Row | undefined
    return r ? jobFrom(r) : undefined
  }

  async list(filter: { workspace?: string; status?: JobStatus[] } = {}): Promise<JobRecord[]> {
    const where: string[] = []
    const args: unknown[] = []
    if (filter.workspace !== undefined) {
      where.push('workspace = ?')
      args.push(filter.workspace)
    }
    if (filter.status?.length) {
      where.push(`status IN (${filter.status.map(() => '?').join(', ')})`)
      args.push(...filter.status)
    }
    const sql = `SELECT * FROM jobs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC`
    return (this.db.prepare(sql).all(...args) as Row[]).map(jobFrom)
  }

  async update(id: string, patch: Partial<JobRecord>): Promise<void> {
    const sets: string[] = []
    const args: unknown[] = []
    for (const [k, v] of Object.entries(patch)) {
      const c = COLUMNS[k]
      if (!c || v === undefined) continue
      sets.push(`${c.column} = ?`)
      args.push(c.json ? JSON.stringify(v) : v)
    }
    if (sets.length === 0) return
    this.db.prepare(`UPDATE jobs SET ${sets.join(', ')} WHERE id = ?`).run(...args, id)
  }

  async delete(id: string): Promise<boolean> {
    return this.db.prepare('DELETE FROM jobs WHERE id = ?').run(id).changes > 0
  }
}
