/**
 * Connections to PostgreSQL: the pool every aggregate's store queries through, values read as the
 * row parsers expect them, transactions on one client of the pool, and store URLs with their
 * password hidden for messages.
 */
import pg from 'pg'
import { errorMessage } from '../errors.js'
import type { Logger } from '../logger.js'

/** A connection that runs queries: the pool (each query on any client) or one client (a transaction). */
export type Queryable = pg.Pool | pg.PoolClient

const INT8 = 20

/** A bigint as a number when it is a safe integer; text otherwise, which the row parsers refuse. */
function int8(text: string): number | string {
  const n = Number(text)
  return Number.isSafeInteger(n) ? n : text
}

/**
 * bigint columns (times in ms, byte counts, ids) as numbers, which the row parsers check as
 * integers: one past 2^53 stays text, refused, never a rounded number. Other types as `pg` reads them.
 */
const types: pg.CustomTypesConfig = {
  getTypeParser(id: number, format?: 'text' | 'binary') {
    return id === INT8 && format !== 'binary' ? int8 : pg.types.getTypeParser(id, format)
  },
}

/** `url` with its password, if any, replaced by `***`: what a message or a log line may show. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url)
    if (u.password === '') return url
    u.password = '***'
    return u.toString()
  } catch {
    return '(a store URL that does not parse)'
  }
}

/** A pool on `url`; a connection that fails while idle is logged (and replaced at the next query). */
export function openPool(url: string, log: Logger, applicationName: string): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, types, application_name: applicationName })
  pool.on('error', (e) => log.warn('store: an idle PostgreSQL connection failed', { error: errorMessage(e) }))
  return pool
}

/** A client of its own (not the pool's) on `url`, with the same value parsing: LISTEN needs one. */
export function dedicatedClient(url: string, applicationName: string): pg.Client {
  return new pg.Client({ connectionString: url, types, application_name: applicationName })
}

/** Run `work` in a transaction on one client of `pool`: committed when it resolves, rolled back when it throws. */
export async function transaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect()
  try {
    await client.query('BEGIN')
    const result = await work(client)
    await client.query('COMMIT')
    client.release()
    return result
  } catch (e) {
    // A client whose ROLLBACK fails is broken: it leaves the pool rather than go back to it.
    await client.query('ROLLBACK').then(
      () => client.release(),
      (rollback: Error) => client.release(rollback),
    )
    throw e
  }
}

/**
 * Take a lock held until the transaction of `client` ends, named by `parts` (e.g. a model's
 * workspace and name): transactions naming the same parts take turns.
 */
export async function lockFor(client: pg.PoolClient, ...parts: string[]): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [JSON.stringify(parts)])
}
