/**
 * Two servers, as on two hosts: separate data folders, one PostgreSQL store, real processes on
 * loopback. A model uploaded through A is served by B (its bytes fetched from the store's blobs); a
 * hot swap made through A while B serves under load fails none of B's requests; A killed with
 * SIGKILL leaves B serving, and B takes A's singleton work (the assay scheduler) over. Each answers
 * the inference log's rows the other logged, once rolled. A batch job A was running when it was
 * killed (SIGKILL, some chunks committed) is finished by B, every row exactly once.
 */
import type { ChildProcess } from 'node:child_process'
import { existsSync, readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { LastmileClient } from '../../src/client/client.js'
import { usePostgres } from '../helpers/postgres.js'
import { infer, scaler, steadyLoad } from '../helpers/scale-pipeline.js'
import { cliBuilt, spawnServer, tempDir } from '../helpers/server.js'

const children: ChildProcess[] = []
const dirs: string[] = []
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL')
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
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

  it('answers on each server the rows the other logged, once their segment rolls', async () => {
    const store = await cluster.database()
    const serve = async () => {
      const s = await spawnServer(['--data', tempDir(), '--store', store, '--no-demo', '--backend', 'cpu'], {
        LASTMILE_INFERENCE_LOG_ROLL_SECONDS: '1',
      })
      children.push(s.child)
      return { ...s, lm: new LastmileClient({ url: s.url }) }
    }
    const a = await serve()
    const b = await serve()
    await a.lm.uploadModel('default', 'times2', scaler(2))
    await a.lm.putPipeline('default', 'scale', [{ model: 'times2' }])
    await a.lm.deploy('default', 'scale')
    await expect.poll(async () => (await infer(b.url, 1)).y, { timeout: 15_000 }).toBe(2)
    for (const x of [101, 102, 103]) expect((await infer(a.url, x)).y).toBe(2 * x)
    const logged = async (server: typeof a) => {
      const rows = (await (await server.lm.logs('default', 'scale')).json()) as Record<string, number[]>[]
      return rows.map((r) => [r['in.x']?.[0], r['out.y']?.[0]]).sort((p, q) => (p[0] ?? 0) - (q[0] ?? 0))
    }
    // A's rows reach B within a roll (a second here) and a flush.
    const both = [
      [1, 2],
      [101, 202],
      [102, 204],
      [103, 206],
    ]
    await expect.poll(() => logged(b), { timeout: 30_000, interval: 250 }).toEqual(both)
    await expect.poll(() => logged(a), { timeout: 30_000, interval: 250 }).toEqual(both)
  }, 120_000)

  it('finishes on B, every row exactly once, a batch job A was running when it was killed', async () => {
    const store = await cluster.database()
    // Chunks of 10 rows: 4,000 rows are 400 chunks, each fsynced, stored in the database and
    // committed: far more than run between seeing A's first commit and its death.
    const rows = 4_000
    const serve = async () => {
      const data = tempDir()
      dirs.push(data)
      const s = await spawnServer(['--data', data, '--store', store, '--no-demo', '--backend', 'cpu'], {
        LASTMILE_JOB_CHUNK_ROWS: '10',
      })
      children.push(s.child)
      return { ...s, data, lm: new LastmileClient({ url: s.url }) }
    }
    const a = await serve()
    const b = await serve()
    await a.lm.uploadModel('default', 'times2', scaler(2))
    await a.lm.putPipeline('default', 'scale', [{ model: 'times2' }])
    await a.lm.deploy('default', 'scale')
    await expect.poll(async () => (await infer(b.url, 1)).y, { timeout: 15_000 }).toBe(2) // B serves it too
    const row = (sql: string, values: unknown[]) => cluster.sql(store, sql, values).then((r) => r.rows[0])
    const jobsHolder = async () =>
      Number(
        (await row('SELECT holder FROM leases WHERE name = $1 AND expires_at > now()', ['jobs']))?.holder
          ?.split(':')
          .pop(),
      )
    expect(await jobsHolder()).toBe(a.child.pid) // one job runner for both hosts: A's, the first to start

    // Uploaded to B, run by A: A fetches the input from the database (B announced the job).
    const csv = `x\n${Array.from({ length: rows }, (_, i) => `${i}\n`).join('')}`
    const { id } = await b.lm.createJob('default', 'scale', new TextEncoder().encode(csv), { format: 'csv' })
    await expect.poll(async () => (await a.lm.job(id)).rows_done, { timeout: 60_000, interval: 5 }).toBeGreaterThan(0)
    const exited = new Promise((r) => a.child.once('exit', r))
    a.child.kill('SIGKILL')
    await exited
    // A died mid-job: some chunks committed, not all; its start counted, never given back.
    const atDeath = await row('SELECT status, chunks_done::int AS chunks, attempts FROM jobs WHERE id = $1', [id])
    expect(atDeath).toMatchObject({ status: 'running', attempts: 1 })
    expect(atDeath.chunks).toBeGreaterThan(0)
    expect(atDeath.chunks).toBeLessThan(rows / 10)

    // B takes the job runner over within the lease's life and resumes the job from A's last commit;
    // A's chunks are fetched from the database for the result.
    await expect.poll(jobsHolder, { timeout: 40_000, interval: 250 }).toBe(b.child.pid)
    await expect.poll(async () => (await b.lm.job(id)).status, { timeout: 120_000, interval: 100 }).toBe('succeeded')
    expect(await b.lm.job(id)).toMatchObject({ rows_done: rows, error_count: 0, attempts: 2 })
    const result = (await (await b.lm.jobResult(id, 'csv')).text()).trimEnd().split('\n')
    // By hand: the pipeline doubles, each row once, in input order.
    expect(result).toEqual(['x,out.y', ...Array.from({ length: rows }, (_, i) => `${i},${2 * i}`)])
    expect(readdirSync(join(a.data, 'jobs', id))).toContain('input.csv') // A ran it on its own copy
    expect(readdirSync(join(b.data, 'jobs', id))).toHaveLength(rows / 10) // the chunks; the input went at the end
  }, 180_000)
})
