/**
 * PostgreSQL's schema history: a database gets every version once, whether one server opens it
 * again and again or several open it at the same moment (they take turns under one lock); a
 * database at a version newer than this lastmile is refused.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { PG_MIGRATIONS } from '../../src/store/pg-migrations.js'
import { PgStore } from '../../src/store/pg-store.js'
import { usePostgres } from '../helpers/postgres.js'

const cluster = usePostgres()
const stores: PgStore[] = []
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close()
})

const open = async (url: string) => {
  const s = await PgStore.open(url)
  stores.push(s)
  return s
}

/** The versions recorded, in order. */
const recorded = async (url: string) =>
  (await cluster.sql(url, 'SELECT version FROM lastmile_migrations ORDER BY version')).rows.map((r) => r.version)

describe('PostgreSQL migrations', () => {
  it('apply each version once, however often the store is opened', async () => {
    const url = await cluster.database()
    const first = await open(url)
    expect(await first.schemaVersion()).toBe(PG_MIGRATIONS.length)
    await first.workspaces.create('team')
    await first.close()
    const second = await open(url)
    expect(await second.schemaVersion()).toBe(PG_MIGRATIONS.length)
    expect(await recorded(url)).toEqual(PG_MIGRATIONS.map((_, i) => i + 1))
    expect((await second.workspaces.list()).map((w) => w.name)).toEqual(['default', 'team'])
  })

  it('let servers that open a new database at once take turns: one migrates, the others find it done', async () => {
    const url = await cluster.database()
    const opened = await Promise.all([1, 2, 3, 4].map(() => open(url)))
    for (const s of opened) expect(await s.schemaVersion()).toBe(PG_MIGRATIONS.length)
    expect(await recorded(url)).toEqual(PG_MIGRATIONS.map((_, i) => i + 1))
    expect((await opened[3]?.workspaces.list())?.map((w) => w.name)).toEqual(['default'])
  })

  it('refuse a database whose schema is newer than this lastmile knows', async () => {
    const url = await cluster.database()
    await (await open(url)).close()
    await cluster.sql(url, 'INSERT INTO lastmile_migrations (version) VALUES ($1)', [PG_MIGRATIONS.length + 1])
    await expect(PgStore.open(url)).rejects.toThrow(
      `the store's schema is at version ${PG_MIGRATIONS.length + 1}, newer than this lastmile knows (${PG_MIGRATIONS.length}): upgrade lastmile`,
    )
  })
})
