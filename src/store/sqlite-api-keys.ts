/** API keys in the SQLite store, found by the sha256 of the key (the key itself is never stored). */
import type Database from 'better-sqlite3'
import { apiKeyFrom } from './table-rows.js'
import type { ApiKeyRecord, ApiKeyStore } from './types.js'

const statements = (db: Database.Database) => ({
  insert: db.prepare('INSERT INTO api_keys (id, workspace, name, role, hash, created_at) VALUES (?, ?, ?, ?, ?, ?)'),
  byHash: db.prepare('SELECT * FROM api_keys WHERE hash = ?'),
  all: db.prepare('SELECT * FROM api_keys ORDER BY workspace, created_at'),
  ofWorkspace: db.prepare('SELECT * FROM api_keys WHERE workspace = ? ORDER BY created_at'),
  delete: db.prepare('DELETE FROM api_keys WHERE id = ?'),
})

/** ApiKeyStore on SQLite, over the connection `SqliteStore` opened and migrated. */
export class SqliteApiKeys implements ApiKeyStore {
  /** Prepared once, after the migrations (`find` runs on every authenticated request). */
  private readonly sql: ReturnType<typeof statements>

  constructor(db: Database.Database) {
    this.sql = statements(db)
  }

  async add(k: ApiKeyRecord): Promise<void> {
    this.sql.insert.run(k.id, k.workspace, k.name, k.role, k.hash, k.createdAt)
  }

  async find(hash: string): Promise<ApiKeyRecord | undefined> {
    const r = this.sql.byHash.get(hash)
    return r === undefined ? undefined : apiKeyFrom(r)
  }

  async list(workspace?: string): Promise<ApiKeyRecord[]> {
    const rows = workspace === undefined ? this.sql.all.all() : this.sql.ofWorkspace.all(workspace)
    return rows.map(apiKeyFrom)
  }

  async delete(id: string): Promise<boolean> {
    return this.sql.delete.run(id).changes > 0
  }
}
