/** Pipeline versions in the SQLite store: numbered from 1 per pipeline, the steps kept as JSON. */
import type Database from 'better-sqlite3'
import { nextVersion } from './rows.js'
import { pipelineFrom } from './table-rows.js'
import type { PipelineRecord, PipelineStore } from './types.js'

const statements = (db: Database.Database) => ({
  maxVersion: db.prepare('SELECT COALESCE(MAX(version), 0) AS v FROM pipelines WHERE workspace = ? AND name = ?'),
  insert: db.prepare(
    'INSERT INTO pipelines (workspace, name, version, steps, slo, created_at) VALUES (?, ?, ?, ?, ?, ?)',
  ),
  latest: db.prepare(
    `SELECT p.* FROM pipelines p JOIN (SELECT name, MAX(version) v FROM pipelines WHERE workspace = ? GROUP BY name) l
     ON p.name = l.name AND p.version = l.v WHERE p.workspace = ? ORDER BY p.name`,
  ),
  ofPipeline: db.prepare('SELECT * FROM pipelines WHERE workspace = ? AND name = ? ORDER BY version'),
  one: db.prepare('SELECT * FROM pipelines WHERE workspace = ? AND name = ? AND version = ?'),
  delete: db.prepare('DELETE FROM pipelines WHERE workspace = ? AND name = ?'),
})

/** PipelineStore on SQLite, over the connection `SqliteStore` opened and migrated. */
export class SqlitePipelines implements PipelineStore {
  /** Prepared once, after the migrations. */
  private readonly sql: ReturnType<typeof statements>

  constructor(private readonly db: Database.Database) {
    this.sql = statements(db)
  }

  async add(workspace: string, name: string, steps: unknown[], slo: unknown = null): Promise<PipelineRecord> {
    return this.db.transaction(() => {
      const version = nextVersion('pipelines', this.sql.maxVersion.get(workspace, name))
      const record: PipelineRecord = { workspace, name, version, steps, slo, createdAt: new Date().toISOString() }
      const sloText = slo === null ? null : JSON.stringify(slo)
      this.sql.insert.run(workspace, name, version, JSON.stringify(steps), sloText, record.createdAt)
      return record
    })()
  }

  async latest(workspace: string): Promise<PipelineRecord[]> {
    return this.sql.latest.all(workspace, workspace).map(pipelineFrom)
  }

  async versions(workspace: string, name: string): Promise<PipelineRecord[]> {
    return this.sql.ofPipeline.all(workspace, name).map(pipelineFrom)
  }

  async get(workspace: string, name: string, version: number): Promise<PipelineRecord | undefined> {
    const r = this.sql.one.get(workspace, name, version)
    return r === undefined ? undefined : pipelineFrom(r)
  }

  async delete(workspace: string, name: string): Promise<void> {
    this.sql.delete.run(workspace, name)
  }
}
