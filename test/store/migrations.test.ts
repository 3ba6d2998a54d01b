/**
 * The schema's history is append-only: the versions already in use are held here as they shipped,
 * a data folder at the previous version (4: before jobs and explanations had attempts) opens with
 * every record readable, and a database migrated from any earlier version has exactly the schema
 * of a new one.
 */
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { MIGRATIONS } from '../../src/store/migrations.js'
import { SqliteStore } from '../../src/store/sqlite-store.js'
import { tempDir } from '../helpers/server.js'

/** The released schema versions, copied from the releases (never from src/): editing one fails here. */
const RELEASED = [
  `CREATE TABLE workspaces (name TEXT PRIMARY KEY, created_at TEXT NOT NULL);
   CREATE TABLE models (
     workspace TEXT NOT NULL REFERENCES workspaces(name) ON DELETE CASCADE,
     name TEXT NOT NULL, version INTEGER NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL,
     inputs TEXT NOT NULL, outputs TEXT NOT NULL, created_at TEXT NOT NULL,
     PRIMARY KEY (workspace, name, version), UNIQUE (workspace, name, sha256));
   CREATE TABLE pipelines (
     workspace TEXT NOT NULL REFERENCES workspaces(name) ON DELETE CASCADE,
     name TEXT NOT NULL, version INTEGER NOT NULL, steps TEXT NOT NULL, created_at TEXT NOT NULL,
     PRIMARY KEY (workspace, name, version));
   CREATE TABLE deployments (
     workspace TEXT NOT NULL REFERENCES workspaces(name) ON DELETE CASCADE,
     pipeline TEXT NOT NULL, version INTEGER NOT NULL, config TEXT NOT NULL, deployed_at TEXT NOT NULL,
     PRIMARY KEY (workspace, pipeline));
   CREATE TABLE api_keys (
     id TEXT PRIMARY KEY, workspace TEXT NOT NULL REFERENCES workspaces(name) ON DELETE CASCADE,
     name TEXT NOT NULL, role TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL);`,
  `CREATE TABLE assays (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     workspace TEXT NOT NULL REFERENCES workspaces(name) ON DELETE CASCADE,
     pipeline TEXT NOT NULL, name TEXT NOT NULL, config TEXT NOT NULL, baseline BLOB NOT NULL,
     active INTEGER NOT NULL, created_at TEXT NOT NULL);
   CREATE TABLE assay_results (
     assay_id INTEGER NOT NULL REFERENCES assays(id) ON DELETE CASCADE,
     window_start INTEGER NOT NULL, window_end INTEGER NOT NULL, score REAL NOT NULL, status TEXT NOT NULL,
     result TEXT NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY (assay_id, window_start, window_end));`,
  `CREATE TABLE jobs (
     id TEXT PRIMARY KEY,
     workspace TEXT NOT NULL REFERENCES workspaces(name) ON DELETE CASCADE,
     pipeline TEXT NOT NULL, status TEXT NOT NULL, format TEXT NOT NULL, input_path TEXT NOT NULL,
     input_bytes INTEGER NOT NULL, options TEXT NOT NULL, rows_total INTEGER, rows_done INTEGER NOT NULL,
     chunks_done INTEGER NOT NULL, error_count INTEGER NOT NULL, errors TEXT NOT NULL, error TEXT,
     created_at TEXT NOT NULL, started_at TEXT, finished_at TEXT);
   CREATE INDEX jobs_by_status ON jobs (status);`,
  `CREATE TABLE explanations (
     id TEXT PRIMARY KEY,
     workspace TEXT NOT NULL REFERENCES workspaces(name) ON DELETE CASCADE,
     pipeline TEXT NOT NULL, method TEXT NOT NULL, request TEXT NOT NULL, status TEXT NOT NULL,
     error TEXT, report TEXT, summary BLOB, created_at TEXT NOT NULL, finished_at TEXT);
   CREATE INDEX explanations_by_status ON explanations (status);`,
  `ALTER TABLE jobs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE jobs ADD COLUMN created_by TEXT;
ALTER TABLE explanations ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;`,
  `ALTER TABLE pipelines ADD COLUMN slo TEXT;
   CREATE TABLE slo_buckets (
     workspace TEXT NOT NULL REFERENCES workspaces(name) ON DELETE CASCADE,
     pipeline TEXT NOT NULL, objective TEXT NOT NULL, arm TEXT NOT NULL, minute INTEGER NOT NULL,
     good INTEGER NOT NULL, total INTEGER NOT NULL,
     PRIMARY KEY (workspace, pipeline, objective, arm, minute)) WITHOUT ROWID;
   CREATE INDEX slo_buckets_by_minute ON slo_buckets (minute);
   CREATE TABLE slo_alerts (
     workspace TEXT NOT NULL REFERENCES workspaces(name) ON DELETE CASCADE,
     pipeline TEXT NOT NULL, objective TEXT NOT NULL, arm TEXT NOT NULL,
     severity TEXT NOT NULL, since INTEGER NOT NULL, detail TEXT NOT NULL,
     PRIMARY KEY (workspace, pipeline, objective, arm, severity));`,
  `CREATE TABLE audit (
     id INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL, workspace TEXT,
     key_id TEXT, key_name TEXT, role TEXT, method TEXT NOT NULL, path TEXT NOT NULL, status INTEGER NOT NULL);
   CREATE INDEX audit_by_workspace ON audit (workspace, id);`,
]

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

