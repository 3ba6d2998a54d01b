/**
 * Explanation jobs survive a restart: one interrupted by a shutdown runs again at the next start
 * and gives the same report a direct run gives; a finished one is still served (JSON, Arrow, SVG)
 * by the next server on the same data folder.
 */
import { tableFromIPC } from '@uwdata/flechette'
import { describe, expect, it, vi } from 'vitest'
import { mulberry32, uniform } from '../../src/random.js'
import { SqliteStore } from '../../src/store/sqlite-store.js'
import { standardizedLinear } from '../fixtures/models.js'
import { clientFor, post, tempDir, testServer } from '../helpers/server.js'

interface Job {
  status: string
  progress: number
  report?: { rows: Array<{ attributions: number[] }> }
}

describe('explanation jobs across restarts', () => {
  it('runs an interrupted job again at the next start, and serves a finished one after a restart', async () => {
    const dataDir = tempDir()
    const F = 8
    const rand = mulberry32(7)
    const w = Array.from(uniform(rand, F, -1, 1))
    const reference = { rows: Array.from({ length: 200 }, () => ({ x: Array.from(uniform(rand, F, -2, 2)) })) }
    const request = {
      method: 'kernel_shap',
      reference,
      rows: Array.from({ length: 4 }, () => ({ x: Array.from(uniform(rand, F, -2, 2)) })),
      background: 100,
      seed: 3,
    }

    const a = await testServer({ dataDir })
    const lm = clientFor(a.app)
    await lm.uploadModel(
      'default',
      'lin',
      standardizedLinear({ mean: new Array(F).fill(0), std: new Array(F).fill(1), w, b: 0.1 }).bytes,
    )
    await lm.putPipeline('default', 'lin', [{ model: 'lin' }])
    await lm.deploy('default', 'lin', { engine: 'cpu' })
    const direct = (await (
      await a.app.request('/v1/workspaces/default/pipelines/lin/explain', post(request))
    ).json()) as NonNullable<Job['report']>
    const started = await a.app.request('/v1/workspaces/default/pipelines/lin/explain?async=true', post(request))
    expect(started.status).toBe(202)
    const { id } = (await started.json()) as { id: string }
    await a.shutdown() // mid-job: the job must not be recorded as failed
    const store = SqliteStore.open(dataDir)
    expect((await store.explanations.get(id))?.status).toBe('running')
    await store.close()

    const b = await testServer({ dataDir })
    const job = (url = '') => b.app.request(`/v1/workspaces/default/explanations/${id}${url}`)
    const done = await vi.waitFor(
      async () => {
        const j = (await (await job()).json()) as Job
        if (j.status === 'running') throw new Error('still running')
        return j
      },
      { timeout: 60_000, interval: 25 },
    )
    expect(done.status).toBe('succeeded')
    expect(done.report?.rows.map((r) => r.attributions)).toEqual(direct.rows.map((r) => r.attributions))
    await b.shutdown()

    const c = await testServer({ dataDir })
    const again = (await (await c.app.request(`/v1/workspaces/default/explanations/${id}`)).json()) as Job
    expect(again).toMatchObject({ status: 'succeeded', progress: 1 })
    expect(again.report?.rows.map((r) => r.attributions)).toEqual(direct.rows.map((r) => r.attributions))
    const arrow = await c.app.request(`/v1/workspaces/default/explanations/${id}?format=arrow`)
    expect(tableFromIPC(new Uint8Array(await arrow.arrayBuffer())).numRows).toBe(4 * F)
    const svg = await (await c.app.request(`/v1/workspaces/default/explanations/${id}?format=svg&row=1`)).text()
    expect(svg).toContain('row 1: base')
    expect((await c.app.request('/v1/workspaces/default/explanations/expl-none')).status).toBe(404)
    await c.shutdown()
  })
})
