/** Batch jobs in the PostgreSQL store: one row per job; each committed chunk is one UPDATE. */
import type pg from 'pg'
import { insertSql, jobFrom, jobInsert, jobPatch } from './table-rows.js'
import type { JobRecord, JobStatus, JobStore } from './types.js'

/** JobStore on PostgreSQL, over the pool `PgStore` opened and migrated. */
export class PgJobs implements JobStore {
  constructor(private readonly db: pg.Pool) {}

  async add(j: JobRecord): Promise<void> {
    await this.db.query(insertSql(jobInsert, 'pg'), jobInsert.values(j))
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
    const sets = jobPatch(patch)
    if (sets.length === 0) return
    await this.db.query(
      `UPDATE jobs SET ${sets.map((c, i) => `${c.column} = $${i + 1}`).join(', ')} WHERE id = $${sets.length + 1}`,
      [...sets.map((c) => c.value), id],
    )
  }

  async delete(id: string): Promise<boolean> {
    return (await this.db.query('DELETE FROM jobs WHERE id = $1', [id])).rowCount !== 0
  }
}
