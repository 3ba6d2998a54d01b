/** Workspaces in the PostgreSQL store; deleting one cascades to everything in it. */
import type pg from 'pg'
import { ConflictError, NotFoundError } from '../errors.js'
import { workspaceFrom } from './table-rows.js'
import type { WorkspaceRecord, WorkspaceStore } from './types.js'

const INSERT = 'INSERT INTO workspaces (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING'

/** WorkspaceStore on PostgreSQL, over the pool `PgStore` opened and migrated. */
export class PgWorkspaces implements WorkspaceStore {
  constructor(private readonly db: pg.Pool) {}

  /** Create `default` when it does not exist (at every open). */
  async ensureDefault(): Promise<void> {
    await this.db.query(INSERT, ['default', new Date().toISOString()])
  }

  async create(name: string): Promise<WorkspaceRecord> {
    const rec = { name, createdAt: new Date().toISOString() }
    if ((await this.db.query(INSERT, [name, rec.createdAt])).rowCount === 0) {
      throw new ConflictError(`workspace '${name}' already exists`)
    }
    return rec
  }

  async get(name: string): Promise<WorkspaceRecord | undefined> {
    const { rows } = await this.db.query('SELECT name, created_at FROM workspaces WHERE name = $1', [name])
    return rows[0] === undefined ? undefined : workspaceFrom(rows[0])
  }

  async list(): Promise<WorkspaceRecord[]> {
    return (await this.db.query('SELECT name, created_at FROM workspaces ORDER BY name')).rows.map(workspaceFrom)
  }

  async delete(name: string): Promise<void> {
    if (name === 'default') throw new ConflictError("workspace 'default' always exists; it cannot be deleted")
    const r = await this.db.query('DELETE FROM workspaces WHERE name = $1', [name])
    if (r.rowCount === 0) throw new NotFoundError(`no workspace '${name}'`)
  }
}
