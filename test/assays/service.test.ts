/**
 * Assays end to end on a server: traffic goes through a deployed pipeline into the inference
 * log; an assay over the log reports drift on real data with the right status, raises a webhook
 * alert (to a local receiver that allow-local opens; retried after a failure), draws its charts, shows in metrics; the preview route matches
 * an independent computation; the log answers in JSON and Arrow.
 */
import { createServer } from 'node:http'
import { tableFromIPC } from '@uwdata/flechette'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { silentLogger } from '../../src/logger.js'
import { buildServer } from '../../src/server/serve.js'
import { independentPsi } from '../helpers/assay-reference.js'
import { clientFor, doubler, tempDir, testConfig, testServer } from '../helpers/server.js'
import { seattleWeather } from '../helpers/weather.js'

const days = seattleWeather()
const tmax = (f: (d: (typeof days)[number]) => boolean) => days.filter(f).map((d) => d.temp_max)
const year2012 = tmax((d) => d.year === 2012)
const summer2012 = tmax((d) => d.year === 2012 && d.month >= 6 && d.month <= 8)
const year2013 = tmax((d) => d.year === 2013)
/** The log holds what the model saw: FP32 inputs. */
const f32 = (v: number[]) => v.map(Math.fround)
const json = (body: unknown) => ({
  method: 'POST',
  body: JSON.stringify(body),
  headers: { 'content-type': 'application/json' },
})
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('assays on a server', () => {
  let s: Awaited<ReturnType<typeof testServer>>
  const hooks: Array<Record<string, unknown>> = []
  let hookUrl = ''
  let hookCalls = 0
  const hookServer = createServer((req, res) => {
    let body = ''
    req.on('data', (c) => {
      body += c
    })
    req.on('end', () => {
      hookCalls++
      if (hookCalls === 1) {
        res.writeHead(500).end() // the first delivery fails: the alert must be retried
        return
      }
      hooks.push(JSON.parse(body))
      res.writeHead(204).end()
    })
  })
  const t = { start: 0, summer: 0, next: 0, end: 0 }
  const dataDir = tempDir()
  // The webhook receiver is on loopback: the outbound policy needs allow-local to reach it. The
  // windows here are a few ms wide (the rows are sent ms apart): below the default minimum.
  const over = { dataDir, outbound: { allowLocal: true }, assays: { minWindowMs: 1 } }

  beforeAll(async () => {
    await new Promise<void>((r) => hookServer.listen(0, '127.0.0.1', r))
    const addr = hookServer.address() as { port: number }
    hookUrl = `http://127.0.0.1:${addr.port}/alerts`
    s = await testServer(over)
    const lm = clientFor(s.app)
    await lm.uploadModel('default', 'temps', doubler(1))
    await lm.putPipeline('default', 'temps', [{ model: 'temps' }])
    await lm.deploy('default', 'temps')
    const send = async (values: number[]) => {
      for (let i = 0; i < values.length; i += 100) {
        await lm.inferRecords(
          'default',
          'temps',
          values.slice(i, i + 100).map((v) => ({ x: [v] })),
        )
      }
    }
    t.start = Date.now()
    await send(year2012)
    await sleep(5)
    t.summer = Date.now()
    await send(summer2012)
    await sleep(5)
    t.next = Date.now()
    await send(year2013)
    await sleep(5)
    t.end = Date.now()
  })
  afterAll(async () => {
    await s.shutdown()
    hookServer.close()
  })

  it('logs every answered row, queryable as JSON and Arrow', async () => {
    const rows = (await (
      await s.app.request(`/v1/workspaces/default/pipelines/temps/logs?start=${t.start}&end=${t.summer}&limit=100000`)
    ).json()) as Array<Record<string, unknown>>
    expect(rows).toHaveLength(year2012.length)
    const first = Math.fround(year2012[0] as number)
    expect(rows[0]).toMatchObject({ 'in.x': [first], 'out.y': [first * 2], model: 'temps:1', check_failures: 0 })
    const arrow = await s.app.request(
      `/v1/workspaces/default/pipelines/temps/logs?start=${t.summer}&end=${t.next}&format=arrow&columns=in.x`,
    )
    const table = tableFromIPC(new Uint8Array(await arrow.arrayBuffer()))
    expect(table.numRows).toBe(summer2012.length)
    expect(table.schema.fields.map((f) => f.name).sort()).toEqual(['in.x', 'time'])
  })

  it('a summer against its year alerts (webhook retried), one year against the next does not', async () => {
    const define = async (name: string, webhooks: string[] = []) =>
      (await (
        await s.app.request(
          '/v1/workspaces/default/assays',
          json({
            name,
            pipeline: 'temps',
            iopath: 'in.x[0]',
            baseline: { start: t.start, end: t.summer },
            warning_threshold: 0.1,
            window: { width: `${t.next - t.summer}ms`, start: t.summer },
            webhooks,
          }),
        )
      ).json()) as { id: number; baseline_values: number }
    const summer = await define('summer', [hookUrl])
    expect(summer.baseline_values).toBe(year2012.length)
    const early = await s.app.request(
      `/v1/workspaces/default/assays/${summer.id}/run`,
      json({ start: t.summer, end: t.next - 1 }),
    )
    expect(await early.json()).toEqual([]) // the window does not fit yet: nothing to score
    const run = await s.app.request(
      `/v1/workspaces/default/assays/${summer.id}/run`,
      json({ start: t.summer, end: t.next }),
    )
    expect(((await run.json()) as unknown[]).length).toBe(1)
    const results = (await (
      await s.app.request(`/v1/workspaces/default/assays/${summer.id}/results`)
    ).json()) as Array<{ status: string; score: number }>
    expect(results).toHaveLength(1)
    expect(results[0]?.status).toBe('alert')
    expect(results[0]?.score).toBeCloseTo(independentPsi(f32(year2012), f32(summer2012), 5), 9)
    await s.deps.assays.idle()
    expect(hookCalls).toBe(2)
    expect(hooks[0]).toMatchObject({
      event: 'assay.alert',
      status: 'alert',
      assay: { name: 'summer', pipeline: 'temps', iopath: 'in.x[0]' },
    })

    const nextYear = (await (
      await s.app.request(
        '/v1/workspaces/default/assays',
        json({
          name: 'yearly',
          pipeline: 'temps',
          iopath: 'in.x',
          baseline: { start: t.start, end: t.summer },
          window: { width: `${t.end - t.next}ms`, start: t.next },
        }),
      )
    ).json()) as { id: number }
    await s.deps.assays.tick(t.end + (t.end - t.next) + 1) // the scheduler's view: that window has ended
    const yearly = (await (
      await s.app.request(`/v1/workspaces/default/assays/${nextYear.id}/results`)
    ).json()) as Array<{ status: string; score: number }>
    expect(yearly[0]?.status).toBe('ok')
    expect(yearly[0]?.score).toBeCloseTo(independentPsi(f32(year2012), f32(year2013), 5), 9)
  })

  it('draws the score over time and the bins as SVG, and reports the latest score as a metric', async () => {
    const list = (await (await s.app.request('/v1/workspaces/default/assays')).json()) as Array<{
      id: number
      name: string
    }>
    const id = list.find((a) => a.name === 'summer')?.id
    const scores = await s.app.request(`/v1/workspaces/default/assays/${id}/chart.svg`)
    expect(scores.headers.get('content-type')).toBe('image/svg+xml')
    const svg = await scores.text()
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/)
    expect(svg).toContain('alert 0.25')
    expect(svg).toContain('warning 0.1')
    const bins = await (await s.app.request(`/v1/workspaces/default/assays/${id}/chart.svg?kind=bins`)).text()
    expect(bins).toContain('left_outlier')
    expect((bins.match(/<rect /g) ?? []).length).toBeGreaterThanOrEqual(14)
    const metrics = await (await s.app.request('/metrics')).text()
    expect(metrics).toMatch(/lastmile_assay_score\{workspace="default",pipeline="temps",assay="summer"\} \d/)
    // The scheduler has since scored later windows of 'summer' too: the gauge shows the latest.
    const results = (await (await s.app.request(`/v1/workspaces/default/assays/${id}/results`)).json()) as Array<{
      status: string
      window_end: string
    }>
    const scored = results.filter((r) => r.status !== 'no_data')
    expect(scored.length).toBeGreaterThan(1)
    const latest = scored.reduce((a, b) => (Date.parse(b.window_end) > Date.parse(a.window_end) ? b : a))
    const code = { ok: 0, warning: 1, alert: 2 }[latest.status]
    expect(metrics).toContain(`lastmile_assay_status{workspace="default",pipeline="temps",assay="summer"} ${code}`)
  })

  it('preview matches an independent computation, and bad definitions are refused', async () => {
    const body = {
      baseline: { values: year2012 },
      window: { values: summer2012 },
      summarizer: { num_bins: 5 },
      alert_threshold: 0.25,
    }
    const r = (await (await s.app.request('/v1/workspaces/default/assays/preview', json(body))).json()) as {
      score: number
      status: string
      bins: { edges: number[]; baseline: number[]; window: number[] }
      baseline_summary: Record<string, number>
      ks: { statistic: number; p_value: number }
    }
    expect(r.score).toBeCloseTo(independentPsi(year2012, summer2012, 5), 9)
    expect(r.status).toBe('alert')
    expect(r.baseline_summary.count).toBe(366)
    expect(r.bins.baseline.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12)
    const bad = await s.app.request(
      '/v1/workspaces/default/assays',
      json({ name: 'x', pipeline: 'nope', iopath: 'in.x', baseline: { values: [1] }, window: { width: '1h' } }),
    )
    expect(bad.status).toBe(404)
    const badPath = await s.app.request(
      '/v1/workspaces/default/assays',
      json({ name: 'y', pipeline: 'temps', iopath: 'x[0]', baseline: { values: [1] }, window: { width: '1h' } }),
    )
    expect(badPath.status).toBe(400)
    expect(((await badPath.json()) as { error: { message: string } }).error.message).toMatch(/iopath 'x\[0\]'/)
    const badWindow = await s.app.request(
      '/v1/workspaces/default/assays',
      json({
        name: 'z',
        pipeline: 'temps',
        iopath: 'in.x',
        baseline: { values: [1] },
        window: { width: '1 fortnight' },
      }),
    )
    expect(badWindow.status).toBe(400)
    expect(((await badWindow.json()) as { error: { message: string } }).error.message).toMatch(/not a duration/)
  })
  it('keeps the schedule on its grid after an off-grid run, and a restart reports the stored latest score', async () => {
    const a = (await (
      await s.app.request(
        '/v1/workspaces/default/assays',
        json({
          name: 'grid',
          pipeline: 'temps',
          iopath: 'in.x[0]',
          baseline: { values: year2012 },
          window: { width: '10s', start: 1_000_000 },
        }),
      )
    ).json()) as { id: number }
    await s.app.request(`/v1/workspaces/default/assays/${a.id}/run`, json({ start: 1_003_000, end: 1_013_000 }))
    await s.deps.assays.tick(1_035_000)
    const r = (await (await s.app.request(`/v1/workspaces/default/assays/${a.id}/results`)).json()) as Array<{
      window_start: string
    }>
    // The manual window at +3 s, then the scheduled ones that start after it: +10 s and +20 s.
    expect(r.map((x) => Date.parse(x.window_start) - 1_000_000)).toEqual([3000, 10_000, 20_000])

    const before = (await (await s.app.request('/metrics')).text()).match(
      /lastmile_assay_score\{[^}]*assay="summer"\} (\S+)/,
    )?.[1]
    expect(before).toBeDefined()
    await s.shutdown()
    s = { ...(await buildServer(testConfig(over), { log: silentLogger })), records: [] }
    const after = (await (await s.app.request('/metrics')).text()).match(
      /lastmile_assay_score\{[^}]*assay="summer"\} (\S+)/,
    )?.[1]
    expect(after).toBe(before)
  })
})
