/**
 * The audit trail over HTTP: each change made through the API leaves a row with its key, method,
 * path and answer (refusals of a known key too), while reads, inference, previews and requests
 * without a valid key leave none; a workspace admin sees its workspace's rows, a server admin all;
 * the oldest rows go past LASTMILE_AUDIT_MAX_ROWS.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type AuditRow, LastmileClient } from '../../src/client/client.js'
import { loadConfig } from '../../src/config.js'
import { createApiKey } from '../../src/registry/keys.js'
import { type RunningServer, startServer } from '../../src/server/serve.js'
import { SqliteStore } from '../../src/store/sqlite-store.js'
import { doubler, testConfig } from '../helpers/server.js'

/** A row as compared here: what was done, by which key's name, and how it ended. */
const brief = (r: AuditRow) => [r.method, r.path, r.status, r.key?.name ?? null, r.workspace]

describe('the audit trail', () => {
  const config = testConfig({ server: { auth: 'on' } })
  let server: RunningServer
  let root: LastmileClient
  let boss: LastmileClient
  let viewer: LastmileClient
  let teamBoss: LastmileClient

  beforeAll(async () => {
    const store = SqliteStore.open(config.dataDir)
    const rootKey = (await createApiKey(store, 'default', 'root', 'admin')).key
    await store.close()
    server = await startServer(config)
    root = new LastmileClient({ url: server.url, apiKey: rootKey })
    const client = (key: string) => new LastmileClient({ url: server.url, apiKey: key })
    await root.createWorkspace('team')
    teamBoss = client((await root.createKey('team', 'boss', 'admin')).key)
    boss = client((await root.createKey('team', 'dep', 'deployer')).key)
    viewer = client((await root.createKey('team', 'look', 'viewer')).key)
  })
  afterAll(() => server?.close())

  it('records each change with its key and answer, and nothing for reads, inference or keyless calls', async () => {
    await boss.uploadModel('team', 'm', doubler(2))
    await boss.putPipeline('team', 'p', [{ model: 'm' }])
    await boss.deploy('team', 'p')
    await viewer.inferRecords('team', 'p', [{ x: [1, 2] }])
    await viewer.previewAssay('team', { baseline: { values: [1, 2, 3, 4] }, window: { values: [1, 2, 3, 5] } })
    await viewer.listPipelines('team')
    const refused = await viewer.deploy('team', 'p').catch((e: unknown) => e)
    expect((refused as { status: number }).status).toBe(403)
    const keyless = await fetch(`${server.url}/v1/workspaces/team/pipelines/p/undeploy`, { method: 'POST' })
    expect(keyless.status).toBe(401)
    const wrong = await new LastmileClient({ url: server.url, apiKey: 'lm_wrong' })
      .undeploy('team', 'p')
      .catch((e: unknown) => e)
    expect((wrong as { status: number }).status).toBe(401)

    const rows = await teamBoss.audit('team')
    expect(rows.map(brief)).toEqual([
      ['POST', '/v1/workspaces/team/pipelines/p/deploy', 403, 'look', 'team'],
      ['POST', '/v1/workspaces/team/pipelines/p/deploy', 200, 'dep', 'team'],
      ['PUT', '/v1/workspaces/team/pipelines/p', 201, 'dep', 'team'],
      ['POST', '/v1/workspaces/team/models/m', 201, 'dep', 'team'],
      ['POST', '/v1/workspaces/team/keys', 201, 'root', 'team'],
      ['POST', '/v1/workspaces/team/keys', 201, 'root', 'team'],
      ['POST', '/v1/workspaces/team/keys', 201, 'root', 'team'],
    ])
    expect(rows[0]?.key).toMatchObject({ name: 'look', role: 'viewer' })
    expect(Date.parse(rows[0]?.time ?? '')).toBeGreaterThanOrEqual(Date.parse(rows[1]?.time ?? ''))
    // A server admin sees every workspace's rows and the server-wide ones (a workspace created).
    const all = await root.audit()
    expect(all.at(-1) && brief(all.at(-1) as AuditRow)).toEqual(['POST', '/v1/workspaces', 201, 'root', null])
    expect(all).toHaveLength(rows.length + 1)
  })

  it("pages back with `before`, and keeps the trail to each workspace's admins", async () => {
    const first = await teamBoss.audit('team', { limit: 2 })
    expect(first).toHaveLength(2)
    const next = await teamBoss.audit('team', { limit: 2, before: first[1]?.id })
    expect(next.map((r) => r.id)).toEqual((await teamBoss.audit('team', { limit: 4 })).slice(2).map((r) => r.id))
    for (const denied of [boss.audit('team'), viewer.audit('team'), teamBoss.audit(), teamBoss.audit('default')])
      expect(((await denied.catch((e: unknown) => e)) as { status: number }).status).toBe(403)
    const bad = await teamBoss.audit('team', { limit: 5000 }).catch((e: unknown) => e)
    expect((bad as { status: number; message: string }).status).toBe(400)
  })
})

describe('the audit trail without keys, and its retention', () => {
  it('records changes with no key, keeping the newest LASTMILE_AUDIT_MAX_ROWS', async () => {
    expect(loadConfig({ LASTMILE_AUDIT_MAX_ROWS: '2' }).audit.maxRows).toBe(2)
    const server = await startServer(testConfig({ audit: { maxRows: 2 } }))
    try {
      const lm = new LastmileClient({ url: server.url })
      await lm.uploadModel('default', 'a', doubler(1))
      await lm.uploadModel('default', 'b', doubler(3))
      await lm.putPipeline('default', 'p', [{ model: 'a' }])
      expect((await lm.audit()).map(brief)).toEqual([
        ['PUT', '/v1/workspaces/default/pipelines/p', 201, null, 'default'],
        ['POST', '/v1/workspaces/default/models/b', 201, null, 'default'],
      ])
    } finally {
      await server.close()
    }
  })
})
