/** Assays and their window results in the PostgreSQL store; the baseline's values are float64 bytes (bytea). */
import type pg from 'pg'
import { assayResultFrom, assayFrom as assayRows } from './table-rows.js'
import type { AssayRecord, AssayResultRecord, AssayStore } from './types.js'

const assayFrom = assayRows.pg

/** AssayStore on PostgreSQL, over the pool `PgStore` opened and migrated. */
export class PgAssays implements AssayStore {
  constructor(private readonly db: pg.Pool) {}

  async add(a: Omit<AssayRecord, 'id' | 'createdAt'>): Promise<AssayRecord> {
    const createdAt = new Date().toISOString()
    const { rows } = await this.db.query(
      `INSERT INTO assays (workspace, pipeline, name, config, baseline, active, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *`,
      [
        a.workspace,
        a.pipeline,
        a.name,
        JSON.stringify(a.config),
        Buffer.from(a.baseline.buffer, a.baseline.byteOffset, a.baseline.byteLength),
        a.active,
        createdAt,
      ],
    )
    return { ...a, id: assayFrom(rows[0]).id, createdAt }
  }

  async list(workspace?: string): Promise<AssayRecord[]> {
    const r =
      workspace === undefined
        ? await this.db.query('SELECT * FROM assays ORDER BY id')
        : await this.db.query('SELECT * FROM assays WHERE workspace = $1 ORDER BY id', [workspace])
    return r.rows.map(assayFrom)
  }

  async get(workspace: string, id: number): Promise<AssayRecord | undefined> {
    const { rows } = await this.db.query('SELECT * FROM assays WHERE workspace = $1 AND id = $2', [workspace, id])
    return rows[0] === undefined ? undefined : assayFrom(rows[0])
  }

  async delete(workspace: string, id: number): Promise<boolean> {
    return (await this.db.query('DELETE FROM assays WHERE workspace = $1 AND id = $2', [workspace, id])).rowCount !== 0
  }

  async putResult(r: AssayResultRecord): Promise<void> {
    await this.db.query(
      `INSERT INTO assay_results (assay_id, window_start, window_end, score, status, result, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (assay_id, window_start, window_end) DO UPDATE SET score = excluded.score, status = excluded.status,
         result = excluded.result, created_at = excluded.created_at`,
      [r.assayId, r.windowStart, r.windowEnd, r.score, r.status, JSON.stringify(r.result), r.createdAt],
    )
  }

  async results(
    assayId: number,
    start = Number.MIN_SAFE_INTEGER,
    end = Number.MAX_SAFE_INTEGER,
  ): Promise<AssayResultRecord[]> {
    const r = await this.db.query(
      'SELECT * FROM assay_results WHERE assay_id = $1 AND window_start >= $2 AND window_end <= $3 ORDER BY window_start',
      [assayId, start, end],
    )
    return r.rows.map(assayResultFrom)
  }
}
