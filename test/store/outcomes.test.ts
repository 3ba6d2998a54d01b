/**
 * Ground truth in the store: a pipeline's outcome settings set, replaced and deleted; outcomes
 * written with the latest for a key winning (within one write and across writes) and `updated`
 * counting the replaced ones; lookups by key (numbers and strings back as they went in, missing
 * keys absent, other pipelines apart); a pipeline forgotten with everything it had; and a row
 * changed behind the store's back refused naming the table and the column.
 */
import { describe, expect, it } from 'vitest'
import { CorruptRowError } from '../../src/store/schemas.js'
import { BACKENDS } from './backends.js'

const byKey = <T extends { key: string }>(rows: T[]) => [...rows].sort((a, b) => (a.key < b.key ? -1 : 1))

describe.each(BACKENDS)('the outcome store on $name', (backend) => {
  const { open } = backend.use()

  it('sets, replaces and deletes a pipeline’s outcome settings', async () => {
    const { store } = await open()
    expect(await store.outcomes.getSpec('default', 'churn')).toBeUndefined()
    const first = await store.outcomes.putSpec('default', 'churn', { task: 'classification', output: 'probs' })
    expect(await store.outcomes.getSpec('default', 'churn')).toEqual(first)
    await store.outcomes.putSpec('default', 'churn', { task: 'regression', output: 'y', key: 'id' })
    const got = await store.outcomes.getSpec('default', 'churn')
    expect(got?.config).toEqual({ task: 'regression', output: 'y', key: 'id' })
    expect(got && Date.parse(got.updatedAt)).toBeGreaterThanOrEqual(Date.parse(first.updatedAt))
    expect(await store.outcomes.getSpec('default', 'other')).toBeUndefined()
    expect(await store.outcomes.deleteSpec('default', 'churn')).toBe(true)
    expect(await store.outcomes.deleteSpec('default', 'churn')).toBe(false)
    expect(await store.outcomes.getSpec('default', 'churn')).toBeUndefined()
  })

  it('keeps the latest outcome per key and counts the ones it replaced', async () => {
    const { store } = await open()
    const first = await store.outcomes.put('default', 'p', [
      { key: 'r0:a', value: 1, time: 100 },
      { key: 'r1:a', value: 'churn', time: 100 },
      { key: 'r0:a', value: 0, time: 101 }, // the same key again in one write: the later one
      { key: 'k:7', value: 2.5, time: 100 },
    ])
    expect(first).toEqual({ updated: 1 })
    const second = await store.outcomes.put('default', 'p', [
      { key: 'r1:a', value: 'stay', time: 200 },
      { key: 'r2:a', value: -3, time: 200 },
    ])
    expect(second).toEqual({ updated: 1 })
    await store.outcomes.put('default', 'q', [{ key: 'r0:a', value: 9, time: 300 }])
    const got = await store.outcomes.get('default', 'p', ['r0:a', 'r1:a', 'r2:a', 'k:7', 'r9:missing'])
    expect(byKey(got)).toEqual([
      { key: 'k:7', value: 2.5, time: 100 },
      { key: 'r0:a', value: 0, time: 101 },
      { key: 'r1:a', value: 'stay', time: 200 },
      { key: 'r2:a', value: -3, time: 200 },
    ])
    expect(await store.outcomes.get('default', 'q', ['r0:a'])).toEqual([{ key: 'r0:a', value: 9, time: 300 }])
    expect(await store.outcomes.get('default', 'p', [])).toEqual([])
    expect(await store.outcomes.put('default', 'p', [])).toEqual({ updated: 0 })
  })

  it('writes and finds thousands of keys, odd characters included', async () => {
    const { store } = await open()
    const odd = ["it's", 'a "quoted" id', 'ünïcödé', 'comma,and;semicolon', '%_like_%', '\\back']
    const rows = Array.from({ length: 12_000 }, (_, i) => ({
      key: `r${i % 3}:${odd[i % odd.length]}-${i}`,
      value: i % 2 ? i : `label ${i}`,
      time: 1_700_000_000_000 + i,
    }))
    expect(await store.outcomes.put('default', 'big', rows)).toEqual({ updated: 0 })
    const wanted = rows.filter((_, i) => i % 37 === 0)
    const got = await store.outcomes.get(
      'default',
      'big',
      wanted.map((r) => r.key),
    )
    expect(byKey(got)).toEqual(byKey(wanted))
    expect(await store.outcomes.put('default', 'big', rows.slice(0, 10))).toEqual({ updated: 10 })
  })

  it('forgets a deleted pipeline’s settings and outcomes, and only its own', async () => {
    const { store } = await open()
    await store.outcomes.putSpec('default', 'gone', { task: 'regression', output: 'y' })
    await store.outcomes.putSpec('default', 'kept', { task: 'regression', output: 'y' })
    await store.outcomes.put('default', 'gone', [{ key: 'r0:x', value: 1, time: 1 }])
    await store.outcomes.put('default', 'kept', [{ key: 'r0:x', value: 2, time: 1 }])
    await store.outcomes.forget('default', 'gone')
    expect(await store.outcomes.getSpec('default', 'gone')).toBeUndefined()
    expect(await store.outcomes.get('default', 'gone', ['r0:x'])).toEqual([])
    expect(await store.outcomes.getSpec('default', 'kept')).toBeDefined()
    expect(await store.outcomes.get('default', 'kept', ['r0:x'])).toHaveLength(1)
  })

  it('refuses a row changed behind its back, naming the table and the column', async () => {
    const { store, edit } = await open()
    await store.outcomes.put('default', 'p', [{ key: 'r0:x', value: 1, time: 1 }])
    await edit("UPDATE outcomes SET value = '{not json' WHERE key = 'r0:x'")
    const e = await store.outcomes.get('default', 'p', ['r0:x']).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(CorruptRowError)
    expect((e as Error).message).toMatch(/outcomes.*value/)
    await store.outcomes.putSpec('default', 'p', { task: 'regression', output: 'y' })
    await edit("UPDATE outcome_specs SET config = '[1]' WHERE pipeline = 'p'")
    const f = await store.outcomes.getSpec('default', 'p').catch((x: unknown) => x)
    expect((f as Error).message).toMatch(/outcome_specs.*config/)
  })
})
