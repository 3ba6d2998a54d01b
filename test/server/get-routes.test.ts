/**
 * GET routes never change state: the cross-site check lets browsers send any GET (a page cannot
 * read the answer, but it can make the request), so every GET route in the route table is called
 * with parameters naming real things, and the registry, deployments, assays, jobs, explanations,
 * tuning runs and keys are compared before and after.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { createApp } from '../../src/server/app.js'
import { clientFor, doubler, testServer } from '../helpers/server.js'

describe('GET routes', () => {
  let s: Awaited<ReturnType<typeof testServer>>
  const ids: Record<string, string> = {}

  /** Everything a request could change, as the API shows it. */
  const fingerprint = async () => {
    const lm = clientFor(s.app)
    const json = async (path: string) => (await s.app.request(path)).json()
    const jobs = await lm.listJobs('default')
    return {
      workspaces: await lm.listWorkspaces(),
      models: await lm.listModels('default'),
      pipelines: (await lm.listPipelines('default')).map((p) => ({ ...p, deployment: p.deployment?.pipeline_version })),
      deployed: s.deps.manager.list().map((d) => `${d.name}:${d.spec.pipelineVersion}`),
      assays: await json('/v1/workspaces/default/assays'),
      results: await json(`/v1/workspaces/default/assays/${ids.assay}/results`),
      jobs: jobs.map((j) => [j.id, j.status]),
      explanation: ((await json(`/v1/workspaces/default/explanations/${ids.explanation}`)) as { status: string })
        .status,
      keys: await lm.listKeys('default'),
      optimizations: (await lm.optimizations('default', 'd')).map((r) => [r.id, r.status]),
    }
  }

  beforeAll(async () => {
    s = await testServer()
    const lm = clientFor(s.app)
    await lm.uploadModel('default', 'd', doubler(2))
    await lm.putPipeline('default', 'd', [{ model: 'd' }], {
      objectives: [{ name: 'up', indicator: 'availability', target: 0.99 }],
    })
    await lm.deploy('default', 'd')
    await lm.inferRecords('default', 'd', [{ x: [1, 2] }, { x: [3, 4] }])
    await lm.createKey('default', 'k', 'viewer')
    // A training set to download: the rows just logged, with outcome settings to export them by.
    await s.deps.store.outcomes.putSpec('default', 'd', { task: 'regression', output: 'y' })
    // A promotion rule to read (the deployed version has no challenger: its report names none).
    await lm.putPromotion('default', 'd', { metric: 'mae', tau: 0.5 })
    const exported = await s.app.request('/v1/workspaces/default/pipelines/d/training-sets', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ start: 0, end: Date.now() + 60_000 }),
    })
    ids.file = ((await exported.json()) as { file: string }).file
    await s.deps.trainingSets.idle()
    // A tuning run to read: one point, a short budget.
    const tuning = await lm.optimize('default', 'd', {
      backends: ['cpu'],
      batch_sizes: [1],
      queue_delays_ms: [0],
      threads: [1],
      graph_optimizations: ['all'],
      search: 'exhaustive',
      window_ms: 20,
      max_windows: 3,
      budget_s: 5,
    })
    ids.optimization = tuning.id
    await s.deps.optimize.idle()
    const assay = await s.app.request('/v1/workspaces/default/assays', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'a',
        pipeline: 'd',
        iopath: 'in.x[0]',
        baseline: { values: [1, 2, 3, 4] },
        window: { width: '1h' },
      }),
    })
    ids.assay = String(((await assay.json()) as { id: number }).id)
    const job = await lm.createJob('default', 'd', new TextEncoder().encode('a,b\n1,2\n5,6\n'), {
      format: 'csv',
      features: ['a', 'b'],
    })
    ids.job = job.id
    await vi.waitFor(async () => expect((await lm.job(job.id)).status).toBe('succeeded'), { timeout: 30_000 })
    const explanation = await s.app.request('/v1/workspaces/default/pipelines/d/explain?async=true', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ method: 'pdp', reference: { rows: [{ x: [1, 2] }, { x: [3, 1] }] }, features: [0] }),
    })
    ids.explanation = ((await explanation.json()) as { id: string }).id
    await vi.waitFor(
      async () =>
        expect(
          (
            (await (await s.app.request(`/v1/workspaces/default/explanations/${ids.explanation}`)).json()) as {
              status: string
            }
          ).status,
        ).toBe('succeeded'),
      { timeout: 30_000 },
    )
  })
  afterAll(() => s.shutdown())

  it('change nothing, each called with parameters naming real things', async () => {
    const before = await fingerprint()
    expect(before).toMatchObject({ deployed: ['d:1'], jobs: [[ids.job, 'succeeded']], explanation: 'succeeded' })
    expect(before.assays).toHaveLength(1)
    const gets = createApp(s.deps).routes.specs.filter((r) => r.method === 'get')
    expect(gets.length).toBeGreaterThan(25)
    const answered: string[] = []
    for (const spec of gets) {
      const id = spec.path.includes('/assays/')
        ? ids.assay
        : spec.path.includes('/explanations/')
          ? ids.explanation
          : spec.path.includes('/optimizations/')
            ? ids.optimization
            : ids.job
      const params: Record<string, string> = {
        ws: 'default',
        name: 'd',
        version: '1',
        id: id as string,
        file: ids.file as string,
      }
      const url = spec.path.replace(/\{(\w+)\}/g, (_, p: string) => params[p] as string)
      const res = await s.app.request(url)
      // An event stream (…/live) never ends by itself: its first event is enough, then hang up.
      if (res.headers.get('content-type')?.startsWith('text/event-stream')) {
        const reader = (res.body as ReadableStream<Uint8Array>).getReader()
        expect(new TextDecoder().decode((await reader.read()).value)).toMatch(/^event: stats\n/)
        await reader.cancel()
      } else await res.arrayBuffer()
      answered.push(`${res.status} ${url}`)
    }
    // Every GET found what it was asked about (the walk would prove nothing on 404s).
    expect(answered.filter((a) => !a.startsWith('200 '))).toEqual([])
    expect(await fingerprint()).toEqual(before)
  })
})
