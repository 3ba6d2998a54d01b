/**
 * Jobs as users run them: `lastmile score` in-process and against a server (built bin, real
 * processes), and a server killed with SIGKILL in the middle of a job that finishes correctly
 * after a restart.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { tableFromIPC } from '@uwdata/flechette'
import { beforeAll, describe, expect, it, vi } from 'vitest'
import { LastmileClient } from '../../src/client/client.js'
import { openReader } from '../../src/jobs/io/index.js'
import { silentLogger } from '../../src/logger.js'
import { buildServer } from '../../src/server/serve.js'
import { expectedDelay, FLIGHTS_200K, flights200k, flightsModel } from '../helpers/flights.js'
import { cliBuilt, runCli, spawnServer, tempDir, testConfig } from '../helpers/server.js'

const model = flightsModel()
const flights = flights200k()

/** A data folder with pipeline `delays` deployed on the cpu backend. */
async function deployedDataDir(): Promise<string> {
  const dataDir = tempDir()
  const s = await buildServer(testConfig({ dataDir }), { log: silentLogger })
  await s.deps.registry.uploadModel('default', 'delays', model.bytes)
  await s.deps.registry.putPipeline('default', 'delays', [{ model: 'delays' }])
  await s.deps.registry.deploy('default', 'delays', { engine: 'cpu' })
  await s.shutdown()
  return dataDir
}

/** Every 1000th row of an out.y column equals the model's answer for that flight. */
function expectDelays(y: ArrayLike<unknown>) {
  expect(y.length).toBe(200_000)
  for (let i = 0; i < y.length; i += 1000) {
    expect(y[i] as number).toBeCloseTo(
      expectedDelay(model.params, [flights.distance[i] as number, flights.time[i] as number]),
      3,
    )
  }
}

describe.runIf(cliBuilt)(
  `lastmile score${cliBuilt ? '' : ' (skipped: run `npm run build` first; `npm test` does)'}`,
  () => {
    let dataDir: string
    beforeAll(async () => {
      dataDir = await deployedDataDir()
    })

    it('scores a file in-process, with progress on stderr', async () => {
      const out = join(tempDir(), 'scored.csv')
      const args = [
        'score',
        '--data',
        dataDir,
        '--backend',
        'cpu',
        '--pipeline',
        'delays',
        '--input',
        FLIGHTS_200K,
        '--output',
        out,
      ]
      const r = await runCli([...args, '--features', 'distance,time', '--in-process'])
      expect(r.code, r.stderr).toBe(0)
      expect(r.stderr).toMatch(/succeeded \[#{24}\] 100\.0% 200\.0k\/200\.0k rows/)
      expect(r.stdout).toContain(`${out}: 200000 rows (csv)`)
      const lines = readFileSync(out, 'utf8').trimEnd().split('\n')
      expect(lines[0]).toBe('delay,distance,time,out.y')
      expectDelays(lines.slice(1).map((l) => Number(l.split(',')[3])))
    })

    it('scores a file against a server, and a server killed mid-job finishes it after a restart', async () => {
      const env = { LASTMILE_JOB_CHUNK_ROWS: '2000' }
      let server = await spawnServer(['--data', dataDir, '--backend', 'cpu', '--no-demo'], env)
      const out = join(tempDir(), 'scored.parquet')
      const r = await runCli([
        'score',
        '--url',
        server.url,
        '--pipeline',
        'delays',
        '--input',
        FLIGHTS_200K,
        '--output',
        out,
        '--features',
        'distance,time',
      ])
      expect(r.code, r.stderr).toBe(0)
      const reader = await openReader(out, 'parquet')
      const ys: unknown[] = []
      for (let c = await reader.next(50_000); c; c = await reader.next(50_000))
        ys.push(...Array.from(c.columns['out.y'] as ArrayLike<unknown>))
      await reader.close()
      expectDelays(ys)

      let lm = new LastmileClient({ url: server.url })
      const id = (
        await lm.createJob('default', 'delays', readFileSync(FLIGHTS_200K), {
          format: 'arrow',
          features: ['distance', 'time'],
        })
      ).id
      await vi.waitFor(
        async () => {
          if ((await lm.job(id)).rows_done === 0) throw new Error('no chunk yet')
        },
        { timeout: 30_000, interval: 5 },
      )
      const killed = new Promise((r) => server.child.on('exit', r))
      server.child.kill('SIGKILL')
      await killed
      server = await spawnServer(['--data', dataDir, '--backend', 'cpu', '--no-demo'], env)
      lm = new LastmileClient({ url: server.url })
      const done = await vi.waitFor(
        async () => {
          const j = await lm.job(id)
          if (j.status !== 'succeeded') throw new Error(j.status)
          return j
        },
        { timeout: 60_000, interval: 50 },
      )
      expect(done.rows_done).toBe(200_000)
      expect(done.attempts).toBe(2) // the start the server did not survive, and the one that finished
      const table = tableFromIPC(new Uint8Array(await (await lm.jobResult(id, 'arrow')).arrayBuffer()))
      expectDelays(table.getChild('out.y')?.toArray() as ArrayLike<unknown>)
      expect(Array.from(table.getChild('distance')?.toArray() as ArrayLike<number>)).toEqual(
        Array.from(flights.distance),
      )
      const exited = new Promise((r) => server.child.on('exit', r))
      server.child.kill('SIGTERM')
      await exited
    })
  },
)
