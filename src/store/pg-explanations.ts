/** Explanation jobs in the PostgreSQL store: the request (to run again after a restart) and the finished report. */
import type pg from 'pg'
import { bytesParam, explanationFrom, explanationInsert, insertSql } from './table-rows.js'
import type { ExplanationRecord, ExplanationStore } from './types.js'

/** ExplanationStore on PostgreSQL, over the pool `PgStore` opened and migrated. */
export class PgExplanations implements ExplanationStore {
  constructor(private readonly db: pg.Pool) {}

  async add(r: ExplanationRecord): Promise<void> {
    await this.db.query(insertSql(explanationInsert, 'pg'), explanationInsert.values(r))
  }

  async finish(
    id: string,
    end: Pick<ExplanationRecord, 'status' | 'error' | 'report' | 'summary' | 'finishedAt'>,
  ): Promise<void> {
    await this.db.query(
      'UPDATE explanations SET status = $1, error = $2, report = $3, summary = $4, finished_at = $5 WHERE id = $6',
      [
        end.status,
        end.error,
        end.report === null ? null : JSON.stringify(end.report),
        bytesParam(end.summary),
        end.finishedAt,
        id,
      ],
    )
  }

  async get(id: string): Promise<ExplanationRecord | undefined> {
    const { rows } = await this.db.query('SELECT * FROM explanations WHERE id = $1', [id])
    return rows[0] === undefined ? undefined : explanationFrom(rows[0])
  }

  async addAttempts(id: string, delta: number): Promise<void> {
    await this.db.query(
      "UPDATE explanations SET attempts = GREATEST(0, attempts + $1) WHERE id = $2 AND status = 'running'",
      [delta, id],
    )
  }

  async running(): Promise<ExplanationRecord[]> {
    const r = await this.db.query("SELECT * FROM explanations WHERE status = 'running' ORDER BY created_at")
    return r.rows.map(explanationFrom)
  }

  async prune(keep: number): Promise<void> {
    await this.db.query(
      `DELETE FROM explanations WHERE status <> 'running' AND id NOT IN
         (SELECT id FROM explanations ORDER BY created_at DESC LIMIT $1)`,
      [keep],
    )
  }
}
