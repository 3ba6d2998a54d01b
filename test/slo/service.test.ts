/**
 * Objectives measured and alerted with an injected clock, on a real store and through the real
 * outbound policy to a real local receiver: a sustained burn pages when the workbook says it
 * should, a short blip does not, recovery resolves, a restart keeps the counts and does not repeat
 * an alert, throughput counts minutes with enough traffic, and arms are measured apart. Each
 * expected minute is worked out by hand in the comments.
 */
import { describe, expect, it } from 'vitest'
import type { SloService } from '../../src/slo/service.js'
import { M, sloHarness, T0 } from './harness.js'

describe('objectives over time', () => {
  const h = sloHarness()
  const { availability, goodHistory } = h
  const service = () => h.service()
  const minute = (svc: SloService, bad: number) => h.minute(svc, bad)

  it('pages on a sustained 2% error ratio in the minute the workbook predicts, and resolves on recovery', async () => {
    await h.store.workspaces.ensureDefault()
    await goodHistory('up')
    const svc = service()
    await svc.watch('default', 'p', 1, availability())
    // 2 of 100 bad against 99.9%: burn rate 20. At a minute boundary the 1 h window is the last 60
    // whole minutes: after k bad minutes its ratio is 2k/6000, a burn rate of k/3, above 14.4 from
    // k = 44 (the workbook: 60 min × 14.4 / 20 = 43.2 min). The 5 m window burns at 20 throughout.
    let firedAt = 0
    for (let k = 1; k <= 50 && firedAt === 0; k++) {
      await minute(svc, 2)
      if (h.hooks.length > 0) firedAt = k
    }
    expect(firedAt).toBe(44)
    expect(h.hooks).toHaveLength(1)
    expect(h.hooks[0]).toMatchObject({
      event: 'slo.alert',
      workspace: 'default',
      pipeline: 'p',
      objective: 'up',
      indicator: 'availability',
      arm: null,
      severity: 'page',
      target: 0.999,
      rule: { long: '1h', short: '5m', factor: 14.4 },
      at: new Date(T0 + 44 * M).toISOString(),
    })
    // The series' figures ride along: 88 bad of 436,400 over 30 d (3 days of history and 44 minutes).
    const fig = h.hooks[0] as { burn_rates: Record<string, number>; attainment: number; error_budget_remaining: number }
    expect(fig.burn_rates['5m']).toBeCloseTo(20, 9)
    expect(fig.attainment).toBeCloseTo(1 - 88 / 436_400, 12)
    expect(fig.error_budget_remaining).toBeCloseTo(1 - 88 / 436.4, 9)
    const rule = h.hooks[0]?.rule as { burn_rate_long: number; burn_rate_short: number }
    expect(rule.burn_rate_long).toBeCloseTo(44 / 3, 9)
    expect(rule.burn_rate_short).toBeCloseTo(20, 9)
    const st = await svc.status('default', 'p')
    expect(st.objectives[0]?.series[0]?.alerts).toMatchObject([
      { severity: 'page', since: new Date(T0 + 44 * M).toISOString() },
    ])
    // Recovery: after j good minutes the 5 m window holds 2·(5 − j) bad of 500, a burn rate of
    // 4·(5 − j): 16 after one minute (still firing), 12 after two (below 14.4: resolved). The 6 h
    // pair stays below 6 (88 bad of 36,000 is a burn rate of 2.4).
    await minute(svc, 0)
    expect(h.hooks).toHaveLength(1)
    await minute(svc, 0)
    expect(h.hooks).toHaveLength(2)
    expect(h.hooks[1]).toMatchObject({
      event: 'slo.resolved',
      reason: 'recovered',
      objective: 'up',
      severity: 'page',
      since: new Date(T0 + 44 * M).toISOString(),
      rule: null,
    })
    expect((await svc.status('default', 'p')).objectives[0]?.series[0]?.alerts).toEqual([])
    expect(await h.store.slo.alerts()).toEqual([])
    await svc.stop()
  })

  it('does not alert on a blip: half the requests of one minute failing', async () => {
    await h.store.workspaces.ensureDefault()
    await goodHistory('up')
    const svc = service()
    await svc.watch('default', 'p', 1, availability())
    // 50 bad: over 1 h 50/6000 is a burn rate of 8.3 (< 14.4); over 6 h 50/36,000 is 1.4 (< 6);
    // over 3 d 50/432,000 is 0.12 (< 1). The 5 m window alone burns at 100.
    await minute(svc, 50)
    for (let k = 0; k < 10; k++) await minute(svc, 0)
    expect(h.hooks).toEqual([])
    const s = (await svc.status('default', 'p')).objectives[0]?.series[0]
    // 30 d window: the 3 days of history, 432,000 good, and these 11 minutes, 1,050 good of 1,100.
    expect(s).toMatchObject({ good: 433_050, total: 433_100 })
    expect(s?.attainment).toBeCloseTo(433_050 / 433_100, 12)
    // (1 − 433050/433100) / 0.001 = 50/433.1 of the budget spent.
    expect(s?.error_budget_remaining).toBeCloseTo(1 - 50 / 433.1, 9)
    await svc.stop()
  })

  it('tickets a slow burn: 0.2% errors from the start', async () => {
    await h.store.workspaces.ensureDefault()
    const svc = service()
    await svc.watch('default', 'p', 1, {
      objectives: [{ name: 'up', indicator: 'availability', target: 0.999 }],
      alerting: { webhooks: [h.url] },
    })
    // One bad request in the fifth minute of every five: after minute 4, 1 of 500 in every window,
    // a burn rate of 2: above the ticket rule's 1 (3 d and 6 h), below both page rules (14.4, 6).
    // (In the first minute instead, 1 of 100 would burn at 10 and page on the 6 h / 30 m pair.)
    for (let k = 0; k < 10; k++) await minute(svc, k % 5 === 4 ? 1 : 0)
    expect(h.hooks.map((h) => [h.event, h.severity, h.at])).toEqual([
      ['slo.alert', 'ticket', new Date(T0 + 5 * M).toISOString()],
    ])
    expect(h.hooks[0]?.rule).toEqual({ long: '3d', short: '6h', factor: 1, burn_rate_long: 2, burn_rate_short: 2 })
    await svc.stop()
  })

  it('keeps the counts and the alert across a restart, without sending the alert again', async () => {
    await h.store.workspaces.ensureDefault()
    await goodHistory('up')
    const a = service()
    await a.watch('default', 'p', 1, availability())
    for (let k = 0; k < 44; k++) await minute(a, 2)
    expect(h.hooks).toHaveLength(1)
    a.record('default', 'p', { code: 500, ms: 1, rows: 1 }) // counted, not yet written: stop writes it
    await a.stop()
    const b = service()
    await b.watch('default', 'p', 1, availability())
    const s = (await b.status('default', 'p')).objectives[0]?.series[0]
    // 4320 minutes of history and 44 of the test, 100 each, and the one request before the stop.
    expect(s?.total).toBe(436_401)
    expect(s?.good).toBe(436_401 - 88 - 1)
    expect(s?.alerts.map((a) => a.severity)).toEqual(['page'])
    await minute(b, 2)
    expect(h.hooks).toHaveLength(1)
    await b.stop()
  })

  it('counts throughput in minutes with enough traffic, and latency per arm', async () => {
    await h.store.workspaces.ensureDefault()
    const svc = service()
    await svc.watch('default', 'p', 1, {
      per_arm: true,
      objectives: [
        { name: 'floor', indicator: 'throughput', value: 10, target: 0.9 },
        { name: 'fast', indicator: 'latency', value: 20, target: 0.9 },
      ],
    })
    const at = (k: number, s: number) => {
      h.now = T0 + k * M + s * 1000
    }
    // Minute 0: 700 rows offered and answered (floor 10 rows/s is 600 a minute): good.
    at(0, 1)
    svc.record('default', 'p', { code: 200, ms: 5, rows: 700, rowModels: Array(700).fill('a:1') })
    // Minute 1: 700 offered, 300 answered, 400 refused (429): an event, not a good one.
    at(1, 1)
    svc.record('default', 'p', {
      code: 200,
      ms: 30,
      rows: 300,
      rowModels: [...Array(200).fill('a:1'), ...Array(100).fill('b:1')],
    })
    svc.record('default', 'p', { code: 429, ms: 1, rows: 400 })
    // Minute 2: 100 rows, too little traffic to judge: no event.
    at(2, 1)
    svc.record('default', 'p', { code: 200, ms: 25, rows: 100, rowModels: Array(100).fill('b:1') })
    // Minute 3 in progress: not counted by throughput until it ends.
    at(3, 30)
    svc.record('default', 'p', { code: 200, ms: 1, rows: 5000, rowModels: Array(5000).fill('b:1') })
    await svc.tick()
    const st = await svc.status('default', 'p')
    const floor = st.objectives.find((o) => o.name === 'floor')
    expect(floor?.budgeting_method).toBe('timeslices')
    expect(floor?.series).toHaveLength(1)
    expect(floor?.series[0]).toMatchObject({ arm: null, good: 1, total: 2, attainment: 0.5 })
    const fast = st.objectives.find((o) => o.name === 'fast')
    expect(fast?.budgeting_method).toBe('occurrences')
    // Answered requests only (the 429 is not a latency event): 4, 2 within 20 ms. Arm a answered
    // rows of the first two (5 ms, 30 ms); arm b of the last three (30, 25, 1 ms).
    expect(fast?.series.map((s) => [s.arm, s.good, s.total])).toEqual([
      [null, 2, 4],
      ['a:1', 1, 2],
      ['b:1', 1, 3],
    ])
    // Prometheus' counters: requests for latency, ended minutes for throughput (0, 1 and 2 closed
    // when minute 3's request came: two with enough traffic, one good).
    const counts = Object.fromEntries(svc.counts().map((c) => [`${c.key.objective}/${c.key.arm}`, [c.good, c.total]]))
    expect(counts).toEqual({ 'floor/': [1, 2], 'fast/': [2, 4], 'fast/a:1': [1, 2], 'fast/b:1': [1, 3] })
    await svc.stop()
  })

  it('adds up a minute written in parts, and keeps counts whose writing failed for the next write', async () => {
    await h.store.workspaces.ensureDefault()
    const svc = service()
    await svc.watch('default', 'p', 1, availability())
    const key = { workspace: 'default', pipeline: 'p', objective: 'up', arm: '' }
    h.now = T0 + 1000
    svc.record('default', 'p', { code: 200, ms: 1, rows: 1 })
    svc.record('default', 'p', { code: 500, ms: 1, rows: 1 })
    await svc.flush()
    h.now = T0 + 2000
    svc.record('default', 'p', { code: 200, ms: 1, rows: 1 })
    const add = h.store.slo.add.bind(h.store.slo)
    h.store.slo.add = async () => {
      throw new Error('disk full')
    }
    await expect(svc.flush()).rejects.toThrow('disk full')
    h.store.slo.add = add
    h.now = T0 + M + 1000 // the next minute
    svc.record('default', 'p', { code: 503, ms: 1, rows: 1 })
    await svc.flush()
    expect(await h.store.slo.tally(key, T0, T0 + M)).toEqual({ good: 2, total: 3 })
    expect(await h.store.slo.tally(key, T0 + M, T0 + 2 * M)).toEqual({ good: 0, total: 1 })
    await svc.stop()
  })

  it('slides its window sums forward to what a whole reading of the store gives', async () => {
    await h.store.workspaces.ensureDefault()
    await goodHistory('up')
    const svc = service()
    await svc.watch('default', 'p', 1, availability())
    // 130 minutes (past the hourly whole reading) of uneven failures: 0 to 4 a minute.
    for (let k = 0; k < 130; k++) await minute(svc, (k * 7) % 5)
    const slid = await svc.status('default', 'p')
    const fresh = service()
    await fresh.watch('default', 'p', 1, availability())
    expect(await fresh.status('default', 'p')).toEqual(slid)
    // 26 rounds of 0+2+4+1+3 = 10 bad: 260 of the last 13,000 requests, all inside 3 d and 6 h.
    expect(slid.objectives[0]?.series[0]?.burn_rates['6h']).toBeCloseTo(260 / 36_000 / 0.001, 9)
    await svc.stop()
    await fresh.stop()
  })

  it('fires a page and a ticket apart, keeps them over a redeploy, resolves them when undeployed where they were sent', async () => {
    await h.store.workspaces.ensureDefault()
    const svc = service()
    await svc.watch('default', 'p', 1, availability())
    // 1 bad of 100 with no history: every window burns at 10, above the 6 h / 30 m page's 6 and
    // the ticket's 1, below the 1 h page's 14.4.
    await minute(svc, 1)
    expect(h.hooks.map((h) => [h.event, h.severity, (h.rule as { long: string }).long])).toEqual([
      ['slo.alert', 'page', '6h'],
      ['slo.alert', 'ticket', '3d'],
    ])
    // A redeploy (another version) with the objective kept and the webhooks moved: nothing is sent,
    // and Prometheus' counters carry on.
    const before = svc.counts()
    await svc.watch('default', 'p', 2, { ...availability(), alerting: { webhooks: [`${h.url}?moved`] } })
    expect(svc.counts()).toEqual(before)
    expect(h.hooks).toHaveLength(2)
    await svc.unwatch('default', 'p')
    await svc.idle()
    expect(h.hooks.slice(2).map((h) => [h.event, h.reason, h.severity, h.path])).toEqual([
      ['slo.resolved', 'undeployed', 'page', '/slo'],
      ['slo.resolved', 'undeployed', 'ticket', '/slo'],
    ])
    expect(await h.store.slo.alerts()).toEqual([])
    await svc.stop()
  })

  it('resolves the alerts of an objective a new version drops, and refuses to reuse a name for another indicator', async () => {
    await h.store.workspaces.ensureDefault()
    const svc = service()
    await svc.watch('default', 'p', 1, availability())
    await minute(svc, 1)
    expect(h.hooks).toHaveLength(2)
    const renamed = { objectives: [{ name: 'avail', indicator: 'availability', target: 0.999 }] }
    await svc.watch('default', 'p', 2, renamed)
    await svc.idle()
    expect(h.hooks.slice(2).map((h) => [h.event, h.reason, h.objective])).toEqual([
      ['slo.resolved', 'objective_removed', 'up'],
      ['slo.resolved', 'objective_removed', 'up'],
    ])
    const latency = { objectives: [{ name: 'up', indicator: 'latency', value: 5, target: 0.99 }] }
    await expect(svc.check(latency, [availability(), renamed])).rejects.toThrow(
      /'up' measured availability in an earlier version; .* give this latency objective a new name/,
    )
    expect((await svc.check(renamed, [availability()])).objectives[0]?.name).toBe('avail')
    await svc.stop()
  })

  it('stops measuring when undeployed, and forgets a deleted pipeline', async () => {
    await h.store.workspaces.ensureDefault()
    const svc = service()
    await svc.watch('default', 'p', 1, availability())
    svc.record('default', 'p', { code: 200, ms: 1, rows: 1 })
    await svc.unwatch('default', 'p')
    svc.record('default', 'p', { code: 500, ms: 1, rows: 1 }) // not watched: not counted
    await expect(svc.status('default', 'p')).rejects.toThrow(/not deployed with objectives/)
    const key = { workspace: 'default', pipeline: 'p', objective: 'up', arm: '' }
    expect(await h.store.slo.tally(key, T0 - M, T0 + M)).toEqual({ good: 1, total: 1 })
    await svc.forget('default', 'p')
    expect(await h.store.slo.tally(key, T0 - M, T0 + M)).toEqual({ good: 0, total: 0 })
    await svc.stop()
  })
})
