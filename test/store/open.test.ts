/**
 * The store a configuration names: SQLite in the data folder by default, PostgreSQL for a
 * postgres:// or postgresql:// URL (LASTMILE_STORE_URL, --store), anything else refused saying what
 * is accepted; a URL's password never shows in a message. `lastmile keys create --offline` writes
 * the first key into either.
 */
import { describe, expect, it, vi } from 'vitest'
import { main } from '../../src/cli/main.js'
import { loadConfig } from '../../src/config.js'
import { InvalidConfigError } from '../../src/errors.js'
import { openStore } from '../../src/store/open.js'
import { redactUrl } from '../../src/store/pg-pool.js'
import { PgStore } from '../../src/store/pg-store.js'
import { SqliteStore } from '../../src/store/sqlite-store.js'
import { usePostgres } from '../helpers/postgres.js'
import { afterEachTest } from '../helpers/server.js'

const cluster = usePostgres()
const undo = afterEachTest()
const dataDir = () => {
  return undo.dir()
}

/** Run the CLI; its exit code, stdout and stderr. */
async function cli(args: string[], env: Record<string, string> = {}) {
  const out: string[] = []
  const err: string[] = []
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((c) => out.push(String(c)) > 0)
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((c) => err.push(String(c)) > 0)
  try {
    return { code: await main(args, env), out: out.join(''), err: err.join('') }
  } finally {
    o.mockRestore()
    e.mockRestore()
  }
}

describe('the store URL', () => {
  it('hides the password of a URL, and only that', () => {
    expect(redactUrl('postgres://app:s3cr%2Ft@db.internal:5432/lastmile?sslmode=require')).toBe(
      'postgres://app:***@db.internal:5432/lastmile?sslmode=require',
    )
    expect(redactUrl('postgresql://app@db/lastmile')).toBe('postgresql://app@db/lastmile')
    expect(redactUrl('not a url: hunter2')).toBe('(a store URL that does not parse)')
  })

  it('is empty by default (SQLite in the data folder), accepts postgres:// and postgresql://, refuses the rest', () => {
    expect(loadConfig({}).storeUrl).toBe('')
    expect(loadConfig({ LASTMILE_STORE_URL: 'postgres://a@b/c' }).storeUrl).toBe('postgres://a@b/c')
    expect(loadConfig({}, { storeUrl: 'postgresql://a@b/c' }).storeUrl).toBe('postgresql://a@b/c')
    for (const bad of ['mysql://app:hunter2@db/lastmile', 'sqlite:///x.db', 'db.internal:5432', 'postgres']) {
      const e = (() => {
        try {
          loadConfig({ LASTMILE_STORE_URL: bad })
        } catch (err) {
          return err as Error
        }
      })()
      expect(e, bad).toBeInstanceOf(InvalidConfigError)
      expect(e?.message).toContain('storeUrl (LASTMILE_STORE_URL)')
      expect(e?.message).toContain("expected '' (SQLite in the data folder) or a PostgreSQL URL")
      expect(e?.message).not.toContain('hunter2')
    }
  })

  it('opens SQLite in the data folder when empty, PostgreSQL for its URL, and refuses another scheme', async () => {
    const sqlite = await openStore({ dataDir: dataDir(), storeUrl: '' })
    undo.closes(sqlite)
    expect(sqlite).toBeInstanceOf(SqliteStore)
    expect(sqlite.blobs).toBeUndefined()
    const url = await cluster.database()
    const pg = await openStore({ dataDir: dataDir(), storeUrl: url.replace(/^postgres:/, 'postgresql:') })
    undo.closes(pg)
    expect(pg).toBeInstanceOf(PgStore)
    expect(pg.blobs).toBeDefined()
    await expect(openStore({ dataDir: dataDir(), storeUrl: 'mysql://app:hunter2@db/x' })).rejects.toThrow(
      "store URL mysql://app:***@db/x: expected '' (SQLite in the data folder) or a PostgreSQL URL",
    )
  })

  it('names the database it cannot reach without its password', async () => {
    const port = new URL(cluster.url()).port
    const url = `postgres://lastmile:hunter2@127.0.0.1:${port}/no_such_database`
    const e = await PgStore.open(url).then(
      (s) => void undo.closes(s),
      (err: unknown) => err as Error,
    )
    expect(e?.message).toContain(
      `cannot open the store at postgres://lastmile:***@127.0.0.1:${port}/no_such_database: `,
    )
    expect(e?.message).toContain('no_such_database" does not exist')
    expect(e?.message).not.toContain('hunter2')
  })
})

describe('lastmile keys create --offline', () => {
  it('writes the first key into the shared store of --store, or into the data folder of --data', async () => {
    const url = await cluster.database()
    const args = ['keys', 'create', '--offline', '--workspace', 'default', '--role', 'admin', '--name', 'root']
    const shared = await cli([...args, '--store', url])
    expect(shared.err).toBe('')
    expect(shared.code).toBe(0)
    const key = JSON.parse(shared.out) as { id: string; key: string; role: string }
    expect(key.role).toBe('admin')
    const store = await PgStore.open(url)
    undo.closes(store)
    expect((await store.apiKeys.list()).map((k) => [k.id, k.name, k.role])).toEqual([[key.id, 'root', 'admin']])

    const data = dataDir()
    expect((await cli([...args, '--data', data])).code).toBe(0)
    const local = SqliteStore.open(data)
    undo.closes(local)
    expect((await local.apiKeys.list()).map((k) => k.name)).toEqual(['root'])
    expect((await store.apiKeys.list()).length).toBe(1) // the shared store got none of it

    const missing = await cli([
      ...args,
      '--workspace',
      'nope',
      '--store',
      url.replace('lastmile@', 'lastmile:hunter2@'),
    ])
    expect(missing.code).toBe(2)
    expect(missing.err).toContain(`no workspace 'nope' in ${url.replace('lastmile@', 'lastmile:***@')}`)
    expect(missing.err).not.toContain('hunter2')
  })
})
