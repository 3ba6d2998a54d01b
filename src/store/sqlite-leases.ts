/** Leases in the SQLite store: one row per lease, its expiry by this host's clock (the processes sharing the file share it). */
import type Database from 'better-sqlite3'
import { leaseFrom } from './table-rows.js'
import type { LeaseStore } from './types.js'

const statements = (db: Database.Database) => ({
  // The row changes (and the lease is the holder's) when it is new, the holder's own, or expired.
  acquire: db.prepare(
    `INSERT INTO leases (name, holder, expires_at) VALUES (@name, @holder, @expires)
     ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
     WHERE leases.holder = excluded.holder OR leases.expires_at <= @now`,
  ),
  release: db.prepare('DELETE FROM leases WHERE name = ? AND holder = ?'),
  held: db.prepare('SELECT holder, expires_at FROM leases WHERE name = ? AND expires_at > ?'),
})

/** LeaseStore on SQLite, over the connection `SqliteStore` opened and migrated. */
export class SqliteLeases implements LeaseStore {
  private readonly sql: ReturnType<typeof statements>

  constructor(db: Database.Database) {
    this.sql = statements(db)
  }

  async acquire(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const now = Date.now()
    return this.sql.acquire.run({ name, holder, expires: now + ttlMs, now }).changes > 0
  }

  async release(name: string, holder: string): Promise<void> {
    this.sql.release.run(name, holder)
  }

  async get(name: string): Promise<{ holder: string; expiresAt: number } | undefined> {
    const r = this.sql.held.get(name, Date.now())
    if (r === undefined) return undefined
    const { holder, expires_at } = leaseFrom(r)
    return { holder, expiresAt: expires_at }
  }
}
