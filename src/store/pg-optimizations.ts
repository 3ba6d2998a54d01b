/** Measured tuning runs in the PostgreSQL store: each run's request, then its report. */
import type pg from 'pg'
import { insertSql, optimizationFrom, optimizationInsert } from './table-rows.js'
import type { OptimizationRecord, OptimizationStore } from './types.js'

/** OptimizationStore on PostgreSQL, over the pool `PgStore` opened and migrated. */
export class PgOptimizations implements OptimizationStore {
  constructor(private readonly db: pg.Pool) {}

  async add(r: OptimizationRecord): Promise<void> {
    await this.db.query(insertSql(optimizationInsert, 'pg'), optimizationInsert.values(r))
  }

  async finish(id: string, end: Pick<OptimizationRecord, 'status' | 'report' | 'error' | 'finishedAt'>): Promise<void> {
    await this.db.query(
      'UPDATE optimizations SET status = $1, report = $2, error = $3, finished_at = $4 WHERE id = $5',
      [end.status, end.report === null ? null : JSON.stringify(end.report), end.error, end.finishedAt, id],
    )
  }

  async get(id: string): Promise<OptimizationRecord | undefined> {
    const { rows } = await this.db.query('SELECT * FROM optimizations WHERE id = $1', [id])
    return rows[0] === undefined ? undefined : optimizationFrom(rows[0])
  }

  async list(workspace: string, pipeline: string, limit: number): Promise<OptimizationRecord[]> {
    const { rows } = await this.db.query(
      'SELECT * FROM optimizations WHERE workspace = $1 AND pipeline = $2 ORDER BY created_at DESC, id DESC LIMIT $3',
      [workspace, pipeline, limit],
    )
    return rows.map(optimizationFrom)
  }

  async prune(workspace: string, pipeline: string, keep: number): Promise<void> {
    await this.db.query(
      `DELETE FROM optimizations WHERE workspace = $1 AND pipeline = $2 AND status <> 'running' AND id NOT IN
         (SELECT id FROM optimizations WHERE workspace = $1 AND pipeline = $2 ORDER BY created_at DESC, id DESC LIMIT $3)`,
      [workspace, pipeline, keep],
    )
  }
}
