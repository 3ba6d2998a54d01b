/**
 * Start lastmile's HTTP server: build the core (engine, deployments, metrics), deploy the demo
 * pipeline if asked, listen, and shut down gracefully: stop accepting, answer what is queued,
 * release the engine.
 */
import { join } from 'node:path'
import { type ServerType, serve } from '@hono/node-server'
import type { Hono } from 'hono'
import { AssayService } from '../assays/service.js'
import type { Config } from '../config.js'
import { Engine } from '../engine/engine.js'
import { errorMessage, InvalidConfigError } from '../errors.js'
import { ExplainService } from '../explain/service.js'
import { BodyPool } from '../formats/decode-pool.js'
import { emptyParquet, parquetStream } from '../jobs/io/parquet.js'
import { JOBS_TOPIC, JobService } from '../jobs/service.js'
import { LiveStats } from '../live/stats.js'
import { createLogger, type Logger, silentLogger } from '../logger.js'
import { InferenceLog } from '../logs/inference-log.js'
import type { InferenceSink } from '../logs/record.js'
import type { LogWriter } from '../logs/segment-names.js'
import { OptimizeService } from '../optimize/service.js'
import { OutboundPolicy, type Resolver } from '../outbound/policy.js'
import { outcomeAssayValues } from '../outcomes/assay-values.js'
import { TrainingSets } from '../outcomes/export.js'
import { PromotionService } from '../outcomes/promotion.js'
import { RetrainingScheduler } from '../outcomes/retraining.js'
import { installDemo } from '../registry/demo.js'
import { DEPLOYMENTS_TOPIC, Registry } from '../registry/registry.js'
import { DeploymentManager } from '../serving/deployment.js'
import { SloService } from '../slo/service.js'
import { ArtifactStore } from '../store/artifacts.js'
import { lockDataDir, tidyDataDir } from '../store/data-dir.js'
import { openStore } from '../store/open.js'
import { createApp } from './app.js'
import { consoleDir, loadConsole } from './console.js'
import type { ServerDeps } from './deps.js'
import { errorResponse } from './errors.js'
import { Metrics } from './metrics.js'
import { dataDirId, leaseHolder, Singletons } from './singletons.js'

export interface BuiltServer {
  app: Hono
  deps: ServerDeps
  /** Mark shutting down, drain every deployment, release the engine. */
  shutdown(): Promise<void>
}

export interface RunningServer {
  url: string
  deps: ServerDeps
  /** Stop accepting connections, drain deployments, release the engine. */
  close(): Promise<void>
}

/** Whether `host` only accepts connections from this machine. */
function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || host.startsWith('127.')
}

export interface ServerOptions {
  log?: Logger
  sink?: InferenceSink
  resolve?: Resolver
  /**
   * Which of the `lastmile serve --workers N` processes this is: the primary holds the data
   * folder's lock and tidied it; this one shares it (see src/server/cluster.ts).
   */
  worker?: LogWriter
}

