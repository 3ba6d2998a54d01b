/**
 * API keys: 401 without a valid key, 403 beyond the key's role or workspace; health and the
 * OpenAPI document open; a key sees only its own workspace, in the listing and on /metrics.
 */
import client from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ApiError } from '../../src/client/client.js'
import { InvalidConfigError } from '../../src/errors.js'
import { silentLogger } from '../../src/logger.js'
import { createApiKey } from '../../src/registry/keys.js'
import { buildServer } from '../../src/server/serve.js'
import { SqliteStore } from '../../src/store/sqlite-store.js'
import { clientFor, doubler, testConfig } from '../helpers/server.js'

async function status(p: Promise<unknown>): Promise<number> {
  try {
    await p
    return 200
  } catch (e) {
    return (e as ApiError).status
  }
}

describe('API keys', () => {
  const config = testConfig({ server: { auth: 'on' } })
  let built: Awaited<ReturnType<typeof buildServer>>
  let adminKey: string
  beforeAll(async () => {
    const store = SqliteStore.open(config.dataDir)
    adminKey = (await createApiKey(store, 'default', 'bootstrap', 'admin')).key
    await store.close()
    built = await buildServer(config, { log: silentLogger })
  })
  afterAll(() => built.shutdown())

  it('leaves health and the OpenAPI document open, and asks a key for /metrics', async () => {
    for (const path of ['/v2/health/live', '/v2/health/ready', '/openapi.json']) {
      expect((await built.app.request(path)).status, path).toBe(200)
    }
    expect((await built.app.request('/metrics')).status).toBe(401)
  })

  it('answers 401 without a key, with a malformed one, or an unknown one', async () => {
    const none = await built.app.request('/v1/workspaces')
    expect(none.status).toBe(401)
    expect(((await none.json()) as { error: { message: string } }).error.message).toMatch(/Authorization: Bearer/)
    const malformed = await built.app.request('/v1/workspaces', { headers: { authorization: 'Bearer hunter2' } })
    expect(malformed.status).toBe(401)
    expect(await status(clientFor(built.app, `lm_${'0'.repeat(16)}_${'A'.repeat(43)}`).listWorkspaces())).toBe(401)
  })

  it('enforces roles and workspaces, and revoked keys stop working', async () => {
    const admin = clientFor(built.app, adminKey)
    await admin.createWorkspace('team')
    const deployerKey = (await admin.createKey('team', 'ci', 'deployer')).key
    const viewerKey = (await admin.createKey('team', 'dashboards', 'viewer')).key
    const deployer = clientFor(built.app, deployerKey)
    const viewer = clientFor(built.app, viewerKey)

    expect((await deployer.uploadModel('team', 'd', doubler(1))).version).toBe(1)
    await deployer.putPipeline('team', 'd', [{ model: 'd' }])
    await deployer.deploy('team', 'd')
    expect((await viewer.inferRecords('team', 'd', [{ x: [2] }]))[0]?.['out.y']).toEqual([4])

    expect(await status(viewer.uploadModel('team', 'v', doubler(1)))).toBe(403)
    expect(await status(deployer.uploadModel('default', 'd', doubler(1)))).toBe(403)
    expect(await status(deployer.createKey('team', 'x', 'admin'))).toBe(403)
    expect(await status(deployer.createWorkspace('other'))).toBe(403)
    expect(await status(viewer.inferOip('demo', { inputs: [] }))).toBe(403) // OIP routes live in workspace default
    const forbidden = await built.app.request('/v1/workspaces/team/models/v', {
      method: 'POST',
      body: doubler(1) as Uint8Array<ArrayBuffer>,
      headers: { authorization: `Bearer ${viewerKey}` },
    })
    expect(((await forbidden.json()) as { error: { message: string } }).error.message).toMatch(
      /needs deployer in workspace 'team'/,
    )

    const id = (await admin.listKeys('team')).find((k) => k.name === 'dashboards')?.id as string
    await admin.revokeKey('team', id)
    expect(await status(viewer.inferRecords('team', 'd', [{ x: [2] }]))).toBe(401)
    expect(JSON.stringify(await admin.listKeys('team'))).not.toContain('hash')
  })

  it('refuses to start on a non-loopback address without keys unless explicitly disabled', async () => {
    const open = testConfig({ server: { host: '0.0.0.0' } })
    await expect(buildServer(open, { log: silentLogger })).rejects.toThrow(InvalidConfigError)
    await expect(buildServer(open, { log: silentLogger })).rejects.toThrow(
      /lastmile keys create --offline --workspace default --role admin/,
    )
    const off = await buildServer(testConfig({ server: { host: '0.0.0.0', auth: 'off' } }), { log: silentLogger })
    expect((await off.app.request('/v1/workspaces')).status).toBe(200)
    await off.shutdown()
  })
})

