/**
 * The shared store: PostgreSQL through a pool of `pg` connections, for servers on several hosts
 * sharing one database. Its schema is brought up to date at open (`pg-migrations.ts`; servers
 * opening at once take turns). One pool serves every aggregate's store (`pg-<aggregate>.ts`);
 * operations of several statements run in a transaction on one client. The workspace `default`
 * always exists. Model bytes are shared too, as blobs every server caches in its data folder.
 */
import type pg from 'pg'
import { errorMessage, LastmileError } from '../errors.js'
import { type Logger, silentLogger } from '../logger.js'
import { PgApiKeys } from './pg-api-keys.js'
import { PgAssays } from './pg-assays.js'
import { PgAudit } from './pg-audit.js'
import { PgBlobs } from './pg-blobs.js'
import { latestRevision, PgChanges } from './pg-changes.js'
import { PgDeployments } from './pg-deployments.js'
import { PgExplanations } from './pg-explanations.js'
import { PgFiles } from './pg-files.js'
import { PgJobs } from './pg-jobs.js'
import { PgLeases } from './pg-leases.js'
import { pgMigrate, pgSchemaVersion } from './pg-migrations.js'
import { PgModels } from './pg-models.js'
import { PgOptimizations } from './pg-optimizations.js'
import { PgOutcomes } from './pg-outcomes.js'
import { PgPipelines } from './pg-pipelines.js'
import { openPool, redactUrl } from './pg-pool.js'
import { PgPromotion } from './pg-promotion.js'
import { PgSlo } from './pg-slo.js'
import { PgWorkspaces } from './pg-workspaces.js'
import type { Store } from './types.js'

/** The metadata store on PostgreSQL: one pool, one store per aggregate, closed together. */
export class PgStore implements Store {
  readonly workspaces: PgWorkspaces
  readonly models: PgModels
  readonly pipelines: PgPipelines
  readonly deployments: PgDeployments
  readonly apiKeys: PgApiKeys
  readonly audit: PgAudit
  readonly assays: PgAssays
  readonly jobs: PgJobs
  readonly explanations: PgExplanations
  readonly optimizations: PgOptimizations
  readonly slo: PgSlo
  readonly outcomes: PgOutcomes
  readonly promotion: PgPromotion
  readonly leases: PgLeases
  readonly changes: PgChanges
  readonly blobs: PgBlobs
  readonly files: PgFiles
  private closing: Promise<void> | undefined

  /** `pool` is on a migrated database; `revision` is its change feed's latest. */
  private constructor(
    private readonly pool: pg.Pool,
    url: string,
    revision: number,
    log: Logger,
  ) {
    this.workspaces = new PgWorkspaces(pool)
    this.models = new PgModels(pool)
    this.pipelines = new PgPipelines(pool)
    this.deployments = new PgDeployments(pool)
    this.apiKeys = new PgApiKeys(pool)
    this.audit = new PgAudit(pool)
    this.assays = new PgAssays(pool)
    this.jobs = new PgJobs(pool)
    this.explanations = new PgExplanations(pool)
    this.optimizations = new PgOptimizations(pool)
    this.slo = new PgSlo(pool)
    this.outcomes = new PgOutcomes(pool)
    this.promotion = new PgPromotion(pool)
    this.leases = new PgLeases(pool)
    this.changes = new PgChanges(pool, url, revision, log)
    this.blobs = new PgBlobs(pool)
    this.files = new PgFiles(pool)
  }

  /**
   * Connect to the database of `url` (`postgres://user:password@host:port/database`), bring its
   * schema up to date and make sure `default` exists. `log` hears of connections that fail. An
   * error names the URL without its password.
   */
  static async open(url: string, log: Logger = silentLogger): Promise<PgStore> {
    const pool = openPool(url, log, 'lastmile')
    try {
      await pgMigrate(pool)
      const store = new PgStore(pool, url, await latestRevision(pool), log)
      await store.workspaces.ensureDefault()
      return store
    } catch (e) {
      await pool.end()
      if (e instanceof LastmileError) throw e
      throw new Error(`cannot open the store at ${redactUrl(url)}: ${errorMessage(e)}`, { cause: e })
    }
  }

  /** The schema version (number of migrations applied). */
  schemaVersion(): Promise<number> {
    return pgSchemaVersion(this.pool)
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.changes.close()
      await this.pool.end()
    })()
    return this.closing
  }
}
