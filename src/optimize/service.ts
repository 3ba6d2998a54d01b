/**
 * Measured tuning of deployed pipelines: a run measures the grid (src/optimize/grid.ts) with the
 * search (search.ts) on sessions of its own (measure.ts), within a time budget, and stores its
 * report; with `apply`, it redeploys the pipeline with the recommendation (a hot swap through the
 * registry, the deployment's other settings kept). One run at a time per server: measuring two at
 * once would measure each other.
 *
 * A run is stored when it starts and when it ends. One still `running` in the store long after its
 * budget (the server that ran it stopped) is answered, and stored, as failed.
 */
import { randomBytes } from 'node:crypto'
import { availableParallelism } from 'node:os'
import type { Engine } from '../engine/engine.js'
import type { BackendName } from '../engine/types.js'
import { ConflictError, errorMessage, InvalidRequestError, NotFoundError } from '../errors.js'
import type { Logger } from '../logger.js'
import type { InferenceLog } from '../logs/inference-log.js'
import type { Registry } from '../registry/registry.js'
import type { Deployment, DeploymentManager } from '../serving/deployment.js'
import type { OptimizationRecord, OptimizationStore } from '../store/types.js'
import {
  ascending,
  DEFAULT_BATCH_SIZES,
  DEFAULT_QUEUE_DELAYS_MS,
  defaultThreads,
  GPU_PATHS,
  GRAPH_OPTIMIZATION_LEVELS,
  type Grid,
  gridSize,
} from './grid.js'
import { Bench } from './measure.js'
import { storedReport, type TuningReport, tuningReport } from './report.js'
import { type OptimizeRequest, optimizeRequestSchema } from './request.js'
import { BATCH_VALUES, loggedRows, requestsOf, rowValues, synthesizeRows } from './rows.js'
import { exhaustiveSearch, quickSearch } from './search.js'

/** The share of the grid the quick search measures at most. */
const QUICK_SHARE = 0.1
/** Finished runs kept per pipeline. */
const KEEP_RUNS = 20
/** A stored run still `running` this long past its budget was interrupted. */
const INTERRUPTED_AFTER_MS = 120_000

export interface OptimizeDeps {
  store: OptimizationStore
  manager: DeploymentManager
  registry: Registry
  engine: Engine
  log: InferenceLog
  logger: Logger
  /** The longest a run may take, in seconds (`LASTMILE_OPTIMIZE_MAX_SECONDS`). */
  maxSeconds: number
  /** The cores the thread axis runs to (this machine's by default). */
  cores?: number
}

/** A run as the routes answer it: its progress, then its report. */
export interface OptimizationView {
  id: string
  workspace: string
  pipeline: string
  pipeline_version: number
  status: OptimizationRecord['status']
  measured_points: number
  max_points: number
  budget_s: number
  error: string | null
  created_at: string
  finished_at: string | null
  report: TuningReport | null
}

export class OptimizeService {
  /** The run in progress in this process, with its live progress. */
  private current: OptimizationView | undefined
  private running: Promise<void> | undefined
  private stopping = false

  constructor(private readonly deps: OptimizeDeps) {}

