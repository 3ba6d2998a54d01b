/** API keys: 401 without a valid key, 403 beyond the key's role or workspace, public health and metrics. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ApiError } from '../../src/client/client.js'
import { InvalidConfigError } from '../../src/errors.js'
import { silentLogger } from '../../src/log.js'
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

  it('leaves health, metrics and the OpenAPI document open', async () => {
    for (const path of ['/v2/health/live', '/v2/health/ready', '/metrics', '/openapi.json']) {
      expect((await built.app.request(path)).status, path).toBe(200)
    }
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
