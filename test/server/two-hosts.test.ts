/**
 * Two servers, as on two hosts: separate data folders, one PostgreSQL store, real processes on
 * loopback. A model uploaded through A is served by B (its bytes fetched from the store's blobs); a
 * hot swap made through A while B serves under load fails none of B's requests; A killed with
 * SIGKILL leaves B serving, and B takes A's singleton work (the assay scheduler) over.
 */
import type { ChildProcess } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { LastmileClient } from '../../src/client/client.js'
import { usePostgres } from '../helpers/postgres.js'
import { infer, scaler, steadyLoad } from '../helpers/scale-pipeline.js'
import { cliBuilt, spawnServer, tempDir } from '../helpers/server.js'

const children: ChildProcess[] = []
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL')
})

const built = cliBuilt
describe.runIf(built)(`two hosts sharing PostgreSQL${built ? '' : ' (skipped: run `npm run build` first)'}`, () => {
  const cluster = usePostgres()

  it('serves from B what A deployed, swaps under load, and B carries on when A dies', async () => {
    const store = await cluster.database()
    const serve = async () => {
      const data = tempDir()
      const s = await spawnServer(['--data', data, '--store', store, '--no-demo', '--backend', 'cpu'])
      children.push(s.child)
      return { ...s, data, lm: new LastmileClient({ url: s.url }) }
    }
    const a = await serve()
    const b = await serve()
    await a.lm.uploadModel('default', 'times2', scaler(2))
    await a.lm.uploadModel('default', 'times3', scaler(3))
    await a.lm.putPipeline('default', 'scale', [{ model: 'times2' }])
    await a.lm.deploy('default', 'scale')

    // B follows: it fetched the model's bytes from the store into its own artifact cache.
    await expect.poll(async () => (await infer(b.url, 7)).y, { timeout: 15_000 }).toBe(14)
    const cached = readdirSync(join(b.data, 'artifacts'), { recursive: true, encoding: 'utf8' })
    expect(cached.filter((f) => f.endsWith('.onnx'))).toHaveLength(1) // times2 only: times3 was never needed

    // A hot swap made through A while B serves a steady load.
    const load = steadyLoad(b.url, 6)
    await expect.poll(() => load.results.length, { timeout: 30_000 }).toBeGreaterThan(30)
    await a.lm.putPipeline('default', 'scale', [{ model: 'times3' }])
    await expect.poll(async () => (await infer(b.url, 1)).y, { timeout: 15_000 }).toBe(3)
    const results = await load.stop()
    expect(results.filter((r) => r.status !== 200)).toEqual([])
    expect(results.every((r) => r.y === 2 * r.x || r.y === 3 * r.x)).toBe(true)
    expect(results.some((r) => r.y === 2 * r.x) && results.some((r) => r.y === 3 * r.x)).toBe(true)

    // Which server holds the assay scheduler: the first to start took it.
    const holder = async () =>
      (await cluster.sql(store, 'SELECT holder FROM leases WHERE name = $1 AND expires_at > now()', ['assays'])).rows[0]
        ?.holder as string | undefined
    const pidOf = (h: string | undefined) => Number(h?.split(':').pop())
    await expect.poll(holder, { timeout: 15_000 }).toBeDefined()
    expect(pidOf(await holder())).toBe(a.child.pid)

    // A dies without a word: B keeps answering, and takes the assay scheduler over within the lease's life.
    a.child.kill('SIGKILL')
    expect((await infer(b.url, 5)).y).toBe(15)
    await expect.poll(async () => pidOf(await holder()), { timeout: 40_000, interval: 250 }).toBe(b.child.pid)
    expect((await infer(b.url, 6)).y).toBe(18)
    expect(existsSync(join(a.data, 'lastmile.db'))).toBe(false) // the metadata was never in A's folder
  }, 180_000)
})