function dataDir(): string {
  const d = tempDir()
  dirs.push(d)
  return d
}

/** SQL with its layout ignored (reindenting a version is not a change). */
const norm = (sql: string) => sql.replace(/\s+/g, ' ').trim()

/** The schema as SQLite holds it: every table, column, index and key. */
function schemaOf(path: string): unknown {
  const db = new Database(path, { readonly: true })
  try {
    const objects = db
      .prepare("SELECT type, name, tbl_name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name")
      .all() as { type: string; name: string; tbl_name: string }[]
    return objects.map((o) => ({
      ...o,
      columns: o.type === 'table' ? db.pragma(`table_info(${o.name})`) : db.pragma(`index_info(${o.name})`),
      foreignKeys: o.type === 'table' ? db.pragma(`foreign_key_list(${o.name})`) : [],
    }))
  } finally {
    db.close()
  }
}

/** A data folder as the release with schema `version` left it: its SQL, then rows in every table. */
function oldDataDir(version: number): string {
  const dir = dataDir()
  const db = new Database(join(dir, 'lastmile.db'))
  db.pragma('journal_mode = WAL')
  for (let v = 0; v < version; v++) db.exec(RELEASED[v] as string)
  db.pragma(`user_version = ${version}`)
  const ins = (sql: string, ...args: unknown[]) => db.prepare(sql).run(...args)
  ins("INSERT INTO workspaces VALUES ('default', '2026-11-01T00:00:00.000Z'), ('team', '2026-11-02T00:00:00.000Z')")
  ins(
    'INSERT INTO models VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    'team',
    'scorer',
    3,
    'c'.repeat(64),
    1234,
    '[{"name":"x","datatype":"FP32","shape":[-1,16]}]',
    '[{"name":"p","datatype":"FP32","shape":[-1]}]',
    '2026-11-03T00:00:00.000Z',
  )
  ins(
    "INSERT INTO pipelines (workspace, name, version, steps, created_at) VALUES ('team', 'p', 2, '[{\"model\":\"scorer:3\"}]', '2026-11-04T00:00:00.000Z')",
  )
  ins('INSERT INTO deployments VALUES (?, ?, ?, ?, ?)', 'team', 'p', 2, '{"engine":"cpu","replicas":2}', 'then')
  ins("INSERT INTO api_keys VALUES ('0123456789abcdef', 'team', 'ci', 'viewer', ?, 'then')", 'f'.repeat(64))
  if (version >= 2) {
    ins(
      'INSERT INTO assays (workspace, pipeline, name, config, baseline, active, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      'team',
      'p',
      'drift',
      '{"iopath":"in.x[0]","window":{"width":"1h","start":0}}',
      Buffer.from(Float64Array.of(0.5, -2, 7.25).buffer),
      0,
      'then',
    )
    ins('INSERT INTO assay_results VALUES (1, 0, 3600000, 0.125, ?, ?, ?)', 'warning', '{"values":40}', 'then')
  }
  if (version >= 3) {
    ins(
      `INSERT INTO jobs (id, workspace, pipeline, status, format, input_path, input_bytes, options, rows_total,
         rows_done, chunks_done, error_count, errors, error, created_at, started_at, finished_at)
       VALUES ('j1', 'team', 'p', 'running', 'csv', '/data/jobs/j1/input.csv', 900, ?, NULL, 20, 1, 1, ?, NULL,
         '2026-11-05T00:00:00.000Z', '2026-11-05T00:00:01.000Z', NULL)`,
      '{"maxErrorShare":0.5,"chunkRows":20,"batchRows":8}',
      '[{"row":7,"message":"x: not a number"}]',
    )
  }
  if (version >= 4) {
    ins(
      `INSERT INTO explanations (id, workspace, pipeline, method, request, status, error, report, summary, created_at,
         finished_at) VALUES ('e1', 'team', 'p', 'shap', '{"method":"shap"}', 'succeeded', NULL, '{"features":["a"]}',
         ?, 'then', 'later')`,
      Buffer.from([1, 2, 3]),
    )
  }
  db.close()
  return dir
}

