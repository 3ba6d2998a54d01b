/** Batch jobs in the SQLite store: one row per job; each committed chunk is one UPDATE. */
import type Database from 'better-sqlite3'
import { insertSql, jobFrom, jobInsert, jobPatch } from './table-rows.js'
import type { JobRecord, JobStatus, JobStore } from './types.js'

const statements = (db: Database.Database) => ({
  insert: db.prepare(insertSql(jobInsert, 'sqlite')),
  one: db.prepare('SELECT * FROM jobs WHERE id = ?'),
  delete: db.prepare('DELETE FROM jobs WHERE id = ?'),
})

/** JobStore on SQLite, over the connection `SqliteStore` opened and migrated. */
export class SqliteJobs implements JobStore {
  /** Prepared once, after the migrations (list and update build theirs from the filter or patch). */
  private readonly sql: ReturnType<typeof statements>

  constructor(private readonly db: Database.Database) {
    this.sql = statements(db)
  }

  async add(j: JobRecord): Promise<void> {
    this.sql.insert.run(...jobInsert.values(j))
  }

  async get(id: string): Promise<JobRecord | undefined> {
    const r = this.sql.one.get(id)
    return r === undefined ? undefined : jobFrom(r)
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
    return this.db
      .prepare(sql)
      .all(...args)
      .map(jobFrom)
  }

  async update(id: string, patch: Partial<JobRecord>): Promise<void> {
    const sets = jobPatch(patch)
    if (sets.length === 0) return
    this.db
      .prepare(`UPDATE jobs SET ${sets.map((c) => `${c.column} = ?`).join(', ')} WHERE id = ?`)
      .run(...sets.map((c) => c.value), id)
  }

  async delete(id: string): Promise<boolean> {
    return this.sql.delete.run(id).changes > 0
  }
}
