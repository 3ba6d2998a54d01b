/** Model versions in the PostgreSQL store: numbered from 1 per model, one per distinct sha256. */
import type pg from 'pg'
import { lockFor, transaction } from './pg-pool.js'
import { nextVersion } from './rows.js'
import { insertSql, modelFrom, modelInsert } from './table-rows.js'
import type { ModelRecord, ModelStore } from './types.js'

/** ModelStore on PostgreSQL, over the pool `PgStore` opened and migrated. */
export class PgModels implements ModelStore {
  constructor(private readonly db: pg.Pool) {}

  async add(m: Omit<ModelRecord, 'version' | 'createdAt'>): Promise<{ record: ModelRecord; created: boolean }> {
    return transaction(this.db, async (c) => {
      // Servers adding versions of one model take turns: each numbers after the last one committed.
      await lockFor(c, 'models', m.workspace, m.name)
      const existing = await c.query('SELECT * FROM models WHERE workspace = $1 AND name = $2 AND sha256 = $3', [
        m.workspace,
        m.name,
        m.sha256,
      ])
      if (existing.rows[0] !== undefined) return { record: modelFrom(existing.rows[0]), created: false }
      const max = await c.query(
        'SELECT COALESCE(MAX(version), 0) AS v FROM models WHERE workspace = $1 AND name = $2',
        [m.workspace, m.name],
      )
      const version = nextVersion('models', max.rows[0])
      const record: ModelRecord = { ...m, version, createdAt: new Date().toISOString() }
      await c.query(insertSql(modelInsert, 'pg'), modelInsert.values(record))
      return { record, created: true }
    })
  }

  async list(workspace: string): Promise<ModelRecord[]> {
    const r = await this.db.query('SELECT * FROM models WHERE workspace = $1 ORDER BY name, version', [workspace])
    return r.rows.map(modelFrom)
  }

  async versions(workspace: string, name: string): Promise<ModelRecord[]> {
    const r = await this.db.query('SELECT * FROM models WHERE workspace = $1 AND name = $2 ORDER BY version', [
      workspace,
      name,
    ])
    return r.rows.map(modelFrom)
  }

  async get(workspace: string, name: string, version: number): Promise<ModelRecord | undefined> {
    const r = await this.db.query('SELECT * FROM models WHERE workspace = $1 AND name = $2 AND version = $3', [
      workspace,
      name,
      version,
    ])
    return r.rows[0] === undefined ? undefined : modelFrom(r.rows[0])
  }

  async delete(workspace: string, name: string): Promise<void> {
    await this.db.query('DELETE FROM models WHERE workspace = $1 AND name = $2', [workspace, name])
  }

  async artifactInUse(sha256: string): Promise<boolean> {
    return (await this.db.query('SELECT 1 FROM models WHERE sha256 = $1 LIMIT 1', [sha256])).rowCount !== 0
  }
}
