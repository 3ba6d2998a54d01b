/**
 * A throwaway PostgreSQL 15 cluster per test file, from Debian's binaries: initdb in a folder of its
 * own (owned by the postgres user and started through `su postgres -c` when the tests run as root,
 * since PostgreSQL refuses to run as root), trust authentication for the user `lastmile`, listening
 * on 127.0.0.1 at a free port. Each test makes its own database, so tests never see each other's
 * rows. Without the binaries the PostgreSQL cases skip, except under LASTMILE_REQUIRE_TOOLS=1 (CI),
 * where they fail.
 */
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, beforeEach } from 'vitest'

const BIN = '/usr/lib/postgresql/15/bin'

/**
 * Whether PostgreSQL 15's binaries are here. Without them the PostgreSQL cases skip, except under
 * LASTMILE_REQUIRE_TOOLS=1 (CI), where a missing server must fail rather than pass as a skip.
 */
function hasPostgres(): boolean {
  if (existsSync(join(BIN, 'initdb')) && existsSync(join(BIN, 'pg_ctl'))) return true
  if (process.env.LASTMILE_REQUIRE_TOOLS === '1')
    throw new Error(
      `LASTMILE_REQUIRE_TOOLS=1 but there is no PostgreSQL 15 in ${BIN}; Debian: apt-get install postgresql`,
    )
  return false
}

/** A running cluster: a URL for each database, and a new database per test. */
export interface Cluster {
  /** The URL of `database` on the cluster. */
  url(database?: string): string
  /** Create an empty database of its own; its URL. */
  database(): Promise<string>
  /** Run `sql` on the database of `url` (a connection of the test's, not the store's). */
  sql(url: string, sql: string, values?: unknown[]): Promise<pg.QueryResult>
}

const asRoot = process.getuid?.() === 0

/** Run a PostgreSQL binary as the user the cluster belongs to. */
function run(bin: string, args: string[]): void {
  const command = [join(BIN, bin), ...args]
  if (asRoot) {
    const quoted = command.map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(' ')
    execFileSync('su', ['postgres', '-c', quoted], { stdio: 'pipe' })
  } else execFileSync(command[0] as string, command.slice(1), { stdio: 'pipe' })
}

/** A TCP port nobody listens on at this moment. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const address = s.address()
      s.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}

/**
 * Start a cluster before the tests of the enclosing describe and remove it after them (call it in
 * the describe's body). Where PostgreSQL is missing, every test of the describe skips, saying so.
 */
export function usePostgres(): Cluster {
  let dir = ''
  let port = 0
  if (!hasPostgres()) {
    beforeEach((ctx) => ctx.skip(`no PostgreSQL 15 in ${BIN}: apt-get install postgresql`))
  } else {
    beforeAll(async () => {
      // Under /tmp rather than the run's TMPDIR: that folder is root's alone, and the cluster is postgres's.
      dir = mkdtempSync(join(asRoot ? '/tmp' : (process.env.TMPDIR ?? '/tmp'), 'lastmile-pg-'))
      if (asRoot) chownSync(dir, Number(execFileSync('id', ['-u', 'postgres']).toString()), 0)
      run('initdb', ['-D', join(dir, 'data'), '-A', 'trust', '-U', 'lastmile', '-E', 'UTF8'])
      // Another process may take the port between the probe and the start: then try another.
      for (let attempt = 1; ; attempt++) {
        port = await freePort()
        try {
          const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`
          run('pg_ctl', ['-D', join(dir, 'data'), '-l', join(dir, 'log'), '-o', options, '-w', 'start'])
          break
        } catch (e) {
          if (attempt === 3) {
            const log = existsSync(join(dir, 'log')) ? readFileSync(join(dir, 'log'), 'utf8') : ''
            throw new Error(`PostgreSQL did not start: ${(e as Error).message}\n${log}`)
          }
        }
      }
    })
    afterAll(() => {
      if (!dir) return
      try {
        if (port) run('pg_ctl', ['-D', join(dir, 'data'), '-m', 'immediate', '-w', 'stop'])
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    })
  }
  const url = (database = 'postgres') => `postgres://lastmile@127.0.0.1:${port}/${database}`
  const sql = async (at: string, text: string, values: unknown[] = []) => {
    const client = new pg.Client({ connectionString: at })
    await client.connect()
    try {
      return await client.query(text, values)
    } finally {
      await client.end()
    }
  }
  return {
    url,
    sql,
    async database() {
      const name = `t_${randomBytes(8).toString('hex')}` // an identifier cannot be a parameter; this one is ours
      // Collated by ICU's en-US, as many production databases are: a sort that is not byte order shows.
      await sql(
        url(),
        `CREATE DATABASE ${name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.utf8'`,
      )
      return url(name)
    },
  }
}
