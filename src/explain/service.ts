/**
 * Explanations of deployed pipelines: global (permutation importance, partial dependence with
 * ICE) and local (KernelSHAP, permutation SHAP) reports over reference rows given in the request
 * or read from the pipeline's inference log. Perturbed rows go through the deployment as bulk
 * batches (the GPU where the pipeline runs there). Long runs can be started as explanation jobs
 * with progress; each is stored (request, then report and summary) and one a restart interrupts
 * runs again from the start.
 */
import { randomBytes } from 'node:crypto'
import * as aq from 'arquero'
import { errorMessage, InvalidRequestError, NotFoundError } from '../errors.js'
import { MAX_JSON_DEPTH, nestsDeeperThan } from '../exact-json.js'
import type { InferenceLog } from '../logs/inference-log.js'
import type { DeploymentManager } from '../serving/deployment.js'
import type { ExplanationStore } from '../store/types.js'
import { type ExplainLimits, type ExplainRequest, explainSchema } from './request.js'
import { admitExplanation, type ExplainReport, explainPipeline } from './run.js'

export interface ExplanationJob {
  id: string
  workspace: string
  pipeline: string
  method: string
  status: 'running' | 'succeeded' | 'failed'
  evaluated_rows: number
  planned_rows: number
  progress: number
  error: string | null
  created_at: string
  report?: ExplainReport
  /** The report's summary table as Arrow IPC stream bytes (what `?format=arrow` serves). */
  summary?: Uint8Array
}

export interface ExplainDeps {
  manager: DeploymentManager
  log: InferenceLog
  batchRows: number
  store: ExplanationStore
  /** What one explanation may ask for (the `explain` settings). */
  limits: ExplainLimits
  /** Starts a job may have that the server did not survive before it is failed, not run again (LASTMILE_JOB_MAX_ATTEMPTS). */
  maxAttempts: number
}

/** Finished explanation jobs kept in the store, oldest deleted first. */
const KEEP_JOBS = 100

export class ExplainService {
  /** Jobs running in this process, with their live progress. */
  private readonly running = new Map<string, ExplanationJob>()
  private stopping = false

  constructor(private readonly deps: ExplainDeps) {}

