/** What the HTTP layer is built from: core services, created by the caller (serve, tests). */
import type { Engine } from '../engine/engine.js'
import type { Logger } from '../log.js'
import type { DeploymentManager } from '../serving/deployment.js'
import type { Metrics } from './metrics.js'

export interface ServerDeps {
  engine: Engine
  manager: DeploymentManager
  metrics: Metrics
  log: Logger
  /** Largest request body in bytes. */
  bodyLimitBytes: number
  /** True once a graceful shutdown began (readiness turns false). */
  shuttingDown(): boolean
  /** HTTP status an error maps to (for metrics). */
  statusOf(e: unknown): number
}
