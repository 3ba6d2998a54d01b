/**
 * Path parameters are names, checked before the guard and the handler: an encoded `/`, a `..`, a
 * backslash or a NUL in `{ws}`, `{name}`, `{id}` or `{version}` is a 4xx on every route of the
 * route table, and never a way into another workspace. The review's repro (a viewer of teama read
 * teamb's inference log through `pipelines/..%2Fteamb%2Fsecretpipe/logs`) is the first case;
 * then every route with a path parameter × every parameter × every hostile spelling, sent over a
 * real socket exactly as written (nothing normalised on the client's side).
 */
import { request } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LastmileClient } from '../../src/client/client.js'
import { silentLogger } from '../../src/logger.js'
import { createApiKey } from '../../src/registry/keys.js'
import { createApp } from '../../src/server/app.js'
import type { RouteSpec } from '../../src/server/route-table.js'
import { type RunningServer, startServer } from '../../src/server/serve.js'
import { SqliteStore } from '../../src/store/sqlite-store.js'
import { doubler, testConfig } from '../helpers/server.js'

/** teamb's rows: values nobody else may see (doubled by the model: 8484.5 and -2469.5). */
const SECRET_X = [4242.25, -1234.75]
const SECRET_MARKS = ['4242.25', '8484.5', '-1234.75', '-2469.5', 'secretmodel']

/** Send `method path` as written (no client-side normalisation of `..` or `%2e`). */
function raw(origin: string, method: string, path: string, key: string): Promise<{ status: number; body: string }> {
  const url = new URL(origin)
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, method, path, headers: { authorization: `Bearer ${key}` } },
      (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (c) => {
          body += c
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      },
    )
    req.on('error', reject)
    req.end()
  })
}

/**
 * Hostile spellings of a parameter whose honest value is `own`, aimed at `target` (the same kind
 * of thing in teamb): each stays one path segment once the URL is parsed.
 */
function hostile(own: string, target: string): string[] {
  const t = target.replaceAll('/', '%2F')
  return [
    `..%2F${t}`,
    `%2e%2e%2F${t}`,
    `%2E%2E%2F${t}`,
    `..%5C${target.replaceAll('/', '%5C')}`,
    `${own}%2F..%2F..%2F${t}`,
    `..%252F${t}`, // encoded twice: decoded once, it is still no name
    `${own}%00`,
    `%00`,
    `${own}%2Fx`,
    `.${own}`,
  ]
}

describe('path parameters are checked names (review finding F1)', () => {
  let server: RunningServer
  let specs: RouteSpec[]
  const keys = { viewer: '', admin: '', ownerViewer: '' }

  beforeAll(async () => {
    const config = testConfig({ server: { auth: 'on', host: '127.0.0.1' } })
    const store = SqliteStore.open(config.dataDir)
    const root = (await createApiKey(store, 'default', 'root', 'admin')).key
    await store.close()
    server = await startServer(config, { log: silentLogger })
    specs = createApp(server.deps).routes.specs
    const admin = new LastmileClient({ url: server.url, apiKey: root })
    await admin.createWorkspace('teama')
    await admin.createWorkspace('teamb')
    await admin.uploadModel('teamb', 'secretmodel', doubler(2))
    await admin.putPipeline('teamb', 'secretpipe', [{ model: 'secretmodel' }])
    await admin.deploy('teamb', 'secretpipe')
    await admin.inferRecords('teamb', 'secretpipe', [{ x: SECRET_X }])
    keys.viewer = (await admin.createKey('teama', 'dash', 'viewer')).key
    keys.admin = (await admin.createKey('teama', 'ops', 'admin')).key
    keys.ownerViewer = (await admin.createKey('teamb', 'dash', 'viewer')).key
  })
  afterAll(() => server?.close())

  it("refuses the review's repro, while teamb's own viewer reads the same log", async () => {
    const own = await raw(server.url, 'GET', '/v1/workspaces/teamb/pipelines/secretpipe/logs', keys.ownerViewer)
    expect(own.status).toBe(200)
    expect(own.body).toContain('4242.25') // the rows exist: a refusal below is not an empty log

    const res = await raw(server.url, 'GET', '/v1/workspaces/teama/pipelines/..%2Fteamb%2Fsecretpipe/logs', keys.viewer)
    expect(res.status).toBe(400)
    expect(JSON.parse(res.body)).toEqual({
      error: {
        code: 'invalid_request',
        message:
          'pipeline name "../teamb/secretpipe" is not valid: use letters, digits, ., - and _, first a letter or digit, at most 128',
      },
    })
    const arrow = await raw(
      server.url,
      'GET',
      '/v1/workspaces/teama/pipelines/..%2Fteamb%2Fsecretpipe/logs?format=arrow',
      keys.viewer,
    )
    expect(arrow.status).toBe(400)
  })

  it('answers 4xx on every route with a path parameter, for every hostile spelling of each, never with teamb data', async () => {
    // Honest values in teama, and what the same parameter would be aimed at in teamb.
    const file = '20200101T000000Z-00000000.parquet'
    const own: Record<string, string> = { ws: 'teama', name: 'secretpipe', id: '1', version: '1', file }
    const target: Record<string, string> = {
      ws: 'teamb',
      name: 'teamb/secretpipe',
      id: 'teamb/1',
      version: '1',
      file: `teamb/secretpipe/${file}`,
    }
    const walked = new Set<string>()
    const wrong: string[] = []
    for (const spec of specs) {
      const params = [...spec.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1] as string)
      for (const param of params) {
        expect(Object.keys(own), `${spec.path}: a parameter this test does not know`).toContain(param)
        for (const spelling of hostile(own[param] as string, target[param] as string)) {
          const path = spec.path.replace(/\{(\w+)\}/g, (_, p: string) => (p === param ? spelling : (own[p] as string)))
          for (const key of [keys.viewer, keys.admin]) {
            const res = await raw(server.url, spec.method.toUpperCase(), path, key)
            walked.add(`${spec.method} ${spec.path} {${param}}`)
            const leaked = SECRET_MARKS.filter((m) => res.body.includes(m))
            if (res.status < 400 || res.status >= 500 || leaked.length > 0)
              wrong.push(`${spec.method.toUpperCase()} ${path}: ${res.status} ${res.body.slice(0, 200)}`)
          }
        }
      }
    }
    expect(wrong).toEqual([])
    // Every parameter of every route was tried (the route table has 30-odd of them).
    const declared = specs.flatMap((s) =>
      [...s.path.matchAll(/\{(\w+)\}/g)].map((m) => `${s.method} ${s.path} {${m[1]}}`),
    )
    expect([...walked].sort()).toEqual(declared.sort())
    expect(walked.size).toBeGreaterThan(30)
  })

  it('refuses a whole-segment `..` or `%2e%2e` with no teamb data (the URL parser resolves it to another path)', async () => {
    for (const path of [
      '/v1/workspaces/teama/pipelines/%2e%2e/teamb/pipelines/secretpipe/logs',
      '/v1/workspaces/teama/pipelines/../../teamb/pipelines/secretpipe/logs',
      '/v1/workspaces/%2e%2e/teamb/pipelines/secretpipe/logs',
    ]) {
      const res = await raw(server.url, 'GET', path, keys.viewer)
      expect(res.status, path).toBeGreaterThanOrEqual(400)
      expect(res.status, path).toBeLessThan(500)
      expect(
        SECRET_MARKS.filter((m) => res.body.includes(m)),
        path,
      ).toEqual([])
    }
  })
})
