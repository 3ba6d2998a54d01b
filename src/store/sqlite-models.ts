/** Model versions in the SQLite store: numbered from 1 per model, one per distinct sha256. */
import type Database from 'better-sqlite3'
import { nextVersion } from './rows.js'
import { insertSql, modelFrom, modelInsert } from './table-rows.js'
import type { ModelRecord, ModelStore } from './types.js'

const statements = (db: Database.Database) => ({
  bySha: db.prepare('SELECT * FROM models WHERE workspace = ? AND name = ? AND sha256 = ?'),
  maxVersion: db.prepare('SELECT COALESCE(MAX(version), 0) AS v FROM models WHERE workspace = ? AND name = ?'),
  insert: db.prepare(insertSql(modelInsert, 'sqlite')),
  ofWorkspace: db.prepare('SELECT * FROM models WHERE workspace = ? ORDER BY name, version'),
  ofModel: db.prepare('SELECT * FROM models WHERE workspace = ? AND name = ? ORDER BY version'),
  one: db.prepare('SELECT * FROM models WHERE workspace = ? AND name = ? AND version = ?'),
  delete: db.prepare('DELETE FROM models WHERE workspace = ? AND name = ?'),
  usesSha: db.prepare('SELECT 1 FROM models WHERE sha256 = ? LIMIT 1'),
})

/** ModelStore on SQLite, over the connection `SqliteStore` opened and migrated. */
export class SqliteModels implements ModelStore {
  /** Prepared once, after the migrations. */
  private readonly sql: ReturnType<typeof statements>

  constructor(private readonly db: Database.Database) {
    this.sql = statements(db)
  }

  async add(m: Omit<ModelRecord, 'version' | 'createdAt'>): Promise<{ record: ModelRecord; created: boolean }> {
    return this.db.transaction(() => {
      const existing = this.sql.bySha.get(m.workspace, m.name, m.sha256)
      if (existing !== undefined) return { record: modelFrom(existing), created: false }
      const version = nextVersion('models', this.sql.maxVersion.get(m.workspace, m.name))
      const record: ModelRecord = { ...m, version, createdAt: new Date().toISOString() }
      this.sql.insert.run(...modelInsert.values(record))
      return { record, created: true }
    })()
  }

  async list(workspace: string): Promise<ModelRecord[]> {
    return this.sql.ofWorkspace.all(workspace).map(modelFrom)
  }

  async versions(workspace: string, name: string): Promise<ModelRecord[]> {
    return this.sql.ofModel.all(workspace, name).map(modelFrom)
  }

  async get(workspace: string, name: string, version: number): Promise<ModelRecord | undefined> {
    const r = this.sql.one.get(workspace, name, version)
    return r === undefined ? undefined : modelFrom(r)
  }

  async delete(workspace: string, name: string): Promise<void> {
    this.sql.delete.run(workspace, name)
  }

  async artifactInUse(sha256: string): Promise<boolean> {
    return this.sql.usesSha.get(sha256) !== undefined
  }
}