  /** Validate a request body (nested past MAX_JSON_DEPTH, it could be neither stored nor read back). */
  parse(body: unknown): ExplainRequest {
    if (nestsDeeperThan(body)) {
      throw new InvalidRequestError(`the request nests arrays or objects more than ${MAX_JSON_DEPTH} deep`)
    }
    const r = explainSchema.safeParse(body)
    if (!r.success) {
      throw new InvalidRequestError(r.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '))
    }
    return r.data
  }

  /** Refuse now, before a job's 202, a request the limits refuse or the pipeline cannot answer. */
  admit(workspace: string, pipeline: string, req: ExplainRequest): void {
    admitExplanation(this.deps, workspace, pipeline, req)
  }

  /** Run an explanation now. */
  explain(
    workspace: string,
    pipeline: string,
    req: ExplainRequest,
    onProgress?: (evaluated: number, planned: number) => void,
  ): Promise<{ report: ExplainReport; table: aq.ColumnTable }> {
    return explainPipeline(this.deps, workspace, pipeline, req, onProgress)
  }

  /**
   * Start an explanation job; its progress and report are read with {@link job}. The request is
   * stored first: a job a restart interrupts runs again from the start ({@link resume}).
   */
  async start(workspace: string, pipeline: string, req: ExplainRequest): Promise<ExplanationJob> {
    this.deps.manager.require(workspace, pipeline) // refuse an undeployed pipeline now, not in the job
    const job = newJob(`expl-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`, workspace, pipeline, req)
    await this.deps.store.add({
      id: job.id,
      workspace,
      pipeline,
      method: req.method,
      request: req,
      status: 'running',
      error: null,
      attempts: 1, // counted before it runs, as every start: see resume()
      report: null,
      summary: null,
      createdAt: job.created_at,
      finishedAt: null,
    })
    await this.deps.store.prune(KEEP_JOBS)
    this.run(job, req)
    return job
  }

  /**
   * Run again the jobs a previous run of the server left unfinished (after deployments are
   * restored), each attempt counted in the store first; a job the server did not survive
   * `maxAttempts` times is failed with the reason instead, and never runs again.
   */
  async resume(): Promise<string[]> {
    const resumed: string[] = []
    const max = this.deps.maxAttempts
    for (const r of await this.deps.store.running()) {
      if (r.attempts >= max) {
        const error = `the server stopped ${r.attempts} times while running this explanation (LASTMILE_JOB_MAX_ATTEMPTS is ${max}); it was not run again, in case it is what stops the server`
        await this.deps.store.finish(r.id, {
          status: 'failed',
          error,
          report: null,
          summary: null,
          finishedAt: new Date().toISOString(),
        })
        continue
      }
      const parsed = explainSchema.safeParse(r.request)
      if (!parsed.success) {
        const error = `the stored request is no longer valid: ${parsed.error.issues.map((i) => i.message).join('; ')}`
        const finishedAt = new Date().toISOString()
        await this.deps.store.finish(r.id, { status: 'failed', error, report: null, summary: null, finishedAt })
        continue
      }
      await this.deps.store.addAttempts(r.id, 1)
      this.run({ ...newJob(r.id, r.workspace, r.pipeline, parsed.data), created_at: r.createdAt }, parsed.data)
      resumed.push(r.id)
    }
    return resumed
  }

  /**
   * From now on, a job failing because the server shuts down stays `running` in the store, to run
   * again; the attempts of the jobs running now are given back (a graceful stop is not a crash).
   */
  async stop(): Promise<void> {
    this.stopping = true
    for (const id of this.running.keys()) await this.deps.store.addAttempts(id, -1)
  }

  private run(job: ExplanationJob, req: ExplainRequest): void {
    this.running.set(job.id, job)
    const finish = async (end: Parameters<ExplanationStore['finish']>[1]) => {
      // If this write fails the job stays `running` in the store and runs again at the next start.
      await this.deps.store.finish(job.id, end).catch(() => undefined)
      this.running.delete(job.id)
    }
    void this.explain(job.workspace, job.pipeline, req, (done, planned) => {
      job.evaluated_rows = done
      job.planned_rows = planned
      job.progress = planned > 0 ? Math.min(1, done / planned) : 0
    }).then(
      async ({ report, table }) => {
        const summary = aq.toArrowIPC(table, { format: 'stream' }) as Uint8Array
        Object.assign(job, { status: 'succeeded', progress: 1, report, summary })
        await finish({ status: 'succeeded', error: null, report, summary, finishedAt: new Date().toISOString() })
      },
      async (e) => {
        if (this.stopping) return
        Object.assign(job, { status: 'failed', error: errorMessage(e) })
        await finish({
          status: 'failed',
          error: errorMessage(e),
          report: null,
          summary: null,
          finishedAt: new Date().toISOString(),
        })
      },
    )
  }

  async job(workspace: string, id: string): Promise<ExplanationJob> {
    const live = this.running.get(id)
    if (live && live.workspace === workspace) return live
    const r = await this.deps.store.get(id)
    if (!r || r.workspace !== workspace)
      throw new NotFoundError(`no explanation job '${id}' in workspace '${workspace}'`)
    const report = (r.report ?? undefined) as ExplainReport | undefined
    const rows = report?.evaluated_rows ?? 0
    return {
      id: r.id,
      workspace: r.workspace,
      pipeline: r.pipeline,
      method: r.method,
      status: r.status,
      evaluated_rows: rows,
      planned_rows: rows,
      progress: r.status === 'succeeded' ? 1 : 0,
      error: r.error,
      created_at: r.createdAt,
      ...(report ? { report } : {}),
      ...(r.summary ? { summary: r.summary } : {}),
    }
  }
}

function newJob(id: string, workspace: string, pipeline: string, req: ExplainRequest): ExplanationJob {
  return {
    id,
    workspace,
    pipeline,
    method: req.method,
    status: 'running',
    evaluated_rows: 0,
    planned_rows: 0,
    progress: 0,
    error: null,
    created_at: new Date().toISOString(),
  }
}
