/** The audit trail in the SQLite store: one row per change made through the API, newest first. */
import type Database from 'better-sqlite3'
import { auditFrom, auditInsert, insertSql } from './table-rows.js'
import type { AuditRecord, AuditStore } from './types.js'

const statements = (db: Database.Database) => ({
  insert: db.prepare(insertSql(auditInsert, 'sqlite')),
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
    const { lastInsertRowid } = this.sql.insert.run(...auditInsert.values(row))
    // Ids only grow (AUTOINCREMENT): the rows more than maxRows behind this one are the oldest.
    this.sql.prune.run(Number(lastInsertRowid) - maxRows)
  }

  async list(workspace: string | undefined, limit: number, before = Number.MAX_SAFE_INTEGER): Promise<AuditRecord[]> {
    const rows =
      workspace === undefined ? this.sql.all.all(before, limit) : this.sql.ofWorkspace.all(workspace, before, limit)
    return rows.map(auditFrom)
  }
}
