/** The audit trail in the SQLite store: one row per change made through the API, newest first. */
import type Database from 'better-sqlite3'
import { z } from 'zod'
import { ROLES } from './schemas.js'
import { rowParser } from './sqlite-rows.js'
import type { AuditRecord, AuditStore } from './types.js'

const auditFrom = rowParser(
  'audit',
  z
    .object({
      id: z.int(),
      time: z.string(),
      workspace: z.string().nullable(),
      key_id: z.string().nullable(),
      key_name: z.string().nullable(),
      role: z.enum(ROLES).nullable(),
      method: z.string(),
      path: z.string(),
      status: z.int(),
    })
    .transform(
      (r): AuditRecord => ({
        id: r.id,
        time: r.time,
        ...(r.workspace === null ? {} : { workspace: r.workspace }),
        ...(r.key_id === null || r.key_name === null || r.role === null
          ? {}
          : { key: { id: r.key_id, name: r.key_name, role: r.role } }),
        method: r.method,
        path: r.path,
        status: r.status,
      }),
    ),
  ['id'],
)

const statements = (db: Database.Database) => ({
  insert: db.prepare(
    'INSERT INTO audit (time, workspace, key_id, key_name, role, method, path, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  ),
  prune: db.prepare('DELETE FROM audit WHERE id <= ?'),
  all: db.prepare('SELECT * FROM audit WHERE id < ? ORDER BY id DESC LIMIT ?'),
  ofWorkspace: db.prepare('SELECT * FROM audit WHERE workspace = ? AND id < ? ORDER BY id DESC LIMIT ?'),
})

/** AuditStore on SQLite, over the connection `SqliteStore` opened and migrated. */
export class SqliteAudit implements AuditStore {
  private readonly sql: ReturnType<typeof statements>

  constructor(db: Database.Database) {
    this.sql = statements(db)
  }

  async append(row: Omit<AuditRecord, 'id'>, maxRows: number): Promise<void> {
    const { lastInsertRowid } = this.sql.insert.run(
      row.time,
      row.workspace ?? null,
      row.key?.id ?? null,
      row.key?.name ?? null,
      row.key?.role ?? null,
      row.method,
      row.path,
      row.status,
    )
    // Ids only grow (AUTOINCREMENT): the rows more than maxRows behind this one are the oldest.
    this.sql.prune.run(Number(lastInsertRowid) - maxRows)
  }

  async list(workspace: string | undefined, limit: number, before = Number.MAX_SAFE_INTEGER): Promise<AuditRecord[]> {
    const rows =
      workspace === undefined ? this.sql.all.all(before, limit) : this.sql.ofWorkspace.all(workspace, before, limit)
    return rows.map(auditFrom)
  }
}
