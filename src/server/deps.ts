/** What the HTTP layer is built from: core services, created by the caller (serve, tests). */
import type { AssayService } from '../assays/service.js'
import type { Engine } from '../engine/engine.js'
import { NotReadyError } from '../errors.js'
import type { ExplainService } from '../explain/service.js'
import type { BodyPool } from '../formats/decode-pool.js'
import type { JobService } from '../jobs/service.js'
import type { LiveStats } from '../live/stats.js'
import type { Logger } from '../logger.js'
import type { InferenceLog } from '../logs/inference-log.js'
import type { OptimizeService } from '../optimize/service.js'
import type { TrainingSets } from '../outcomes/export.js'
import type { PromotionService } from '../outcomes/promotion.js'
import type { Registry } from '../registry/registry.js'
import type { Deployment, DeploymentManager } from '../serving/deployment.js'
import type { SloService } from '../slo/service.js'
import type { Store } from '../store/types.js'
import type { BodyPace } from './body-pace.js'
import type { ConsoleAssets } from './console.js'
import type { BrowserPolicy } from './cross-site.js'
import type { Metrics } from './metrics.js'

export interface ServerDeps {
  engine: Engine
  manager: DeploymentManager
  registry: Registry
  store: Store
  metrics: Metrics
  inferenceLog: InferenceLog
  assays: AssayService
  slo: SloService
  /**
   * The live view: each pipeline's last minute, the event streams open now (at most `maxStreams`),
   * and a signal aborted when a shutdown begins, which ends them.
   */
  live: { stats: LiveStats; open: number; maxStreams: number; closing: AbortSignal }
  jobs: JobService
  /** Champion vs challenger: reports, promotion rules and their decisions. */
  promotion: PromotionService
  /** Training sets exported for retraining (…/training-sets). */
  trainingSets: TrainingSets
  explain: ExplainService
  /** Measured tuning runs (…/optimize). */
  optimize: OptimizeService
  log: Logger
  /** Whether routes other than health and the OpenAPI document need an API key. */
  authRequired: boolean
  /** What the server accepts from web pages (cross-site requests, DNS rebinding). */
  browser: BrowserPolicy
  /** The built web console's files by URL path (empty when it is not built): `/`, `/assets/…`. */
  console: ConsoleAssets
  /** Serve `/metrics` without a key even when keys are on. */
  metricsPublic: boolean
  /** Largest request body in bytes. */
  bodyLimitBytes: number
  /** Largest model upload in bytes. */
  modelLimitBytes: number
  /** Largest total size of one inference request's decoded input tensors, in bytes. */
  tensorLimitBytes: number
  /** Where large inference bodies are admitted, decoded and their answers encoded (worker threads). */
  bodies: BodyPool
  /** How fast an admitted large body must arrive (408 slower). */
  bodyPace: BodyPace
  /** JSON values one JSON body of a data route (assays, explanations, pipeline steps) may hold. */
  jsonMaxValues: number
  /** Rows of the audit trail kept (LASTMILE_AUDIT_MAX_ROWS). */
  auditMaxRows: number
  /** Rows one inference log query answers at most. */
  logQueryMaxRows: number
  /** True once a graceful shutdown began (readiness turns false). */
  shuttingDown(): boolean
  /** HTTP status an error maps to (for metrics). */
  statusOf(e: unknown): number
}

/**
 * The deployment an inference request goes to; 503 once the server has begun to shut down, even
 * before its deployments drain (running jobs still finish their chunk on them meanwhile).
 */
export function servingDeployment(deps: ServerDeps, workspace: string, pipeline: string): Deployment {
  if (deps.shuttingDown()) throw new NotReadyError('the server is shutting down; retry on another replica')
  return deps.manager.require(workspace, pipeline)
}
