/**
 * The auth matrix: every route of the route table × every kind of key, through the real app.
 * Each route's intended access is written here, from the README's roles (viewer: infer and read;
 * deployer: upload, pipelines, deploy, assays; admin: keys, and in workspace default the server),
 * not read from the route table: a route added without its row here, or with an access that
 * differs from it, fails.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { silentLogger } from '../../src/logger.js'
import { createApiKey } from '../../src/registry/keys.js'
import { createApp } from '../../src/server/app.js'
import type { Access, RouteSpec } from '../../src/server/route-table.js'
import { buildServer } from '../../src/server/serve.js'
import { SqliteStore } from '../../src/store/sqlite-store.js'
import { clientFor, doubler, testConfig } from '../helpers/server.js'

/** `route`: the route checks the key against the job's workspace itself (jobs.ts and its tests). */
type Intended = Access | 'route'

const V = '/v1/workspaces/{ws}'
const INTENDED: Record<string, Intended> = {
  'GET /metrics': 'key',
  'GET /openapi.json': 'public',
  'GET /v2/health/live': 'public',
  'GET /v2/health/ready': 'public',
  // Open Inference Protocol routes serve workspace default.
  'GET /v2': 'viewer',
  'GET /v2/': 'viewer',
  'GET /v2/models/{name}': 'viewer',
  'GET /v2/models/{name}/ready': 'viewer',
  'POST /v2/models/{name}/infer': 'viewer',
  'GET /v2/models/{name}/versions/{version}': 'viewer',
  'GET /v2/models/{name}/versions/{version}/ready': 'viewer',
  'POST /v2/models/{name}/versions/{version}/infer': 'viewer',
  [`POST ${V}/pipelines/{name}/infer`]: 'viewer',
  [`GET ${V}/pipelines/{name}/deployment`]: 'viewer',
  'GET /v1/workspaces': 'key',
  // Who the caller's own key is: any key may ask.
  'GET /v1/me': 'key',
  // The audit trail: who changed what with which key, like the keys themselves.
  'GET /v1/audit': 'server-admin',
  [`GET ${V}/audit`]: 'admin',
  'POST /v1/workspaces': 'server-admin',
  [`GET ${V}`]: 'viewer',
  [`DELETE ${V}`]: 'server-admin',
  [`POST ${V}/models/{name}`]: 'deployer',
  [`GET ${V}/models`]: 'viewer',
  [`GET ${V}/models/{name}`]: 'viewer',
  [`GET ${V}/models/{name}/versions/{version}`]: 'viewer',
  [`DELETE ${V}/models/{name}`]: 'deployer',
  [`PUT ${V}/pipelines/{name}`]: 'deployer',
  [`GET ${V}/pipelines`]: 'viewer',
  [`GET ${V}/pipelines/{name}`]: 'viewer',
  [`GET ${V}/pipelines/{name}/versions/{version}`]: 'viewer',
  [`DELETE ${V}/pipelines/{name}`]: 'deployer',
  [`POST ${V}/pipelines/{name}/deploy`]: 'deployer',
  [`POST ${V}/pipelines/{name}/undeploy`]: 'deployer',
  [`POST ${V}/keys`]: 'admin',
  [`GET ${V}/keys`]: 'admin',
  [`DELETE ${V}/keys/{id}`]: 'admin',
  [`GET ${V}/pipelines/{name}/logs`]: 'viewer',
  [`POST ${V}/assays`]: 'deployer',
  [`GET ${V}/assays`]: 'viewer',
  // Scores the values in the body: a computation, nothing stored.
  [`POST ${V}/assays/preview`]: 'viewer',
  [`GET ${V}/assays/{id}`]: 'viewer',
  [`DELETE ${V}/assays/{id}`]: 'deployer',
  [`POST ${V}/assays/{id}/run`]: 'deployer',
  [`GET ${V}/assays/{id}/results`]: 'viewer',
  [`GET ${V}/assays/{id}/chart.svg`]: 'viewer',
  [`GET ${V}/pipelines/{name}/stats`]: 'viewer',
  [`GET ${V}/pipelines/{name}/live`]: 'viewer',
  [`GET ${V}/pipelines/{name}/slo`]: 'viewer',
  [`GET ${V}/pipelines/{name}/slo/chart.svg`]: 'viewer',
  [`GET ${V}/pipelines/{name}/slo/rules`]: 'viewer',
  [`POST ${V}/pipelines/{name}/jobs`]: 'route',
  [`GET ${V}/jobs`]: 'viewer',
  'GET /v1/jobs/{id}': 'route',
  'DELETE /v1/jobs/{id}': 'route',
  'GET /v1/jobs/{id}/result': 'route',
  // Explaining is inference over rows the caller sends.
  [`POST ${V}/pipelines/{name}/explain`]: 'viewer',
  [`GET ${V}/explanations/{id}`]: 'viewer',
  // Ground truth: settings and feedback change what metrics and promotions see (deployer); reading them is viewer's.
  [`PUT ${V}/pipelines/{name}/outcomes`]: 'deployer',
  [`GET ${V}/pipelines/{name}/outcomes`]: 'viewer',
  [`DELETE ${V}/pipelines/{name}/outcomes`]: 'deployer',
  [`POST ${V}/pipelines/{name}/feedback`]: 'deployer',
  [`GET ${V}/pipelines/{name}/outcomes/metrics`]: 'viewer',
  // Training sets: exporting writes files (deployer); reading them is reading the log (viewer).
  [`POST ${V}/pipelines/{name}/training-sets`]: 'deployer',
  [`GET ${V}/pipelines/{name}/training-sets`]: 'viewer',
  [`GET ${V}/pipelines/{name}/training-sets/{file}`]: 'viewer',
  // Champion vs challenger: a challenger or a rule deploys versions (deployer); reports and decisions are viewer's.
  [`GET ${V}/pipelines/{name}/challengers`]: 'viewer',
  [`POST ${V}/pipelines/{name}/challenger`]: 'deployer',
  [`PUT ${V}/pipelines/{name}/promotion`]: 'deployer',
  [`GET ${V}/pipelines/{name}/promotion`]: 'viewer',
  [`DELETE ${V}/pipelines/{name}/promotion`]: 'deployer',
  [`GET ${V}/pipelines/{name}/decisions`]: 'viewer',
  // Measured tuning: a run loads sessions and may redeploy (deployer); its reports are viewer's.
  [`POST ${V}/pipelines/{name}/optimize`]: 'deployer',
  [`GET ${V}/optimizations/{id}`]: 'viewer',
  [`GET ${V}/pipelines/{name}/optimizations`]: 'viewer',
}

