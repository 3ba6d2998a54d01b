/**
 * The promotion evaluator with known answers, on a real store, a clock of the test's and samples
 * it injects (a 50/50 split of two binary classifiers whose rows arrive at a steady rate, seeded):
 * a challenger that is truly better is promoted (a version with it alone, its decision stored with
 * the evidence and POSTed to a local webhook receiver); equal arms are never decided; a worse
 * challenger is rolled back within two evaluation intervals of an assay alert or an objective's
 * alert on its arm, and by the test itself once the champion is found better; a report-only rule
 * stores its recommendation once and changes nothing; a rule with `auto_challenger` puts a newer
 * version of the deployed model beside it as a canary, once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { silentLogger } from '../../src/logger.js'
import { InferenceLog } from '../../src/logs/inference-log.js'
import { OutboundPolicy } from '../../src/outbound/policy.js'
import { PromotionService } from '../../src/outcomes/promotion.js'
import type { ArmSamples, Samples } from '../../src/outcomes/samples.js'
import type { Step } from '../../src/pipeline/steps.js'
import { mulberry32 } from '../../src/random.js'
import { SqliteStore } from '../../src/store/sqlite-store.js'
import { afterEachTest, testConfig } from '../helpers/server.js'
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js'

const INTERVAL_S = 60
const SPLIT = {
  random_split: {
    weights: [
      [50, 'a:1'],
      [50, 'b:1'],
    ],
  },
}
/** Rows per second per arm. */
const RATE = 50

