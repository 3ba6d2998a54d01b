/**
 * Measured tuning through a real server (its routes, answers checked against the OpenAPI
 * document): a run on `cpu` and `wasm` over a small grid measures every point and recommends the
 * best row meeting the target, with the deploy settings that run it; a quick run with `?apply=true`
 * redeploys the pipeline with its recommendation (engine, batching, session) while a client keeps
 * sending requests, none of which fails; a run measures on rows of the inference log; runs are
 * listed and kept; bad requests are 400s that say why (a log without rows too), a second run
 * while one runs is a 409. On `webgpu` (the software GPU) where an adapter
 * exists: each point names its GPU path, and applying a recommendation deploys its path as
 * `session.gpu_path`. Budgets are short and the machine small and shared: no check compares measured speeds
 * between points (others' work moves them by more than the differences).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { LastmileClient } from '../../src/client/client.js'
import type { Optimization } from '../../src/wire/optimize.js'
import { mlpClassifier } from '../fixtures/models.js'
import { gpuTitle, probeGpu } from '../helpers/gpu.js'
import { clientFor, post, testServer } from '../helpers/server.js'

const gpu = await probeGpu()

/** The run once it has ended, polled through the client. */
function ended(lm: LastmileClient, id: string): Promise<Optimization> {
  return vi.waitFor(
    async () => {
      const run = await lm.optimization('default', id)
      if (run.status === 'running') throw new Error('still running')
      return run
    },
    { timeout: 60_000, interval: 200 },
  )
}

const SMALL = {
  batch_sizes: [1, 16],
  queue_delays_ms: [0, 2],
  threads: [1, 2],
  graph_optimizations: ['all', 'basic'] as Array<'all' | 'basic'>,
  concurrency: 16,
  window_ms: 60,
  max_windows: 5,
  target_p99_ms: 1000,
}

