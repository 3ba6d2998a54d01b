/**
 * Promotion rules and decisions in the store, on each backend: a rule is put, replaced, listed and
 * deleted; decisions come back newest first with what was written, a page older than a given id at
 * a time, per pipeline, and go with their deleted pipeline; rows changed behind the store's back are refused naming table, column, row.
 */
import { describe, expect, it } from 'vitest'
import { CorruptRowError } from '../../src/store/schemas.js'
import { BACKENDS } from './backends.js'

const rule = (pipeline: string, confidence: number, workspace = 'default') => ({
  workspace,
  pipeline,
  config: { confidence, metric: 'accuracy', webhooks: ['https://hooks.example.com/x'] },
  updatedAt: `2026-12-01T10:00:0${Math.round(confidence * 10) % 10}.000Z`,
})

describe.each(BACKENDS)('the promotion store on $name', (backend) => {
  const { open } = backend.use()

  it('puts, replaces, lists and deletes rules, one per pipeline', async () => {
    const { store } = await open()
    await store.workspaces.create('team')
    expect(await store.promotion.getRule('default', 'p')).toBeUndefined()
    await store.promotion.putRule(rule('p', 0.9))
    await store.promotion.putRule(rule('b', 0.8))
    await store.promotion.putRule(rule('a', 0.7, 'team'))
    expect(await store.promotion.getRule('default', 'p')).toEqual(rule('p', 0.9))
    await store.promotion.putRule(rule('p', 0.99))
    expect(await store.promotion.getRule('default', 'p')).toEqual(rule('p', 0.99))
    expect((await store.promotion.rules()).map((r) => `${r.workspace}/${r.pipeline}`)).toEqual([
      'default/b',
      'default/p',
      'team/a',
    ])
    expect((await store.promotion.rules('team')).map((r) => r.pipeline)).toEqual(['a'])
    expect(await store.promotion.deleteRule('default', 'p')).toBe(true)
    expect(await store.promotion.deleteRule('default', 'p')).toBe(false)
    expect(await store.promotion.getRule('default', 'p')).toBeUndefined()
    await store.workspaces.delete('team')
    expect(await store.promotion.rules()).toHaveLength(1) // the workspace's rules went with it
  })

  it('answers decisions newest first, per pipeline, a page older than an id at a time', async () => {
    const { store } = await open()
    const made = []
    for (let n = 1; n <= 5; n++) {
      made.push(
        await store.promotion.addDecision({
          workspace: 'default',
          pipeline: n === 3 ? 'other' : 'p',
          time: `2026-12-01T10:00:0${n}.000Z`,
          action: n % 2 ? 'promote' : 'rollback',
          detail: { n, evidence: { p_value: 0.01 * n, arms: ['a:1', 'b:2'] } },
        }),
      )
    }
    expect(made.map((d) => d.id)).toEqual([1, 2, 3, 4, 5])
    expect(made[1]).toEqual({
      id: 2,
      workspace: 'default',
      pipeline: 'p',
      time: '2026-12-01T10:00:02.000Z',
      action: 'rollback',
      detail: { n: 2, evidence: { p_value: 0.02, arms: ['a:1', 'b:2'] } },
    })
    const p = await store.promotion.decisions('default', 'p', 10)
    expect(p.map((d) => d.id)).toEqual([5, 4, 2, 1])
    expect(p[0]).toEqual(made[4])
    expect((await store.promotion.decisions('default', 'p', 2)).map((d) => d.id)).toEqual([5, 4])
    expect((await store.promotion.decisions('default', 'p', 2, 4)).map((d) => d.id)).toEqual([2, 1])
    expect((await store.promotion.decisions('default', 'other', 10)).map((d) => d.id)).toEqual([3])
    expect(await store.promotion.decisions('default', 'none', 10)).toEqual([])
    // A deleted pipeline's rule and decisions go; another pipeline's stay.
    await store.promotion.putRule(rule('p', 0.9))
    await store.promotion.putRule(rule('other', 0.8))
    await store.promotion.forget('default', 'p')
    expect(await store.promotion.getRule('default', 'p')).toBeUndefined()
    expect(await store.promotion.decisions('default', 'p', 10)).toEqual([])
    expect((await store.promotion.decisions('default', 'other', 10)).map((d) => d.id)).toEqual([3])
    expect(await store.promotion.getRule('default', 'other')).toEqual(rule('other', 0.8))
  })

  it('refuses rows changed behind its back, naming the table, the column and the row', async () => {
    const { store, edit } = await open()
    await store.promotion.putRule({ workspace: 'default', pipeline: 'p', config: {}, updatedAt: 'now' })
    await store.promotion.addDecision({ workspace: 'default', pipeline: 'p', time: 't', action: 'x', detail: {} })
    await edit("UPDATE promotion_rules SET config = '[1, 2]'")
    await edit("UPDATE decisions SET detail = 'not json'")
    const rule = await store.promotion.getRule('default', 'p').catch((e: unknown) => e)
    expect(rule).toBeInstanceOf(CorruptRowError)
    expect((rule as Error).message).toMatch(/promotion_rules.*config.*pipeline="p"/s)
    const d = await store.promotion.decisions('default', 'p', 1).catch((e: unknown) => e)
    expect(d).toBeInstanceOf(CorruptRowError)
    expect((d as Error).message).toMatch(/decisions.*detail.*id=1/s)
  })
})