describe('store migrations', () => {
  it('keep every released version as it shipped, and only append', () => {
    expect(MIGRATIONS.length).toBeGreaterThanOrEqual(RELEASED.length)
    expect(MIGRATIONS.slice(0, RELEASED.length).map(norm)).toEqual(RELEASED.map(norm))
  })

  it('open a data folder of the previous release unchanged: every record reads back, new columns at their defaults', async () => {
    const previous = RELEASED.length - 1 // the release before the latest one
    const dir = oldDataDir(previous)
    const s = SqliteStore.open(dir)
    expect(s.schemaVersion()).toBe(MIGRATIONS.length)
    expect((await s.workspaces.list()).map((w) => w.name)).toEqual(['default', 'team'])
    expect(await s.models.get('team', 'scorer', 3)).toEqual({
      workspace: 'team',
      name: 'scorer',
      version: 3,
      sha256: 'c'.repeat(64),
      size: 1234,
      inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 16] }],
      outputs: [{ name: 'p', datatype: 'FP32', shape: [-1] }],
      createdAt: '2026-11-03T00:00:00.000Z',
    })
    expect(await s.pipelines.latest('team')).toEqual([
      {
        workspace: 'team',
        name: 'p',
        version: 2,
        steps: [{ model: 'scorer:3' }],
        slo: null,
        createdAt: '2026-11-04T00:00:00.000Z',
      },
    ])
    expect(await s.deployments.list()).toEqual([
      { workspace: 'team', pipeline: 'p', version: 2, config: { engine: 'cpu', replicas: 2 }, deployedAt: 'then' },
    ])
    expect(await s.apiKeys.find('f'.repeat(64))).toEqual({
      id: '0123456789abcdef',
      workspace: 'team',
      name: 'ci',
      role: 'viewer',
      hash: 'f'.repeat(64),
      createdAt: 'then',
    })
    const [assay] = await s.assays.list('team')
    expect(assay).toMatchObject({ id: 1, name: 'drift', active: false, config: { iopath: 'in.x[0]' } })
    expect(Array.from(assay?.baseline ?? [])).toEqual([0.5, -2, 7.25])
    expect(await s.assays.results(1)).toEqual([
      {
        assayId: 1,
        windowStart: 0,
        windowEnd: 3_600_000,
        score: 0.125,
        status: 'warning',
        result: { values: 40 },
        createdAt: 'then',
      },
    ])
    expect(await s.jobs.get('j1')).toMatchObject({
      status: 'running',
      options: { maxErrorShare: 0.5, chunkRows: 20, batchRows: 8 },
      rowsTotal: null,
      rowsDone: 20,
      errors: [{ row: 7, message: 'x: not a number' }],
      attempts: 0, // added by version 5
      createdBy: null, // added by version 5
    })
    const e = await s.explanations.get('e1')
    expect(e).toMatchObject({ status: 'succeeded', attempts: 0, report: { features: ['a'] }, finishedAt: 'later' })
    expect(Array.from(e?.summary ?? [])).toEqual([1, 2, 3])
    await s.close()
  })

  it('bring a data folder of any earlier version to the schema a new one gets', async () => {
    const fresh = dataDir()
    await SqliteStore.open(fresh).close()
    for (let v = 1; v <= RELEASED.length; v++) {
      const dir = oldDataDir(v)
      const s = SqliteStore.open(dir)
      expect(s.schemaVersion()).toBe(MIGRATIONS.length)
      await s.close()
      expect(schemaOf(join(dir, 'lastmile.db')), `from version ${v}`).toEqual(schemaOf(join(fresh, 'lastmile.db')))
    }
  })
})
