/**
 * Every record store of each backend, method by method, with uneven data written out in the
 * test: filters that must exclude, orders that must hold, ranges that are inclusive at both ends,
 * upserts that replace, deletes that report whether anything went, prunes that keep the newest
 * and never a running one. Expected values are literals, not recomputed by the store's code.
 */
import { describe, expect, it } from 'vitest'
import { BACKENDS } from './backends.js'
import { explanation, job } from './seed.js'

describe.each(BACKENDS)('$name record stores', (backend) => {
  const { open } = backend.use()
  const store = async () => (await open()).store

  it('workspaces: create, get, list by name, and delete with clear refusals', async () => {
    const s = await store()
    const made = await s.workspaces.create('zeta')
    expect(made.name).toBe('zeta')
    expect(made.createdAt).toMatch(/^\d{4}-\d\d-\d\dT/)
    await s.workspaces.create('alpha')
    expect((await s.workspaces.list()).map((w) => w.name)).toEqual(['alpha', 'default', 'zeta'])
    expect((await s.workspaces.get('alpha'))?.name).toBe('alpha')
    expect(await s.workspaces.get('beta')).toBeUndefined()
    await expect(s.workspaces.create('alpha')).rejects.toThrow("workspace 'alpha' already exists")
    await expect(s.workspaces.delete('beta')).rejects.toThrow("no workspace 'beta'")
    await expect(s.workspaces.delete('default')).rejects.toThrow("workspace 'default' always exists")
    await s.workspaces.delete('zeta')
    expect((await s.workspaces.list()).map((w) => w.name)).toEqual(['alpha', 'default'])
  })

  it('sorts names byte by byte, as SQLite does, whatever the database collation', async () => {
    const s = await store()
    for (const name of ['ab', 'a-c', 'Zed', 'a_c']) await s.workspaces.create(name)
    expect((await s.workspaces.list()).map((w) => w.name)).toEqual(['Zed', 'a-c', 'a_c', 'ab', 'default'])
    for (const name of ['ab', 'a-c', 'Zed']) await s.pipelines.add('default', name, [])
    expect((await s.pipelines.latest('default')).map((p) => p.name)).toEqual(['Zed', 'a-c', 'ab'])
  })

  it('models: versions per name and workspace, same bytes same version, list ordered, delete by name, artifact use', async () => {
    const s = await store()
    await s.workspaces.create('other')
    const meta = { inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 3] }], outputs: [] }
    const add = (workspace: string, name: string, sha: string, size = 9) =>
      s.models.add({ workspace, name, sha256: sha.repeat(64), size, ...meta })
    expect((await add('default', 'b', 'a')).record.version).toBe(1)
    expect((await add('default', 'b', 'c')).record.version).toBe(2)
    expect((await add('default', 'a', 'c', 4)).record).toMatchObject({ name: 'a', version: 1, size: 4 })
    // Another workspace numbers its own versions.
    expect((await add('other', 'b', 'd')).record.version).toBe(1)
    const again = await add('default', 'b', 'a')
    expect([again.created, again.record.version]).toEqual([false, 1])
    expect((await s.models.list('default')).map((m) => `${m.name}:${m.version}`)).toEqual(['a:1', 'b:1', 'b:2'])
    expect((await s.models.versions('default', 'b')).map((m) => m.sha256[0])).toEqual(['a', 'c'])
    expect(await s.models.get('default', 'b', 3)).toBeUndefined()
    expect(await s.models.get('other', 'a', 1)).toBeUndefined()
    expect(await s.models.artifactInUse('d'.repeat(64))).toBe(true)
    expect(await s.models.artifactInUse('e'.repeat(64))).toBe(false)
    await s.models.delete('default', 'b')
    expect((await s.models.list('default')).map((m) => `${m.name}:${m.version}`)).toEqual(['a:1'])
    expect(await s.models.artifactInUse('a'.repeat(64))).toBe(false)
    expect((await s.models.list('other')).map((m) => `${m.name}:${m.version}`)).toEqual(['b:1'])
  })

  it('pipelines: versions count up, latest has one per name in name order, delete by name', async () => {
    const s = await store()
    const a1 = await s.pipelines.add('default', 'b', [{ model: 'm:1' }])
    const a2 = await s.pipelines.add('default', 'b', [{ model: 'm:2' }])
    await s.pipelines.add('default', 'a', [{ model: 'n:1' }])
    expect([a1.version, a2.version]).toEqual([1, 2])
    expect(a2.steps).toEqual([{ model: 'm:2' }])
    expect((await s.pipelines.latest('default')).map((p) => `${p.name}:${p.version}`)).toEqual(['a:1', 'b:2'])
    expect((await s.pipelines.versions('default', 'b')).map((p) => p.steps)).toEqual([
      [{ model: 'm:1' }],
      [{ model: 'm:2' }],
    ])
    expect((await s.pipelines.get('default', 'b', 1))?.steps).toEqual([{ model: 'm:1' }])
    expect(await s.pipelines.get('default', 'b', 3)).toBeUndefined()
    await s.pipelines.delete('default', 'b')
    expect((await s.pipelines.latest('default')).map((p) => p.name)).toEqual(['a'])
    expect(await s.pipelines.versions('default', 'b')).toEqual([])
  })

  it('deployments: put replaces, list by workspace and pipeline order, remove', async () => {
    const s = await store()
    await s.workspaces.create('team')
    const d = (workspace: string, pipeline: string, version: number) => ({
      workspace,
      pipeline,
      version,
      config: { replicas: version },
      deployedAt: `t${version}`,
    })
    await s.deployments.put(d('team', 'z', 1))
    await s.deployments.put(d('default', 'y', 1))
    await s.deployments.put(d('default', 'x', 1))
    await s.deployments.put(d('default', 'y', 3)) // replaces y's row
    expect((await s.deployments.list()).map((r) => `${r.workspace}/${r.pipeline}:${r.version}`)).toEqual([
      'default/x:1',
      'default/y:3',
      'team/z:1',
    ])
    expect(await s.deployments.list('default')).toEqual([
      { workspace: 'default', pipeline: 'x', version: 1, config: { replicas: 1 }, deployedAt: 't1' },
      { workspace: 'default', pipeline: 'y', version: 3, config: { replicas: 3 }, deployedAt: 't3' },
    ])
    await s.deployments.remove('default', 'y')
    await s.deployments.remove('default', 'nope')
    expect((await s.deployments.list()).map((r) => r.pipeline)).toEqual(['x', 'z'])
  })

  it('API keys: find by hash, list per workspace in creation order, delete reports what went', async () => {
    const s = await store()
    await s.workspaces.create('team')
    const key = (id: string, workspace: string, createdAt: string) => ({
      id,
      workspace,
      name: `key ${id}`,
      role: 'viewer' as const,
      hash: id.repeat(64).slice(0, 64),
      createdAt,
    })
    await s.apiKeys.add(key('c', 'team', '2026-03-01'))
    await s.apiKeys.add(key('a', 'default', '2026-02-01'))
    await s.apiKeys.add(key('b', 'team', '2026-01-01'))
    expect((await s.apiKeys.list()).map((k) => k.id)).toEqual(['a', 'b', 'c'])
    expect((await s.apiKeys.list('team')).map((k) => k.id)).toEqual(['b', 'c'])
    expect(await s.apiKeys.find('b'.repeat(64))).toEqual(key('b', 'team', '2026-01-01'))
    expect(await s.apiKeys.find('d'.repeat(64))).toBeUndefined()
    expect(await s.apiKeys.delete('b')).toBe(true)
    expect(await s.apiKeys.delete('b')).toBe(false)
    expect((await s.apiKeys.list('team')).map((k) => k.id)).toEqual(['c'])
  })

  it('assays: ids in order, per workspace, the baseline bytes exact; results upserted and read by an inclusive window', async () => {
    const s = await store()
    await s.workspaces.create('team')
    const baseline = Float64Array.of(0.1, -2.5, 1e300, Number.MIN_VALUE)
    const add = (workspace: string, name: string, active: boolean) =>
      s.assays.add({ workspace, pipeline: 'p', name, config: { bins: 3 }, baseline, active })
    const first = await add('default', 'one', true)
    const second = await add('team', 'two', false)
    const third = await add('default', 'three', true)
    expect(second.id).toBe(first.id + 1)
    expect((await s.assays.list()).map((a) => a.name)).toEqual(['one', 'two', 'three'])
    expect((await s.assays.list('default')).map((a) => a.name)).toEqual(['one', 'three'])
    const got = await s.assays.get('team', second.id)
    expect(got).toMatchObject({ name: 'two', active: false, config: { bins: 3 } })
    expect(Array.from(got?.baseline ?? [])).toEqual([0.1, -2.5, 1e300, Number.MIN_VALUE])
    expect(await s.assays.get('default', second.id)).toBeUndefined() // another workspace's id
    expect(await s.assays.delete('default', second.id)).toBe(false)

    const result = (windowStart: number, windowEnd: number, score: number) => ({
      assayId: first.id,
      windowStart,
      windowEnd,
      score,
      status: score > 0.2 ? 'alert' : 'ok',
      result: { score },
      createdAt: `c${windowStart}`,
    })
    await s.assays.putResult(result(20, 30, 0.1))
    await s.assays.putResult(result(0, 10, 0.3))
    await s.assays.putResult(result(10, 20, 0.05))
    await s.assays.putResult(result(20, 30, 0.4)) // the same window again: replaces
    await s.assays.putResult({ ...result(0, 10, 0.9), assayId: third.id })
    expect((await s.assays.results(first.id)).map((r) => [r.windowStart, r.score, r.status])).toEqual([
      [0, 0.3, 'alert'],
      [10, 0.05, 'ok'],
      [20, 0.4, 'alert'],
    ])
    // Windows that start at or after `start` and end at or before `end`.
    expect((await s.assays.results(first.id, 10, 30)).map((r) => r.windowStart)).toEqual([10, 20])
    expect((await s.assays.results(first.id, 0, 20)).map((r) => r.windowStart)).toEqual([0, 10])
    expect((await s.assays.results(first.id, 11, 29)).map((r) => r.windowStart)).toEqual([])
    expect((await s.assays.results(first.id, 20))[0]?.result).toEqual({ score: 0.4 })
    expect(await s.assays.delete('default', first.id)).toBe(true)
    expect(await s.assays.results(first.id)).toEqual([]) // results go with their assay
    expect((await s.assays.list()).map((a) => a.name)).toEqual(['two', 'three'])
  })

  it('jobs: read back field for field, listed newest first with filters, updated in part, deleted', async () => {
    const s = await store()
    await s.workspaces.create('team')
    const a = job({ id: 'a', createdAt: '2026-01-02T00:00:00.000Z', createdBy: 'key-1' })
    const b = job({ id: 'b', workspace: 'team', status: 'running', createdAt: '2026-01-03T00:00:00.000Z' })
    const c = job({ id: 'c', status: 'failed', createdAt: '2026-01-01T00:00:00.000Z', error: 'boom', attempts: 2 })
    const d = job({ id: 'd', status: 'running', createdAt: '2026-01-02T00:00:00.000Z' }) // ties a's time
    for (const j of [a, b, c, d]) await s.jobs.add(j)
    expect(await s.jobs.get('a')).toEqual(a)
    expect(await s.jobs.get('nope')).toBeUndefined()
    expect((await s.jobs.list()).map((j) => j.id)).toEqual(['b', 'd', 'a', 'c'])
    expect((await s.jobs.list({ workspace: 'default' })).map((j) => j.id)).toEqual(['d', 'a', 'c'])
    expect((await s.jobs.list({ status: ['running', 'failed'] })).map((j) => j.id)).toEqual(['b', 'd', 'c'])
    expect((await s.jobs.list({ workspace: 'default', status: ['running'] })).map((j) => j.id)).toEqual(['d'])
    expect((await s.jobs.list({ status: [] })).map((j) => j.id)).toEqual(['b', 'd', 'a', 'c'])

    const progress = {
      status: 'running' as const,
      rowsTotal: 900,
      rowsDone: 300,
      chunksDone: 1,
      errorCount: 1,
      errors: [{ row: 7, message: 'x is missing' }],
      startedAt: '2026-01-02T00:00:01.000Z',
      options: { maxErrorShare: 0.5, chunkRows: 300, batchRows: 30 },
    }
    await s.jobs.update('a', { ...progress, error: undefined }) // undefined fields are left as they are
    expect(await s.jobs.get('a')).toEqual({ ...a, ...progress })
    await s.jobs.update('a', { finishedAt: '2026-01-02T00:01:00.000Z', status: 'succeeded', error: null })
    expect(await s.jobs.get('a')).toMatchObject({ status: 'succeeded', finishedAt: '2026-01-02T00:01:00.000Z' })
    await s.jobs.update('a', {}) // nothing to set: no statement, no error
    expect(await s.jobs.get('b')).toEqual(b) // other rows untouched
    expect(await s.jobs.delete('c')).toBe(true)
    expect(await s.jobs.delete('c')).toBe(false)
    expect((await s.jobs.list()).map((j) => j.id)).toEqual(['b', 'd', 'a'])
  })

  it('explanations: finish, attempts only while running and never below 0, running in age order, prune keeps the newest', async () => {
    const s = await store()
    const t = (d: number) => `2026-01-0${d}T00:00:00.000Z`
    await s.explanations.add(explanation({ id: 'e3', createdAt: t(3) }))
    await s.explanations.add(explanation({ id: 'e1', createdAt: t(1) }))
    await s.explanations.add(explanation({ id: 'e2', createdAt: t(2) }))
    await s.explanations.add(explanation({ id: 'e4', createdAt: t(4) }))
    expect(await s.explanations.get('e2')).toEqual(explanation({ id: 'e2', createdAt: t(2) }))
    expect(await s.explanations.get('nope')).toBeUndefined()
    expect((await s.explanations.running()).map((e) => e.id)).toEqual(['e1', 'e2', 'e3', 'e4'])

    await s.explanations.addAttempts('e1', 2)
    await s.explanations.addAttempts('e1', -5) // floored at 0
    await s.explanations.addAttempts('e2', 3)
    expect((await s.explanations.get('e1'))?.attempts).toBe(0)
    expect((await s.explanations.get('e2'))?.attempts).toBe(3)

    const summary = Uint8Array.of(9, 0, 255, 7)
    await s.explanations.finish('e2', {
      status: 'succeeded',
      error: null,
      report: { importance: [0.75, 0.25] },
      summary,
      finishedAt: t(5),
    })
    await s.explanations.finish('e1', {
      status: 'failed',
      error: 'model lost',
      report: null,
      summary: null,
      finishedAt: t(6),
    })
    await s.explanations.addAttempts('e2', 1) // finished: attempts no longer move
    const e2 = await s.explanations.get('e2')
    expect(e2).toMatchObject({
      status: 'succeeded',
      attempts: 3,
      report: { importance: [0.75, 0.25] },
      finishedAt: t(5),
    })
    expect(Array.from(e2?.summary ?? [])).toEqual([9, 0, 255, 7])
    expect(await s.explanations.get('e1')).toMatchObject({ status: 'failed', error: 'model lost', summary: null })
    expect((await s.explanations.running()).map((e) => e.id)).toEqual(['e3', 'e4'])

    // Keep the 2 newest by creation (e4, e3, both running); finished ones older than them go,
    // and a running one is never pruned whatever its age.
    await s.explanations.add(explanation({ id: 'e0', createdAt: t(0) })) // oldest, still running
    await s.explanations.prune(2)
    expect(await s.explanations.get('e1')).toBeUndefined()
    expect(await s.explanations.get('e2')).toBeUndefined()
    expect((await s.explanations.running()).map((e) => e.id)).toEqual(['e0', 'e3', 'e4'])
    await s.explanations.finish('e3', { status: 'succeeded', error: null, report: {}, summary: null, finishedAt: t(7) })
    await s.explanations.prune(2)
    expect(await s.explanations.get('e3')).toBeDefined() // among the 2 newest
    await s.explanations.prune(1)
    expect(await s.explanations.get('e3')).toBeUndefined()
  })

  it('objectives: buckets summed per minute, tallies and steps over [from, to) with and without a floor, arms, prune, alerts, forget', async () => {
    const s = await store()
    await s.workspaces.create('team')
    const whole = { workspace: 'default', pipeline: 'p', objective: 'latency', arm: '' }
    const arm = { ...whole, arm: 'm:2' }
    await s.slo.add([
      { ...whole, minute: 0, good: 5, total: 6 },
      { ...whole, minute: 60_000, good: 1, total: 4 },
      { ...arm, minute: 0, good: 2, total: 2 },
    ])
    await s.slo.add([
      { ...whole, minute: 60_000, good: 2, total: 2 }, // added to the minute's counts: 3 of 6
      { ...whole, minute: 180_000, good: 0, total: 1 },
      { ...whole, pipeline: 'q', minute: 0, good: 9, total: 9 }, // another pipeline's series
    ])
    expect(await s.slo.tally(whole, 0, 240_000)).toEqual({ good: 8, total: 13 })
    expect(await s.slo.tally(whole, 60_000, 180_000)).toEqual({ good: 3, total: 6 }) // `to` excluded
    expect(await s.slo.tally(whole, 300_000, 360_000)).toEqual({ good: 0, total: 0 })
    // Floor 5: minute 0 is a good slice (5 of 6), minute 1 a bad one (3 of 6), minute 3 no slice (1 < 5).
    expect(await s.slo.tally(whole, 0, 240_000, 5)).toEqual({ good: 1, total: 2 })
    expect(await s.slo.history(whole, 0, 240_000, 120_000)).toEqual([
      { start: 0, good: 8, total: 12 },
      { start: 120_000, good: 0, total: 1 },
    ])
    expect(await s.slo.history(whole, 0, 240_000, 120_000, 5)).toEqual([
      { start: 0, good: 1, total: 2 },
      { start: 120_000, good: 0, total: 0 },
    ])
    expect(await s.slo.history(whole, 60_000, 240_000, 120_000)).toEqual([
      { start: 60_000, good: 3, total: 6 },
      { start: 180_000, good: 0, total: 1 },
    ])
    expect(await s.slo.arms('default', 'p', 'latency')).toEqual(['', 'm:2'])
    expect(await s.slo.arms('default', 'p', 'errors')).toEqual([])
    expect(await s.slo.prune('default', 'p', 60_000)).toBe(2) // minute 0 of both arms
    expect(await s.slo.tally(arm, 0, 240_000)).toEqual({ good: 0, total: 0 })
    expect(await s.slo.tally({ ...whole, pipeline: 'q' }, 0, 60_000)).toEqual({ good: 9, total: 9 })

    await s.slo.putAlert({ ...whole, severity: 'page', since: 1000, detail: { rule: 'fast' } })
    await s.slo.putAlert({ ...arm, severity: 'ticket', since: 2000, detail: {} })
    await s.slo.putAlert({ ...whole, workspace: 'team', severity: 'page', since: 500, detail: {} })
    await s.slo.putAlert({ ...whole, severity: 'page', since: 3000, detail: { rule: 'slow' } }) // replaces
    expect((await s.slo.alerts()).map((a) => `${a.workspace}/${a.arm}/${a.severity}@${a.since}`)).toEqual([
      'default//page@3000',
      'default/m:2/ticket@2000',
      'team//page@500',
    ])
    expect(await s.slo.alerts('default', 'p')).toEqual([
      { ...whole, severity: 'page', since: 3000, detail: { rule: 'slow' } },
      { ...arm, severity: 'ticket', since: 2000, detail: {} },
    ])
    await s.slo.clearAlert(whole, 'page')
    expect((await s.slo.alerts('default', 'p')).map((a) => a.severity)).toEqual(['ticket'])
    await s.slo.forget('default', 'p')
    expect(await s.slo.alerts('default', 'p')).toEqual([])
    expect(await s.slo.arms('default', 'p', 'latency')).toEqual([])
    expect((await s.slo.alerts()).map((a) => a.workspace)).toEqual(['team']) // another workspace's stays
    expect(await s.slo.arms('default', 'q', 'latency')).toEqual(['']) // another pipeline's stays
  })
})