describe('what a key sees', () => {
  const config = testConfig({ server: { auth: 'on' } })
  let built: Awaited<ReturnType<typeof buildServer>>
  let root: string
  let teamViewer: string
  let otherAdmin: string
  const get = (path: string, key?: string) =>
    built.app.request(path, key ? { headers: { authorization: `Bearer ${key}` } } : {})

  beforeAll(async () => {
    const store = SqliteStore.open(config.dataDir)
    root = (await createApiKey(store, 'default', 'root', 'admin')).key
    await store.close()
    built = await buildServer(config, { log: silentLogger })
    const admin = clientFor(built.app, root)
    for (const ws of ['team', 'other']) {
      await admin.createWorkspace(ws)
      await admin.uploadModel(ws, `${ws}-model`, doubler(1))
      await admin.putPipeline(ws, `${ws}-pipe`, [{ model: `${ws}-model` }])
      await admin.deploy(ws, `${ws}-pipe`)
      await admin.inferRecords(ws, `${ws}-pipe`, [{ x: [1] }])
    }
    teamViewer = (await admin.createKey('team', 'dash', 'viewer')).key
    otherAdmin = (await admin.createKey('other', 'boss', 'admin')).key
  })
  afterAll(() => built.shutdown())

  it("lists only the key's own workspace; a server admin sees them all", async () => {
    const names = async (key: string) => (await clientFor(built.app, key).listWorkspaces()).map((w) => w.name).sort()
    expect(await names(teamViewer)).toEqual(['team'])
    expect(await names(otherAdmin)).toEqual(['other'])
    expect(await names(root)).toEqual(['default', 'other', 'team'])
  })

  it('answers 403 for another workspace, the same whether it exists or not', async () => {
    const existing = await get('/v1/workspaces/other', teamViewer)
    const missing = await get('/v1/workspaces/ghost', teamViewer)
    expect([existing.status, missing.status]).toEqual([403, 403])
    const text = async (r: Response) => ((await r.json()) as { error: { message: string } }).error.message
    expect((await text(missing)).replace('ghost', 'other')).toBe(await text(existing))
    expect((await get('/v1/workspaces/team/pipelines', otherAdmin)).status).toBe(403)
  })

  it("shows a key its workspace's series and the process's on /metrics; the server admin everything", async () => {
    // A label value made to look like another workspace's label: escaped by the text format.
    const g = new client.Gauge({
      name: 'test_hostile_label',
      help: 'a label value that poses as a workspace label',
      labelNames: ['assay', 'workspace'],
      registers: [built.deps.metrics.registry],
    })
    g.set({ assay: 'x",workspace="team', workspace: 'other' }, 1)
    const team = await (await get('/metrics', teamViewer)).text()
    expect(team).toMatch(/lastmile_requests_total\{workspace="team",pipeline="team-pipe",[^}]*\} 1/)
    expect(team).toContain('lastmile_deployment_info{workspace="team"')
    expect(team).toMatch(/^lastmile_process_cpu_user_seconds_total \d/m)
    expect(team).not.toContain('workspace="other"')
    expect(team).not.toContain('other-pipe')
    expect(team).not.toMatch(/^test_hostile_label\{/m)
    const all = await (await get('/metrics', root)).text()
    for (const ws of ['team', 'other'])
      expect(all).toMatch(new RegExp(`lastmile_requests_total\\{workspace="${ws}",pipeline="${ws}-pipe",`))
    expect(all).toMatch(/^test_hostile_label\{assay="x\\",workspace=\\"team",workspace="other"\} 1$/m)
    built.deps.metrics.registry.removeSingleMetric('test_hostile_label')
  })

  it('serves /metrics without a key under LASTMILE_METRICS_PUBLIC', async () => {
    const cfg = testConfig({ server: { auth: 'on', metricsPublic: true } })
    const store = SqliteStore.open(cfg.dataDir)
    await createApiKey(store, 'default', 'root', 'admin')
    await store.close()
    const open = await buildServer(cfg, { log: silentLogger })
    const res = await open.app.request('/metrics')
    expect(res.status).toBe(200)
    expect(await res.text()).toContain('lastmile_process_cpu_user_seconds_total')
    expect((await open.app.request('/v1/workspaces')).status).toBe(401)
    await open.shutdown()
  })
})
