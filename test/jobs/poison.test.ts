/**
 * Poison jobs: a batch job and an explanation job whose server is killed (SIGKILL, real
 * processes) while they run, again and again on the same data folder. Each start is counted
 * before the job runs; after LASTMILE_JOB_MAX_ATTEMPTS (3) starts the server did not survive,
 * the next server starts, serves inference, and shows both jobs failed with the reason, and no
 * later start runs them again. (One interruption below the limit resumes with every row exactly
 * once: test/jobs/cli.test.ts.)
 */
import type { ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { describe, expect, it, vi } from 'vitest'
import { LastmileClient } from '../../src/client/client.js'
import { silentLogger } from '../../src/logger.js'
import { buildServer } from '../../src/server/serve.js'
import { expectedDelay, FLIGHTS_200K, flightsModel } from '../helpers/flights.js'
import { cliBuilt, spawnServer, tempDir, testConfig } from '../helpers/server.js'

const model = flightsModel()

/** SIGKILL `child` and wait for it to be gone. */
async function kill(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r))
  child.kill('SIGKILL')
  await exited
}

interface Explanation {
  status: string
  error: string | null
}

describe.runIf(cliBuilt)(
  `poison jobs${cliBuilt ? '' : ' (skipped: run `npm run build` first; `npm test` does)'}`,
  () => {
    it('fails a job and an explanation the server did not survive 3 times, and still serves', async () => {
      const dataDir = tempDir()
      const s = await buildServer(testConfig({ dataDir }), { log: silentLogger })
      await s.deps.registry.uploadModel('default', 'delays', model.bytes)
      await s.deps.registry.putPipeline('default', 'delays', [{ model: 'delays' }])
      await s.deps.registry.deploy('default', 'delays', { engine: 'cpu' })
      await s.shutdown()

      // Chunks of 10 rows: the 200k-row job takes far longer than a start (each chunk is fsynced).
      // The explanation below evaluates 6e8 model rows, minutes of work: it allows that many.
      const env = { LASTMILE_JOB_CHUNK_ROWS: '10', LASTMILE_EXPLAIN_MAX_MODEL_ROWS: '1000000000' }
      const args = ['--data', dataDir, '--backend', 'cpu', '--no-demo']
      let server = await spawnServer(args, env)
      let lm = new LastmileClient({ url: server.url })
      const job = await lm.createJob('default', 'delays', readFileSync(FLIGHTS_200K), {
        format: 'arrow',
        features: ['distance', 'time'],
      })
      const rows = (n: number, k: number) => Array.from({ length: n }, (_, i) => ({ x: [300 + 7 * i + k, 900 + i] }))
      const started = await fetch(`${server.url}/v1/workspaces/default/pipelines/delays/explain?async=true`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          method: 'permutation_shap',
          reference: { rows: rows(1000, 0) },
          rows: rows(100, 1),
          npermutations: 1000,
          background: 1000,
        }),
      })
      expect(started.status, await started.clone().text()).toBe(202)
      const explanation = ((await started.json()) as { id: string }).id
      const explanationOf = async (url: string) =>
        (await (await fetch(`${url}/v1/workspaces/default/explanations/${explanation}`)).json()) as Explanation

      for (let attempt = 1; attempt <= 3; attempt++) {
        await vi.waitFor(
          async () => {
            const j = await lm.job(job.id)
            if (j.status !== 'running' || j.attempts !== attempt) throw new Error(`${j.status}, ${j.attempts} attempts`)
          },
          { timeout: 30_000, interval: 20 },
        )
        expect((await explanationOf(server.url)).status).toBe('running')
        await kill(server.child)
        server = await spawnServer(args, env)
        lm = new LastmileClient({ url: server.url })
      }

      // The fourth server: both jobs failed at start with the reason, and inference is served.
      const failed = await lm.job(job.id)
      expect(failed).toMatchObject({ status: 'failed', attempts: 3 })
      expect(failed.error).toMatch(/the server stopped 3 times while running this job .*LASTMILE_JOB_MAX_ATTEMPTS/)
      expect(failed.rows_done).toBeLessThan(200_000)
      const expl = await explanationOf(server.url)
      expect(expl.status).toBe('failed')
      expect(expl.error).toMatch(/the server stopped 3 times while running this explanation/)
      const [out] = await lm.inferRecords('default', 'delays', [{ x: [1000, 1200] }])
      expect(out?.['out.y']).toEqual([expect.closeTo(expectedDelay(model.params, [1000, 1200]), 3)])
      const terminated = new Promise((r) => server.child.once('exit', r))
      server.child.kill('SIGTERM')
      await terminated

      // Failed is final: a later start leaves both as they are.
      server = await spawnServer(args, env)
      lm = new LastmileClient({ url: server.url })
      expect(await lm.job(job.id)).toMatchObject({ status: 'failed', attempts: 3, rows_done: failed.rows_done })
      expect((await explanationOf(server.url)).status).toBe('failed')
      await kill(server.child)
    })
  },
)
