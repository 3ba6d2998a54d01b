/**
 * /metrics as Prometheus reads it: Debian's `promtool check metrics` (the linter Prometheus ships)
 * finds nothing to complain about after traffic of every kind (OIP, pandas-records, Arrow, an
 * assay, a batch job), rows are counted by protocol, and dropped log rows are a counter.
 */
import { spawnSync } from 'node:child_process'
import { tableFromArrays, tableToIPC } from '@uwdata/flechette'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { clientFor, doubler, finishedJob, post, testServer } from '../helpers/server.js'

const promtool = spawnSync('promtool', ['--version']).status === 0
const required = process.env.LASTMILE_REQUIRE_TOOLS === '1'

/** `promtool check metrics`: its exit code and what it printed (problems go to stderr). */
function check(text: string): { status: number | null; problems: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' })
  return { status: r.status, problems: `${r.stdout}${r.stderr}`.trim() }
}

const RECORDS = 'application/json; format=pandas-records'

describe('Prometheus metrics', () => {
  let s: Awaited<ReturnType<typeof testServer>>
  beforeAll(async () => {
    s = await testServer()
    const lm = clientFor(s.app)
    await lm.uploadModel('default', 'm', doubler(1))
    await lm.putPipeline('default', 'm', [{ model: 'm' }])
    await lm.deploy('default', 'm')
    const t0 = Date.now()
    const oip = { inputs: [{ name: 'x', shape: [3, 1], datatype: 'FP32', data: [1, 2, 3] }] }
    expect((await s.app.request('/v2/models/m/infer', post(oip))).status).toBe(200)
    const records = { method: 'POST', body: '[{"x": [1]}, {"x": [2]}]', headers: { 'content-type': RECORDS } }
    expect((await s.app.request('/v1/workspaces/default/pipelines/m/infer', records)).status).toBe(200)
    const arrow = tableToIPC(tableFromArrays({ x: [Float32Array.of(4)] }), { format: 'stream' }) as Uint8Array
    const arrowPost = {
      method: 'POST',
      body: arrow,
      headers: { 'content-type': 'application/vnd.apache.arrow.stream' },
    }
    expect((await s.app.request('/v1/workspaces/default/pipelines/m/infer', arrowPost)).status).toBe(200)
    expect((await s.app.request('/v2/models/m/infer', post({ inputs: [] }))).status).toBe(400)
    const job = await lm.createJob('default', 'm', new TextEncoder().encode('x\n1\n2\n3\n4\n'), { format: 'csv' })
    expect((await finishedJob(lm, job.id)).status).toBe('succeeded')
    await s.deps.inferenceLog.flush()
    const assay = await s.app.request(
      '/v1/workspaces/default/assays',
      post({
        name: 'drift',
        pipeline: 'm',
        iopath: 'in.x',
        baseline: { values: [5, 6, 7, 8] },
        window: { width: '1s', start: t0 - 1000 },
        active: false,
      }),
    )
    expect(assay.status).toBe(201)
    const { id } = (await assay.json()) as { id: number }
    const run = await s.app.request(
      `/v1/workspaces/default/assays/${id}/run`,
      post({ start: t0 - 1000, end: Date.now() + 1000 }),
    )
    expect(run.status).toBe(200)
    // An autoscaled pipeline that scales down from the 2 replicas it was deployed with to 1, with
    // no load, once its 1-second stable window has passed: a decision to count.
    await lm.putPipeline('default', 'auto', [{ model: 'm' }])
    await lm.deploy('default', 'auto', { replicas: 2 })
    const auto = { max_replicas: 2, stable_window_s: 1, panic_window_s: 1 }
    expect((await lm.deploy('default', 'auto', { autoscaling: auto })).replicas).toBe(2)
    await vi.waitFor(
      async () => {
        const st = await lm.deployment('default', 'auto')
        if (st.replicas !== 1) throw new Error(`${st.replicas} replicas`)
      },
      { timeout: 30_000, interval: 100 },
    )
  })
  afterAll(() => s.shutdown())

  it('passes promtool check metrics with no complaint', async (ctx) => {
    if (!promtool) {
      if (required) throw new Error('LASTMILE_REQUIRE_TOOLS=1 but promtool is not installed (Debian: prometheus)')
      ctx.skip('promtool is not installed: apt-get install --no-install-recommends prometheus')
    }
    const text = await (await s.app.request('/metrics')).text()
    // Every kind of traffic shows up, so the lint ran over series of each.
    expect(text).toMatch(/lastmile_requests_total\{[^}]*protocol="oip"/)
    expect(text).toMatch(/lastmile_assay_score\{[^}]*assay="drift"\} /)
    expect(text).toMatch(/lastmile_batch_rows_count\{[^}]*\} [1-9]/)
    expect(text).toMatch(/lastmile_autoscaler_decisions_total\{[^}]*direction="down"\} 1/)
    const r = check(text)
    expect(r.problems).toBe('')
    expect(r.status).toBe(0)
  })

  it('counts rows by pipeline, protocol and status', async () => {
    const text = await (await s.app.request('/metrics')).text()
    expect(text).toContain('lastmile_rows_total{workspace="default",pipeline="m",protocol="oip",code="200"} 3')
    expect(text).toContain('lastmile_rows_total{workspace="default",pipeline="m",protocol="records",code="200"} 2')
    expect(text).toContain('lastmile_rows_total{workspace="default",pipeline="m",protocol="arrow",code="200"} 1')
    expect(text).toContain('lastmile_rows_total{workspace="default",pipeline="m",protocol="oip",code="400"} 0')
  })

  it('shows requests in flight, replicas and autoscaling decisions by pipeline', async () => {
    const text = await (await s.app.request('/metrics')).text()
    // The name a KEDA ScaledObject sums over pods: it must not change.
    expect(text).toContain('# TYPE lastmile_in_flight_requests gauge')
    expect(text).toContain('lastmile_in_flight_requests{workspace="default",pipeline="m"} 0')
    expect(text).toContain('lastmile_replicas{workspace="default",pipeline="m"} 1')
    expect(text).toContain('lastmile_replicas{workspace="default",pipeline="auto"} 1')
    expect(text).toContain(
      'lastmile_autoscaler_decisions_total{workspace="default",pipeline="auto",direction="down"} 1',
    )
    expect(text).not.toContain('direction="up"')
  })
})

describe('dropped log rows', () => {
  it('are a counter of the rows the full log buffer refused since the start', async () => {
    const s = await testServer({ inferenceLog: { maxBufferedRows: 2 } })
    try {
      await s.deps.manager.deploy({
        workspace: 'default',
        pipeline: 'd',
        pipelineVersion: 1,
        steps: [{ model: 'd:1' }],
        models: { 'd:1': doubler(1) },
      })
      // 2 rows fit the buffer; the next request's 3 rows and the one after's 4 are dropped.
      for (const rows of [2, 3, 4]) {
        const body = { inputs: [{ name: 'x', shape: [rows, 1], datatype: 'FP32', data: new Array(rows).fill(1) }] }
        expect((await s.app.request('/v2/models/d/infer', post(body))).status).toBe(200)
      }
      const text = await (await s.app.request('/metrics')).text()
      expect(text).toContain('# TYPE lastmile_log_dropped_rows_total counter')
      expect(text).toContain('\nlastmile_log_dropped_rows_total 7\n')
    } finally {
      await s.shutdown()
    }
  })
})
