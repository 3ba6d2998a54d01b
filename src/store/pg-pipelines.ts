/** Pipeline versions in the PostgreSQL store: numbered from 1 per pipeline, the steps kept as JSON text. */
import type pg from 'pg'
import { lockFor, transaction } from './pg-pool.js'
import { nextVersion } from './rows.js'
import { pipelineFrom } from './table-rows.js'
import type { PipelineRecord, PipelineStore } from './types.js'

/** PipelineStore on PostgreSQL, over the pool `PgStore` opened and migrated. */
export class PgPipelines implements PipelineStore {
  constructor(private readonly db: pg.Pool) {}

  async add(workspace: string, name: string, steps: unknown[], slo: unknown = null): Promise<PipelineRecord> {
    return transaction(this.db, async (c) => {
      // Servers adding versions of one pipeline take turns: each numbers after the last one committed.
      await lockFor(c, 'pipelines', workspace, name)
      const max = await c.query(
        'SELECT COALESCE(MAX(version), 0) AS v FROM pipelines WHERE workspace = $1 AND name = $2',
        [workspace, name],
      )
      const version = nextVersion('pipelines', max.rows[0])
      const record: PipelineRecord = { workspace, name, version, steps, slo, createdAt: new Date().toISOString() }
      await c.query(
        'INSERT INTO pipelines (workspace, name, version, steps, slo, created_at) VALUES ($1, $2, $3, $4, $5, $6)',
        [workspace, name, version, JSON.stringify(steps), slo === null ? null : JSON.stringify(slo), record.createdAt],
      )
      return record
    })
  }

  async latest(workspace: string): Promise<PipelineRecord[]> {
    const r = await this.db.query(
      `SELECT DISTINCT ON (name) * FROM pipelines WHERE workspace = $1 ORDER BY name, version DESC`,
      [workspace],
    )
    return r.rows.map(pipelineFrom)
  }

  async versions(workspace: string, name: string): Promise<PipelineRecord[]> {
    const r = await this.db.query('SELECT * FROM pipelines WHERE workspace = $1 AND name = $2 ORDER BY version', [
      workspace,
      name,
    ])
    return r.rows.map(pipelineFrom)
  }

  async get(workspace: string, name: string, version: number): Promise<PipelineRecord | undefined> {
    const r = await this.db.query('SELECT * FROM pipelines WHERE workspace = $1 AND name = $2 AND version = $3', [
      workspace,
      name,
      version,
    ])
    return r.rows[0] === undefined ? undefined : pipelineFrom(r.rows[0])
  }

  async delete(workspace: string, name: string): Promise<void> {
    await this.db.query('DELETE FROM pipelines WHERE workspace = $1 AND name = $2', [workspace, name])
  }
}
