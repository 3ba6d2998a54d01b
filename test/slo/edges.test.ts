/**
 * Objectives at their edges, for what the mutation run of src/slo left alive: the counting at its
 * boundaries (a 299 and a 300, latency exactly at the threshold, a throughput minute exactly at the
 * floor, the first minute, an account replacing another), which reads the evaluator makes as its
 * window sums slide (and when it reads them whole again), the burn-down history, and the service's
 * lifecycle: stored arms after a restart, alerts of arms no longer measured, logging, pruning, the
 * flush timer, two workspaces with one pipeline name.
 */
import { describe, expect, it, vi } from 'vitest'
import { PipelineAccount } from '../../src/slo/accounting.js'
import { PlanEvaluator } from '../../src/slo/evaluate.js'
import { parseSlo } from '../../src/slo/spec.js'
import type { SloSeriesKey } from '../../src/store/types.js'
import { DAY, M, sloHarness, T0 } from './harness.js'

const bucketsOf = (a: PipelineAccount) =>
  a.take().map((b) => [b.objective, b.arm, (b.minute - T0) / M, b.good, b.total])

describe('counting requests', () => {
  it('counts 2xx as answered and 300 not, latency at the threshold as good, arms once per request', () => {
    const plan = parseSlo({
      per_arm: true,
      objectives: [
        { name: 'fast', indicator: 'latency', value: 20, target: 0.99 },
        { name: 'up', indicator: 'availability', target: 0.99 },
      ],
    })
    const a = new PipelineAccount('default', 'p', plan)
    a.record({ code: 299, ms: 20, rows: 1, rowModels: ['a:1'] }, T0 + 1) // answered, exactly 20 ms: good
    a.record({ code: 300, ms: 1, rows: 1, rowModels: ['a:1'] }, T0 + 2) // not answered: no latency event
    a.record({ code: 200, ms: 20.5, rows: 3, rowModels: ['b:1', 'a:1', 'b:1'] }, T0 + 3) // slow; arms a and b once
    a.record({ code: 200, ms: 1, rows: 0, rowModels: [] }, T0 + 4) // no rows: no arm
    a.record({ code: 499, ms: 1, rows: 1 }, T0 + 5) // client closed: answered without a 5xx
    a.record({ code: 500, ms: 1, rows: 1 }, T0 + 6)
    expect(bucketsOf(a)).toEqual([
      ['fast', '', 0, 2, 3],
      ['fast', 'a:1', 0, 1, 2],
      ['fast', 'b:1', 0, 0, 1],
      ['up', '', 0, 5, 6],
    ])
    expect(a.armsOf('fast')).toEqual(['a:1', 'b:1'])
    expect(a.armsOf('up')).toEqual([])
    expect(a.take()).toEqual([]) // nothing counted since
  })

  it('does not count arms of an availability objective, nor without per_arm', () => {
    const objectives = [
      { name: 'fast', indicator: 'latency', value: 20, target: 0.99 },
      { name: 'up', indicator: 'availability', target: 0.99 },
    ]
    const on = new PipelineAccount('default', 'p', parseSlo({ per_arm: true, objectives }))
    const off = new PipelineAccount('default', 'p', parseSlo({ objectives }))
    for (const a of [on, off]) a.record({ code: 200, ms: 1, rows: 1, rowModels: ['a:1'] }, T0)
    expect(bucketsOf(on).map((b) => `${b[0]}/${b[1]}`)).toEqual(['fast/', 'fast/a:1', 'up/'])
    expect(bucketsOf(off).map((b) => `${b[0]}/${b[1]}`)).toEqual(['fast/', 'up/'])
  })

  it('makes a throughput minute an event at exactly the floor, good at exactly the floor answered, none before the first minute', () => {
    const plan = parseSlo({ objectives: [{ name: 'floor', indicator: 'throughput', value: 10, target: 0.9 }] })
    const a = new PipelineAccount('default', 'p', plan)
    a.closeMinute(T0) // the first minute begins: nothing ended
    expect(a.sinceStart()[0]).toMatchObject({ good: 0, total: 0 })
    a.record({ code: 200, ms: 1, rows: 600, rowModels: [] }, T0 + 1) // 600 = 10 rows/s × 60 s
    a.closeMinute(T0 + M)
    expect(a.sinceStart()[0]).toMatchObject({ good: 1, total: 1 })
    a.record({ code: 200, ms: 1, rows: 599 }, T0 + M + 1)
    a.record({ code: 429, ms: 1, rows: 1 }, T0 + M + 2)
    a.closeMinute(T0 + 2 * M) // 600 offered, 599 answered: an event, not good
    a.record({ code: 200, ms: 1, rows: 599 }, T0 + 2 * M + 1)
    a.closeMinute(T0 + 2 * M) // not ended yet: nothing
    a.closeMinute(T0 + 3 * M) // 599 offered: no event
    expect(a.sinceStart()[0]).toMatchObject({ good: 1, total: 2 })
    expect(bucketsOf(a)).toEqual([
      ['floor', '', 0, 600, 600],
      ['floor', '', 1, 599, 600],
      ['floor', '', 2, 599, 599],
    ])
  })

  it('carries counts and the minute in progress into the account that replaces it, for the same name and indicator only', () => {
    const before = parseSlo({
      objectives: [
        { name: 'floor', indicator: 'throughput', value: 10, target: 0.9 },
        { name: 'x', indicator: 'availability', target: 0.9 },
      ],
    })
    const a = new PipelineAccount('default', 'p', before)
    a.record({ code: 200, ms: 1, rows: 400 }, T0 + 1)
    a.record({ code: 200, ms: 1, rows: 1 }, T0 + 2)
    a.take()
    const after = parseSlo({
      objectives: [
        { name: 'floor', indicator: 'throughput', value: 10, target: 0.9 },
        { name: 'x', indicator: 'latency', value: 5, target: 0.9 },
      ],
    })
    const b = new PipelineAccount('default', 'p', after, a)
    b.record({ code: 200, ms: 1, rows: 200 }, T0 + 3) // same minute: 401 + 200 rows, enough
    b.closeMinute(T0 + M)
    const counts = Object.fromEntries(b.sinceStart().map((c) => [c.key.objective, [c.good, c.total]]))
    expect(counts).toEqual({ floor: [1, 1], x: [1, 1] }) // x restarted: 1 latency event, not 3 availability ones
    expect(bucketsOf(b)).toEqual([
      ['floor', '', 0, 200, 200],
      ['x', '', 0, 1, 1],
    ])
  })
})

