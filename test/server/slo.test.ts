/**
 * Objectives through the HTTP server: a pipeline version carries its `slo` (a bad one is a 400
 * naming the field, a webhook the outbound policy refuses too), the deployed version is measured
 * from the request path, and its attainment, budget and burn rates are read back from the route,
 * /metrics (which promtool accepts), the rules route and the chart; counts survive a restart.
 */
import { spawnSync } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ApiError } from '../../src/client/client.js'
import { silentLogger } from '../../src/logger.js'
import { type BuiltServer, buildServer } from '../../src/server/serve.js'
import { clientFor, doubler, post, testConfig } from '../helpers/server.js'

const promtool = spawnSync('promtool', ['--version']).status === 0

const SLO = {
  objectives: [
    { name: 'up', indicator: 'availability', target: 0.999 },
    // A minute: every answer here is within it, however busy the machine.
    { name: 'fast', indicator: 'latency', value: 60_000, target: 0.99 },
  ],
}

describe('service-level objectives over HTTP', () => {
  const config = testConfig({ slo: { flushMs: 3_600_000, tickMs: 3_600_000 } })
  let s: BuiltServer
  const build = async () => {
    s = await buildServer(config, { log: silentLogger })
    return clientFor(s.app)
  }
  let lm: Awaited<ReturnType<typeof build>>
  beforeAll(async () => {
    lm = await build()
    await lm.uploadModel('default', 'm', doubler(1))
  })
  afterAll(() => s.shutdown())

  it('refuses a bad slo with a 400 naming the field, and a webhook the outbound policy refuses', async () => {
    const bad = (slo: unknown) => lm.putPipeline('default', 'm', [{ model: 'm' }], slo)
    await expect(bad({ objectives: [{ name: 'up', indicator: 'availability', target: 99.9 }] })).rejects.toThrow(
      /objectives\.0\.target/,
    )
    const e = await bad({ ...SLO, alerting: { webhooks: ['http://127.0.0.1:9/hook'] } }).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(ApiError)
    expect((e as ApiError).status).toBe(400)
    expect((e as ApiError).message).toMatch(/127\.0\.0\.1.*loopback/)
    expect((await lm.listPipelines('default')).map((p) => p.name)).toEqual([])
  })

  it('keeps the slo with its version, defaults filled in', async () => {
    const put = await lm.putPipeline('default', 'm', [{ model: 'm' }], SLO)
    expect(put.version).toBe(1)
    expect(put.slo).toMatchObject({
      time_window: '30d',
      per_arm: false,
      objectives: [
        { name: 'up', indicator: 'availability', target: 0.999 },
        { name: 'fast', indicator: 'latency', op: 'lte', value: 60_000, target: 0.99 },
      ],
      alerting: { webhooks: [], burn_rates: [{ long: '1h', short: '5m', factor: 14.4, severity: 'page' }, {}, {}] },
    })
    expect((await lm.getPipeline('default', 'm')).versions[0]?.slo).toEqual(put.slo)
    await expect(lm.slo('default', 'm')).rejects.toThrow(/not deployed with objectives/)
  })

  it('measures the deployed version from the request path', async () => {
    await lm.deploy('default', 'm')
    for (const x of [1, 2, 3]) expect((await lm.inferRecords('default', 'm', [{ x: [x] }])).length).toBe(1)
    const oip = await s.app.request(
      '/v2/models/m/infer',
      post({ inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 1], data: [1, 2] }] }),
    )
    expect(oip.status).toBe(200)
    // A client's mistake (400) is answered without a 5xx: good for availability, no latency event.
    const wrong = await s.app.request(
      '/v2/models/m/infer',
      post({ inputs: [{ name: 'nope', datatype: 'FP32', shape: [1], data: [1] }] }),
    )
    expect(wrong.status).toBe(400)
    const st = await lm.slo('default', 'm')
    expect(st).toMatchObject({ workspace: 'default', pipeline: 'm', version: 1, time_window: '30d' })
    const [up, fast] = st.objectives
    expect(up).toMatchObject({ name: 'up', budgeting_method: 'occurrences', op: null, value: null })
    expect(up?.series).toEqual([
      expect.objectContaining({ arm: null, good: 5, total: 5, attainment: 1, error_budget_remaining: 1, alerts: [] }),
    ])
    expect(up?.series[0]?.burn_rates).toEqual({ '30d': 0, '1h': 0, '5m': 0, '6h': 0, '30m': 0, '3d': 0 })
    expect(fast?.series[0]).toMatchObject({ good: 4, total: 4 })
  })

  it('shows the objectives in /metrics, which promtool accepts', async (ctx) => {
    await s.deps.slo.tick()
    const text = await (await s.app.request('/metrics')).text()
    expect(text).toContain('lastmile_slo_events_total{workspace="default",pipeline="m",objective="up",arm=""} 5')
    expect(text).toContain('lastmile_slo_good_events_total{workspace="default",pipeline="m",objective="fast",arm=""} 4')
    expect(text).toContain('lastmile_slo_attainment{workspace="default",pipeline="m",objective="up",arm=""} 1')
    expect(text).toContain(
      'lastmile_slo_error_budget_remaining{workspace="default",pipeline="m",objective="fast",arm=""} 1',
    )
    expect(text).toContain(
      'lastmile_slo_burn_rate{workspace="default",pipeline="m",objective="up",arm="",window="1h"} 0',
    )
    expect(text).not.toContain('lastmile_slo_alert{')
    if (!promtool) return ctx.skip('promtool is not installed')
    const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' })
    expect(`${r.stdout}${r.stderr}`.trim()).toBe('')
    expect(r.status).toBe(0)
  })

  it('answers the rules as YAML and the chart as SVG', async () => {
    const rules = await lm.sloRules('default', 'm')
    expect(rules).toContain('record: "lastmile:slo_error_ratio:rate5m"')
    expect(rules).toContain('objective: "fast"')
    expect(await lm.sloRules('default', 'm', 'prometheus-operator')).toContain('kind: "PrometheusRule"')
    const chart = await s.app.request('/v1/workspaces/default/pipelines/m/slo/chart.svg?objective=up')
    expect(chart.status).toBe(200)
    expect(chart.headers.get('content-type')).toBe('image/svg+xml')
    const svg = await chart.text()
    expect(svg).toMatch(/^<svg /)
    expect(svg).toContain('>1 of 5 events good</text>') // 5 ÷ 5, the attainment so far
    expect(svg).toMatch(/<polyline [^>]*points="700,[\d.]+"\/>/) // one point: every event came in the last step
    const none = await s.app.request('/v1/workspaces/default/pipelines/m/slo/chart.svg?objective=nope')
    expect(none.status).toBe(404)
  })

  it('keeps what was counted across a restart', async () => {
    await s.shutdown()
    lm = await build()
    const st = await lm.slo('default', 'm')
    expect(st.objectives[0]?.series[0]).toMatchObject({ good: 5, total: 5 })
  })

  it('stops measuring on a version without objectives, and when undeployed', async () => {
    await lm.putPipeline('default', 'm', [{ model: 'm' }]) // hot swap to version 2, no slo
    await expect(lm.slo('default', 'm')).rejects.toThrow(/not deployed with objectives/)
    await lm.deploy('default', 'm', { version: 1 }) // rollback: measured again
    expect((await lm.slo('default', 'm')).version).toBe(1)
    await lm.undeploy('default', 'm')
    const res = await s.app.request('/v1/workspaces/default/pipelines/m/slo')
    expect(res.status).toBe(404)
  })
})
