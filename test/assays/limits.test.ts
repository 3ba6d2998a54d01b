/**
 * Bounded assay work, on a server: the cases rebuilt (a 1 ms window over a day, a width
 * of 1e-7 ms) answer a 400 naming the width or the window count and the limit instead of running
 * for minutes; the window count is checked just under and just over its limit; a minimum raised
 * after an assay was defined is enforced at run and by the scheduler; the scheduler catches up a
 * backlog at most N windows per tick, oldest first, sharing ticks between assays, and says so;
 * preview and baseline values, and webhooks, are counted against their limits.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { ConfigOverrides } from '../../src/config.js'
import type { Logger } from '../../src/logger.js'
import { type BuiltServer, buildServer } from '../../src/server/serve.js'
import { clientFor, doubler, post, tempDir, testConfig } from '../helpers/server.js'

const DAY = 86_400_000
const servers: BuiltServer[] = []
afterEach(async () => {
  for (const s of servers.splice(0)) await s.shutdown()
})

async function server(over: ConfigOverrides = {}, logger?: Logger) {
  const s = await buildServer(testConfig(over), { log: logger ?? silent })
  servers.push(s)
  const lm = clientFor(s.app)
  if ((await s.deps.store.pipelines.latest('default')).length === 0) {
    await lm.uploadModel('default', 'm', doubler(1))
    await lm.putPipeline('default', 'm', [{ model: 'm' }])
  }
  return s
}
const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} }

const assay = (name: string, window: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  post({ name, pipeline: 'm', iopath: 'in.x', baseline: { values: [1, 2, 3, 4] }, window, active: false, ...extra })

async function refused(res: Response): Promise<string> {
  expect(res.status).toBe(400)
  return ((await res.json()) as { error: { message: string } }).error.message
}

describe('bounded assay work', () => {
  it('refuses windows narrower than the minimum at definition, 1e-7 ms among them', async () => {
    const s = await server()
    const A = '/v1/workspaces/default/assays'
    expect(await refused(await s.app.request(A, assay('a', { width: '1ms' })))).toMatch(
      /window width 1 ms is below the minimum of 1000 ms \(LASTMILE_ASSAY_MIN_WINDOW_MS\)/,
    )
    // As seconds: 1e-10 s is 1e-7 ms; as a string the same width.
    expect(await refused(await s.app.request(A, assay('b', { width: 1e-10 })))).toMatch(/window width 1e-7 ms/)
    expect(await refused(await s.app.request(A, assay('c', { width: '0.0000001ms' })))).toMatch(/window width 1e-7 ms/)
    expect(await refused(await s.app.request(A, assay('d', { width: '1h', interval: '999ms' })))).toMatch(
      /window interval 999 ms is below the minimum of 1000 ms/,
    )
    expect((await s.app.request(A, assay('e', { width: '1s' }))).status).toBe(201)
  })

  it('refuses a run over a day of 1 ms windows in milliseconds, naming the count and the limit', async () => {
    const s = await server({ assays: { minWindowMs: 1 } })
    const res = await s.app.request('/v1/workspaces/default/assays', assay('ms', { width: '1ms', start: 0 }))
    const { id } = (await res.json()) as { id: number }
    const t0 = performance.now()
    const run = await s.app.request(`/v1/workspaces/default/assays/${id}/run`, post({ start: 0, end: DAY }))
    const message = await refused(run)
    // Before this limit the same run scored 20 000 windows in 175 s; the refusal does no work at all.
    expect(performance.now() - t0).toBeLessThan(5000)
    expect(message).toMatch(
      /this range holds 86400000 windows of 1 ms every 1 ms; one run scores at most 1000 \(LASTMILE_ASSAY_MAX_RUN_WINDOWS\)/,
    )
    expect(await (await s.app.request(`/v1/workspaces/default/assays/${id}/results`)).json()).toEqual([])
  })

  it('scores a range of exactly the limit and refuses one window more', async () => {
    const s = await server({ assays: { maxRunWindows: 5 } })
    const res = await s.app.request('/v1/workspaces/default/assays', assay('five', { width: '2s', interval: '1s' }))
    const { id } = (await res.json()) as { id: number }
    const T = 1_700_000_000_000
    // 2 s windows every 1 s: [T, T+6 s) holds windows starting at T … T+4 s: five.
    const ok = await s.app.request(`/v1/workspaces/default/assays/${id}/run`, post({ start: T, end: T + 6000 }))
    expect(ok.status).toBe(200)
    expect(((await ok.json()) as Array<{ window_start: string }>).map((r) => Date.parse(r.window_start) - T)).toEqual([
      0, 1000, 2000, 3000, 4000,
    ])
    const over = await s.app.request(`/v1/workspaces/default/assays/${id}/run`, post({ start: T, end: T + 7000 }))
    expect(await refused(over)).toMatch(/holds 6 windows of 2000 ms every 1000 ms; one run scores at most 5/)
    const far = await s.app.request(`/v1/workspaces/default/assays/${id}/run`, post({ start: T, end: 1e300 }))
    expect(await refused(far)).toMatch(/'1e\+300' is not a time/)
  })

  it('enforces a minimum raised after definition at run time and in the scheduler', async () => {
    const dataDir = tempDir()
    const first = await server({ dataDir, assays: { minWindowMs: 1 } })
    const res = await first.app.request(
      '/v1/workspaces/default/assays',
      assay('narrow', { width: '10ms', start: 0 }, { active: true }),
    )
    const { id } = (await res.json()) as { id: number }
    await first.shutdown()
    servers.splice(0)
    const lines: string[] = []
    const at = (msg: string, f?: Record<string, unknown>) => lines.push(`${msg} ${JSON.stringify(f)}`)
    const s = await server({ dataDir }, { debug: at, info: at, warn: at, error: at })
    const run = await s.app.request(`/v1/workspaces/default/assays/${id}/run`, post({ start: 0, end: 1000 }))
    expect(await refused(run)).toMatch(/window width 10 ms is below the minimum of 1000 ms/)
    await s.deps.assays.tick(DAY)
    expect(lines.filter((l) => l.startsWith('assay skipped by the scheduler'))).toHaveLength(1)
    expect(await (await s.app.request(`/v1/workspaces/default/assays/${id}/results`)).json()).toEqual([])
  })

  it('catches up a backlog at most N windows per tick, oldest first, shared between assays, and says so', async () => {
    const lines: string[] = []
    const at = (msg: string, f?: Record<string, unknown>) => lines.push(`${msg} ${JSON.stringify(f)}`)
    const s = await server({ assays: { maxTickWindows: 3 } }, { debug: at, info: at, warn: at, error: at })
    const T = 1_700_000_000_000
    const define = async (name: string, start: number) =>
      (
        (await (
          await s.app.request('/v1/workspaces/default/assays', assay(name, { width: '1s', start }, { active: true }))
        ).json()) as { id: number }
      ).id
    const a = await define('a', T)
    const b = await define('b', T + 500)
    const now = T + 10_000 // a: windows at T … T+9 s (10); b: T+0.5 s … T+8.5 s (9)
    const starts = async (id: number) =>
      (
        (await (await s.app.request(`/v1/workspaces/default/assays/${id}/results`)).json()) as Array<{
          window_start: string
        }>
      ).map((r) => Date.parse(r.window_start) - T)
    await s.deps.assays.tick(now)
    expect(await starts(a)).toEqual([0, 1000])
    expect(await starts(b)).toEqual([500])
    const status = (await (await s.app.request(`/v1/workspaces/default/assays/${a}`)).json()) as {
      schedule: { catching_up: boolean; windows_behind: number; next_window_start: string }
    }
    expect(status.schedule).toEqual({
      catching_up: true,
      windows_behind: 8,
      next_window_start: new Date(T + 2000).toISOString(),
    })
    expect(lines.filter((l) => l.startsWith('assay scheduler catching up'))).toHaveLength(2)
    let ticks = 1
    for (; ticks < 20; ticks++) {
      const before = (await starts(a)).length + (await starts(b)).length
      await s.deps.assays.tick(now)
      const added = (await starts(a)).length + (await starts(b)).length - before
      expect(added).toBeLessThanOrEqual(3)
      if (added === 0) break
    }
    expect(ticks).toBe(7) // 19 windows, 3 a tick: 7 ticks scored them, the 8th found nothing
    expect(await starts(a)).toEqual(Array.from({ length: 10 }, (_, i) => i * 1000))
    expect(await starts(b)).toEqual(Array.from({ length: 9 }, (_, i) => 500 + i * 1000))
    const after = (await (await s.app.request(`/v1/workspaces/default/assays/${b}`)).json()) as {
      schedule: { catching_up: boolean; windows_behind: number }
    }
    expect(after.schedule).toMatchObject({ catching_up: false, windows_behind: 0 })
    expect(lines.filter((l) => l.startsWith('assay scheduler caught up'))).toHaveLength(2)
  })

  it('counts the values of a preview and of a given baseline against the limit', async () => {
    const s = await server({ assays: { maxRequestValues: 1000 } })
    const values = (n: number, shift: number) => Array.from({ length: n }, (_, i) => (i % 97) + shift)
    const preview = (b: number, w: number) =>
      s.app.request(
        '/v1/workspaces/default/assays/preview',
        post({ baseline: { values: values(b, 0) }, window: { values: values(w, 3) } }),
      )
    expect((await preview(600, 400)).status).toBe(200)
    expect(await refused(await preview(600, 401))).toMatch(
      /the preview carries 1001 values \(baseline 600 \+ window 401\); the limit is 1000 \(LASTMILE_ASSAY_MAX_REQUEST_VALUES\)/,
    )
    const big = post({
      name: 'big',
      pipeline: 'm',
      iopath: 'in.x',
      baseline: { values: values(1001, 0) },
      window: { width: '1h' },
    })
    expect(await refused(await s.app.request('/v1/workspaces/default/assays', big))).toMatch(
      /the assay definition carries 1001 values \(baseline 1001\); the limit is 1000/,
    )
  })

  it('refuses more webhooks than the limit', async () => {
    const s = await server({ assays: { maxWebhooks: 2 } })
    const hooks = ['http://8.8.8.8/a', 'http://8.8.4.4/b', 'http://1.1.1.1/c']
    const three = await s.app.request(
      '/v1/workspaces/default/assays',
      assay('three', { width: '1h' }, { webhooks: hooks }),
    )
    expect(await refused(three)).toMatch(/the assay has 3 webhooks; at most 2 \(LASTMILE_ASSAY_MAX_WEBHOOKS\)/)
    const two = await s.app.request(
      '/v1/workspaces/default/assays',
      assay('two', { width: '1h' }, { webhooks: hooks.slice(1) }),
    )
    expect(two.status).toBe(201)
  })
})
