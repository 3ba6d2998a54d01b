/**
 * The audit trail in the store: rows come back newest first with what was written, a page older
 * than a given id, only the newest `maxRows` kept, and a row changed behind the store's back is
 * refused naming the table, the column and the row.
 */
import { describe, expect, it } from 'vitest'
import { CorruptRowError } from '../../src/store/schemas.js'
import type { AuditRecord } from '../../src/store/types.js'
import { BACKENDS } from './backends.js'

const row = (n: number, over: Partial<Omit<AuditRecord, 'id'>> = {}): Omit<AuditRecord, 'id'> => ({
  time: `2026-12-01T10:00:0${n}.000Z`,
  workspace: n % 2 ? 'team' : 'default',
  key: { id: `k${n}`, name: `key ${n}`, role: 'deployer' },
  method: 'PUT',
  path: `/v1/workspaces/x/pipelines/p${n}`,
  status: 200 + n,
  ...over,
})

describe.each(BACKENDS)('the audit store on $name', (backend) => {
  const { open } = backend.use()

  it('answers rows newest first, as written, by workspace or all, a page at a time', async () => {
    const { store } = await open()
    for (let n = 1; n <= 5; n++) await store.audit.append(row(n), 100)
    await store.audit.append(
      { time: '2026-12-01T10:00:09.000Z', method: 'POST', path: '/v1/workspaces', status: 201 },
      100,
    )
    const all = await store.audit.list(undefined, 10)
    expect(all.map((r) => r.id)).toEqual([6, 5, 4, 3, 2, 1])
    expect(all[0]).toEqual({
      id: 6,
      time: '2026-12-01T10:00:09.000Z',
      method: 'POST',
      path: '/v1/workspaces',
      status: 201,
    })
    expect(all[1]).toEqual({ id: 5, ...row(5) })
    expect((await store.audit.list('team', 10)).map((r) => r.path)).toEqual([
      '/v1/workspaces/x/pipelines/p5',
      '/v1/workspaces/x/pipelines/p3',
      '/v1/workspaces/x/pipelines/p1',
    ])
    expect((await store.audit.list('team', 2)).map((r) => r.id)).toEqual([5, 3])
    expect((await store.audit.list('team', 2, 3)).map((r) => r.id)).toEqual([1])
    expect((await store.audit.list(undefined, 3, 5)).map((r) => r.id)).toEqual([4, 3, 2])
    expect(await store.audit.list('nobody', 10)).toEqual([])
  })

  it('keeps only the newest maxRows rows', async () => {
    const { store } = await open()
    for (let n = 1; n <= 4; n++) await store.audit.append(row(n), 3)
    expect((await store.audit.list(undefined, 10)).map((r) => r.id)).toEqual([4, 3, 2])
    await store.audit.append(row(5), 1)
    expect((await store.audit.list(undefined, 10)).map((r) => r.id)).toEqual([5])
  })

  it('refuses a row changed behind its back, naming the table, the column and the row', async () => {
    const { store, edit } = await open()
    await store.audit.append(row(1), 10)
    await edit("UPDATE audit SET role = 'root' WHERE id = 1")
    const e = await store.audit.list(undefined, 10).catch((err: unknown) => err)
    expect(e).toBeInstanceOf(CorruptRowError)
    expect((e as Error).message).toMatch(/audit/)
    expect((e as Error).message).toMatch(/role/)
    expect((e as Error).message).toMatch(/id=1/)
  })
})