type Kind = { name: string; header?: string; ws?: string; role?: 'viewer' | 'deployer' | 'admin' }
const RANK = { viewer: 1, deployer: 2, admin: 3 }

/** What the guard must answer: 401 (no valid key), 403 (not allowed), or `pass` (the handler runs). */
function expected(access: Intended, routeWs: string, kind: Kind): 401 | 403 | 'pass' | 'unchecked' {
  if (access === 'public') return 'pass'
  if (!kind.role) return 401
  if (access === 'route') return 'unchecked'
  if (access === 'key') return 'pass'
  if (kind.ws === 'default' && kind.role === 'admin') return 'pass' // the server admin
  if (access === 'server-admin') return 403
  return kind.ws === routeWs && RANK[kind.role] >= RANK[access] ? 'pass' : 403
}

const key = (spec: RouteSpec) => `${spec.method.toUpperCase()} ${spec.path}`

/** A request for the route with parameters that name nothing, so no allowed call changes anything. */
function requestFor(spec: RouteSpec, authorization: string | undefined): [string, RequestInit] {
  const params: Record<string, string> = {
    ws: 'team',
    name: 'nope',
    version: '1',
    id: '999999',
    file: '20200101T000000Z-00000000.parquet',
  }
  const url = spec.path.replace(/\{(\w+)\}/g, (_, p: string) => params[p] as string)
  const headers: Record<string, string> = authorization ? { authorization } : {}
  let body: string | undefined
  if (spec.body && 'json' in spec.body) {
    headers['content-type'] = 'application/json'
    body = '{}'
  } else if (spec.body) {
    headers['content-type'] = spec.body.raw[0] as string
    body = 'x'
  }
  return [url, { method: spec.method.toUpperCase(), headers, ...(body !== undefined ? { body } : {}) }]
}