describe('window sums', () => {
  const h = sloHarness()

  it('reads each window whole once, then slides it by the minutes that ended and left, and reads it whole after an hour', async () => {
    await h.store.workspaces.ensureDefault()
    const plan = parseSlo({
      time_window: '1h',
      objectives: [{ name: 'up', indicator: 'availability', target: 0.99 }],
      alerting: { burn_rates: [{ long: '10m', short: '5m', factor: 2, severity: 'page' }] },
    })
    const reads: Array<[number, number]> = []
    const tally = h.store.slo.tally.bind(h.store.slo)
    h.store.slo.tally = (key: SloSeriesKey, from: number, to: number, floor?: number) => {
      reads.push([(from - T0) / M, (to - T0) / M])
      return tally(key, from, to, floor)
    }
    // One bad and one good request in each of minutes 0 to 130.
    const buckets = Array.from({ length: 131 }, (_, k) => ({
      workspace: 'default',
      pipeline: 'p',
      objective: 'up',
      arm: '',
      minute: T0 + k * M,
      good: 1,
      total: 2,
    }))
    await h.store.slo.add(buckets)
    const e = new PlanEvaluator(h.store.slo, 'default', 'p', 1, plan)
    const none = async () => []
    const at = async (minute: number) => {
      reads.length = 0
      const { status } = await e.evaluate(T0 + minute * M + 7000, none, () => [])
      return status.objectives[0]?.series[0]
    }
    // Minute 70 in progress: 60 + 1, 10 + 1 and 5 + 1 minutes of 2 requests.
    expect(await at(70)).toMatchObject({ good: 61, total: 122 })
    expect(reads).toEqual([
      [10, 70],
      [70, 71],
      [60, 70],
      [70, 71],
      [65, 70],
      [70, 71],
    ])
    expect(await at(71)).toMatchObject({ good: 61, total: 122 })
    expect(reads).toEqual([
      [70, 71], // ended since
      [10, 11], // left the window
      [71, 72], // in progress
      [70, 71],
      [60, 61],
      [71, 72],
      [70, 71],
      [65, 66],
      [71, 72],
    ])
    await at(129) // 59 minutes after the whole reading: still slid
    expect(reads[0]).toEqual([71, 129])
    await at(130) // an hour after it: read whole
    expect(reads[0]).toEqual([70, 130])
    e.reset()
    await at(131)
    expect(reads[0]).toEqual([71, 131])
  })

  it('cumulates the time window from its start for the chart, over the minutes the status counts', async () => {
    await h.store.workspaces.ensureDefault()
    const plan = parseSlo({
      time_window: '1h',
      objectives: [
        { name: 'up', indicator: 'availability', target: 0.99 },
        { name: 'floor', indicator: 'throughput', value: 1, target: 0.9 },
      ],
      alerting: { burn_rates: [{ long: '1h', short: '5m', factor: 2, severity: 'page' }] },
    })
    const row = (objective: string, k: number, good: number, total: number) => ({
      workspace: 'default',
      pipeline: 'p',
      objective,
      arm: '',
      minute: T0 + k * M,
      good,
      total,
    })
    // Outside the window (minute 9), then minutes 10, 40 and the minute in progress, 70.
    await h.store.slo.add([row('up', 9, 5, 5), row('up', 10, 1, 2), row('up', 40, 3, 3), row('up', 70, 4, 4)])
    await h.store.slo.add([row('floor', 10, 60, 60), row('floor', 69, 30, 60), row('floor', 70, 60, 60)])
    const e = new PlanEvaluator(h.store.slo, 'default', 'p', 1, plan)
    const now = T0 + 70 * M + 30_000
    const [up, floor] = plan.slo.objectives as [never, never]
    // 61 minutes [10, 71) in steps of 21 minutes (⌈61 / 3⌉ = 21): [10, 31), [31, 52), [52, 71).
    expect(await e.history(up, '', now, 3)).toEqual([
      { end: T0 + 31 * M, good: 1, total: 2 },
      { end: T0 + 52 * M, good: 4, total: 5 },
      { end: now, good: 8, total: 9 },
    ])
    // Throughput: the 60 ended minutes [10, 70), as slices: minute 10 good, 69 not; 70 not ended.
    expect(await e.history(floor, '', now, 2)).toEqual([
      { end: T0 + 40 * M, good: 1, total: 1 },
      { end: T0 + 70 * M, good: 1, total: 2 },
    ])
    const { status } = await e.evaluate(
      now,
      async () => [],
      () => [],
    )
    expect(status.objectives.map((o) => [o.series[0]?.good, o.series[0]?.total])).toEqual([
      [8, 9],
      [1, 2],
    ])
    expect(status.objectives.map((o) => [o.op, o.value])).toEqual([
      [null, null],
      ['gte', 1],
    ])
  })
})

