/** Measured tuning runs in the SQLite store: each run's request, then its report. */
import type Database from 'better-sqlite3'
import { insertSql, optimizationFrom, optimizationInsert } from './table-rows.js'
import type { OptimizationRecord, OptimizationStore } from './types.js'

const statements = (db: Database.Database) => ({
  insert: db.prepare(insertSql(optimizationInsert, 'sqlite')),
  finish: db.prepare('UPDATE optimizations SET status = ?, report = ?, error = ?, finished_at = ? WHERE id = ?'),
  one: db.prepare('SELECT * FROM optimizations WHERE id = ?'),
  list: db.prepare(
    'SELECT * FROM optimizations WHERE workspace = ? AND pipeline = ? ORDER BY created_at DESC, id DESC LIMIT ?',
  ),
  prune: db.prepare(
    `DELETE FROM optimizations WHERE workspace = ? AND pipeline = ? AND status != 'running' AND id NOT IN
       (SELECT id FROM optimizations WHERE workspace = ? AND pipeline = ? ORDER BY created_at DESC, id DESC LIMIT ?)`,
  ),
})

/** OptimizationStore on SQLite, over the connection `SqliteStore` opened and migrated. */
export class SqliteOptimizations implements OptimizationStore {
  /** Prepared once, after the migrations. */
  private readonly sql: ReturnType<typeof statements>

  constructor(db: Database.Database) {
    this.sql = statements(db)
  }

  async add(r: OptimizationRecord): Promise<void> {
    this.sql.insert.run(...optimizationInsert.values(r))
  }

  async finish(id: string, end: Pick<OptimizationRecord, 'status' | 'report' | 'error' | 'finishedAt'>): Promise<void> {
    this.sql.finish.run(
      end.status,
      end.report === null ? null : JSON.stringify(end.report),
      end.error,
      end.finishedAt,
      id,
    )
  }

  async get(id: string): Promise<OptimizationRecord | undefined> {
    const r = this.sql.one.get(id)
    return r === undefined ? undefined : optimizationFrom(r)
  }

  async list(workspace: string, pipeline: string, limit: number): Promise<OptimizationRecord[]> {
    return this.sql.list.all(workspace, pipeline, limit).map(optimizationFrom)
  }

  async prune(workspace: string, pipeline: string, keep: number): Promise<void> {
    this.sql.prune.run(workspace, pipeline, workspace, pipeline, keep)
  }
}
