/**
 * The inference log shared by servers on several hosts through PostgreSQL: log instances on data
 * folders of their own sharing one database (as single-process hosts) draw segment ids that never
 * collide, share what they roll, and read every host's rolled segments (copied into their own
 * folder first, checked); a segment that could not be shared is shared later, retention on one
 * host forgets the shared file, and a tampered shared segment is refused.
 */
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { tensor } from '../../src/engine/tensor.js'
import { createLogger, silentLogger } from '../../src/logger.js'
import { InferenceLog, type LogConfig } from '../../src/logs/inference-log.js'
import { INLINE_LOG_WORK } from '../../src/logs/log-work.js'
import type { InferenceRecord } from '../../src/logs/record.js'
import { PgStore } from '../../src/store/pg-store.js'
import { usePostgres } from '../helpers/postgres.js'
import { afterEachTest, TEST_LOG_CONFIG, tempDir } from '../helpers/server.js'

const cluster = usePostgres()
const undo = afterEachTest()

/** Log times near now: retention would delete rows from 1970. */
const T = Date.now() - 3_600_000
/** The first id drawn from the store's sequence: number 2^20, times 1024, writer 0. */
const ID = 2 ** 30
const SCOPE = 'log/default/p'

// rollBytes 1: roll on every flush
const cfg = (over: Partial<LogConfig> = {}): LogConfig => ({ ...TEST_LOG_CONFIG, rollBytes: 1, ...over })

/** One request of rows `xs` (two values each) at `time`. */
function record(time: number, xs: number[][]): InferenceRecord {
  const rows = xs.length
  return {
    time,
    workspace: 'default',
    pipeline: 'p',
    pipelineVersion: 1,
    model: 'm:1',
    rows,
    inputs: { x: tensor('float32', [rows, 2], xs.flat()) },
    outputs: {},
    rowModels: new Array(rows).fill('m:1'),
    checkFailures: new Int32Array(rows),
    shadow: {},
    latencyMs: 1,
  }
}

/** A database of its own, and a store on it for each host. */
async function database(hosts: number): Promise<{ url: string; stores: PgStore[] }> {
  const url = await cluster.database()
  const opened: PgStore[] = []
  for (let i = 0; i < hosts; i++) opened.push(await PgStore.open(url))
  for (const o of opened) undo.closes(o)
  return { url, stores: opened }
}

/** A host's log: a data folder of its own (or `dir`), one writer, the shared store. */
async function host(store: PgStore, over: Partial<LogConfig> = {}, dir = tempDir(), log = silentLogger) {
  undo.removes(dir)
  const l = await InferenceLog.open(dir, cfg(over), log, INLINE_LOG_WORK, { index: 0, count: 1 }, store)
  undo.closes(l)
  return { log: l, dir, pdir: join(dir, 'logs', 'default', 'p') }
}

const times = (rows: { time: number }[]) => rows.map((r) => r.time - T)
const x = (rows: Record<string, unknown>[]) => rows.map((r) => r['in.x'])
const seg = (id: number, min: number, max = min) => `seg-${id}-${min}-${max}.arrow`