describe('measured tuning through the server', () => {
  let s: Awaited<ReturnType<typeof testServer>>
  let lm: LastmileClient
  beforeAll(async () => {
    s = await testServer({ optimize: { maxSeconds: 15 } })
    lm = clientFor(s.app)
    await lm.uploadModel('default', 'mlp', mlpClassifier().bytes)
    await lm.putPipeline('default', 'mlp', [{ model: 'mlp' }])
    await lm.deploy('default', 'mlp', { engine: 'cpu', batching: { max_batch_size: 8, timeout_ms: 20_000 } })
  })
  afterAll(() => s.shutdown())

  it('measures every point of a small grid on cpu and wasm, and recommends the best meeting the target', async () => {
    const started = await lm.optimize('default', 'mlp', {
      ...SMALL,
      backends: ['cpu', 'wasm'],
      search: 'exhaustive',
      budget_s: 12,
    })
    expect(started).toMatchObject({
      status: 'running',
      pipeline: 'mlp',
      pipeline_version: 1,
      max_points: 24,
      budget_s: 12,
    })
    const run = await ended(lm, started.id)
    expect(run.status, run.error ?? '').toBe('succeeded')
    const report = run.report as NonNullable<Optimization['report']>
    expect(report.grid_points).toBe(24) // cpu 2×2×2×2, wasm 2×2×2 (no threads axis)
    expect(report.failed).toEqual([])
    expect(report.seconds).toBeLessThan(12 + 5) // the budget, and the point in progress when it ended
    expect(report.table.length).toBeGreaterThan(4)
    for (const r of report.table) {
      expect(r.rows_per_s).toBeGreaterThan(0)
      expect(r.p99_ms).toBeGreaterThanOrEqual(r.p50_ms)
      expect(r.windows).toBeGreaterThanOrEqual(3)
      expect(r.threads === null).toBe(r.backend !== 'cpu')
      expect(r.meets_target).toBe(r.p99_ms <= 1000)
    }
    const rec = report.recommendation
    expect(rec).not.toBeNull()
    const best = Math.max(...report.table.filter((r) => r.meets_target).map((r) => r.rows_per_s))
    expect(rec?.rows_per_s).toBe(best)
    expect(rec?.p99_ms).toBeLessThanOrEqual(1000)
    expect(rec?.settings).toEqual({
      engine: rec?.backend,
      batching: { ...SMALL_BATCHING, max_batch_size: rec?.max_batch_size, max_queue_delay_ms: rec?.max_queue_delay_ms },
      session: {
        graph_optimization: rec?.graph_optimization,
        ...(rec?.backend === 'cpu' ? { threads: rec.threads } : {}),
      },
    })
    // Stored, and listed next to the pipeline.
    expect((await lm.optimizations('default', 'mlp')).map((r) => r.id)).toContain(run.id)
  })

  it('applies its recommendation with a hot swap while requests keep being answered', async () => {
    let stop = false
    let answered = 0
    const failures: number[] = []
    const traffic = (async () => {
      while (!stop) {
        const res = await s.app.request('/v1/workspaces/default/pipelines/mlp/infer', {
          method: 'POST',
          body: JSON.stringify([{ x: Array.from({ length: 16 }, (_, i) => i / 16) }]),
          headers: { 'content-type': 'application/json; format=pandas-records' },
        })
        if (res.status === 200) answered++
        else failures.push(res.status)
        await res.arrayBuffer()
      }
    })()
    const started = await lm.optimize(
      'default',
      'mlp',
      // The quick search over the whole default grid of cpu: the budget ends it.
      {
        backends: ['cpu'],
        threads: [1, 2],
        concurrency: 16,
        window_ms: 60,
        max_windows: 5,
        target_p99_ms: 1000,
        budget_s: 8,
      },
      { apply: true },
    )
    const run = await ended(lm, started.id)
    stop = true
    await traffic
    expect(run.status, run.error ?? '').toBe('succeeded')
    expect(run.report?.grid_points).toBe(360) // 9 batch sizes × 5 delays × 2 thread counts × 4 levels
    expect(run.report?.max_points).toBe(36)
    expect(run.report?.measured_points).toBeLessThanOrEqual(36)
    const rec = run.report?.recommendation
    expect(rec).toBeTruthy()
    expect(run.report?.applied).toBe(true)
    expect(failures).toEqual([])
    expect(answered).toBeGreaterThan(0)
    const d = await lm.deployment('default', 'mlp')
    expect(d.backend).toBe('cpu')
    expect(d.batching).toEqual(rec?.settings.batching)
    expect(d.session).toEqual(rec?.settings.session)
    expect(d.pipeline_version).toBe(1)
  })

  it('refuses bad requests with a 400 that says why, and a second run with a 409', async () => {
    const bad = async (body: unknown, query = '') => {
      const res = await s.app.request(`/v1/workspaces/default/pipelines/mlp/optimize${query}`, post(body))
      return { status: res.status, message: ((await res.json()) as { error: { message: string } }).error.message }
    }
    expect(await bad({ backends: ['tpu'] })).toMatchObject({ status: 400, message: expect.stringMatching(/backends/) })
    expect(await bad({ target_p99_ms: 0 })).toMatchObject({
      status: 400,
      message: expect.stringMatching(/target_p99_ms/),
    })
    expect(await bad({ target_p99_ms: -5 })).toMatchObject({ status: 400 })
    expect(await bad({ budget_s: 16 })).toMatchObject({
      status: 400,
      message: expect.stringMatching(/LASTMILE_OPTIMIZE_MAX_SECONDS is 15/),
    })
    expect(await bad({ batch_sizes: [] })).toMatchObject({ status: 400, message: expect.stringMatching(/batch_sizes/) })
    // A point names its GPU path: `auto` would choose one again.
    expect(await bad({ gpu_paths: ['auto'] })).toMatchObject({
      status: 400,
      message: expect.stringMatching(/gpu_paths/),
    })
    expect(await bad({ surprise: 1 })).toMatchObject({ status: 400 })
    expect((await bad({}, '?apply=maybe')).status).toBe(400)
    const missing = await s.app.request('/v1/workspaces/default/pipelines/nope/optimize', post({}))
    expect(missing.status).toBe(404)
    const first = await lm.optimize('default', 'mlp', { ...SMALL, backends: ['cpu'], budget_s: 2 })
    expect(await bad({ backends: ['cpu'] })).toMatchObject({ status: 409, message: expect.stringMatching(first.id) })
    await ended(lm, first.id)
    const none = await s.app.request('/v1/workspaces/default/optimizations/opt-nope')
    expect(none.status).toBe(404)
    // A pipeline whose log has no rows cannot be measured on them.
    await lm.putPipeline('default', 'quiet', [{ model: 'mlp' }])
    await lm.deploy('default', 'quiet', { engine: 'cpu' })
    const quiet = await s.app.request('/v1/workspaces/default/pipelines/quiet/optimize', post({ rows: 'log' }))
    expect(quiet.status).toBe(400)
    expect(((await quiet.json()) as { error: { message: string } }).error.message).toMatch(/inference log of 'quiet'/)
  })

  it('measures on rows of the inference log', async () => {
    // The requests of the hot-swap test above are in the log.
    const started = await lm.optimize('default', 'mlp', {
      ...SMALL,
      backends: ['cpu'],
      batch_sizes: [4],
      threads: [1],
      queue_delays_ms: [0],
      graph_optimizations: ['all'],
      rows: 'log',
      search: 'exhaustive',
      budget_s: 5,
    })
    const run = await ended(lm, started.id)
    expect(run.status, run.error ?? '').toBe('succeeded')
    expect(run.report?.rows).toBe('log')
    expect(run.report?.table).toHaveLength(1)
  })
})

