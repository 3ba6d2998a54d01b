/**
 * The response check every server test runs (test/helpers/openapi-check.ts): it refuses an
 * undocumented route or status, a body its schema refuses and an undocumented media type, and it
 * checks real-socket responses too.
 */
import { deflateSync, gzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RunningServer, startServer } from '../../src/server/serve.js'
import { checkedRequest, OpenApiChecker, type OpenApiDoc, takeProblems } from '../helpers/openapi-check.js'
import { checkedFetch, testConfig, testServer } from '../helpers/server.js'

let checker: OpenApiChecker

beforeAll(async () => {
  const s = await testServer()
  checker = new OpenApiChecker((await (await s.app.request('/openapi.json')).json()) as OpenApiDoc)
  await s.shutdown()
})

const json = (body: unknown, status = 200) =>
  new Response(typeof body === 'string' ? body : JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json' },
  })

describe('the response check', () => {
  const workspace = { name: 'team', created_at: '2024-05-01T00:00:00.000Z', models: 2, pipelines: 1, deployed: ['p'] }

  it('passes a body its schema accepts, and an unknown path answered 404', async () => {
    expect(await checker.problem('GET', '/v1/workspaces/team', json(workspace))).toBeUndefined()
    expect(await checker.problem('GET', '/v1/nowhere', json({ error: { code: 'not_found', message: 'x' } }, 404))).toBe(
      undefined,
    )
  })

  it('refuses a status the route does not document', async () => {
    expect(await checker.problem('GET', '/v1/workspaces/team', json(workspace, 202))).toMatch(
      /GET \/v1\/workspaces\/\{ws\} answered 202, which is not documented/,
    )
    expect(await checker.problem('GET', '/v2/health/live', json({ error: 'x' }, 500))).toMatch(/answered 500/)
  })

  it('refuses a camelCase key and a missing one, naming them', async () => {
    const { created_at, ...rest } = workspace
    const problem = await checker.problem('GET', '/v1/workspaces/team', json({ ...rest, createdAt: created_at }))
    expect(problem).toMatch(/must have required property 'created_at'/)
    expect(problem).toMatch(/must NOT have additional properties/)
  })

  it("refuses an error body in another route's style", async () => {
    const oip = json({ error: 'no model' }, 404)
    expect(await checker.problem('GET', '/v2/models/m', oip.clone())).toBeUndefined()
    expect(await checker.problem('GET', '/v1/workspaces/team', oip)).toMatch(/error must be object/)
  })

  it('refuses an undocumented media type, and a JSON body that is not JSON', async () => {
    const svg = new Response('<svg/>', { headers: { 'content-type': 'image/svg+xml' } })
    expect(await checker.problem('GET', '/metrics', svg)).toMatch(/as image\/svg\+xml, not one of: text\/plain/)
    expect(await checker.problem('GET', '/v1/workspaces/team', json('{"name": '))).toMatch(/not JSON/)
  })

  it('reads a body the server compressed, as an in-process answer carries it', async () => {
    const compressed = (bytes: Uint8Array, encoding: string) =>
      new Response(bytes, { headers: { 'content-type': 'application/json', 'content-encoding': encoding } })
    const body = JSON.stringify(workspace)
    expect(await checker.problem('GET', '/v1/workspaces/team', compressed(gzipSync(body), 'gzip'))).toBeUndefined()
    expect(
      await checker.problem('GET', '/v1/workspaces/team', compressed(deflateSync(body), 'deflate')),
    ).toBeUndefined()
    const wrong = JSON.stringify({ ...workspace, models: 'two' })
    expect(await checker.problem('GET', '/v1/workspaces/team', compressed(gzipSync(wrong), 'gzip'))).toMatch(
      /models must be integer/,
    )
  })

  it('reads OIP tensors with NaN and Infinity literals, as Triton writes them', async () => {
    const body =
      '{"model_name":"m","outputs":[{"name":"y","datatype":"FP32","shape":[3],"data":[NaN,-Infinity,"NaN"]}]}'
    expect(await checker.problem('POST', '/v2/models/m/infer', json(body))).toBeUndefined()
    expect(await checker.problem('POST', '/v2/models/m/infer', json(body.replace('"y"', '1')))).toMatch(
      /name must be string/,
    )
  })
})

describe('the response check over a real socket', () => {
  let server: RunningServer
  beforeAll(async () => {
    server = await startServer(testConfig())
  })
  afterAll(() => server.close())

  it('checks each answer of a listening server, and fails the request on one it does not document', async () => {
    const get = await checkedFetch(server.url)
    expect((await get(`${server.url}/v2/health/ready`)).status).toBe(200)
    expect((await get(`${server.url}/v1/workspaces/default`)).status).toBe(200)
    expect((await get(`${server.url}/v1/workspaces/none`)).status).toBe(404)
    // A PUT to a GET-only route is the app's own 404: no route, nothing to check.
    expect((await get(`${server.url}/v1/workspaces/default`, { method: 'PUT' })).status).toBe(404)
    // The same check on a server that answers a status its document does not give the route.
    const teapot = checkedRequest(
      (url, init) => (url.endsWith('/openapi.json') ? fetch(url, init) : new Response(null, { status: 418 })),
      server.url,
    )
    await expect(teapot(`${server.url}/v1/workspaces`)).rejects.toThrow(/GET \/v1\/workspaces answered 418/)
    expect(takeProblems()).toEqual([expect.stringMatching(/answered 418, which is not documented/)])
  })
})
