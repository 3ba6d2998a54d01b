/**
 * The store's row parsers against hand-edited rows: any value SQLite can hold (NULL, integers past
 * 2^53, floats, text, JSON of any shape, BLOBs) written into any column of any table must read back
 * as a record or fail with CorruptRowError naming that table and that column, never another error
 * (a TypeError or RangeError deep in a caller) and never the blame put on a column left alone.
 */
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CorruptRowError } from '../../src/store/schemas.js'
import { SqliteStore } from '../../src/store/sqlite-store.js'
import { tempDir } from '../helpers/server.js'
import { seedStore } from '../store/seed.js'
import { CASE_TIMEOUT_MS, fuzzParams } from './budget.js'

let dir: string
let store: SqliteStore
let db: Database.Database
let assayId: number

beforeAll(async () => {
  dir = tempDir()
  store = SqliteStore.open(dir)
  ;({ assayId } = await seedStore(store))
  db = new Database(join(dir, 'lastmile.db'))
})

afterAll(async () => {
  db.close()
  await store.close()
  rmSync(dir, { recursive: true, force: true })
})

/** Each table, and a read that returns its one seeded row. */
const READS: Record<string, () => Promise<unknown>> = {
  workspaces: () => store.workspaces.list(),
  models: () => store.models.list('default'),
  pipelines: () => store.pipelines.latest('default'),
  deployments: () => store.deployments.list(),
  api_keys: () => store.apiKeys.list(),
  assays: () => store.assays.list(),
  assay_results: () => store.assays.results(assayId),
  jobs: () => store.jobs.list(),
  explanations: () => store.explanations.get('e1'),
  optimizations: () => store.optimizations.get('o1'),
  outcome_specs: () => store.outcomes.getSpec('default', 'p'),
  promotion_rules: () => store.promotion.rules(),
  decisions: () => store.promotion.decisions('default', 'p', 10),
}

const columns = (table: string) => (db.pragma(`table_info(${table})`) as { name: string }[]).map((c) => c.name)

/** Values SQLite stores, in every storage class, with JSON of every shape among the text. */
const sqliteValue = fc.oneof(
  fc.constant(null),
  fc.integer(),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  fc.double(),
  fc.string(),
  fc.json(),
  fc.constantFrom('[]', '{}', 'null', '[{"name":"x","datatype":"FP32","shape":[-1]}]', '{"maxErrorShare":2}'),
  fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)),
)

describe('store rows (fuzz)', () => {
  it(
    'read back a record or a CorruptRowError naming the edited table and column',
    async () => {
      const tables = Object.keys(READS)
      const edit = fc
        .constantFrom(...tables)
        .chain((table) => fc.tuple(fc.constant(table), fc.constantFrom(...columns(table)), sqliteValue))
      await fc.assert(
        fc.asyncProperty(edit, async ([table, column, value]) => {
          const rowid = (db.prepare(`SELECT min(rowid) AS r FROM ${table}`).get() as { r: number }).r
          const before = (
            db.prepare(`SELECT "${column}" AS v FROM ${table} WHERE rowid = ?`).get(rowid) as { v: unknown }
          ).v
          try {
            db.prepare(`UPDATE ${table} SET "${column}" = ? WHERE rowid = ?`).run(value, rowid)
          } catch {
            return // a constraint refused the value (NOT NULL, a key's type): no such row can exist
          }
          try {
            await (READS[table] as () => Promise<unknown>)()
          } catch (e) {
            if (!(e instanceof CorruptRowError)) throw e
            expect([e.table, e.column]).toEqual([table, column])
          } finally {
            // Each table holds one row: found again even when the edit moved its rowid (assays.id is the rowid).
            db.prepare(`UPDATE ${table} SET "${column}" = ? WHERE rowid = (SELECT min(rowid) FROM ${table})`).run(
              before,
            )
          }
        }),
        fuzzParams(300),
      )
    },
    CASE_TIMEOUT_MS * 4,
  )
})
