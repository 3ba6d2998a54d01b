/**
 * Fuzzing the query and path parameters the route table parses: random keys (the routes' own,
 * repeated, and others), values of every shape (empty, huge, non-finite spellings, unicode, bad
 * percent escapes; keys that are Object.prototype's, like `constructor`) and path segments each
 * answer 200, a 400 naming the parameter, or a 404 — never a 500 — within the case bound, and
 * every answer matches the OpenAPI document (the response check of test/helpers/server.ts).
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { post, serverWithAssay, type testServer } from '../helpers/server.js'
import { CASE_TIMEOUT_MS, fuzzParams } from './budget.js'

/** Keys a plain object inherits: a lookup that is not an own-property one finds Object's. */
const INHERITED = ['constructor', '__proto__', 'toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf']

/** Routes with declared query or typed path parameters, `{id}` an existing assay's. */
const ROUTES = [
  {
    method: 'GET',
    path: '/v1/workspaces/default/pipelines/m/logs',
    keys: ['start', 'end', 'limit', 'columns', 'format'],
  },
  { method: 'GET', path: '/v1/workspaces/default/assays/{id}/results', keys: ['start', 'end'] },
  { method: 'GET', path: '/v1/workspaces/default/assays/{id}/chart.svg', keys: ['kind', 'window_start'] },
  { method: 'GET', path: '/v1/jobs/none/result', keys: ['format'] },
  { method: 'GET', path: '/v1/workspaces/default/explanations/none', keys: ['format', 'row', 'feature'] },
  { method: 'POST', path: '/v1/workspaces/default/pipelines/m/explain', keys: ['format', 'async', 'row', 'feature'] },
  { method: 'POST', path: '/v1/workspaces/default/pipelines/m/jobs', keys: ['format', 'features', 'max_error_share'] },
  {
    method: 'POST',
    path: '/v1/workspaces/default/pipelines/m/infer',
    keys: ['dataset[]', 'dataset.exclude[]', 'dataset.separator', 'dataset.flatten'],
  },
]

const value = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.constantFrom('', '0', '-1', '1', '0.5', '1e309', '-0', 'NaN', 'Infinity', 'true', 'false', 'csv', 'arrow', 'svg'),
  fc.constantFrom('2024-05-01T00:00:00Z', '8640000000000001', 'json', 'bins', 'scores', 'in.x,out.y', '*'),
  fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map(String),
  fc.string({ unit: 'grapheme', maxLength: 10 }),
)

describe('fuzz: query and path parameters through the route table', () => {
  let s: Awaited<ReturnType<typeof testServer>>
  let assay = 0

  beforeAll(async () => {
    ;({ s, assay } = await serverWithAssay())
  })
  afterAll(() => s.shutdown())

  it(
    'answers random query strings with 200, 202, a 4xx naming what is wrong, never a 500',
    async () => {
      const route = fc.constantFrom(...ROUTES)
      const query = route.chain((r) =>
        fc.tuple(
          fc.constant(r),
          fc.array(fc.tuple(fc.oneof(fc.constantFrom(...r.keys, ...INHERITED), fc.string({ maxLength: 8 })), value), {
            maxLength: 6,
          }),
          fc.oneof(fc.constant(''), fc.constantFrom('&%zz', '&limit=%', '&=x', '&&', '&format=%E0%A4%A')),
        ),
      )
      await fc.assert(
        fc.asyncProperty(query, async ([r, pairs, raw]) => {
          const qs = new URLSearchParams(pairs).toString() + raw
          const url = `${r.path.replace('{id}', String(assay))}?${qs}`
          const started = performance.now()
          const res = await s.app.request(url, r.method === 'POST' ? post({}) : undefined)
          expect(performance.now() - started).toBeLessThan(CASE_TIMEOUT_MS)
          expect([200, 202, 400, 404, 406, 415], `${res.status} for ${r.method} ${url}`).toContain(res.status)
          if (res.status === 400 && r.method === 'GET') expect(await res.text()).toMatch(/query parameter '/)
        }),
        fuzzParams(300),
      )
    },
    CASE_TIMEOUT_MS * 20,
  )

  it(
    'answers random path parameters with 200, 404, or a 400 naming the rule the name breaks',
    async () => {
      const segment = fc.oneof(
        value,
        fc.constantFrom('1', '2', String(assay), '01', '1.0', ' 1', '0x1', '9'.repeat(30)),
      )
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom('models/m/versions', 'pipelines/m/versions', 'assays'),
          segment,
          async (base, seg) => {
            const res = await s.app.request(`/v1/workspaces/default/${base}/${encodeURIComponent(seg)}`)
            expect([200, 400, 404], `${res.status} for ${base}/${seg}`).toContain(res.status)
            if (res.status === 400) expect(await res.text()).toMatch(/(version|assay id) .* is not valid: use letters/)
          },
        ),
        fuzzParams(200),
      )
    },
    CASE_TIMEOUT_MS * 20,
  )
})
