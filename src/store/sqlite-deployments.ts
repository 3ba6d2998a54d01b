/** Deployments in the SQLite store: one row per deployed pipeline, replaced by the next deploy. */
import type Database from 'better-sqlite3'
import { deploymentFrom } from './table-rows.js'
import type { DeploymentRecord, DeploymentStore } from './types.js'

const statements = (db: Database.Database) => ({
  upsert: db.prepare(
    `INSERT INTO deployments (workspace, pipeline, version, config, deployed_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (workspace, pipeline) DO UPDATE SET version = excluded.version, config = excluded.config, deployed_at = excluded.deployed_at`,
  ),
  delete: db.prepare('DELETE FROM deployments WHERE workspace = ? AND pipeline = ?'),
  all: db.prepare('SELECT * FROM deployments ORDER BY workspace, pipeline'),
  ofWorkspace: db.prepare('SELECT * FROM deployments WHERE workspace = ? ORDER BY pipeline'),
})

/** DeploymentStore on SQLite, over the connection `SqliteStore` opened and migrated. */
export class SqliteDeployments implements DeploymentStore {
  /** Prepared once, after the migrations. */
  private readonly sql: ReturnType<typeof statements>

  constructor(db: Database.Database) {
    this.sql = statements(db)
  }

  async put(d: DeploymentRecord): Promise<void> {
    this.sql.upsert.run(d.workspace, d.pipeline, d.version, JSON.stringify(d.config), d.deployedAt)
  }

  async remove(workspace: string, pipeline: string): Promise<void> {
    this.sql.delete.run(workspace, pipeline)
  }

  async list(workspace?: string): Promise<DeploymentRecord[]> {
    const rows = workspace === undefined ? this.sql.all.all() : this.sql.ofWorkspace.all(workspace)
    return rows.map(deploymentFrom)
  }
}
