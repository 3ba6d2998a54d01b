/**
 * Measured tuning runs in the store: a run comes back as written, then finished with its report;
 * a pipeline's runs are listed newest first; pruning keeps a pipeline's newest finished runs and
 * every running one, and leaves other pipelines alone; a row changed behind the store's back is
 * refused naming the table, the column and the row.
 */
import { describe, expect, it } from 'vitest'
import { CorruptRowError } from '../../src/store/schemas.js'
import type { OptimizationRecord } from '../../src/store/types.js'
import { BACKENDS } from './backends.js'

const run = (n: number, over: Partial<OptimizationRecord> = {}): OptimizationRecord => ({
  id: `opt-${n}`,
  workspace: 'default',
  pipeline: 'fraud',
  version: 2,
  status: 'running',
  request: { target_p99_ms: 25.5, backends: ['cpu', 'wasm'] },
  report: null,
  error: null,
  createdAt: `2026-12-01T10:00:0${n}.000Z`,
  finishedAt: null,
  ...over,
})

describe.each(BACKENDS)('the optimization store on $name', (backend) => {
  const { open } = backend.use()

  it('keeps a run as written, then its report or its error', async () => {
    const { store } = await open()
    await store.optimizations.add(run(1))
    expect(await store.optimizations.get('opt-1')).toEqual(run(1))
    const report = { table: [{ backend: 'cpu', rows_per_s: 1234.5, p99_ms: 3.25 }], recommendation: null }
    await store.optimizations.finish('opt-1', {
      status: 'succeeded',
      report,
      error: null,
      finishedAt: '2026-12-01T10:01:00.000Z',
    })
    expect(await store.optimizations.get('opt-1')).toEqual(
      run(1, { status: 'succeeded', report, finishedAt: '2026-12-01T10:01:00.000Z' }),
    )
    await store.optimizations.add(run(2))
    await store.optimizations.finish('opt-2', {
      status: 'failed',
      report: null,
      error: 'the pipeline was undeployed',
      finishedAt: '2026-12-01T10:02:00.000Z',
    })
    expect((await store.optimizations.get('opt-2'))?.error).toBe('the pipeline was undeployed')
    expect(await store.optimizations.get('opt-9')).toBeUndefined()
  })

  it("lists a pipeline's runs newest first, and prunes its finished ones beyond the newest", async () => {
    const { store } = await open()
    await store.workspaces.create('team')
    for (const n of [3, 1, 4, 2]) await store.optimizations.add(run(n, n === 1 ? {} : { status: 'succeeded' }))
    await store.optimizations.add(run(5, { pipeline: 'other', status: 'succeeded' }))
    await store.optimizations.add(run(6, { workspace: 'team', status: 'succeeded' }))
    const ids = async (ws = 'default', p = 'fraud') => (await store.optimizations.list(ws, p, 10)).map((r) => r.id)
    expect(await ids()).toEqual(['opt-4', 'opt-3', 'opt-2', 'opt-1'])
    expect((await store.optimizations.list('default', 'fraud', 2)).map((r) => r.id)).toEqual(['opt-4', 'opt-3'])
    await store.optimizations.prune('default', 'fraud', 1)
    // opt-1 is running: kept; opt-3 and opt-2 are finished and older than the newest one.
    expect(await ids()).toEqual(['opt-4', 'opt-1'])
    expect(await ids('default', 'other')).toEqual(['opt-5'])
    expect(await ids('team')).toEqual(['opt-6'])
  })

  it('refuses a row changed behind its back, naming the table, the column and the row', async () => {
    const { store, edit } = await open()
    await store.optimizations.add(run(1))
    await edit("UPDATE optimizations SET status = 'paused' WHERE id = ?", 'opt-1')
    const e = await store.optimizations.get('opt-1').catch((err: unknown) => err)
    expect(e).toBeInstanceOf(CorruptRowError)
    expect((e as Error).message).toMatch(/optimizations/)
    expect((e as Error).message).toMatch(/status/)
    expect((e as Error).message).toMatch(/opt-1/)
  })
})
