/**
 * Query keys that a plain object inherits (`constructor`, `__proto__`, `toString`, `valueOf`,
 * `hasOwnProperty`) are keys like any other the route does not declare: ignored, so each route
 * answers as it does without them (review F7: the route table looked them up on the schema's shape,
 * found Object's own, and answered 500).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { serverWithAssay, type testServer } from '../helpers/server.js'

const INHERITED = ['constructor', '__proto__', 'toString', 'valueOf', 'hasOwnProperty']

describe('query keys Object.prototype holds', () => {
  let s: Awaited<ReturnType<typeof testServer>>
  let assay = 0

  beforeAll(async () => {
    ;({ s, assay } = await serverWithAssay())
  })
  afterAll(() => s.shutdown())

  const routes = (): Array<{ path: string; init?: () => RequestInit; status: number }> => [
    { path: '/v1/workspaces/default/pipelines/m/logs', status: 200 },
    { path: `/v1/workspaces/default/assays/${assay}/chart.svg`, status: 200 },
    { path: `/v1/workspaces/default/assays/${assay}/results`, status: 200 },
    { path: '/v1/jobs/none/result', status: 404 },
    {
      path: '/v1/workspaces/default/pipelines/m/infer',
      init: () => ({
        method: 'POST',
        body: '[{"x":[3]}]',
        headers: { 'content-type': 'application/json; format=pandas-records' },
      }),
      status: 200,
    },
    {
      path: '/v1/workspaces/default/pipelines/m/jobs',
      init: () => ({ method: 'POST', body: 'x\n1\n2\n', headers: { 'content-type': 'text/csv' } }),
      status: 202,
    },
  ]

  it('answers each route as without the key, never 500', async () => {
    for (const route of routes()) {
      const plain = await s.app.request(route.path, route.init?.())
      expect(plain.status, route.path).toBe(route.status)
      for (const key of INHERITED) {
        const url = `${route.path}?${key}=1&${key}=2`
        const res = await s.app.request(url, route.init?.())
        expect(res.status, `${url}: ${res.status === route.status ? '' : await res.text()}`).toBe(route.status)
      }
    }
  })

  it('still reads the declared keys beside them', async () => {
    const res = await s.app.request('/v1/workspaces/default/pipelines/m/logs?constructor=1&limit=0')
    expect(res.status).toBe(400)
    expect(await res.text()).toMatch(/query parameter 'limit'/)
  })
})