const SMALL_BATCHING = {
  max_batch_size: 8,
  max_queue_delay_ms: 2,
  preferred_batch_sizes: [],
  max_queue_size: 65_536,
  timeout_ms: 20_000,
}

describe.runIf(gpu.ok)(gpuTitle('measured tuning on webgpu', gpu), () => {
  let s: Awaited<ReturnType<typeof testServer>>
  let lm: LastmileClient
  beforeAll(async () => {
    s = await testServer({ optimize: { maxSeconds: 15 } })
    lm = clientFor(s.app)
    await lm.uploadModel('default', 'mlp', mlpClassifier().bytes)
    await lm.putPipeline('default', 'mlp', [{ model: 'mlp' }])
    await lm.deploy('default', 'mlp', { engine: 'webgpu' })
  })
  afterAll(() => s.shutdown())

  it('measures the software GPU beside the cpu and recommends the best measured row', async () => {
    const started = await lm.optimize('default', 'mlp', {
      ...SMALL,
      backends: ['webgpu', 'cpu'],
      threads: [2],
      graph_optimizations: ['all'],
      search: 'exhaustive',
      budget_s: 12,
    })
    const run = await ended(lm, started.id)
    expect(run.status, run.error ?? '').toBe('succeeded')
    const report = run.report as NonNullable<Optimization['report']>
    expect(report.table.some((r) => r.backend === 'webgpu')).toBe(true)
    for (const r of [...report.table, ...report.failed]) expect(r.gpu_path === null).toBe(r.backend !== 'webgpu')
    const best = Math.max(...report.table.filter((r) => r.meets_target).map((r) => r.rows_per_s))
    expect(report.recommendation?.rows_per_s).toBe(best)
  })

  it('measures each GPU path and deploys the recommended one as session.gpu_path', async () => {
    const started = await lm.optimize(
      'default',
      'mlp',
      {
        ...SMALL,
        backends: ['webgpu'],
        batch_sizes: [1, 8],
        queue_delays_ms: [0],
        graph_optimizations: ['all'],
        search: 'exhaustive',
        budget_s: 12,
      },
      { apply: true },
    )
    const run = await ended(lm, started.id)
    expect(run.status, run.error ?? '').toBe('succeeded')
    const report = run.report as NonNullable<Optimization['report']>
    expect(report.grid_points).toBe(6) // 2 batch sizes × 3 GPU paths
    const points = [...report.table, ...report.failed]
    expect(points.every((r) => r.backend === 'webgpu' && r.gpu_path !== null)).toBe(true)
    // A path that cannot load the model fails its points with the reason, as a backend would.
    for (const f of report.failed) expect(f.error.length).toBeGreaterThan(0)
    expect(report.table.some((r) => r.gpu_path === 'ort')).toBe(true)
    const rec = report.recommendation
    expect(rec?.gpu_path).toBeTruthy()
    expect(rec?.settings.session).toEqual({ graph_optimization: 'all', gpu_path: rec?.gpu_path })
    expect(report.applied, report.apply_error).toBe(true)
    const d = await lm.deployment('default', 'mlp')
    expect(d.backend).toBe('webgpu')
    expect(d.session).toEqual(rec?.settings.session)
  })
})
