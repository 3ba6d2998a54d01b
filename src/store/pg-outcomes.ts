/** Ground truth in the PostgreSQL store: each pipeline's outcome settings, and one outcome per key. */
import type pg from 'pg'
import { transaction } from './pg-pool.js'
import { outcomeFrom, outcomeRows, outcomeSpecFrom, outcomeUpsertFrom } from './table-rows.js'
import type { OutcomeRecord, OutcomeSpecRecord, OutcomeStore } from './types.js'

/** Outcomes written per statement (three arrays of parameters). */
const ROWS_PER_STATEMENT = 5000

/** OutcomeStore on PostgreSQL, over the pool `PgStore` opened and migrated. */
export class PgOutcomes implements OutcomeStore {
  constructor(private readonly db: pg.Pool) {}

  async putSpec(workspace: string, pipeline: string, config: Record<string, unknown>): Promise<OutcomeSpecRecord> {
    const updatedAt = new Date().toISOString()
    await this.db.query(
      `INSERT INTO outcome_specs (workspace, pipeline, config, updated_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (workspace, pipeline) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at`,
      [workspace, pipeline, JSON.stringify(config), updatedAt],
    )
    return { workspace, pipeline, config, updatedAt }
  }

  async getSpec(workspace: string, pipeline: string): Promise<OutcomeSpecRecord | undefined> {
    const { rows } = await this.db.query('SELECT * FROM outcome_specs WHERE workspace = $1 AND pipeline = $2', [
      workspace,
      pipeline,
    ])
    return rows.length === 0 ? undefined : outcomeSpecFrom(rows[0])
  }

  async deleteSpec(workspace: string, pipeline: string): Promise<boolean> {
    const r = await this.db.query('DELETE FROM outcome_specs WHERE workspace = $1 AND pipeline = $2', [
      workspace,
      pipeline,
    ])
    return (r.rowCount ?? 0) > 0
  }

  async put(workspace: string, pipeline: string, outcomes: readonly OutcomeRecord[]): Promise<{ updated: number }> {
    const { rows, repeats } = outcomeRows(outcomes)
    let updated = repeats
    await transaction(this.db, async (c) => {
      for (let at = 0; at < rows.length; at += ROWS_PER_STATEMENT) {
        const part = rows.slice(at, at + ROWS_PER_STATEMENT)
        // xmax is 0 on a row this statement inserted, set on one it updated.
        const r = await c.query(
          `INSERT INTO outcomes (workspace, pipeline, key, value, time)
           SELECT $1, $2, k, v, t FROM unnest($3::text[], $4::text[], $5::bigint[]) AS u(k, v, t)
           ON CONFLICT (workspace, pipeline, key) DO UPDATE SET value = excluded.value, time = excluded.time
           RETURNING xmax <> 0 AS updated`,
          [
            workspace,
            pipeline,
            part.map((o) => o.key),
            part.map((o) => JSON.stringify(o.value)),
            part.map((o) => o.time),
          ],
        )
        for (const row of r.rows) if (outcomeUpsertFrom(row).updated) updated++
      }
    })
    return { updated }
  }

  async get(workspace: string, pipeline: string, keys: readonly string[]): Promise<OutcomeRecord[]> {
    if (keys.length === 0) return []
    const { rows } = await this.db.query(
      'SELECT key, value, time FROM outcomes WHERE workspace = $1 AND pipeline = $2 AND key = ANY($3::text[])',
      [workspace, pipeline, keys],
    )
    return rows.map(outcomeFrom)
  }

  async forget(workspace: string, pipeline: string): Promise<void> {
    await transaction(this.db, async (c) => {
      await c.query('DELETE FROM outcome_specs WHERE workspace = $1 AND pipeline = $2', [workspace, pipeline])
      await c.query('DELETE FROM outcomes WHERE workspace = $1 AND pipeline = $2', [workspace, pipeline])
    })
  }
}