describe('inference log shared through PostgreSQL', () => {
  it('gives every host unique ids and every host reads every host’s rolled rows, paging across them', async () => {
    const { stores } = await database(3)
    const [sa, sb, sc] = stores as [PgStore, PgStore, PgStore]
    const a = await host(sa)
    const b = await host(sb)
    // Each flush draws the open segment's id (its first) and the next one's, then rolls.
    a.log.append(
      record(T + 1000, [
        [1, 1],
        [2, 1],
      ]),
    )
    await a.log.flush() // ids ID (rolled) and ID + 1024
    b.log.append(record(T + 2000, [[3, 2]]))
    await b.log.flush() // ID + 2048 (rolled) and ID + 3072
    a.log.append(record(T + 3000, [[4, 1]]))
    await a.log.flush() // ID + 1024 rolled; ID + 4096 drawn
    b.log.append(record(T + 4000, [[5, 2]]))
    await b.log.flush() // ID + 3072 rolled; ID + 5120 drawn

    const names = [seg(ID, T + 1000), seg(ID + 1024, T + 3000), seg(ID + 2048, T + 2000), seg(ID + 3072, T + 4000)]
    expect((await sa.files.list(SCOPE)).map((f) => f.name)).toEqual(names)
    // Segment id order, whichever host logged the rows.
    const all = [1000, 1000, 3000, 2000, 4000]
    expect(times(await a.log.query('default', 'p'))).toEqual(all)
    expect(x(await b.log.query('default', 'p'))).toEqual([
      [1, 1],
      [2, 1],
      [4, 1],
      [3, 2],
      [5, 2],
    ])
    // The other host's segments are now in each folder, read as its own.
    expect(readdirSync(a.pdir).sort()).toEqual(names)
    expect(readdirSync(b.pdir).sort()).toEqual(names)
    // Assays read every host's values.
    expect(Array.from(await b.log.values('default', 'p', 'in.x[0]'))).toEqual([1, 2, 4, 3, 5])
    expect(Array.from(await a.log.values('default', 'p', 'in.x[1]', T + 2000))).toEqual([1, 2, 2])

    // Pages go on from position to position across the hosts' segments.
    const page = async (from?: { segment: number; row: number }) => {
      const p = await b.log.page('default', 'p', { limit: 2, format: 'json', ...(from ? { from } : {}) })
      return { times: times(JSON.parse(new TextDecoder().decode(p.body))), next: p.next }
    }
    const first = await page()
    expect(first).toEqual({ times: [1000, 1000], next: { segment: ID + 1024, row: 0 } })
    const second = await page(first.next)
    expect(second).toEqual({ times: [3000, 2000], next: { segment: ID + 3072, row: 0 } })
    expect(await page(second.next)).toEqual({ times: [4000], next: undefined })

    // An open segment stays with its host until it rolls.
    const c = await host(sc, { rollBytes: 64 * 1024 * 1024 })
    c.log.append(record(T + 5000, [[6, 3]]))
    expect(times(await c.log.query('default', 'p'))).toEqual([...all, 5000])
    expect(times(await a.log.query('default', 'p'))).toEqual(all)
    expect(readdirSync(c.pdir).sort()).toEqual([`open-${ID + 6144}.arrows`, ...names])
  })

  it('shares at a later flush, or after a restart, a segment it could not share when rolled', async () => {
    const { url, stores } = await database(2)
    const [sa, sb] = stores as [PgStore, PgStore]
    const lines: string[] = []
    const a = await host(
      sa,
      {},
      tempDir(),
      createLogger('error', (l) => lines.push(l)),
    )
    // The store refuses files for a while (their table is elsewhere).
    await cluster.sql(url, 'ALTER TABLE shared_files RENAME TO shared_files_away')
    a.log.append(record(T + 1000, [[1, 1]]))
    await a.log.flush()
    expect(lines.filter((l) => l.includes('sharing rolled segments failed'))).toHaveLength(1)
    expect(readdirSync(a.pdir)).toEqual([seg(ID, T + 1000)]) // kept here
    await cluster.sql(url, 'ALTER TABLE shared_files_away RENAME TO shared_files')
    await a.log.flush() // no rows: only the share, tried again
    expect((await sa.files.list(SCOPE)).map((f) => f.name)).toEqual([seg(ID, T + 1000)])

    // Not shared when rolled, nor at the flush of the stop: shared by the next start.
    await cluster.sql(url, 'ALTER TABLE shared_files RENAME TO shared_files_away')
    a.log.append(record(T + 2000, [[2, 1]]))
    await a.log.flush() // rolls ID + 1024
    await a.log.close()
    expect(lines.filter((l) => l.includes('sharing rolled segments failed'))).toHaveLength(3)
    await cluster.sql(url, 'ALTER TABLE shared_files_away RENAME TO shared_files')
    const again = await host(sa, {}, a.dir)
    again.log.append(record(T + 3000, [[3, 1]]))
    await again.log.flush() // its first id is above every id of the folder: ID + 3072 (ID + 2048 was drawn, not used)
    expect((await sa.files.list(SCOPE)).map((f) => f.name)).toEqual([
      seg(ID, T + 1000),
      seg(ID + 1024, T + 2000),
      seg(ID + 3072, T + 3000),
    ])
    const b = await host(sb)
    expect(x(await b.log.query('default', 'p'))).toEqual([
      [1, 1],
      [2, 1],
      [3, 1],
    ])
  })

  it('forgets a shared segment when retention deletes it on any host, idempotently', async () => {
    const { stores } = await database(3)
    const [sa, sb, sc] = stores as [PgStore, PgStore, PgStore]
    const old = Date.now() - 3 * 3600_000
    const a = await host(sa)
    a.log.append(record(old, [[1, 1]]))
    await a.log.flush() // ID, within 24 hours' retention: shared
    const b = await host(sb)
    expect(x(await b.log.query('default', 'p'))).toEqual([[1, 1]]) // and copied into B's folder
    const [shared] = await sa.files.list(SCOPE)
    expect(shared?.name).toBe(seg(ID, old))
    await a.log.close()

    // A starts again keeping an hour: its next flush deletes the segment here and in the store.
    const now = Date.now()
    const a1 = await host(sa, { retentionHours: 1 }, a.dir)
    a1.log.append(record(now, [[2, 1]]))
    await a1.log.flush() // ID + 2048 (above the folder's ID; ID + 1024 was drawn, not used)
    expect(readdirSync(a.pdir)).toEqual([seg(ID + 2048, now)])
    expect((await sa.files.list(SCOPE)).map((f) => f.name)).toEqual([seg(ID + 2048, now)])
    expect(await sa.blobs.get(shared?.sha256 ?? '')).toBeUndefined()
    const c = await host(sc)
    expect(x(await c.log.query('default', 'p'))).toEqual([[2, 1]])

    // B, keeping an hour too, deletes its copy; forgetting it again is no error.
    await b.log.close()
    const lines: string[] = []
    const b1 = await host(
      sb,
      { retentionHours: 1 },
      b.dir,
      createLogger('error', (l) => lines.push(l)),
    )
    b1.log.append(record(now + 1, [[3, 2]]))
    expect(x(await b1.log.query('default', 'p'))).toEqual([
      [2, 1],
      [3, 2],
    ])
    expect(existsSync(join(b.pdir, seg(ID, old)))).toBe(false)
    expect(lines).toEqual([])
  })

  it('refuses a shared segment whose bytes are not those it was shared with', async () => {
    const { url, stores } = await database(2)
    const [sa, sb] = stores as [PgStore, PgStore]
    const a = await host(sa)
    a.log.append(record(T + 1000, [[1, 1]]))
    await a.log.flush()
    const [shared] = await sa.files.list(SCOPE)
    await cluster.sql(
      url,
      'UPDATE blob_parts SET bytes = set_byte(bytes, 40, 255 - get_byte(bytes, 40)) WHERE sha256 = $1',
      [shared?.sha256],
    )
    const b = await host(sb)
    await expect(b.log.query('default', 'p')).rejects.toThrow(
      `inference log segment ${seg(ID, T + 1000)} of ${SCOPE} is corrupt in the shared store`,
    )
    await expect(b.log.values('default', 'p', 'in.x[0]')).rejects.toThrow('is corrupt in the shared store')
    expect(readdirSync(b.pdir)).toEqual([]) // neither kept nor left half-written
    expect(times(await a.log.query('default', 'p'))).toEqual([1000]) // A reads its own copy
  })
})
