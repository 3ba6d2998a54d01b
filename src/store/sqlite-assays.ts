/** Assays and their window results in the SQLite store; the baseline's values are a float64 BLOB. */
import type Database from 'better-sqlite3'
import { assayResultFrom, assayFrom as assayRows } from './table-rows.js'
import type { AssayRecord, AssayResultRecord, AssayStore } from './types.js'

const assayFrom = assayRows.sqlite

const statements = (db: Database.Database) => ({
  insert: db.prepare(
    'INSERT INTO assays (workspace, pipeline, name, config, baseline, active, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
  ),
  all: db.prepare('SELECT * FROM assays ORDER BY id'),
  ofWorkspace: db.prepare('SELECT * FROM assays WHERE workspace = ? ORDER BY id'),
  one: db.prepare('SELECT * FROM assays WHERE workspace = ? AND id = ?'),
  delete: db.prepare('DELETE FROM assays WHERE workspace = ? AND id = ?'),
  putResult: db.prepare(
    `INSERT INTO assay_results (assay_id, window_start, window_end, score, status, result, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (assay_id, window_start, window_end) DO UPDATE SET score = excluded.score, status = excluded.status, result = excluded.result, created_at = excluded.created_at`,
  ),
  results: db.prepare(
    'SELECT * FROM assay_results WHERE assay_id = ? AND window_start >= ? AND window_end <= ? ORDER BY window_start',
  ),
})

/** AssayStore on SQLite, over the connection `SqliteStore` opened and migrated. */
export class SqliteAssays implements AssayStore {
  /** Prepared once, after the migrations. */
  private readonly sql: ReturnType<typeof statements>

  constructor(db: Database.Database) {
    this.sql = statements(db)
  }

  async add(a: Omit<AssayRecord, 'id' | 'createdAt'>): Promise<AssayRecord> {
    const createdAt = new Date().toISOString()
    const r = this.sql.insert.run(
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

  async list(workspace?: string): Promise<AssayRecord[]> {
    const rows = workspace === undefined ? this.sql.all.all() : this.sql.ofWorkspace.all(workspace)
    return rows.map(assayFrom)
  }

  async get(workspace: string, id: number): Promise<AssayRecord | undefined> {
    const r = this.sql.one.get(workspace, id)
    return r === undefined ? undefined : assayFrom(r)
  }

  async delete(workspace: string, id: number): Promise<boolean> {
    return this.sql.delete.run(workspace, id).changes > 0
  }

  async putResult(r: AssayResultRecord): Promise<void> {
    this.sql.putResult.run(
      r.assayId,
      r.windowStart,
      r.windowEnd,
      r.score,
      r.status,
      JSON.stringify(r.result),
      r.createdAt,
    )
  }

  async results(
    assayId: number,
    start = Number.MIN_SAFE_INTEGER,
    end = Number.MAX_SAFE_INTEGER,
  ): Promise<AssayResultRecord[]> {
    return this.sql.results.all(assayId, start, end).map(assayResultFrom)
  }
}
