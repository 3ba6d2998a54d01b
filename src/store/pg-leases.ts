/** Leases in the PostgreSQL store: one row per lease, its expiry judged by the database's clock (hosts' clocks may disagree). */
import type pg from 'pg'
import { leaseFrom } from './table-rows.js'
import type { LeaseStore } from './types.js'

/** LeaseStore on PostgreSQL, over the pool `PgStore` opened and migrated. */
export class PgLeases implements LeaseStore {
  constructor(private readonly db: pg.Pool) {}

  async acquire(name: string, holder: string, ttlMs: number): Promise<boolean> {
    // The row changes (and the lease is the holder's) when it is new, the holder's own, or expired.
    const r = await this.db.query(
      `INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, now() + $3::double precision * interval '1 millisecond')
       ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
       WHERE leases.holder = excluded.holder OR leases.expires_at <= now()`,
      [name, holder, ttlMs],
    )
    return r.rowCount === 1
  }

  async release(name: string, holder: string): Promise<void> {
    await this.db.query('DELETE FROM leases WHERE name = $1 AND holder = $2', [name, holder])
  }

  async get(name: string): Promise<{ holder: string; expiresAt: number } | undefined> {
    const { rows } = await this.db.query(
      `SELECT holder, floor(extract(epoch FROM expires_at) * 1000)::bigint AS expires_at FROM leases
       WHERE name = $1 AND expires_at > now()`,
      [name],
    )
    if (rows[0] === undefined) return undefined
    const { holder, expires_at } = leaseFrom(rows[0])
    return { holder, expiresAt: expires_at }
  }
}
