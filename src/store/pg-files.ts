/**
 * Files every host reads, in the PostgreSQL store: a row per file (scope, name, the blob of its
 * bytes, its size). Forgetting files deletes the blobs that no file and no model version names any
 * longer, in the same transaction. Sequences number what hosts name apart (log segments).
 */
import type pg from 'pg'
import { z } from 'zod'
import { transaction } from './pg-pool.js'
import { rowParser } from './rows.js'
import type { SharedFile, SharedFileStore } from './types.js'

const numberFrom = z.object({ n: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER) })

/** One lock for the draws of every sequence (an arbitrary constant key): see nextSequence. */
const SEQUENCE_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('lastmile sequences', 0))"

const fileFrom = rowParser(
  'shared_files',
  z.object({ name: z.string(), sha256: z.string().regex(/^[0-9a-f]{64}$/), size: z.int().min(0) }),
  ['name'],
)

/** SharedFileStore on PostgreSQL, over the pool `PgStore` opened and migrated. */
export class PgFiles implements SharedFileStore {
  constructor(private readonly db: pg.Pool) {}

  async put(scope: string, file: SharedFile): Promise<void> {
    await this.db.query(
      `INSERT INTO shared_files (scope, name, sha256, size) VALUES ($1, $2, $3, $4)
       ON CONFLICT (scope, name) DO UPDATE SET sha256 = excluded.sha256, size = excluded.size`,
      [scope, file.name, file.sha256, file.size],
    )
  }

  async list(scope: string): Promise<SharedFile[]> {
    const { rows } = await this.db.query('SELECT name, sha256, size FROM shared_files WHERE scope = $1 ORDER BY name', [
      scope,
    ])
    return rows.map(fileFrom)
  }

  async delete(scope: string, names?: readonly string[]): Promise<void> {
    await transaction(this.db, async (c) => {
      const { rows } = await c.query(
        names === undefined
          ? 'DELETE FROM shared_files WHERE scope = $1 RETURNING sha256'
          : 'DELETE FROM shared_files WHERE scope = $1 AND name = ANY($2::text[]) RETURNING sha256',
        names === undefined ? [scope] : [scope, [...names]],
      )
      const gone = [...new Set(rows.map((r) => String(r.sha256)))]
      if (gone.length === 0) return
      await c.query(
        `DELETE FROM blobs b WHERE b.sha256 = ANY($1::text[])
           AND NOT EXISTS (SELECT 1 FROM shared_files f WHERE f.sha256 = b.sha256)
           AND NOT EXISTS (SELECT 1 FROM models m WHERE m.sha256 = b.sha256)`,
        [gone],
      )
    })
  }

  /**
   * Draws take turns under a lock, so that raising the sequence to `atLeast` (setval) never moves
   * it below a number another host has just drawn.
   */
  async nextSequence(name: 'log_segments', atLeast: number): Promise<number> {
    return transaction(this.db, async (c) => {
      await c.query(SEQUENCE_LOCK)
      const { n } = numberFrom.parse((await c.query('SELECT nextval($1::regclass) AS n', [name])).rows[0])
      if (n >= atLeast) return n
      await c.query('SELECT setval($1::regclass, $2)', [name, atLeast])
      return atLeast
    })
  }
}
