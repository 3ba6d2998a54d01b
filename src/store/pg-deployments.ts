/** Deployments in the PostgreSQL store: one row per deployed pipeline, replaced by the next deploy. */
import type pg from 'pg'
import { deploymentFrom } from './table-rows.js'
import type { DeploymentRecord, DeploymentStore } from './types.js'

/** DeploymentStore on PostgreSQL, over the pool `PgStore` opened and migrated. */
export class PgDeployments implements DeploymentStore {
  constructor(private readonly db: pg.Pool) {}

  async put(d: DeploymentRecord): Promise<void> {
    await this.db.query(
      `INSERT INTO deployments (workspace, pipeline, version, config, deployed_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (workspace, pipeline) DO UPDATE SET version = excluded.version, config = excluded.config, deployed_at = excluded.deployed_at`,
      [d.workspace, d.pipeline, d.version, JSON.stringify(d.config), d.deployedAt],
    )
  }

  async remove(workspace: string, pipeline: string): Promise<void> {
    await this.db.query('DELETE FROM deployments WHERE workspace = $1 AND pipeline = $2', [workspace, pipeline])
  }

  async list(workspace?: string): Promise<DeploymentRecord[]> {
    const r =
      workspace === undefined
        ? await this.db.query('SELECT * FROM deployments ORDER BY workspace, pipeline')
        : await this.db.query('SELECT * FROM deployments WHERE workspace = $1 ORDER BY pipeline', [workspace])
    return r.rows.map(deploymentFrom)
  }
}