describe('the service around the counts', () => {
  const h = sloHarness()

  it('keeps the split arms it stored across a restart, and resolves an arm alert when arms are no longer measured', async () => {
    await h.store.workspaces.ensureDefault()
    const slo = (per_arm: boolean) => ({
      per_arm,
      objectives: [{ name: 'fast', indicator: 'latency', value: 10, target: 0.99 }],
      alerting: { webhooks: [h.url] },
    })
    const a = h.service()
    await a.watch('default', 'p', 1, slo(true))
    // Arm a:1 answers slowly, b:1 fast: 10 of each a minute.
    for (let i = 0; i < 20; i++)
      a.record('default', 'p', { code: 200, ms: i < 10 ? 50 : 1, rows: 1, rowModels: [i < 10 ? 'a:1' : 'b:1'] })
    h.now = T0 + M
    await a.tick()
    await a.idle()
    // The pipeline burns at 50 (half slow against 1%), arm a at 100: both page; b does not.
    expect(h.hooks.map((x) => [x.event, x.arm, x.severity])).toEqual([
      ['slo.alert', null, 'page'],
      ['slo.alert', null, 'ticket'],
      ['slo.alert', 'a:1', 'page'],
      ['slo.alert', 'a:1', 'ticket'],
    ])
    expect(h.lines.filter((l) => l.msg === 'slo alert')[2]?.fields).toEqual({
      workspace: 'default',
      pipeline: 'p',
      objective: 'fast',
      severity: 'page',
      arm: 'a:1',
      reason: undefined,
    })
    await a.stop()
    const b = h.service()
    await b.watch('default', 'p', 1, slo(true))
    const arms = (await b.status('default', 'p')).objectives[0]?.series.map((s) => [s.arm, s.total, s.alerts.length])
    expect(arms).toEqual([
      [null, 20, 2],
      ['a:1', 10, 2],
      ['b:1', 10, 0],
    ])
    h.hooks.length = 0
    await b.watch('default', 'p', 2, slo(false))
    await b.idle()
    expect(h.hooks.map((x) => [x.event, x.reason, x.arm, x.severity, x.version, x.target, x.time_window])).toEqual([
      ['slo.resolved', 'objective_removed', 'a:1', 'page', 1, 0.99, '30d'],
      ['slo.resolved', 'objective_removed', 'a:1', 'ticket', 1, 0.99, '30d'],
    ])
    expect(h.lines.at(-1)).toMatchObject({
      level: 'warn',
      msg: 'slo alert resolved',
      fields: { reason: 'objective_removed' },
    })
    expect((await b.status('default', 'p')).objectives[0]?.series.map((s) => s.arm)).toEqual([null])
    // A version without objectives, then the pipeline deleted: the rest resolve, each with its reason.
    await b.watch('default', 'p', 3, null)
    await b.idle()
    expect(h.hooks.slice(2).map((x) => [x.reason, x.severity])).toEqual([
      ['objective_removed', 'page'],
      ['objective_removed', 'ticket'],
    ])
    await b.watch('default', 'p', 1, slo(false))
    expect(await h.store.slo.alerts()).toEqual([])
    await b.stop()
  })

  it('resolves with pipeline_deleted when the pipeline is deleted', async () => {
    await h.store.workspaces.ensureDefault()
    const svc = h.service()
    await svc.watch('default', 'p', 1, h.availability())
    await h.minute(svc, 50)
    expect(h.hooks.length).toBeGreaterThan(0)
    h.hooks.length = 0
    await svc.forget('default', 'p')
    await svc.idle()
    expect(new Set(h.hooks.map((x) => x.reason))).toEqual(new Set(['pipeline_deleted']))
    expect(h.hooks.length).toBeGreaterThan(0)
    await svc.stop()
  })

  it('shows the last tick in latestStatus until the next, and nothing once undeployed; keeps workspaces apart', async () => {
    await h.store.workspaces.ensureDefault()
    await h.store.workspaces.create('team')
    const svc = h.service()
    await svc.watch('default', 'p', 1, h.availability())
    await svc.watch('team', 'p', 1, h.availability())
    svc.record('default', 'p', { code: 200, ms: 1, rows: 1 })
    svc.record('team', 'p', { code: 500, ms: 1, rows: 1 })
    svc.record('nobody', 'p', { code: 500, ms: 1, rows: 1 })
    expect(svc.latestStatus()).toEqual([])
    await svc.tick()
    const seen = () => svc.latestStatus().map((s) => [s.workspace, s.version, s.objectives[0]?.series[0]?.good])
    expect(seen()).toEqual([
      ['default', 1, 1],
      ['team', 1, 0],
    ])
    expect(svc.counts().map((c) => [c.key.workspace, c.good, c.total])).toEqual([
      ['default', 1, 1],
      ['team', 0, 1],
    ])
    await svc.watch('default', 'p', 2, h.availability())
    expect(seen()).toEqual([
      ['team', 1, 0],
      ['default', 1, 1],
    ]) // the version-1 figures stand until the next tick
    await svc.tick()
    expect(seen()).toContainEqual(['default', 2, 1])
    expect(svc.plan('default', 'p').version).toBe(2)
    await expect(svc.history('default', 'p', 'nope', '', 10)).rejects.toThrow("pipeline 'p' has no objective 'nope'")
    const { objective, steps } = await svc.history('default', 'p', 'up', '', 1)
    expect([objective.name, steps]).toEqual(['up', [{ end: T0, good: 1, total: 1 }]])
    await svc.unwatch('default', 'p')
    expect(seen()).toEqual([['team', 1, 0]])
    await svc.stop()
  })

  it('prunes buckets past retention once an hour', async () => {
    await h.store.workspaces.ensureDefault()
    const svc = h.service()
    await svc.watch('default', 'p', 1, h.availability()) // 30 d window: kept 31 d
    const key = { workspace: 'default', pipeline: 'p', objective: 'up', arm: '' }
    const old = (minute: number) => h.store.slo.add([{ ...key, minute, good: 1, total: 1 }])
    await old(T0 - 31 * DAY - M) // past retention
    await old(T0 - 31 * DAY) // exactly at it: kept
    await svc.tick()
    expect(await h.store.slo.tally(key, 0, T0)).toEqual({ good: 1, total: 1 })
    await old(T0 - 32 * DAY)
    h.now = T0 + 59 * M
    await svc.tick() // within the hour: not pruned again
    expect(await h.store.slo.tally(key, 0, T0)).toEqual({ good: 2, total: 2 })
    h.now = T0 + 60 * M
    await svc.tick() // retention is now T0 + 1 h − 31 d
    expect(await h.store.slo.tally(key, 0, T0)).toEqual({ good: 0, total: 0 })
    await svc.stop()
  })

  it('writes on its timer, logs a failed write, and writes nothing when nothing was counted', async () => {
    await h.store.workspaces.ensureDefault()
    const svc = h.service()
    await svc.watch('default', 'p', 1, h.availability())
    const add = vi.spyOn(h.store.slo, 'add')
    await svc.flush()
    expect(add).not.toHaveBeenCalled()
    svc.start(10, 3_600_000)
    svc.record('default', 'p', { code: 200, ms: 1, rows: 1 })
    const key = { workspace: 'default', pipeline: 'p', objective: 'up', arm: '' }
    await vi.waitFor(async () => expect(await h.store.slo.tally(key, T0, T0 + M)).toEqual({ good: 1, total: 1 }), {
      timeout: 30_000,
      interval: 10,
    })
    add.mockRejectedValueOnce(new Error('disk full'))
    svc.record('default', 'p', { code: 200, ms: 1, rows: 1 })
    await vi.waitFor(() => expect(h.lines.find((l) => l.level === 'error')).toBeDefined(), {
      timeout: 30_000,
      interval: 10,
    })
    expect(h.lines.find((l) => l.level === 'error')).toEqual({
      level: 'error',
      msg: 'slo accounting failed',
      fields: { error: 'disk full' },
    })
    await svc.stop()
    expect(await h.store.slo.tally(key, T0, T0 + M)).toEqual({ good: 2, total: 2 })
  })

  it('closes a throughput minute at the tick without another request, and checks earlier versions and webhooks', async () => {
    await h.store.workspaces.ensureDefault()
    const svc = h.service()
    const slo = { objectives: [{ name: 'floor', indicator: 'throughput', value: 10, target: 0.9 }] }
    await svc.watch('default', 'p', 1, slo)
    svc.record('default', 'p', { code: 200, ms: 1, rows: 700 })
    h.now = T0 + M
    await svc.tick()
    expect(svc.counts().map((c) => [c.good, c.total])).toEqual([[1, 1]])
    // Earlier versions that do not parse are passed over; a refused webhook is a refusal.
    expect((await svc.check(slo, [null, { junk: 1 }])).objectives[0]?.name).toBe('floor')
    await expect(svc.check({ ...slo, alerting: { webhooks: ['http://169.254.169.254/hook'] } }, [])).rejects.toThrow(
      /169\.254\.169\.254/,
    )
    await svc.stop()
  })
})
