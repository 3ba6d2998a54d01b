/**
 * The store suites run on each backend: `describe.each(BACKENDS)` and, in the describe's body,
 * `backend.use()`, which registers the hooks (a PostgreSQL cluster for the file, stores closed and
 * folders removed after each test) and opens stores: SQLite in a temp data folder, PostgreSQL in a
 * database of the test's own.
 */
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach } from 'vitest'
import { PgStore } from '../../src/store/pg-store.js'
import { SqliteStore } from '../../src/store/sqlite-store.js'
import type { Store } from '../../src/store/types.js'
import { type Cluster, usePostgres } from '../helpers/postgres.js'
import { tempDir } from '../helpers/server.js'

/** A new store, and ways to reach what it stands on. */
interface Opened {
  store: Store
  /** A data folder of the test's (SQLite's store is in it). */
  dataDir: string
  /** The store's URL (`storeUrl` of the config): '' for SQLite. */
  storeUrl: string
  /** Open the same store once more (another process, or after a restart); closed after the test. */
  again(): Promise<Store>
  /** Change rows behind the store's back, with a connection of the test's; `?` placeholders on both backends. */
  edit(sql: string, ...values: unknown[]): Promise<void>
}

export interface Backend {
  name: 'SQLite' | 'PostgreSQL'
  /** Register this backend's hooks in the enclosing describe; returns how to open stores. */
  use(): { open(): Promise<Opened>; cluster?: Cluster }
}

/** What the tests opened, closed or removed after each. */
function cleanup() {
  const closing: Array<() => Promise<void>> = []
  const dirs: string[] = []
  afterEach(async () => {
    for (const close of closing.splice(0).reverse()) await close()
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
  })
  const dataDir = () => {
    const d = tempDir()
    dirs.push(d)
    return d
  }
  const track = <S extends Store>(s: S): S => {
    closing.push(() => s.close())
    return s
  }
  return { closing, dataDir, track }
}

const sqlite: Backend = {
  name: 'SQLite',
  use() {
    const { closing, dataDir, track } = cleanup()
    return {
      async open() {
        const dir = dataDir()
        const store = track(SqliteStore.open(dir))
        const db = new Database(join(dir, 'lastmile.db'))
        closing.push(async () => void db.close())
        return {
          store,
          dataDir: dir,
          storeUrl: '',
          again: async () => track(SqliteStore.open(dir)),
          edit: async (sql, ...values) => void db.prepare(sql).run(...values),
        }
      },
    }
  },
}

const postgres: Backend = {
  name: 'PostgreSQL',
  use() {
    const cluster = usePostgres()
    const { dataDir, track } = cleanup()
    return {
      cluster,
      async open() {
        const url = await cluster.database()
        return {
          store: track(await PgStore.open(url)),
          dataDir: dataDir(),
          storeUrl: url,
          again: async () => track(await PgStore.open(url)),
          edit: async (sql, ...values) => {
            let n = 0
            await cluster.sql(
              url,
              sql.replace(/\?/g, () => `$${++n}`),
              values,
            )
          },
        }
      },
    }
  },
}

/** Every backend of the store. */
export const BACKENDS: readonly Backend[] = [sqlite, postgres]
