/** Workspaces in the SQLite store; deleting one cascades to everything in it. */
import type Database from 'better-sqlite3'
import { ConflictError, NotFoundError } from '../errors.js'
import { workspaceFrom } from './table-rows.js'
import type { WorkspaceRecord, WorkspaceStore } from './types.js'

const statements = (db: Database.Database) => ({
  insert: db.prepare('INSERT OR IGNORE INTO workspaces (name, created_at) VALUES (?, ?)'),
  one: db.prepare('SELECT name, created_at FROM workspaces WHERE name = ?'),
  all: db.prepare('SELECT name, created_at FROM workspaces ORDER BY name'),
  delete: db.prepare('DELETE FROM workspaces WHERE name = ?'),
})

/** WorkspaceStore on SQLite, over the connection `SqliteStore` opened and migrated. */
export class SqliteWorkspaces implements WorkspaceStore {
  /** Prepared once, after the migrations. */
  private readonly sql: ReturnType<typeof statements>

  constructor(db: Database.Database) {
    this.sql = statements(db)
  }

  /** Create `default` when it does not exist (at every open). */
  ensureDefault(): void {
    this.sql.insert.run('default', new Date().toISOString())
  }

  async create(name: string): Promise<WorkspaceRecord> {
    const rec = { name, createdAt: new Date().toISOString() }
    if (this.sql.insert.run(name, rec.createdAt).changes === 0) {
      throw new ConflictError(`workspace '${name}' already exists`)
    }
    return rec
  }

  async get(name: string): Promise<WorkspaceRecord | undefined> {
    const r = this.sql.one.get(name)
    return r === undefined ? undefined : workspaceFrom(r)
  }

  async list(): Promise<WorkspaceRecord[]> {
    return this.sql.all.all().map(workspaceFrom)
  }

  async delete(name: string): Promise<void> {
    if (name === 'default') throw new ConflictError("workspace 'default' always exists; it cannot be deleted")
    if (this.sql.delete.run(name).changes === 0) throw new NotFoundError(`no workspace '${name}'`)
  }
}
