/**
 * Data at rest: after a start every folder of the data folder is 0700 and every file 0600 (the
 * database and its -wal/-shm, artifacts, job folders and files, inference-log segments), whatever
 * the umask and whatever an older version left; leftovers of crashes (temp files, artifacts no
 * model version uses, job folders with no job) are removed at the next start with a log line;
 * a second server on the same folder is refused.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { isMainThread } from 'node:worker_threads'
import { afterEach, describe, expect, it } from 'vitest'
import { createLogger } from '../../src/logger.js'
import { buildServer } from '../../src/server/serve.js'
import { sha256Hex } from '../../src/store/artifacts.js'
import { mlpClassifier } from '../fixtures/models.js'
import { clientFor, doubler, tempDir, testConfig } from '../helpers/server.js'

const dirs: string[] = []
const servers: { shutdown(): Promise<void> }[] = []
afterEach(async () => {
  for (const s of servers.splice(0)) await s.shutdown()
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

/** A server on `dataDir` whose log lines are kept. */
async function start(dataDir: string) {
  const lines: string[] = []
  const built = await buildServer(testConfig({ dataDir }), { log: createLogger('info', (l) => lines.push(l)) })
  servers.push(built)
  return { built, lm: clientFor(built.app), lines }
}

async function stop(s: { shutdown(): Promise<void> }) {
  servers.splice(servers.indexOf(s), 1)
  await s.shutdown()
}

/** Every path under `dir` (itself included) with its permission bits, as 'rel: 0700'. */
function modes(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (p: string) => {
    out[relative(dir, p) || '.'] = (statSync(p).mode & 0o777).toString(8).padStart(4, '0')
    if (statSync(p).isDirectory()) for (const e of readdirSync(p)) walk(join(p, e))
  }
  walk(dir)
  return out
}

/** A data folder with a deployed pipeline, a logged request, a job and its result. */
async function busyDataDir(dataDir: string) {
  const s = await start(dataDir)
  await s.lm.uploadModel('default', 'double', doubler(2))
  await s.lm.putPipeline('default', 'double', [{ model: 'double' }])
  await s.lm.deploy('default', 'double')
  await s.lm.inferRecords('default', 'double', [{ x: [1, 2] }])
  await s.built.deps.inferenceLog.flush()
  const job = await s.lm.createJob('default', 'double', new TextEncoder().encode('x_0,x_1\n1,2\n3,4\n'), {
    format: 'csv',
    features: ['x_0', 'x_1'],
  })
  await expect.poll(async () => (await s.lm.job(job.id)).status, { timeout: 30_000 }).toBe('succeeded')
  return { ...s, job }
}

