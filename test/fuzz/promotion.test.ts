/**
 * Fuzzing the champion vs challenger routes through the server: structure-aware promotion rules
 * (odd numbers, metrics, webhook URLs in every spelling, unknown fields), challenger requests and
 * report and decision queries each answer a 2xx or a 4xx within the case bound — never a 500 — and
 * the evaluator, ticked after each rule, keeps working. DNS is a stub (every name public); a rule
 * that is accepted is evaluated against a pipeline whose challenger never decides (no outcomes).
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { silentLogger } from '../../src/logger.js'
import { type BuiltServer, buildServer } from '../../src/server/serve.js'
import { clientFor, doubler, post, testConfig } from '../helpers/server.js'
import { CASE_TIMEOUT_MS, fuzzParams } from './budget.js'

const number = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(0, -0, 0.5, 0.8, 0.95, 0.9999, 1, 1e-300, 1e300, Number.MAX_SAFE_INTEGER),
)
const text = fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('m', 'm:1', 'm2', 'm2:1', 'm:0', 'a b', ''))
const webhook = fc.oneof(
  fc.webUrl(),
  fc.constantFrom('http://127.1/', 'http://169.254.169.254/', 'gopher://x/', 'http://[::ffff:7f00:1]/'),
  fc.string({ maxLength: 30 }),
)
const mostly = <T, U>(good: fc.Arbitrary<T>, odd: fc.Arbitrary<U>) =>
  fc.oneof({ weight: 4, arbitrary: good }, { weight: 1, arbitrary: odd })

describe('fuzz: champion vs challenger routes through the server', () => {
  let s: BuiltServer
  let clock = Date.now()

  beforeAll(async () => {
    s = await buildServer(testConfig(), {
      log: silentLogger,
      resolve: async () => [{ address: '93.184.215.14', family: 4 }],
    })
    const lm = clientFor(s.app)
    await lm.uploadModel('default', 'm', doubler(1))
    await lm.uploadModel('default', 'm2', doubler(1))
    await lm.putPipeline('default', 'p', [{ model: 'm' }])
    await lm.deploy('default', 'p')
    await s.deps.store.outcomes.putSpec('default', 'p', { task: 'regression', output: 'y' })
    await lm.inferRecords('default', 'p', [{ x: [1] }, { x: [2] }])
  })
  afterAll(async () => {
    await s.shutdown()
  })

  async function answered(path: string, init: RequestInit | undefined, allowed: number[]): Promise<Response> {
    const started = performance.now()
    const res = await s.app.request(path, init)
    expect(performance.now() - started).toBeLessThan(CASE_TIMEOUT_MS)
    expect(allowed, `${res.status} for ${path} ${String(init?.body ?? '').slice(0, 300)}`).toContain(res.status)
    return res
  }

  it('answers random rules with 200 or a 400, and the evaluator keeps evaluating', async () => {
    const rule = fc.record(
      {
        champion: mostly(fc.constantFrom('m', 'm:1'), text),
        challenger: mostly(fc.constantFrom('m2', 'm2:1'), text),
        confidence: mostly(fc.double({ min: 0.8, max: 0.9999, noNaN: true }), number),
        metric: mostly(fc.constantFrom('mae', 'rmse'), fc.oneof(fc.constantFrom('accuracy', 'log_loss', 'f1'), text)),
        tau: mostly(fc.double({ min: 1e-6, max: 10, noNaN: true }), number),
        min_samples: mostly(fc.integer({ min: 10, max: 100_000 }), number),
        interval_s: mostly(fc.integer({ min: 1, max: 3600 }), number),
        rollback_on: mostly(
          fc.record({ assay_alerts: fc.boolean(), slo_alerts: fc.boolean() }, { requiredKeys: [] }),
          fc.oneof(fc.constant(null), fc.record({ assays: fc.boolean() }), number),
        ),
        action: mostly(fc.constantFrom('promote', 'report_only'), text),
        webhooks: mostly(fc.array(fc.webUrl(), { maxLength: 3 }), fc.array(webhook, { maxLength: 12 })),
        extra: fc.anything(),
      },
      { requiredKeys: [] },
    )
    await fc.assert(
      fc.asyncProperty(rule, async (body) => {
        const init = { ...post(body), method: 'PUT' }
        await answered('/v1/workspaces/default/pipelines/p/promotion', init, [200, 400])
        clock += 3_600_000
        await s.deps.promotion.tick(clock)
      }),
      fuzzParams(150),
    )
    // Still live: a good rule is set and read back.
    const lm = clientFor(s.app)
    await lm.putPromotion('default', 'p', { metric: 'mae', tau: 1 })
    expect((await lm.getPromotion('default', 'p')).rule.metric).toBe('mae')
  })

  it('answers random challenger requests, reports and decision pages with a 2xx or a 4xx', async () => {
    const request = fc.record(
      {
        model: mostly(fc.constantFrom('m2', 'm2:1', 'm'), text),
        mode: mostly(fc.constantFrom('shadow', 'canary'), text),
        weight: mostly(fc.double({ min: 0.1, max: 99.9, noNaN: true }), number),
        extra: fc.anything(),
      },
      { requiredKeys: [] },
    )
    const query = fc.record(
      {
        version: fc.oneof(fc.integer({ min: -2, max: 5 }), text),
        start: fc.oneof(
          fc.integer(),
          text,
          fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
        ),
        end: fc.oneof(fc.integer(), text),
        limit: fc.oneof(fc.integer({ min: -5, max: 2000 }), text),
        before: fc.oneof(fc.integer({ min: -5, max: 10 }), text),
      },
      { requiredKeys: [] },
    )
    await fc.assert(
      fc.asyncProperty(request, query, async (body, q) => {
        await answered('/v1/workspaces/default/pipelines/p/challenger', post(body), [201, 400])
        const search = new URLSearchParams(Object.entries(q).map(([k, v]): [string, string] => [k, String(v)]))
        await answered(`/v1/workspaces/default/pipelines/p/challengers?${search}`, undefined, [200, 400, 404])
        await answered(`/v1/workspaces/default/pipelines/p/decisions?${search}`, undefined, [200, 400])
      }),
      fuzzParams(100),
    )
  })
})
