/** Batch jobs in the PostgreSQL store: one row per job; each committed chunk is one UPDATE. */
import type pg from 'pg'
import { JOB_COLUMNS, jobFrom } from './table-rows.js'
import type { JobRecord, JobStatus, JobStore } from './types.js'

/** JobStore on PostgreSQL, over the pool `PgStore` opened and migrated. */
export class PgJobs implements JobStore {
  constructor(private readonly db: pg.Pool) {}

  async add(j: JobRecord): Promise<void> {
    await this.db.query(
      `INSERT INTO jobs (id, workspace, pipeline, status, format, input_path, input_bytes, options, rows_total,
         rows_done, chunks_done, error_count, errors, error, attempts, created_by, created_at, started_at, finished_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)`,
      [
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
    )
  }

  async get(id: string): Promise<JobRecord | undefined> {
    const { rows } = await this.db.query('SELECT * FROM jobs WHERE id = $1', [id])
    return rows[0] === undefined ? undefined : jobFrom(rows[0])
  }

  async list(filter: { workspace?: string; status?: JobStatus[] } = {}): Promise<JobRecord[]> {
    // A filter left out matches every row ($1 or $2 NULL).
    const status = filter.status?.length ? filter.status : null
    const r = await this.db.query(
      `SELECT * FROM jobs WHERE ($1::text IS NULL OR workspace = $1) AND ($2::text[] IS NULL OR status = ANY($2))
       ORDER BY created_at DESC, id DESC`,
      [filter.workspace ?? null, status],
    )
    return r.rows.map(jobFrom)
  }

  async update(id: string, patch: Partial<JobRecord>): Promise<void> {
    // Column names come from JOB_COLUMNS only; every value is a parameter.
    const sets: string[] = []
    const args: unknown[] = []
    for (const [k, v] of Object.entries(patch)) {
      const c = JOB_COLUMNS[k]
      if (!c || v === undefined) continue
      args.push(c.json ? JSON.stringify(v) : v)
      sets.push(`${c.column} = $${args.length}`)
    }
    if (sets.length === 0) return
    args.push(id)
    await this.db.query(`UPDATE jobs SET ${sets.join(', ')} WHERE id = $${args.length}`, args)
  }

  async delete(id: string): Promise<boolean> {
    return (await this.db.query('DELETE FROM jobs WHERE id = $1', [id])).rowCount !== 0
  }
}
