/**
 * The embedded store: SQLite through better-sqlite3, in WAL mode with synchronous=FULL (a commit
 * that returned is on disk), its schema brought up to date at open (`migrations.ts`). One
 * connection serves every aggregate's store (`sqlite-<aggregate>.ts`). The workspace `default`
 * always exists. Model bytes live in the data folder's artifacts/ (no shared blob store).
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { DIR_MODE, FILE_MODE } from '../durable.js'
import { type Logger, silentLogger } from '../logger.js'
import { migrate, schemaVersion } from './migrations.js'
import { SqliteApiKeys } from './sqlite-api-keys.js'
import { SqliteAssays } from './sqlite-assays.js'
import { SqliteAudit } from './sqlite-audit.js'
import { SqliteChanges } from './sqlite-changes.js'
import { SqliteDeployments } from './sqlite-deployments.js'
import { SqliteExplanations } from './sqlite-explanations.js'
import { SqliteJobs } from './sqlite-jobs.js'
import { SqliteLeases } from './sqlite-leases.js'
import { SqliteModels } from './sqlite-models.js'
import { SqliteOptimizations } from './sqlite-optimizations.js'
import { SqliteOutcomes } from './sqlite-outcomes.js'
import { SqlitePipelines } from './sqlite-pipelines.js'
import { SqlitePromotion } from './sqlite-promotion.js'
import { SqliteSlo } from './sqlite-slo.js'
import { SqliteWorkspaces } from './sqlite-workspaces.js'
import type { Store } from './types.js'

/** The metadata store on SQLite: one connection, one store per aggregate, closed together. */
export class SqliteStore implements Store {
  readonly workspaces: SqliteWorkspaces
  readonly models: SqliteModels
  readonly pipelines: SqlitePipelines
  readonly deployments: SqliteDeployments
  readonly apiKeys: SqliteApiKeys
  readonly audit: SqliteAudit
  readonly assays: SqliteAssays
  readonly jobs: SqliteJobs
  readonly explanations: SqliteExplanations
  readonly optimizations: SqliteOptimizations
  readonly slo: SqliteSlo
  readonly outcomes: SqliteOutcomes
  readonly promotion: SqlitePromotion
  readonly leases: SqliteLeases
  readonly changes: SqliteChanges

  /** `db` is migrated: each store prepares its statements against the current schema. */
  private constructor(
    private readonly db: Database.Database,
    log: Logger,
  ) {
    this.workspaces = new SqliteWorkspaces(db)
    this.models = new SqliteModels(db)
    this.pipelines = new SqlitePipelines(db)
    this.deployments = new SqliteDeployments(db)
    this.apiKeys = new SqliteApiKeys(db)
    this.audit = new SqliteAudit(db)
    this.assays = new SqliteAssays(db)
    this.jobs = new SqliteJobs(db)
    this.explanations = new SqliteExplanations(db)
    this.optimizations = new SqliteOptimizations(db)
    this.slo = new SqliteSlo(db)
    this.outcomes = new SqliteOutcomes(db)
    this.promotion = new SqlitePromotion(db)
    this.leases = new SqliteLeases(db)
    this.changes = new SqliteChanges(db, log)
  }

  /**
   * Open (creating) `<dataDir>/lastmile.db` and bring its schema up to date; folder 0700, files
   * 0600. `log` hears of the change feed's troubles (a listener that throws).
   */
  static open(dataDir: string, log: Logger = silentLogger): SqliteStore {
    mkdirSync(dataDir, { recursive: true, mode: DIR_MODE })
    chmodSync(dataDir, DIR_MODE)
    const path = join(dataDir, 'lastmile.db')
    // SQLite creates the -wal and -shm files with the database file's mode: create that one private.
    closeSync(openSync(path, 'a', FILE_MODE))
    for (const f of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(f)) chmodSync(f, FILE_MODE)
    const db = new Database(path)
    try {
      db.pragma('journal_mode = WAL')
      db.pragma('synchronous = FULL')
      db.pragma('foreign_keys = ON')
      db.pragma('busy_timeout = 5000')
      migrate(db)
      const store = new SqliteStore(db, log)
      store.workspaces.ensureDefault()
      return store
    } catch (e) {
      db.close()
      throw e
    }
  }

  /** The schema version (number of migrations applied). */
  schemaVersion(): number {
    return schemaVersion(this.db)
  }

  async close(): Promise<void> {
    this.changes.close()
    if (this.db.open) this.db.close()
  }
}