describe('the auth matrix: every route × every kind of key', () => {
  const config = testConfig({ server: { auth: 'on' } })
  let built: Awaited<ReturnType<typeof buildServer>>
  let specs: RouteSpec[]
  const kinds: Kind[] = [
    { name: 'no key' },
    { name: 'malformed', header: 'Bearer hunter2' },
    { name: 'unknown', header: `Bearer lm_${'0'.repeat(16)}_${'A'.repeat(43)}` },
    { name: 'revoked' },
  ]

  beforeAll(async () => {
    const store = SqliteStore.open(config.dataDir)
    const root = (await createApiKey(store, 'default', 'root', 'admin')).key
    await store.close()
    built = await buildServer(config, { log: silentLogger })
    specs = createApp(built.deps).routes.specs
    const admin = clientFor(built.app, root)
    await admin.createWorkspace('team')
    await admin.createWorkspace('other')
    // A deployed pipeline keeps DELETE /v1/workspaces/team a 409 for the keys allowed to try it.
    await admin.uploadModel('team', 'd', doubler(1))
    await admin.putPipeline('team', 'd', [{ model: 'd' }])
    await admin.deploy('team', 'd')
    const revoked = await admin.createKey('team', 'gone', 'admin')
    await admin.revokeKey('team', revoked.id)
    ;(kinds[3] as Kind).header = `Bearer ${revoked.key}`
    for (const ws of ['team', 'other', 'default']) {
      for (const role of ['viewer', 'deployer', 'admin'] as const) {
        if (ws === 'default' && role === 'admin') continue
        kinds.push({
          name: `${role} of ${ws}`,
          ws,
          role,
          header: `Bearer ${(await admin.createKey(ws, role, role)).key}`,
        })
      }
    }
    kinds.push({ name: 'server admin', ws: 'default', role: 'admin', header: `Bearer ${root}` })
  })
  afterAll(() => built.shutdown())

  it('has a row here for every route, and each route declares the access intended for it', () => {
    const declared = specs.map(key).sort()
    expect(declared, 'a route was added or removed: give it a row in INTENDED').toEqual(Object.keys(INTENDED).sort())
    for (const s of specs) {
      const intended = INTENDED[key(s)]
      if (intended !== 'route') expect(s.access, key(s)).toBe(intended)
    }
  })

  it('answers 401, 403 or lets the handler run, for each of the 13 kinds of key on each route', async () => {
    expect(kinds.length).toBe(13)
    const mismatches: string[] = []
    for (const spec of specs) {
      const intended = INTENDED[key(spec)] as Intended
      const routeWs = spec.path.includes('{ws}') ? 'team' : 'default'
      for (const kind of kinds) {
        const want = expected(intended, routeWs, kind)
        const res = await built.app.request(...requestFor(spec, kind.header))
        const got = res.status === 401 || res.status === 403 ? res.status : 'pass'
        if (res.status >= 500) mismatches.push(`${key(spec)} with ${kind.name}: ${res.status} ${await res.text()}`)
        else if (want !== 'unchecked' && got !== want)
          mismatches.push(`${key(spec)} with ${kind.name}: want ${want}, got ${res.status} ${await res.text()}`)
      }
    }
    expect(mismatches).toEqual([])
    // Nothing the allowed keys tried changed anything.
    expect(built.deps.manager.list().map((d) => `${d.workspace}/${d.name}`)).toEqual(['team/d'])
    expect((await built.deps.store.workspaces.list()).map((w) => w.name).sort()).toEqual(['default', 'other', 'team'])
  })
})

describe('a server without keys', () => {
  let built: Awaited<ReturnType<typeof buildServer>>
  beforeAll(async () => {
    built = await buildServer(testConfig(), { log: silentLogger })
  })
  afterAll(() => built.shutdown())

  it('lets every route run without a key (loopback, LASTMILE_AUTH=auto)', async () => {
    const refused: string[] = []
    for (const spec of createApp(built.deps).routes.specs) {
      const res = await built.app.request(...requestFor(spec, undefined))
      if (res.status === 401 || res.status === 403 || res.status >= 500) refused.push(`${key(spec)}: ${res.status}`)
    }
    expect(refused).toEqual([])
  })
})