  /** Validate a request body: 400 naming each problem. */
  parse(body: unknown): OptimizeRequest {
    const r = optimizeRequestSchema.safeParse(body ?? {})
    if (!r.success) {
      throw new InvalidRequestError(r.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '))
    }
    const max = this.deps.maxSeconds
    if (r.data.budget_s !== undefined && r.data.budget_s > max) {
      throw new InvalidRequestError(
        `budget_s: ${r.data.budget_s} s is more than a run may take here (LASTMILE_OPTIMIZE_MAX_SECONDS is ${max})`,
      )
    }
    return r.data
  }

  /** The backends to measure: those asked for (each must be available), or the default ones. */
  private async backends(req: OptimizeRequest, d: Deployment): Promise<BackendName[]> {
    if (req.backends) {
      if (req.backends.includes('webgpu')) {
        await this.deps.engine.gpu().catch((e: unknown) => {
          throw new InvalidRequestError(`backends: webgpu is not available on this server (${errorMessage(e)})`)
        })
      }
      return [...new Set(req.backends)]
    }
    // The GPU is not opened for this: a server that has not opened it serves nothing on it.
    const gpu = this.deps.engine.openGpu()
    const onGpu = d.status().backend === 'webgpu'
    return gpu && (onGpu || !gpu.adapterInfo.software) ? ['cpu', 'wasm', 'webgpu'] : ['cpu', 'wasm']
  }

  /**
   * Start a run on the deployed pipeline `name`; answered at once, measured in the background.
   * 409 while another run is in progress here.
   */
  async start(
    workspace: string,
    name: string,
    req: OptimizeRequest,
    opts: { apply: boolean },
  ): Promise<OptimizationView> {
    this.refuseSecond()
    const d = this.deps.manager.require(workspace, name)
    const grid: Grid = {
      backends: await this.backends(req, d),
      batchSizes: ascending(req.batch_sizes ?? DEFAULT_BATCH_SIZES),
      queueDelaysMs: ascending(req.queue_delays_ms ?? DEFAULT_QUEUE_DELAYS_MS),
      threads: ascending(req.threads ?? defaultThreads(this.deps.cores ?? availableParallelism())),
      graphOptimizations: GRAPH_OPTIMIZATION_LEVELS.filter((g) => (req.graph_optimizations ?? [g]).includes(g)),
      gpuPaths: GPU_PATHS.filter((g) => (req.gpu_paths ?? [g]).includes(g)),
    }
    // The closed loop holds concurrency × rows_per_request rows: no batch is larger, and none may hold more than BATCH_VALUES.
    const batchRows = Math.min(grid.batchSizes.at(-1) as number, req.concurrency * req.rows_per_request)
    const perRow = rowValues(d.inputs)
    if (batchRows * perRow > BATCH_VALUES) {
      throw new InvalidRequestError(
        `batches of ${batchRows} rows would hold ${batchRows * perRow} input values (${perRow} per row); a tuning run forms batches of at most ${BATCH_VALUES}: ask for batch_sizes up to ${Math.floor(BATCH_VALUES / perRow)}, or a smaller concurrency × rows_per_request`,
      )
    }
    const size = gridSize(grid)
    const maxPoints = req.search === 'quick' ? Math.ceil(QUICK_SHARE * size) : size
    const budgetS = req.budget_s ?? this.deps.maxSeconds
    const version = d.spec.pipelineVersion
    // Refused now, before the 202: rows that cannot be made, a log without rows.
    const sample =
      req.rows === 'log'
        ? await loggedRows(this.deps.log, workspace, name, d.inputs)
        : synthesizeRows(d.inputs, req.seed)
    const requests = requestsOf(sample, req.rows_per_request)
    const { pipeline, models } = await this.deps.registry.pipelineModels(workspace, name, version)
    const view: OptimizationView = {
      id: `opt-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`,
      workspace,
      pipeline: name,
      pipeline_version: version,
      status: 'running',
      measured_points: 0,
      max_points: maxPoints,
      budget_s: budgetS,
      error: null,
      created_at: new Date().toISOString(),
      finished_at: null,
      report: null,
    }
    this.refuseSecond() // another start may have begun while this one read the models
    this.current = view
    try {
      await this.deps.store.add({
        id: view.id,
        workspace,
        pipeline: name,
        version,
        status: 'running',
        request: { ...req, budget_s: budgetS, apply: opts.apply },
        report: null,
        error: null,
        createdAt: view.created_at,
        finishedAt: null,
      })
      await this.deps.store.prune(workspace, name, KEEP_RUNS)
    } catch (e) {
      this.current = undefined
      throw e
    }
    const started = performance.now()
    const deadline = started + budgetS * 1000
    const stop = () => this.stopping || performance.now() >= deadline
    const bench = new Bench({
      engine: this.deps.engine,
      steps: pipeline.steps,
      models,
      requests,
      concurrency: req.concurrency,
      windowMs: req.window_ms,
      maxWindows: req.max_windows,
      busy: () => (this.deps.manager.get(workspace, name)?.queuedRows() ?? 0) > 0,
      stop,
    })
    const measure = async (p: Parameters<Bench['measure']>[0]) => {
      try {
        return await bench.measure(p)
      } finally {
        view.measured_points++
      }
    }
    const search = req.search === 'quick' ? quickSearch : exhaustiveSearch
    this.running = (async () => {
      try {
        const result = await search(grid, measure, { targetP99Ms: req.target_p99_ms, maxPoints, stop }).finally(() =>
          bench.release(),
        )
        const report = tuningReport({
          req,
          version,
          gridPoints: size,
          maxPoints,
          budgetS,
          seconds: (performance.now() - started) / 1000,
          batching: d.batching,
          result,
        })
        // Applied only to the version measured, still deployed: never undoing a redeploy (a promotion,
        // a rollback) or an undeploy made while the run measured.
        const deployedNow = this.deps.manager.get(workspace, name)?.spec.pipelineVersion
        if (opts.apply && report.recommendation && deployedNow !== version) {
          report.apply_error = `not applied: the pipeline was ${deployedNow === undefined ? 'undeployed' : `redeployed with version ${deployedNow}`} while the run measured version ${version}`
        } else if (opts.apply && report.recommendation) {
          const { settings } = report.recommendation
          try {
            await this.deps.registry.deploy(workspace, name, { version, ...settings })
            report.applied = true
          } catch (e) {
            report.apply_error = errorMessage(e)
          }
        }
        await this.finish(view, { status: 'succeeded', report, error: null })
      } catch (e) {
        await this.finish(view, { status: 'failed', report: null, error: errorMessage(e) })
      } finally {
        this.current = undefined
      }
    })()
    return { ...view }
  }

  /** Record the end of a run (a failed write is logged: the run is answered as interrupted later). */
  private async finish(view: OptimizationView, end: Pick<OptimizationView, 'status' | 'report' | 'error'>) {
    Object.assign(view, end, { finished_at: new Date().toISOString() })
    await this.deps.store
      .finish(view.id, { status: end.status, report: end.report, error: end.error, finishedAt: view.finished_at })
      .catch((e) => this.deps.logger.error('a tuning run could not be stored', { id: view.id, error: errorMessage(e) }))
  }

  /** 409 while a run is in progress here. */
  private refuseSecond(): void {
    if (this.current) {
      throw new ConflictError(
        `tuning run '${this.current.id}' is in progress on this server (one at a time: runs would measure each other); retry when it ends`,
      )
    }
  }

  /** Wait for the run in progress, if any. */
  async idle(): Promise<void> {
    await this.running
  }

  /** End the run in progress at its next point (it is stored with what it measured), and wait for it. */
  async stop(): Promise<void> {
    this.stopping = true
    await this.running
  }

  /** A run of the workspace: live while it runs here, else as stored. */
  async get(workspace: string, id: string): Promise<OptimizationView> {
    if (this.current?.id === id && this.current.workspace === workspace) return { ...this.current }
    const r = await this.deps.store.get(id)
    if (!r || r.workspace !== workspace) throw new NotFoundError(`no tuning run '${id}' in workspace '${workspace}'`)
    return this.view(r)
  }

  /** A pipeline's runs, newest first (at most `limit`). */
  async list(workspace: string, pipeline: string, limit: number): Promise<OptimizationView[]> {
    const records = await this.deps.store.list(workspace, pipeline, limit)
    return Promise.all(
      records.map((r) => (this.current?.id === r.id ? Promise.resolve({ ...this.current }) : this.view(r))),
    )
  }

  /** A stored run as answered; one left `running` by a server that stopped is failed (and stored so). */
  private async view(r: OptimizationRecord): Promise<OptimizationView> {
    const request = r.request as { budget_s?: number }
    const budgetS = typeof request.budget_s === 'number' ? request.budget_s : this.deps.maxSeconds
    const report = storedReport(r.report)
    let { status, error, finishedAt } = r
    if (status === 'running' && Date.parse(r.createdAt) + budgetS * 1000 + INTERRUPTED_AFTER_MS < Date.now()) {
      status = 'failed'
      error = 'interrupted: the server running it stopped before it ended'
      finishedAt = new Date().toISOString()
      await this.deps.store.finish(r.id, { status, report: null, error, finishedAt })
    }
    return {
      id: r.id,
      workspace: r.workspace,
      pipeline: r.pipeline,
      pipeline_version: r.version,
      status,
      measured_points: report?.measured_points ?? 0,
      max_points: report?.max_points ?? 0,
      budget_s: budgetS,
      error,
      created_at: r.createdAt,
      finished_at: finishedAt,
      report,
    }
  }
}