/** The core services and the app, without listening (tests use `app.request()`). */
export async function buildServer(config: Config, opts: ServerOptions = {}): Promise<BuiltServer> {
  const log = opts.log ?? createLogger(config.logLevel)
  const outbound = new OutboundPolicy(config.outbound, opts.resolve) // refuses a bad allowlist before opening anything
  const authRequired = config.server.auth === 'on' || (config.server.auth === 'auto' && !isLoopback(config.server.host))
  const worker = opts.worker
  // One server per data folder: its primary process holds the lock for the workers.
  const lock = worker ? { release() {} } : await lockDataDir(config.dataDir)
  const store = await openStore(config, log)
  const artifacts = await ArtifactStore.open(config.dataDir, store.blobs)
  // Before anything reads the folder or serves: what a crash left behind goes, modes are fixed.
  if (!worker) await tidyDataDir(config.dataDir, store, log)
  if (authRequired && (await store.apiKeys.list()).length === 0) {
    await store.close()
    lock.release()
    throw new InvalidConfigError(
      `API keys are required on ${config.server.host} but none exist: create one with \`lastmile keys create --offline --workspace default --role admin --name admin --data ${config.dataDir}\`, or set LASTMILE_AUTH=off to serve without keys`,
    )
  }
  if (!authRequired && !isLoopback(config.server.host)) {
    log.warn('serving without API keys on a non-loopback address (LASTMILE_AUTH=off)', { host: config.server.host })
  }
  const engine = new Engine(config, log)
  // Large bodies, answers and log frames are worked on in worker threads, started on first use.
  const bodies = new BodyPool(config.bodies)
  const inferenceLog = await InferenceLog.open(config.dataDir, config.inferenceLog, log, bodies, worker, store)
  // Answered requests go to the inference log (and to a caller's sink, e.g. in tests).
  const extra = opts.sink
  const sink: InferenceSink = extra
    ? {
        append(r) {
          inferenceLog.append(r)
          extra.append(r)
        },
      }
    : inferenceLog
  let metrics: Metrics | undefined
  const manager = new DeploymentManager(engine, { log, sink, observer: (d) => metrics?.observer(d) ?? {} })
  const slo = new SloService({ store, logger: log, outbound, webhookAttempts: config.assays.webhookAttempts })
  const registry = new Registry({ store, artifacts, engine, manager, log, slo })
  const trainingSets = new TrainingSets({
    store,
    log: inferenceLog,
    logger: log,
    outbound,
    parquet: { stream: parquetStream, empty: emptyParquet },
    dir: config.exports.dir || join(config.dataDir, 'exports'),
    maxRows: config.exports.maxRows,
    holder: leaseHolder(),
    webhookAttempts: config.assays.webhookAttempts,
  })
  const retraining = new RetrainingScheduler({ store, exports: trainingSets, logger: log })
  const assays = new AssayService({
    store,
    log: inferenceLog,
    logger: log,
    requirePipeline: async (ws, name) => {
      await registry.getPipeline(ws, name)
    },
    outbound,
    limits: config.assays,
    webhookAttempts: config.assays.webhookAttempts,
    derived: outcomeAssayValues(store.outcomes, inferenceLog),
    onAlert: (a, r) =>
      trainingSets.onAssayAlert(a.workspace, a.pipeline, {
        id: a.id,
        name: a.name,
        window: { start: new Date(r.windowStart).toISOString(), end: new Date(r.windowEnd).toISOString() },
      }),
  })
  const jobs = new JobService({ store, manager, dataDir: config.dataDir, log, config: config.jobs })
  const promotion = new PromotionService({
    store,
    log: inferenceLog,
    logger: log,
    outbound,
    webhookAttempts: config.assays.webhookAttempts,
    putPipeline: async (ws, name, steps, sloOf) =>
      (await registry.putPipeline(ws, name, steps, sloOf ?? undefined)).record,
  })
  const explain = new ExplainService({
    manager,
    log: inferenceLog,
    batchRows: config.jobs.batchRows,
    store: store.explanations,
    limits: config.explain,
    maxAttempts: config.jobs.maxAttempts,
  })
  const optimize = new OptimizeService({
    store: store.optimizations,
    manager,
    registry,
    engine,
    log: inferenceLog,
    logger: log,
    maxSeconds: config.optimize.maxSeconds,
  })
  const live = new LiveStats()
  metrics = new Metrics(manager, engine, { assays, inferenceLog, slo, live })
  let shuttingDown = false
  const liveStreams = new AbortController()
  const deps: ServerDeps = {
    engine,
    manager,
    registry,
    store,
    metrics,
    inferenceLog,
    assays,
    slo,
    live: { stats: live, open: 0, maxStreams: config.live.maxStreams, closing: liveStreams.signal },
    jobs,
    promotion,
    trainingSets,
    explain,
    optimize,
    log,
    authRequired,
    // A keyless server on loopback is what a DNS-rebinding page would aim at.
    browser: {
      allowedOrigins: config.server.allowedOrigins,
      loopbackHostOnly: !authRequired && isLoopback(config.server.host),
    },
    console: loadConsole(consoleDir()),
    metricsPublic: config.server.metricsPublic,
    bodyLimitBytes: config.server.bodyLimitBytes,
    modelLimitBytes: config.server.modelLimitBytes,
    tensorLimitBytes: config.server.tensorLimitBytes,
    bodies,
    bodyPace: { minBytesPerSecond: config.bodies.minBytesPerSecond, graceMs: config.bodies.graceMs },
    jsonMaxValues: config.server.jsonMaxValues,
    logQueryMaxRows: config.inferenceLog.queryMaxRows,
    auditMaxRows: config.audit.maxRows,
    shuttingDown: () => shuttingDown,
    statusOf: (e) => errorResponse(e, silentLogger).status,
  }
  // Shared with other processes (workers on this host, or servers on others through PostgreSQL):
  // singleton work runs under leases, and changes made elsewhere are followed.
  const hostsShare = store.blobs !== undefined && store.files !== undefined
  const shared = (worker?.count ?? 1) > 1 || hostsShare
  const singletons = new Singletons(shared ? store.leases : undefined, leaseHolder(), log)
  // Jobs' files: with a shared store, shared files every host fetches (one runner for all hosts);
  // else in the data folder (one runner per folder, whose worker processes share it).
  const jobsLease = hostsShare ? 'jobs' : `jobs@${dataDirId(config.dataDir)}`
  singletons.add({ name: jobsLease, start: () => jobs.start(), stop: () => jobs.stop() })
  singletons.add({ name: 'assays', start: () => assays.start(config.assays.tickMs), stop: () => assays.stop() })
  singletons.add({
    name: 'retraining',
    start: async () => retraining.start(config.exports.tickMs),
    stop: () => retraining.stop(),
  })
  singletons.add({ name: 'promotion', start: () => promotion.start(), stop: () => promotion.stop() })
  singletons.add({ name: 'slo-alerts', start: () => slo.setEvaluating(true), stop: () => slo.setEvaluating(false) })
  singletons.add({
    name: 'explanations',
    async start() {
      const explanations = await explain.resume()
      if (explanations.length) log.info('explanation jobs resumed', { ids: explanations })
    },
    stop: async () => undefined, // running ones finish here; stopped at shutdown
  })
  let unsubscribe = () => {}
  try {
    const { restored, failed } = await registry.restore()
    if (restored.length || failed.length) log.info('deployments restored', { restored, failed })
    const firstStart =
      (await store.models.list('default')).length === 0 && (await store.pipelines.latest('default')).length === 0
    if (config.server.demo && firstStart && (worker?.index ?? 0) === 0)
      await installDemo(registry, config.dataDir, (ws, body) => assays.define(ws, body))
    if (shared) await slo.setEvaluating(false) // until this process holds the lease
    slo.start(config.slo.flushMs, config.slo.tickMs)
    // Jobs resume what a previous run left unfinished, now that deployments are back.
    await singletons.start()
    if (shared) {
      unsubscribe = store.changes.subscribe((topic) => {
        const done = (e: unknown) => log.error('following a change failed', { topic, error: errorMessage(e) })
        if (topic === DEPLOYMENTS_TOPIC) registry.reconcile().catch(done)
        else if (topic === JOBS_TOPIC) jobs.changed().catch(done)
      })
      await registry.reconcile() // what changed between the restore and the subscription
    }
  } catch (e) {
    unsubscribe()
    await singletons.stop()
    await manager.stopAll()
    await slo.stop()
    await inferenceLog.close()
    await engine.close()
    await store.close()
    lock.release()
    throw e
  }
  return {
    app: createApp(deps).app,
    deps,
    async shutdown() {
      shuttingDown = true
      liveStreams.abort() // live event streams end now, cleanly, rather than be cut with their connections
      unsubscribe()
      // Running jobs stop after their current chunk and resume at the next start, or at once in the
      // process that takes their lease over.
      await singletons.stop()
      await explain.stop() // running explanations are run again at the next start
      await optimize.stop() // a tuning run ends at its next point, stored with what it measured
      await trainingSets.idle() // exports finish (their rows are read from the log, still open)
      await manager.stopAll() // every queued request is answered (and handed to the log) first
      await slo.stop() // then what they counted toward the objectives is written
      await inferenceLog.close() // then the log writes everything it holds
      await bodies.close() // after the answers and log frames still in a body worker
      await engine.close()
      await store.close()
      lock.release()
    },
  }
}

