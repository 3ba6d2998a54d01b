/** API keys in the PostgreSQL store, found by the sha256 of the key (the key itself is never stored). */
import type pg from 'pg'
import { apiKeyFrom } from './table-rows.js'
import type { ApiKeyRecord, ApiKeyStore } from './types.js'

/** ApiKeyStore on PostgreSQL, over the pool `PgStore` opened and migrated. */
export class PgApiKeys implements ApiKeyStore {
  constructor(private readonly db: pg.Pool) {}

  async add(k: ApiKeyRecord): Promise<void> {
    await this.db.query(
      'INSERT INTO api_keys (id, workspace, name, role, hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)',
      [k.id, k.workspace, k.name, k.role, k.hash, k.createdAt],
    )
  }

  async find(hash: string): Promise<ApiKeyRecord | undefined> {
    const { rows } = await this.db.query('SELECT * FROM api_keys WHERE hash = $1', [hash])
    return rows[0] === undefined ? undefined : apiKeyFrom(rows[0])
  }

  async list(workspace?: string): Promise<ApiKeyRecord[]> {
    const r =
      workspace === undefined
        ? await this.db.query('SELECT * FROM api_keys ORDER BY workspace, created_at')
        : await this.db.query('SELECT * FROM api_keys WHERE workspace = $1 ORDER BY created_at', [workspace])
    return r.rows.map(apiKeyFrom)
  }

  async delete(id: string): Promise<boolean> {
    return (await this.db.query('DELETE FROM api_keys WHERE id = $1', [id])).rowCount !== 0
  }
}
