/**
 * Rows are parsed, not cast: a row changed by hand or by corruption is refused with an error naming
 * the table, the column, the row and what was expected, never handed on as a wrong value; through
 * the server it is a 500 whose log line says the same while every other route keeps answering.
 */
import { describe, expect, it } from 'vitest'
import { storedAssaySchema, windowOf } from '../../src/assays/definition.js'
import { formatOf } from '../../src/jobs/runner.js'
import { createLogger } from '../../src/logger.js'
import { buildServer } from '../../src/server/serve.js'
import { CorruptRowError } from '../../src/store/schemas.js'
import type { AssayRecord, JobRecord } from '../../src/store/types.js'
import { testConfig } from '../helpers/server.js'
import { BACKENDS } from './backends.js'
import { seedStore } from './seed.js'

/** The error a read throws (fails the test if it does not throw). */
async function refusal(read: Promise<unknown>): Promise<CorruptRowError> {
  const e = await read.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(e).toBeInstanceOf(CorruptRowError)
  return e as CorruptRowError
}

describe.each(BACKENDS)('$name store rows', (backend) => {
  const { open } = backend.use()
  const sqlite = backend.name === 'SQLite'

  /** A store with one record of each kind, and a connection of the test's to change its rows behind its back. */
  async function seeded() {
    const opened = await open()
    const { assayId } = await seedStore(opened.store)
    return { store: opened.store, assayId, edit: opened.edit }
  }

  it('name the table, column and row of JSON that is not JSON, or not the shape its column holds', async () => {
    const { store, edit } = await seeded()
    await edit(`UPDATE models SET inputs = '[{"name":"x","datatype":"FP32","shape":[-1,4]}' WHERE name = 'm'`)
    const e = await refusal(store.models.get('default', 'm', 1))
    expect([e.table, e.column]).toEqual(['models', 'inputs'])
    expect(e.message).toMatch(
      /^table 'models', column 'inputs' of row \(workspace="default", name="m", version=1\): not JSON/,
    )
    await edit(`UPDATE models SET inputs = '[{"name":"x","datatype":"FP32","shape":"-1,4"}]' WHERE name = 'm'`)
    expect((await refusal(store.models.list('default'))).message).toMatch(/column 'inputs' .* at \[0\]\.shape: .*array/)
    await edit(`UPDATE pipelines SET steps = '{"model":"m:1"}'`)
    expect((await refusal(store.pipelines.latest('default'))).message).toMatch(
      /table 'pipelines', column 'steps'.*array/,
    )
    await edit(`UPDATE deployments SET config = '[1, 2]'`)
    expect((await refusal(store.deployments.list())).column).toBe('config')
    await edit(`UPDATE jobs SET options = '{"maxErrorShare":0.1,"batchRows":10}'`)
    expect((await refusal(store.jobs.get('j1'))).message).toMatch(
      /table 'jobs', column 'options' of row \(id="j1"\) at \.chunkRows/,
    )
    await edit(
      `UPDATE jobs SET options = '{"maxErrorShare":0.1,"chunkRows":100,"batchRows":10}', errors = '[{"row":-3,"message":"x"}]'`,
    )
    expect((await refusal(store.jobs.list())).message).toMatch(/column 'errors' .* at \[0\]\.row/)
    await edit(`UPDATE assay_results SET result = 'null'`)
    const results = await refusal(store.assays.results(1))
    expect([results.table, results.column]).toEqual(['assay_results', 'result'])
  })

  it("refuse values outside their column's list or type: a role, a status, a count, a boolean, a float64 BLOB", async () => {
    const { store, edit, assayId } = await seeded()
    await edit(`UPDATE api_keys SET role = 'root'`)
    const role = await refusal(store.apiKeys.find('h'.repeat(64)))
    expect(role.message).toMatch(/table 'api_keys', column 'role' of row \(id="k1"\): .*"admin"\|"deployer"\|"viewer"/)
    await edit(`UPDATE jobs SET status = 'paused'`)
    expect((await refusal(store.jobs.get('j1'))).column).toBe('status')
    // SQLite keeps text that is no integer as text; PostgreSQL refuses it, but not a negative count.
    await edit(`UPDATE jobs SET status = 'queued', rows_done = ${sqlite ? "'twenty'" : '-20'}`)
    expect((await refusal(store.jobs.get('j1'))).column).toBe('rows_done')
    await edit(`UPDATE jobs SET rows_done = 0, format = 'xlsx'`) // text to the store; the jobs module checks it
    const format = await refusal((async () => formatOf((await store.jobs.get('j1')) as JobRecord))())
    expect(format.message).toMatch(
      /table 'jobs', column 'format' of row \(id="j1"\): 'xlsx' is not one of csv, jsonl, arrow, parquet/,
    )
    await edit(`UPDATE explanations SET status = 'paused'`)
    expect((await refusal(store.explanations.get('e1'))).column).toBe('status')
    if (sqlite) {
      // An INTEGER column holds any integer; PostgreSQL's boolean column holds only a boolean.
      await edit('UPDATE assays SET active = 2')
      expect((await refusal(store.assays.get('default', assayId))).column).toBe('active')
    }
    await edit(`UPDATE assays SET active = ${sqlite ? 1 : 'true'}, baseline = ?`, Buffer.alloc(12))
    expect((await refusal(store.assays.list())).message).toMatch(/column 'baseline' .*multiple of 8 bytes/)
    // SQLite keeps 1.5 as a REAL; PostgreSQL rounds it into an integer column, but keeps 0.
    await edit(`UPDATE models SET version = ${sqlite ? 1.5 : 0}`)
    expect((await refusal(store.models.versions('default', 'm'))).column).toBe('version')
  })

  it('read back exactly what was written (nothing dropped or coerced on the way)', async () => {
    const { store } = await seeded()
    const [a] = await store.assays.list()
    expect(a).toMatchObject({ name: 'drift', active: true, config: { iopath: 'in.x[0]' } })
    expect(Array.from(a?.baseline ?? [])).toEqual([1, 2])
    expect(await store.jobs.get('j1')).toMatchObject({
      options: { maxErrorShare: 0.1, chunkRows: 100, batchRows: 10 },
      rowsTotal: null,
      startedAt: null,
    })
    expect(await store.apiKeys.list('default')).toEqual([
      { id: 'k1', workspace: 'default', name: 'ci', role: 'viewer', hash: 'h'.repeat(64), createdAt: 'now' },
    ])
  })

  it("parse an assay's stored definition in the assay layer, naming the field a hand edit broke", async () => {
    const { store, edit } = await seeded()
    const config = storedAssaySchema.parse({
      name: 'drift',
      pipeline: 'p',
      iopath: 'in.x[0]',
      baseline: { values: 2 },
      window: { width: '2h', interval: 900, start: 5000 },
    })
    const a = await store.assays.add({
      workspace: 'default',
      pipeline: 'p',
      name: 'drift',
      config,
      baseline: Float64Array.of(1, 2),
      active: true,
    })
    expect(windowOf(a)).toEqual({ width: 7_200_000, interval: 900_000, start: 5000 })
    await edit(
      sqlite
        ? `UPDATE assays SET config = json_set(config, '$.window.width', -5) WHERE id = ?`
        : `UPDATE assays SET config = jsonb_set(config::jsonb, '{window,width}', '-5')::text WHERE id = ?`,
      a.id,
    )
    const e = await refusal((async () => windowOf((await store.assays.get('default', a.id)) as AssayRecord))())
    expect(e.message).toMatch(
      new RegExp(`^table 'assays', column 'config' of row \\(id=${a.id}\\) at \\.window\\.width: `),
    )
  })

  it('answer 500 for a route that reads a corrupt row, log the table and column, and keep serving', async () => {
    const { store, dataDir, storeUrl, edit } = await open()
    await store.workspaces.create('team')
    await store.pipelines.add('team', 'p', [{ model: 'm:1' }])
    await store.close()
    await edit(`UPDATE pipelines SET steps = 'steps' WHERE workspace = 'team'`)
    const lines: string[] = []
    const built = await buildServer(testConfig({ dataDir, storeUrl }), {
      log: createLogger('info', (l) => lines.push(l)),
    })
    try {
      const res = await built.app.request('/v1/workspaces/team/pipelines')
      expect(res.status).toBe(500)
      expect(await res.json()).toMatchObject({ error: { code: 'internal' } })
      expect(lines.join('\n')).toMatch(
        /table 'pipelines', column 'steps' of row \(workspace=\\"team\\", name=\\"p\\", version=1\): not JSON/,
      )
      expect((await built.app.request('/v1/workspaces')).status).toBe(200)
    } finally {
      await built.shutdown()
    }
  })
})
