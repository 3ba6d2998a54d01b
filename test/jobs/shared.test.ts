/**
 * Batch jobs across servers sharing a PostgreSQL store, in process, each server on a data folder of
 * its own: a job created through A and interrupted is resumed by B, whose folder lacks it (its input
 * and committed chunks fetched from the store), and finishes with every row exactly once; a chunk
 * stored but never committed is redone, not used; a chunk whose shared bytes no longer match their
 * hash is refused, and a server's own copy that differs from the shared one is fetched again.
 * Expected values are written by hand: the pipeline doubles, so row i of `x = i` scores `2i`.
 * (Real processes, one killed with SIGKILL mid-job: test/server/two-hosts.test.ts.)
 */
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tableFromArrays, tableToIPC } from '@uwdata/flechette'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { LastmileClient } from '../../src/client/client.js'
import { silentLogger } from '../../src/logger.js'
import { type BuiltServer, buildServer } from '../../src/server/serve.js'
import { PgStore } from '../../src/store/pg-store.js'
import { usePostgres } from '../helpers/postgres.js'
import { clientFor, doubler, finishedJob, tempDir, testConfig } from '../helpers/server.js'

const cluster = usePostgres()
const servers: BuiltServer[] = []
const dirs: string[] = []
afterEach(async () => {
  for (const s of servers.splice(0)) await s.shutdown()
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

/** Rows per chunk: small, so that a job has many chunks. */
const CHUNK_ROWS = 50

/** A server on a data folder of its own over the store at `url`, and a client of it. */
async function server(url: string): Promise<{ s: BuiltServer; lm: LastmileClient; data: string }> {
  const data = tempDir()
  dirs.push(data)
  const s = await buildServer(testConfig({ dataDir: data, storeUrl: url, jobs: { chunkRows: CHUNK_ROWS } }), {
    log: silentLogger,
  })
  servers.push(s)
  return { s, lm: clientFor(s.app), data }
}

/** A CSV of `rows` rows, column x = row number. */
const csvOf = (rows: number) =>
  new TextEncoder().encode(`x\n${Array.from({ length: rows }, (_, i) => `${i}\n`).join('')}`)

/** The result every row of {@link csvOf} must score to, by hand: y = 2x, each row once, in order. */
const expectedCsv = (rows: number) => ['x,out.y', ...Array.from({ length: rows }, (_, i) => `${i},${2 * i}`)]

const resultLines = async (lm: LastmileClient, id: string) =>
  (await (await lm.jobResult(id, 'csv')).text()).trimEnd().split('\n')

/** The job's shared files: name → sha256. */
async function sharedFiles(url: string, id: string): Promise<Map<string, string>> {
  const { rows } = await cluster.sql(url, 'SELECT name, sha256 FROM shared_files WHERE scope = $1 ORDER BY name', [
    `job/${id}`,
  ])
  return new Map(rows.map((r) => [r.name as string, r.sha256 as string]))
}

const chunkNames = (n: number) => Array.from({ length: n }, (_, k) => `chunk-${String(k).padStart(6, '0')}.arrow`)

describe('batch jobs shared through PostgreSQL', () => {
  it('resumes on B a job A was running, redoes a chunk stored but not committed, every row once', async () => {
    const url = await cluster.database()
    const a = await server(url)
    await a.lm.uploadModel('default', 'd', doubler(1))
    await a.lm.putPipeline('default', 'd', [{ model: 'd' }])
    await a.lm.deploy('default', 'd', { engine: 'cpu' })
    // A's fourth model call (chunk 3: a chunk is one call) waits until A's job runner is told to
    // stop: A commits exactly chunks 0..3, then stops, as a server shutting down does.
    const deployment = a.s.deps.manager.require('default', 'd')
    const infer = deployment.infer.bind(deployment)
    let calls = 0
    let release = () => {}
    const gate = new Promise<void>((r) => {
      release = r
    })
    deployment.infer = async (feeds, opts) => {
      if (++calls === 4) await gate
      return infer(feeds, opts)
    }
    const jobs = a.s.deps.jobs
    const stop = jobs.stop.bind(jobs)
    jobs.stop = () => {
      const stopped = stop() // marks the running job to stop after its chunk, then waits for it
      release()
      return stopped
    }
    const rows = 1000 // 20 chunks
    const { id } = await a.lm.createJob('default', 'd', csvOf(rows), { format: 'csv' })
    await vi.waitFor(() => expect(calls).toBe(4), { timeout: 30_000, interval: 10 })
    servers.splice(servers.indexOf(a.s), 1)
    await a.s.shutdown()
    const [stored] = (
      await cluster.sql(url, 'SELECT status, chunks_done::int, rows_done::int, attempts FROM jobs WHERE id = $1', [id])
    ).rows
    // A graceful stop gives its attempt back.
    expect(stored).toEqual({ status: 'running', chunks_done: 4, rows_done: 200, attempts: 0 })
    const shared = await sharedFiles(url, id)
    expect([...shared.keys()]).toEqual([...chunkNames(4), 'input'])

    // As if A had died after storing chunk 3 and before committing it, with other bytes (rows
    // 150..199 scored -1): B must redo chunk 3, not use what the store holds under its name.
    await cluster.sql(url, 'UPDATE jobs SET chunks_done = 3, rows_done = 150 WHERE id = $1', [id])
    const wrong = tableToIPC(
      tableFromArrays({ x: Array.from({ length: 50 }, (_, i) => 150 + i), 'out.y': new Array(50).fill(-1) }),
      { format: 'stream' },
    ) as Uint8Array
    const leftover = createHash('sha256').update(wrong).digest('hex')
    const store = await PgStore.open(url)
    await store.blobs.put(leftover, wrong)
    await store.files.put(`job/${id}`, { name: 'chunk-000003.arrow', sha256: leftover, size: wrong.byteLength })
    await store.close()
    rmSync(a.data, { recursive: true, force: true }) // A's host is gone, with its folder

    const b = await server(url)
    const done = await finishedJob(b.lm, id)
    expect(done).toMatchObject({ status: 'succeeded', rows_done: rows, error_count: 0, attempts: 1 })
    expect(await resultLines(b.lm, id)).toEqual(expectedCsv(rows))
    // Every chunk is shared; the input is forgotten (here and in the store) once the job has ended,
    // and so is the leftover's blob: the model's and the 20 chunks' are all there is.
    const after = await sharedFiles(url, id)
    expect([...after.keys()]).toEqual(chunkNames(20))
    expect(new Set(after.values()).size).toBe(20)
    expect((await cluster.sql(url, 'SELECT count(*)::int AS n FROM blobs')).rows).toEqual([{ n: 21 }])
    const folder = join(b.data, 'jobs', id)
    expect(readdirSync(folder).sort()).toEqual(chunkNames(20))

    // B's copy of a chunk that differs from the shared one (chunk 6's bytes as chunk 5) is fetched again.
    writeFileSync(join(folder, 'chunk-000005.arrow'), readFileSync(join(folder, 'chunk-000006.arrow')))
    expect(await resultLines(b.lm, id)).toEqual(expectedCsv(rows))

    // Deleting the job forgets its shared files and the blobs only they named (the model's stays).
    expect(await b.lm.cancelJob(id)).toBeUndefined()
    expect((await sharedFiles(url, id)).size).toBe(0)
    expect((await cluster.sql(url, 'SELECT count(*)::int AS n FROM blobs')).rows).toEqual([{ n: 1 }])
    expect(existsSync(folder)).toBe(false)
  }, 120_000)

  it('refuses a shared chunk whose bytes fail their hash, and uses none of it', async () => {
    const url = await cluster.database()
    const a = await server(url)
    await a.lm.uploadModel('default', 'd', doubler(1))
    await a.lm.putPipeline('default', 'd', [{ model: 'd' }])
    await a.lm.deploy('default', 'd', { engine: 'cpu' })
    const rows = 200 // 4 chunks
    const { id } = await a.lm.createJob('default', 'd', csvOf(rows), { format: 'csv' })
    expect(await finishedJob(a.lm, id)).toMatchObject({ status: 'succeeded', rows_done: rows })
    const sha = (await sharedFiles(url, id)).get('chunk-000002.arrow')
    // One byte of chunk 2's stored bytes changed: same size, another hash.
    await cluster.sql(
      url,
      'UPDATE blob_parts SET bytes = set_byte(bytes, 40, 255 - get_byte(bytes, 40)) WHERE sha256 = $1',
      [sha],
    )

    const b = await server(url)
    await expect(b.s.deps.jobs.result(id)).rejects.toThrow(
      `file 'chunk-000002.arrow' of job '${id}' is corrupt in the shared store (hash mismatch); not used`,
    )
    // Nothing of it was kept: chunks 0 and 1 were fetched before it, no temporary file is left.
    expect(readdirSync(join(b.data, 'jobs', id)).sort()).toEqual(chunkNames(2))
    // A's own copy still matches the hash the store recorded: A serves the whole result.
    expect(await resultLines(a.lm, id)).toEqual(expectedCsv(rows))
  }, 120_000)
})