/** Build and listen on `config.server.host:port` (port 0 = any free port). */
export async function startServer(config: Config, opts: ServerOptions = {}): Promise<RunningServer> {
  const built = await buildServer(config, opts)
  const server = await listen(built.app.fetch, config.server.host, config.server.port).catch(async (e) => {
    await built.shutdown()
    throw e
  })
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : config.server.port
  const host = config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host
  let closing: Promise<void> | undefined
  return {
    url: `http://${host}:${port}`,
    deps: built.deps,
    close() {
      closing ??= (async () => {
        const stopped = new Promise<void>((r) => server.close(() => r()))
        const http = server as ServerType & { closeIdleConnections?(): void; closeAllConnections?(): void }
        http.closeIdleConnections?.()
        await built.shutdown()
        // Keep-alive connections would hold close() open: the answers are out, end them.
        http.closeAllConnections?.()
        await stopped
      })()
      return closing
    },
  }
}

function listen(fetch: Parameters<typeof serve>[0]['fetch'], hostname: string, port: number): Promise<ServerType> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch, hostname, port }, () => resolve(server))
    server.once('error', (e: NodeJS.ErrnoException) => {
      reject(
        e.code === 'EADDRINUSE'
          ? new InvalidConfigError(`port ${port} on ${hostname} is in use; choose another with --port or LASTMILE_PORT`)
          : new InvalidConfigError(`cannot listen on ${hostname}:${port}: ${errorMessage(e)}`),
      )
    })
  })
}
