/** The audit trail in the PostgreSQL store: one row per change made through the API, newest first. */
import type pg from 'pg'
import { auditFrom, auditInsert, insertSql } from './table-rows.js'
import type { AuditRecord, AuditStore } from './types.js'

/** AuditStore on PostgreSQL, over the pool `PgStore` opened and migrated. */
export class PgAudit implements AuditStore {
  constructor(private readonly db: pg.Pool) {}

  async append(row: Omit<AuditRecord, 'id'>, maxRows: number): Promise<void> {
    await this.db.query(insertSql(auditInsert, 'pg'), auditInsert.values(row))
    // Ids come from a sequence, which may skip (several servers append at once, a transaction rolls
    // back): the oldest rows are those past the newest maxRows, counted, not computed from an id.
    await this.db.query('DELETE FROM audit WHERE id <= (SELECT id FROM audit ORDER BY id DESC OFFSET $1 LIMIT 1)', [
      maxRows,
    ])
  }

  async list(workspace: string | undefined, limit: number, before = Number.MAX_SAFE_INTEGER): Promise<AuditRecord[]> {
    const r =
      workspace === undefined
        ? await this.db.query('SELECT * FROM audit WHERE id < $1 ORDER BY id DESC LIMIT $2', [before, limit])
        : await this.db.query('SELECT * FROM audit WHERE workspace = $1 AND id < $2 ORDER BY id DESC LIMIT $3', [
            workspace,
            before,
            limit,
          ])
    return r.rows.map(auditFrom)
  }
}