describe('the promotion evaluator', () => {
  const { closes, dir } = afterEachTest()
  let hook: WebhookReceiver

  beforeAll(async () => {
    hook = await startWebhookReceiver('/decisions')
  })
  afterAll(async () => {
    await hook.close()
  })

  /**
   * A store with pipeline `p` version 1 deployed as a 50/50 split of a:1 (right with `pA`) and b:1
   * (right with `pB`), outcome settings, and the service at a clock that starts just after it.
   */
  async function setUp(pA: number, pB: number, seed: number, steps: unknown[] = [SPLIT]) {
    const store = closes(SqliteStore.open(dir()))
    const log = closes(await InferenceLog.open(dir(), testConfig().inferenceLog, silentLogger))
    const v1 = await store.pipelines.add('default', 'p', steps)
    await store.deployments.put({
      workspace: 'default',
      pipeline: 'p',
      version: 1,
      config: {},
      deployedAt: v1.createdAt,
    })
    await store.outcomes.putSpec('default', 'p', { task: 'classification', output: 'probs' })
    const start = Date.parse(v1.createdAt) + 1000
    const clock = { now: start }
    const max = 200_000
    const rand = mulberry32(seed)
    const right = [Array.from({ length: max }, () => rand() < pA), Array.from({ length: max }, () => rand() < pB)]
    const armOf = (arm: string, k: number, n: number): ArmSamples => {
      const predictions = new Float64Array(2 * n)
      for (let i = 0; i < n; i++) predictions.set(right[k]?.[i] ? [0.3, 0.7] : [0.7, 0.3], 2 * i)
      return {
        arm,
        version: 1,
        shadow: false,
        width: 2,
        time: Float64Array.from({ length: n }, (_, i) => start + (i * 1000) / RATE),
        predictions,
        outcomes: new Float64Array(n).fill(1),
      }
    }
    const put: Array<{ steps: Step[]; slo: unknown }> = []
    const service = new PromotionService({
      store,
      log,
      logger: silentLogger,
      outbound: new OutboundPolicy(testConfig({ outbound: { allowLocal: true } }).outbound),
      webhookAttempts: 2,
      webhookBaseDelayMs: 10,
      now: () => clock.now,
      readSamples: async (): Promise<Samples> => {
        const n = Math.min(max, Math.floor(((clock.now - start) * RATE) / 1000))
        return { arms: [armOf('a:1', 0, n), armOf('b:1', 1, n)], rows: 2 * n, truncated: false, skipped: 0, unknown: 0 }
      },
      putPipeline: async (ws, name, steps, slo) => {
        put.push({ steps, slo })
        const r = await store.pipelines.add(ws, name, steps, slo ?? undefined)
        await store.deployments.put({
          workspace: ws,
          pipeline: name,
          version: r.version,
          config: {},
          deployedAt: r.createdAt,
        })
        return r
      },
    })
    /** Evaluate at each interval from the clock's time, `count` times. */
    const ticks = async (count: number) => {
      for (let i = 0; i < count; i++) {
        await service.tick(clock.now)
        clock.now += INTERVAL_S * 1000
      }
      await service.idle()
    }
    return { store, service, clock, put, ticks, start }
  }

  it('promotes a challenger that is truly better, stores the evidence and POSTs it', async () => {
    const { store, service, put, ticks } = await setUp(0.8, 0.9, 1)
    await service.putRule('default', 'p', { interval_s: INTERVAL_S, webhooks: [hook.url] })
    await ticks(4)
    expect(put).toEqual([{ steps: [{ model: 'b:1' }], slo: null }])
    const [d, ...older] = await store.promotion.decisions('default', 'p', 10)
    expect(older).toEqual([])
    expect(d).toMatchObject({
      action: 'promote',
      detail: { applied: true, reason: 'challenger_better', version: 1, new_version: 2, kept: 'b:1', alert: null },
    })
    const test = d?.detail.test as { verdict: string; p_value: number; difference: { low: number } }
    expect(test.verdict).toBe('challenger_better')
    expect(test.p_value).toBeLessThanOrEqual(0.05)
    expect(test.difference.low).toBeGreaterThan(0)
    const arms = d?.detail.arms as Array<{ model: string; metrics: { accuracy: { value: number } } }>
    expect(arms.map((a) => a.model)).toEqual(['a:1', 'b:1'])
    expect(arms[0]?.metrics.accuracy.value).toBeCloseTo(0.8, 1)
    expect(arms[1]?.metrics.accuracy.value).toBeCloseTo(0.9, 1)
    expect(hook.received.at(-1)).toMatchObject({
      event: 'promotion.decision',
      id: d?.id,
      action: 'promote',
      kept: 'b:1',
    })
    // The contest is over: the rule stays, waiting for the next challenger.
    await ticks(2)
    expect(await store.promotion.decisions('default', 'p', 10)).toHaveLength(1)
    expect(service.evaluation('default', 'p')).toMatchObject({ state: 'no_contest', version: 2 })
  })

  it('decides nothing between equal arms, however often it looks', async () => {
    const { store, service, put, ticks } = await setUp(0.85, 0.85, 2)
    await service.putRule('default', 'p', { interval_s: INTERVAL_S })
    await ticks(20) // up to 57,000 rows per arm
    expect(put).toEqual([])
    expect(await store.promotion.decisions('default', 'p', 10)).toEqual([])
    const e = service.evaluation('default', 'p')
    expect(e).toMatchObject({ state: 'undecided', version: 1 })
    expect(e?.test?.n[0]).toBe(57_000)
  })

  it('rolls a worse challenger back within two intervals of an assay alert', async () => {
    const { store, service, clock, put, ticks, start } = await setUp(0.85, 0.83, 3)
    await service.putRule('default', 'p', { interval_s: INTERVAL_S, webhooks: [hook.url] })
    // An alert of a window before the version was created does not count.
    const assay = await store.assays.add({
      workspace: 'default',
      pipeline: 'p',
      name: 'drift',
      config: {},
      baseline: Float64Array.of(1, 2, 3),
      active: true,
    })
    const result = (at: number, status: string) => ({
      assayId: assay.id,
      windowStart: at - 10_000,
      windowEnd: at,
      score: status === 'alert' ? 0.4 : 0.01,
      status,
      result: {},
      createdAt: new Date(at).toISOString(),
    })
    await store.assays.putResult(result(start - 3_600_000, 'alert'))
    await ticks(2)
    expect(put).toEqual([])
    expect(service.evaluation('default', 'p')?.state).toBe('undecided')
    // The alert lands between two evaluations.
    const alertAt = clock.now - 17_000
    await store.assays.putResult(result(alertAt, 'alert'))
    let decided = Number.NaN
    for (let i = 0; i < 3 && put.length === 0; i++) {
      await ticks(1)
      decided = clock.now - INTERVAL_S * 1000
    }
    expect(put).toEqual([{ steps: [{ model: 'a:1' }], slo: null }])
    expect(decided - alertAt).toBeLessThanOrEqual(2 * INTERVAL_S * 1000)
    const [d] = await store.promotion.decisions('default', 'p', 1)
    expect(d).toMatchObject({
      action: 'rollback',
      detail: {
        applied: true,
        reason: 'assay_alert',
        kept: 'a:1',
        alert: { kind: 'assay', assay: assay.id, name: 'drift', score: 0.4 },
      },
    })
    expect(Date.parse(d?.time ?? '')).toBe(decided)
    expect(hook.received.at(-1)).toMatchObject({ action: 'rollback', reason: 'assay_alert' })
  })

  it("rolls back on an objective's alert of the challenger's arm, not of another arm", async () => {
    const { store, service, put, ticks } = await setUp(0.85, 0.85, 4)
    await service.putRule('default', 'p', { interval_s: INTERVAL_S })
    const alert = (arm: string) => ({
      workspace: 'default',
      pipeline: 'p',
      objective: 'fast',
      arm,
      severity: 'page',
      since: Date.now(),
      detail: {},
    })
    await store.slo.putAlert(alert('a:1'))
    await store.slo.putAlert(alert(''))
    await ticks(2)
    expect(put).toEqual([])
    await store.slo.putAlert(alert('b:1'))
    await ticks(1)
    expect(put).toEqual([{ steps: [{ model: 'a:1' }], slo: null }])
    const [d] = await store.promotion.decisions('default', 'p', 1)
    expect(d?.detail).toMatchObject({ reason: 'slo_alert', alert: { kind: 'slo', arm: 'b:1', severity: 'page' } })
  })

  it('rolls back a challenger the test finds worse', async () => {
    const { store, service, put, ticks } = await setUp(0.9, 0.8, 5)
    await service.putRule('default', 'p', { interval_s: INTERVAL_S, rollback_on: { assay_alerts: false } })
    await ticks(4)
    expect(put).toEqual([{ steps: [{ model: 'a:1' }], slo: null }])
    const [d] = await store.promotion.decisions('default', 'p', 1)
    expect(d?.detail).toMatchObject({ reason: 'champion_better', test: { verdict: 'champion_better' } })
  })

  it('only reports under a report_only rule: stored and sent once, nothing deployed', async () => {
    const { store, service, put, ticks } = await setUp(0.8, 0.9, 6)
    await service.putRule('default', 'p', { interval_s: INTERVAL_S, action: 'report_only', webhooks: [hook.url] })
    const before = hook.received.length
    await ticks(6)
    expect(put).toEqual([])
    const decisions = await store.promotion.decisions('default', 'p', 10)
    expect(decisions).toHaveLength(1)
    expect(decisions[0]).toMatchObject({ action: 'promote', detail: { applied: false, new_version: null } })
    expect(hook.received.length - before).toBe(1)
    expect(service.evaluation('default', 'p')).toMatchObject({ state: 'decided', version: 1 })
  })

  it('deploys a newer version of the deployed model as its challenger, once', async () => {
    const { store, service, put, ticks } = await setUp(0.8, 0.8, 7, [{ model: 'a:1' }])
    const model = (sha256: string) => ({ workspace: 'default', name: 'a', sha256, size: 1, inputs: [], outputs: [] })
    await store.models.add(model('one'))
    await service.putRule('default', 'p', { interval_s: INTERVAL_S, auto_challenger: { mode: 'canary', weight: 20 } })
    await ticks(1)
    expect(put).toEqual([]) // no newer version yet
    await store.models.add(model('two')) // a retraining job uploads a:2
    await ticks(1)
    expect(put).toEqual([
      {
        steps: [
          {
            random_split: {
              weights: [
                [80, 'a:1'],
                [20, 'a:2'],
              ],
            },
          },
        ],
        slo: null,
      },
    ])
    expect(service.evaluation('default', 'p')).toMatchObject({ state: 'no_contest', note: 'challenger a:2 deployed' })
    await ticks(1) // the contest of version 2 now runs: evaluated, not redeployed
    expect(put).toHaveLength(1)
    expect(service.evaluation('default', 'p')).toMatchObject({ version: 2, contest: { challenger: 'a:2' } })
  })
})