describe('data at rest', () => {
  // process.umask() cannot be set in a worker thread: Stryker's vitest runner runs tests in threads
  // (scripts/vitest.mutate.config.ts); `npm test` runs them in forked processes, where this runs.
  it.skipIf(!isMainThread)('creates every folder 0700 and every file 0600, even with a permissive umask', async () => {
    const dataDir = join(tempDir(), 'data')
    dirs.push(join(dataDir, '..'))
    const umask = process.umask(0o000)
    try {
      const s = await busyDataDir(dataDir)
      const running = modes(dataDir)
      // The database's WAL and shared-memory files exist while the server runs.
      expect(running).toMatchObject({
        '.': '0700',
        'lastmile.db': '0600',
        'lastmile.db-wal': '0600',
        'lastmile.db-shm': '0600',
      })
      expect(Object.keys(running).some((p) => p.startsWith('artifacts/') && p.endsWith('.onnx'))).toBe(true)
      expect(Object.keys(running).some((p) => p.startsWith(`jobs/${s.job.id}/`))).toBe(true)
      expect(Object.keys(running).some((p) => p.startsWith('logs/default/double/'))).toBe(true)
      const loose = Object.entries(running).filter(
        ([p, m]) => m !== (statSync(join(dataDir, p)).isDirectory() ? '0700' : '0600'),
      )
      expect(loose).toEqual([])
    } finally {
      process.umask(umask)
    }
  })

  it('fixes the modes an older version left, at the next start', async () => {
    const dataDir = tempDir()
    dirs.push(dataDir)
    const first = await busyDataDir(dataDir)
    await stop(first.built)
    const loosen = (p: string) => {
      chmodSync(p, statSync(p).isDirectory() ? 0o755 : 0o644)
      if (statSync(p).isDirectory()) for (const e of readdirSync(p)) loosen(join(p, e))
    }
    loosen(dataDir)
    // A file of the user's in the data folder is not lastmile's to change.
    writeFileSync(join(dataDir, 'notes.sh'), 'echo hi\n')
    chmodSync(join(dataDir, 'notes.sh'), 0o755)
    const second = await start(dataDir)
    const { 'notes.sh': notes, ...after } = modes(dataDir)
    expect(notes).toBe('0755')
    expect(
      Object.entries(after).filter(([p, m]) => m !== (statSync(join(dataDir, p)).isDirectory() ? '0700' : '0600')),
    ).toEqual([])
    const line = second.lines.find((l) => l.includes('data folder tidied at start'))
    expect(Number(/"modesFixed":(\d+)/.exec(line ?? '')?.[1])).toBeGreaterThan(0)
  })

  it('removes temp files, orphan artifacts and job folders with no job at start; keeps what is referenced', async () => {
    const dataDir = tempDir()
    dirs.push(dataDir)
    const first = await busyDataDir(dataDir)
    const kept = await first.lm.uploadModel('default', 'mlp', mlpClassifier().bytes)
    await stop(first.built)
    // What crashes leave: a write cut before its rename in each folder, an artifact whose version
    // was never recorded, a job folder whose job was never recorded.
    const orphanBytes = mlpClassifier({ features: 3, hidden: [5], classes: 2 }).bytes
    const orphan = sha256Hex(orphanBytes)
    mkdirSync(join(dataDir, 'artifacts', orphan.slice(0, 2)), { recursive: true })
    writeFileSync(join(dataDir, 'artifacts', orphan.slice(0, 2), `${orphan}.onnx`), orphanBytes)
    writeFileSync(join(dataDir, 'artifacts', 'tmp', `${orphan}.a1b2c3`), orphanBytes.subarray(0, 10))
    writeFileSync(join(dataDir, 'artifacts', `${kept.sha256}.onnx.tmp`), 'half')
    mkdirSync(join(dataDir, 'jobs', 'job-killed-upload'))
    writeFileSync(join(dataDir, 'jobs', 'job-killed-upload', 'input.csv.tmp'), 'x_0,x_1\n1,')
    writeFileSync(join(dataDir, 'jobs', first.job.id, 'chunk-000009.arrow.tmp'), 'half a chunk')
    const logDir = join(dataDir, 'logs', 'default', 'double')
    writeFileSync(join(logDir, 'seg-1-2-3.arrow.tmp'), 'half a roll')

    const second = await start(dataDir)
    const line = second.lines.find((l) => l.includes('data folder tidied at start')) ?? ''
    const removed = JSON.parse(line.slice(line.indexOf('{'))).removed as string[]
    expect(removed.sort()).toEqual(
      [
        `artifacts/${kept.sha256}.onnx.tmp`,
        `artifacts/tmp/${orphan}.a1b2c3`,
        `artifacts/${orphan.slice(0, 2)}/${orphan}.onnx`,
        'jobs/job-killed-upload',
        `jobs/${first.job.id}/chunk-000009.arrow.tmp`,
        'logs/default/double/seg-1-2-3.arrow.tmp',
      ].sort(),
    )
    expect(existsSync(join(dataDir, 'artifacts', kept.sha256.slice(0, 2), `${kept.sha256}.onnx`))).toBe(true)
    expect(readdirSync(join(dataDir, 'jobs'))).toEqual([first.job.id])
    // What was referenced still works: the deployment is back, the job's result and both models are there.
    expect((await second.lm.inferRecords('default', 'double', [{ x: [3, 4] }]))[0]?.['out.y']).toEqual([6, 8])
    expect((await second.lm.job(first.job.id)).status).toBe('succeeded')
    expect((await second.lm.listModels('default')).map((m) => m.name).sort()).toEqual(['double', 'mlp'])
  })

  it('refuses a second server on the same data folder while the first runs', async () => {
    const dataDir = tempDir()
    dirs.push(dataDir)
    const first = await start(dataDir)
    await expect(buildServer(testConfig({ dataDir }))).rejects.toThrow(
      `the data folder ${dataDir} is in use by another lastmile server`,
    )
    await stop(first.built)
    await start(dataDir) // released at shutdown
  })
})
