/**
 * Bounded explanations, through the HTTP API: the model rows an explanation would evaluate are
 * known from its parameters before it starts; a request costing exactly the limit runs (and
 * evaluates no more than that), one step over is a 400 naming the method's parameters, the cost
 * and the limit, for each method; each parameter has its own limit; a job over a limit is refused
 * before its 202; a huge request is refused at once. Costs here are worked out by hand for an
 * 8-feature linear model and 10 reference rows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mulberry32, uniform } from '../../src/random.js'
import { linearRegression } from '../fixtures/models.js'
import { freshSeed } from '../helpers/compare.js'
import { clientFor, post, testServer } from '../helpers/server.js'

const LIMIT = 20

describe('explanation limits', () => {
  let s: Awaited<ReturnType<typeof testServer>>
  const rand = mulberry32(freshSeed())
  const reference = Array.from({ length: 10 }, () => ({ x: Array.from(uniform(rand, 8, -1, 1)) }))
  // Away from every reference value in each feature: every feature varies, the SHAP costs are exact.
  const rows = [{ x: Array.from(uniform(rand, 8, 2, 3)) }]

  beforeAll(async () => {
    s = await testServer({ explain: { maxModelRows: LIMIT, maxNsamples: 50, maxReferenceRows: 10 } })
    const lm = clientFor(s.app)
    await lm.uploadModel('default', 'lin', linearRegression().bytes)
    await lm.putPipeline('default', 'lin', [{ model: 'lin' }])
    await lm.deploy('default', 'lin', { engine: 'cpu' })
  })
  afterAll(async () => {
    await s.shutdown()
  })

  const explain = (body: Record<string, unknown>, query = '') =>
    s.app.request(
      `/v1/workspaces/default/pipelines/lin/explain${query}`,
      post({ reference: { rows: reference }, ...body }),
    )
  const message = async (res: Response) => {
    expect(res.status).toBe(400)
    return ((await res.json()) as { error: { message: string } }).error.message
  }

  // [method, parameters costing exactly 20 model rows, one step more, the cost of that step, its formula]
  const cases: Array<[string, Record<string, unknown>, Record<string, unknown>, number, RegExp]> = [
    // 10 reference rows × (1 + 1 feature × repeats)
    [
      'permutation',
      { features: [3], repeats: 1 },
      { repeats: 2 },
      30,
      /reference rows 10 × \(1 \+ features 1 × repeats 2\)/,
    ],
    // 1 feature × num_points × 10 reference rows
    ['pdp', { features: [5], num_points: 2 }, { num_points: 3 }, 30, /features 1 × num_points 3 × reference rows 10/],
    // 1 background row + 1 row × (1 + nsamples × 1 background row)
    [
      'kernel_shap',
      { rows, background: 1, nsamples: 18 },
      { nsamples: 19 },
      21,
      /background 1 \+ rows 1 × \(1 \+ coalitions 19 × background 1\)/,
    ],
    // 1 background row + 1 row × (1 + 2 × npermutations × (8 features + 1) × 1 background row)
    [
      'permutation_shap',
      { rows, background: 1, npermutations: 1 },
      { npermutations: 2 },
      38,
      /background 1 \+ rows 1 × \(1 \+ 2 × npermutations 2 × \(features 8 \+ 1\) × background 1\)/,
    ],
  ]
  for (const [method, atLimit, step, cost, formula] of cases) {
    it(`${method}: runs a request costing exactly the limit, refuses one step more`, async () => {
      const ok = await explain({ method, ...atLimit })
      expect(ok.status).toBe(200)
      expect(((await ok.json()) as { evaluated_rows: number }).evaluated_rows).toBe(LIMIT)
      const over = await message(await explain({ method, ...atLimit, ...step }))
      expect(over).toContain(`${method} would evaluate ${cost} model rows`)
      expect(over).toMatch(formula)
      expect(over).toContain(`at most ${LIMIT} (LASTMILE_EXPLAIN_MAX_MODEL_ROWS)`)
    })
  }

  it('refuses each parameter over its own limit, naming it, and a job over a limit before its 202', async () => {
    expect(await message(await explain({ method: 'kernel_shap', rows, background: 1, nsamples: 51 }))).toMatch(
      /nsamples is 51; at most 50 \(LASTMILE_EXPLAIN_MAX_NSAMPLES\)/,
    )
    const eleven = [...reference, reference[0]]
    expect(await message(await explain({ method: 'pdp', reference: { rows: eleven } }))).toMatch(
      /reference\.rows is 11; at most 10 \(LASTMILE_EXPLAIN_MAX_REFERENCE_ROWS\)/,
    )
    expect(await message(await explain({ method: 'permutation', reference: { start: 0, end: 1, limit: 11 } }))).toMatch(
      /reference\.limit is 11; at most 10/,
    )
    const job = await explain({ method: 'permutation', features: [3], repeats: 2 }, '?async=true')
    expect(await message(job)).toMatch(/would evaluate 30 model rows/)
    const jobs = await explain({ method: 'permutation', features: [3], repeats: 1 }, '?async=true')
    expect(jobs.status).toBe(202)
  })

  it('refuses a request of 254 million model rows at once, with the default limits', async () => {
    const big = await testServer()
    try {
      const lm = clientFor(big.app)
      await lm.uploadModel('default', 'lin', linearRegression().bytes)
      await lm.putPipeline('default', 'lin', [{ model: 'lin' }])
      await lm.deploy('default', 'lin', { engine: 'cpu' })
      const many = Array.from({ length: 1000 }, (_, i) => ({ x: Array.from({ length: 8 }, (_, j) => i + j) }))
      const t0 = performance.now()
      const res = await big.app.request(
        '/v1/workspaces/default/pipelines/lin/explain',
        post({ method: 'kernel_shap', reference: { rows: many }, rows: many, background: 1000, nsamples: 100_000 }),
      )
      expect(performance.now() - t0).toBeLessThan(5000) // refused before any model row runs
      // 1000 + 1000 × (1 + 254 coalitions (2^8 − 2) × 1000): every coalition of 8 features.
      expect(await message(res)).toMatch(/would evaluate 254002000 model rows.*at most 10000000/)
    } finally {
      await big.shutdown()
    }
  })
})
