/**
 * Fuzzing explanation requests through the server: random methods and parameters (in range, at
 * the limits, far past them, of the wrong type), reference and explained rows of the right and
 * wrong widths, nested by the input's dimensions or deeper (20,000 levels too, in the input or
 * another key), feature selections and targets each answer 200, or 202 as a job, or a 4xx within
 * the case bound — never a 500 — and a 200 never evaluated more model rows than the limit allows.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { linearRegression } from '../fixtures/models.js'
import { clientFor, post, testServer } from '../helpers/server.js'
import { CASE_TIMEOUT_MS, fuzzParams } from './budget.js'
import { DEEP, serialize } from './deep.js'

const MAX_MODEL_ROWS = 5000

describe('fuzz: explanation requests through the server', () => {
  let s: Awaited<ReturnType<typeof testServer>>

  beforeAll(async () => {
    s = await testServer({
      explain: {
        maxModelRows: MAX_MODEL_ROWS,
        maxReferenceRows: 50,
        maxRows: 5,
        maxBackground: 20,
        maxNsamples: 200,
        maxPermutations: 5,
        maxRepeats: 5,
        maxNumPoints: 20,
      },
    })
    const lm = clientFor(s.app)
    await lm.uploadModel('default', 'lin', linearRegression().bytes)
    await lm.putPipeline('default', 'lin', [{ model: 'lin' }])
    await lm.deploy('default', 'lin', { engine: 'cpu' })
  })
  afterAll(async () => {
    await s.shutdown()
  })

  it(
    'answers random explanation requests with 200 or a 4xx, within the model-row limit',
    async () => {
      const value = fc.oneof(
        { weight: 60, arbitrary: fc.double({ min: -100, max: 100, noNaN: true }) },
        { weight: 1, arbitrary: fc.constantFrom(null, 'x', 1e308, -1e308) },
      )
      const eight = fc.array(value, { minLength: 8, maxLength: 8 })
      // The 8 values inside 0 to 3 more arrays: one more is the most a row may have.
      const wrapped = fc
        .tuple(eight, fc.integer({ min: 1, max: 3 }))
        .map(([xs, levels]) => Array.from({ length: levels }).reduce<unknown>((v) => [v], xs))
      const row = fc.oneof(
        { weight: 16, arbitrary: fc.record({ x: eight }) },
        { weight: 1, arbitrary: fc.record({ x: fc.array(value, { maxLength: 10 }) }) },
        { weight: 1, arbitrary: fc.record({ y: fc.array(value, { maxLength: 8 }) }) },
        { weight: 1, arbitrary: fc.record({ x: wrapped }) },
        {
          weight: 1,
          arbitrary: fc.oneof(fc.record({ x: fc.constant(DEEP) }), fc.record({ x: eight, note: fc.constant(DEEP) })),
        },
      )
      // Mostly well-formed, now and then odd: the cases reach the methods, not only the schema.
      const mostly = <T, U>(good: fc.Arbitrary<T>, odd: fc.Arbitrary<U>) =>
        fc.oneof({ weight: 8, arbitrary: good }, { weight: 1, arbitrary: odd })
      const count = (typical: number) => mostly(fc.integer({ min: 1, max: typical }), fc.constantFrom(0, -1, 1e9, 2.5))
      const request = fc.record(
        {
          method: mostly(
            fc.constantFrom('permutation', 'pdp', 'kernel_shap', 'permutation_shap'),
            fc.string({ maxLength: 8 }),
          ),
          reference: mostly(
            fc.record({ rows: fc.array(row, { minLength: 1, maxLength: 60 }) }),
            fc.record({
              start: fc.oneof(fc.integer(), fc.string({ maxLength: 10 })),
              end: fc.oneof(fc.integer(), fc.string({ maxLength: 10 })),
              limit: count(80),
            }),
          ),
          rows: fc.array(row, { minLength: 1, maxLength: 7 }),
          output: mostly(fc.constant('out.y[0]'), fc.constantFrom('out.y[1]', 'y', 'out.z', 'out.y[-1]')),
          features: mostly(
            fc.array(fc.integer({ min: 0, max: 7 }), { maxLength: 4 }),
            fc.array(fc.oneof(fc.integer({ min: -1, max: 9 }), fc.constantFrom('x[0]', 'x[7]', 'nope')), {
              maxLength: 4,
            }),
          ),
          target: fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { maxLength: 60 }),
          metric: fc.constantFrom('mae', 'mse', 'rmse', 'r2', 'accuracy'),
          repeats: count(6),
          num_points: mostly(fc.integer({ min: 2, max: 22 }), fc.constantFrom(0, 1, -3, 1e9)),
          ice_rows: count(30),
          nsamples: mostly(fc.integer({ min: 2, max: 250 }), fc.constantFrom(0, 1, 1e9)),
          background: count(25),
          npermutations: count(6),
          seed: fc.integer(),
        },
        { requiredKeys: ['method', 'reference'] },
      )
      await fc.assert(
        fc.asyncProperty(request, fc.constantFrom('', '', '', '?async=true'), async (body, query) => {
          const started = performance.now()
          const res = await s.app.request(`/v1/workspaces/default/pipelines/lin/explain${query}`, {
            ...post(null),
            body: serialize(body),
          })
          expect(performance.now() - started).toBeLessThan(CASE_TIMEOUT_MS)
          const allowed = query ? [202, 400, 404] : [200, 400, 404]
          expect(allowed, `${res.status} for ${JSON.stringify(body).slice(0, 300)}`).toContain(res.status)
          if (res.status === 200) {
            expect(((await res.json()) as { evaluated_rows: number }).evaluated_rows).toBeLessThanOrEqual(
              MAX_MODEL_ROWS,
            )
          }
        }),
        fuzzParams(120),
      )
      expect((await s.app.request('/v2/health/live')).status).toBe(200)
    },
    CASE_TIMEOUT_MS * 10,
  )
})
