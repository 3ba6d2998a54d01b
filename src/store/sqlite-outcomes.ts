/** Ground truth in the SQLite store: each pipeline's outcome settings, and one outcome per key. */
import type Database from 'better-sqlite3'
import { outcomeFrom, outcomeRows, outcomeSpecFrom } from './table-rows.js'
import type { OutcomeRecord, OutcomeSpecRecord, OutcomeStore } from './types.js'

const PIPELINE = 'workspace = ? AND pipeline = ?'

const statements = (db: Database.Database) => ({
  putSpec: db.prepare(
    `INSERT INTO outcome_specs (workspace, pipeline, config, updated_at) VALUES (?, ?, ?, ?)
     ON CONFLICT DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at`,
  ),
  getSpec: db.prepare(`SELECT * FROM outcome_specs WHERE ${PIPELINE}`),
  deleteSpec: db.prepare(`DELETE FROM outcome_specs WHERE ${PIPELINE}`),
  exists: db.prepare(`SELECT 1 FROM outcomes WHERE ${PIPELINE} AND key = ?`),
  put: db.prepare(
    `INSERT INTO outcomes (workspace, pipeline, key, value, time) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT DO UPDATE SET value = excluded.value, time = excluded.time`,
  ),
  // The keys travel as one JSON array: any number of them in one statement.
  get: db.prepare(
    `SELECT key, value, time FROM outcomes WHERE ${PIPELINE} AND key IN (SELECT value FROM json_each(?))`,
  ),
  forget: db.prepare(`DELETE FROM outcomes WHERE ${PIPELINE}`),
})

/** OutcomeStore on SQLite, over the connection `SqliteStore` opened and migrated. */
export class SqliteOutcomes implements OutcomeStore {
  private readonly sql: ReturnType<typeof statements>

  constructor(private readonly db: Database.Database) {
    this.sql = statements(db)
  }

  async putSpec(workspace: string, pipeline: string, config: Record<string, unknown>): Promise<OutcomeSpecRecord> {
    const updatedAt = new Date().toISOString()
    this.sql.putSpec.run(workspace, pipeline, JSON.stringify(config), updatedAt)
    return { workspace, pipeline, config, updatedAt }
  }

  async getSpec(workspace: string, pipeline: string): Promise<OutcomeSpecRecord | undefined> {
    const row = this.sql.getSpec.get(workspace, pipeline)
    return row === undefined ? undefined : outcomeSpecFrom(row)
  }

  async deleteSpec(workspace: string, pipeline: string): Promise<boolean> {
    return this.sql.deleteSpec.run(workspace, pipeline).changes > 0
  }

  async put(workspace: string, pipeline: string, outcomes: readonly OutcomeRecord[]): Promise<{ updated: number }> {
    const { rows, repeats } = outcomeRows(outcomes)
    let updated = repeats
    this.db.transaction(() => {
      for (const o of rows) {
        if (this.sql.exists.get(workspace, pipeline, o.key) !== undefined) updated++
        this.sql.put.run(workspace, pipeline, o.key, JSON.stringify(o.value), o.time)
      }
    })()
    return { updated }
  }

  async get(workspace: string, pipeline: string, keys: readonly string[]): Promise<OutcomeRecord[]> {
    if (keys.length === 0) return []
    return this.sql.get.all(workspace, pipeline, JSON.stringify(keys)).map(outcomeFrom)
  }

  async forget(workspace: string, pipeline: string): Promise<void> {
    this.db.transaction(() => {
      this.sql.deleteSpec.run(workspace, pipeline)
      this.sql.forget.run(workspace, pipeline)
    })()
  }
}
