/**
 * `lastmile serve --workers 2`, a real process tree: a deploy made through one worker is served
 * by both, a hot swap under load across workers fails no request, each worker writes its own
 * inference-log segments, a worker killed with SIGKILL is started again while the other serves,
 * singleton work (the job runner) moves to the other worker when its holder dies, and SIGTERM
 * drains everything.
 */
import type { ChildProcess } from 'node:child_process'
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { LastmileClient } from '../../src/client/client.js'
import { infer, scaler, steadyLoad } from '../helpers/scale-pipeline.js'
import { cliBuilt, spawnServer, tempDir } from '../helpers/server.js'

const children: ChildProcess[] = []
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL')
})

/** The pids of `primary`'s worker processes (not its stderr filter). */
function childPids(primary: number): number[] {
  let pids: number[]
  try {
    pids = execFileSync('pgrep', ['-P', String(primary)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number)
  } catch {
    return []
  }
  return pids.filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('lastmile.js')
    } catch {
      return false
    }
  })
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** The holder's pid of an unexpired lease, read from the store as another process would. */
function leaseHolderPid(data: string, name: string): number | undefined {
  const db = new Database(join(data, 'lastmile.db'), { readonly: true, fileMustExist: true })
  try {
    const row = db.prepare('SELECT holder FROM leases WHERE name = ? AND expires_at > ?').get(name, Date.now()) as
      | { holder: string }
      | undefined
    return row ? Number(row.holder.split(':').pop()) : undefined
  } finally {
    db.close()
  }
}

const built = cliBuilt
describe.runIf(built)(
  `worker processes${built ? '' : ' (skipped: run `npm run build` first; `npm test` does)'}`,
  () => {
    it('serves one deployment from every worker, swaps it under load, survives kill -9, moves singleton work', async () => {
      const data = tempDir()
      const s = await spawnServer(['--data', data, '--no-demo', '--backend', 'cpu', '--workers', '2'])
      children.push(s.child)
      const primary = s.child.pid as number
      await expect.poll(() => childPids(primary).length, { timeout: 60_000 }).toBe(2)
      const lm = new LastmileClient({ url: s.url })
      await lm.uploadModel('default', 'times2', scaler(2))
      await lm.uploadModel('default', 'times3', scaler(3))
      await lm.putPipeline('default', 'scale', [{ model: 'times2' }])
      await lm.deploy('default', 'scale')

      // Every worker follows the deploy: 20 fresh connections in a row all answer 2x.
      await expect
        .poll(
          async () => (await Promise.all(Array.from({ length: 20 }, (_, i) => infer(s.url, i + 1)))).map((r) => r.y),
          { timeout: 10_000 },
        )
        .toEqual(Array.from({ length: 20 }, (_, i) => 2 * (i + 1)))
      const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => infer(s.url, i + 1)))
      expect(answers.map((r) => r.y)).toEqual(Array.from({ length: 20 }, (_, i) => 2 * (i + 1)))

      // A hot swap through one worker while both serve a steady load: no request fails, and every
      // answer is x·2 or x·3, then x·3 only.
      const load = steadyLoad(s.url, 6)
      await expect.poll(() => load.results.length, { timeout: 30_000 }).toBeGreaterThan(30)
      await lm.putPipeline('default', 'scale', [{ model: 'times3' }]) // deployed: swapped to version 2
      const swappedAt = load.results.length
      await expect
        .poll(
          async () => (await Promise.all(Array.from({ length: 10 }, () => infer(s.url, 1)))).every((r) => r.y === 3),
          {
            timeout: 10_000,
          },
        )
        .toBe(true)
      const results = await load.stop()
      expect(results.filter((r) => r.status !== 200)).toEqual([])
      expect(results.every((r) => r.y === 2 * r.x || r.y === 3 * r.x)).toBe(true)
      expect(results.slice(0, swappedAt).some((r) => r.y === 2 * r.x)).toBe(true)

      // Each worker wrote its own segments (writer 0 from id 1024 on, writer 1 from id 1).
      await expect
        .poll(
          () => {
            const ids = readdirSync(join(data, 'logs', 'default', 'scale')).map((f) => Number(/-(\d+)/.exec(f)?.[1]))
            return [ids.some((id) => id % 1024 === 0), ids.some((id) => id % 1024 === 1)]
          },
          { timeout: 10_000 },
        )
        .toEqual([true, true])

      // The job runner's holder dies: the other worker takes the lease over, and runs a new job.
      await expect.poll(() => leaseHolderPid(data, `jobs@${hostname()}:${data}`), { timeout: 30_000 }).toBeDefined()
      const holder = leaseHolderPid(data, `jobs@${hostname()}:${data}`) as number
      expect(childPids(primary)).toContain(holder)
      process.kill(holder, 'SIGKILL')
      // The other worker keeps answering meanwhile (connections to the dead one may fail).
      await expect.poll(async () => (await infer(s.url, 5)).y, { timeout: 10_000 }).toBe(15)
      await expect
        .poll(
          () => {
            const now = leaseHolderPid(data, `jobs@${hostname()}:${data}`)
            return now !== undefined && now !== holder && alive(now)
          },
          { timeout: 40_000, interval: 250 },
        )
        .toBe(true)
      // The primary started a worker in the dead one's place.
      await expect.poll(() => childPids(primary).filter((p) => p !== holder).length, { timeout: 60_000 }).toBe(2)
      const job = await lm.createJob('default', 'scale', new TextEncoder().encode('x\n1\n2\n4\n'), { format: 'csv' })
      await expect.poll(async () => (await lm.job(job.id)).status, { timeout: 60_000 }).toBe('succeeded')
      expect((await lm.job(job.id)).rows_done).toBe(3)

      // SIGTERM: the primary drains both workers and exits 0.
      const exited = new Promise<number | null>((r) => s.child.once('exit', (code) => r(code)))
      const workers = childPids(primary)
      s.child.kill('SIGTERM')
      expect(await exited).toBe(0)
      await expect.poll(() => workers.some(alive), { timeout: 30_000 }).toBe(false)
    }, 240_000)
  },
)
