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
import { z } from 'zod'
import { errorMessage, InvalidRequestError, NotFoundError } from '../errors.js'
import type { InferenceLog } from '../logs/inference-log.js'
import { mulberry32 } from '../onnx/random.js'
import type { DeploymentManager } from '../serving/deployment.js'
import type { ExplanationStore } from '../store/types.js'
import { evaluator } from './evaluate.js'
import { featureLayout, outputSelector, rowsToMatrix } from './features.js'
import { partialDependence, permutationImportance } from './global.js'
import { baseValue, kernelShap, permutationShap } from './local.js'

const record = z.record(z.string(), z.unknown())

export const explainSchema = z
  .object({
    method: z.enum(['permutation', 'pdp', 'kernel_shap', 'permutation_shap']),
    /** Reference rows (global methods: the data; local methods: the background), or a range of the log. */
    reference: z.union([
      z.object({ rows: z.array(record).min(1).max(100_000) }).strict(),
      z
        .object({
          start: z.union([z.string(), z.number()]),
          end: z.union([z.string(), z.number()]),
          limit: z.number().int().min(1).max(100_000).default(1000),
        })
        .strict(),
    ]),
    /** Rows to explain (local methods). */
    rows: z.array(record).min(1).max(10_000).optional(),
    /** The output value explained, `out.<output>[i]` (default: the first numeric output's first value). */
    output: z.string().optional(),
    /** Names for the flattened input features (default `x[0]`, `x[1]`, …). */
    feature_names: z.array(z.string()).optional(),
    /** Features to explain (names or indices; default all). Global methods only. */
    features: z.array(z.union([z.string(), z.number().int().min(0)])).optional(),
    /** Permutation importance: targets per reference row and the metric; without them, mean |Δ output|. */
    target: z.array(z.number()).optional(),
    metric: z.enum(['mae', 'mse', 'rmse', 'r2', 'accuracy']).optional(),
    repeats: z.number().int().min(1).max(100).default(5),
    /** Partial dependence: grid points, bounds per feature (default: the reference's min and max), ICE rows kept. */
    num_points: z.number().int().min(2).max(500).default(20),
    bounds: z.record(z.string(), z.tuple([z.number(), z.number()])).default({}),
    ice_rows: z.number().int().min(0).max(1000).default(20),
    /** KernelSHAP coalitions (default 2·M + 2048, as SHAP), background rows sampled from the reference. */
    nsamples: z.number().int().min(2).max(1_000_000).optional(),
    background: z.number().int().min(1).max(10_000).default(100),
    /** Permutation SHAP: random feature orders (each also run reversed). */
    npermutations: z.number().int().min(1).max(1000).default(10),
    seed: z.number().int().default(0),
  })
  .strict()

export type ExplainRequest = z.infer<typeof explainSchema>

export interface ExplainReport {
  method: ExplainRequest['method']
  workspace: string
  pipeline: string
  pipeline_version: number
  output: string
  features: string[]
  reference_rows: number
  evaluated_rows: number
  seconds: number
  [key: string]: unknown
}

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
}

/** Finished explanation jobs kept in the store, oldest deleted first. */
const KEEP_JOBS = 100

export class ExplainService {
  /** Jobs running in this process, with their live progress. */
  private readonly running = new Map<string, ExplanationJob>()
  private stopping = false

  constructor(private readonly deps: ExplainDeps) {}

  /** Validate a request body. */
  parse(body: unknown): ExplainRequest {
    const r = explainSchema.safeParse(body)
    if (!r.success) {
      throw new InvalidRequestError(r.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '))
    }
    return r.data
  }

  /** Run an explanation now. */
  async explain(
    workspace: string,
    pipeline: string,
    req: ExplainRequest,
    onProgress?: (evaluated: number, planned: number) => void,
  ): Promise<{ report: ExplainReport; table: aq.ColumnTable }> {
    const t0 = performance.now()
    const d = this.deps.manager.require(workspace, pipeline)
    const layout = featureLayout(d.inputs, req.feature_names)
    const out = outputSelector(d.outputs, req.output)
    const refRows =
      'rows' in req.reference
        ? req.reference.rows
        : await this.deps.log.query(workspace, pipeline, {
            start: timeOf(req.reference.start),
            end: timeOf(req.reference.end),
            limit: req.reference.limit,
          })
    if (refRows.length === 0)
      throw new InvalidRequestError(`the log of '${pipeline}' has no rows in the reference range`)
    const F = layout.names.length
    const ref = rowsToMatrix(layout, refRows, 'reference.rows')
    const n = refRows.length
    const planned = plannedRows(req, n, F)
    const ev = evaluator({
      infer: (feeds) => d.infer(feeds, { bulk: true }),
      layout,
      output: out,
      batchRows: this.deps.batchRows,
      onRows: (rows) => onProgress?.(rows, planned),
    })
    const common = {
      method: req.method,
      workspace,
      pipeline,
      pipeline_version: d.spec.pipelineVersion,
      output: out.label,
      features: layout.names,
      reference_rows: n,
    }
    let body: Record<string, unknown>
    let table: aq.ColumnTable
    if (req.method === 'permutation' || req.method === 'pdp') {
      const features = pickFeatures(layout.names, req.features)
      if (req.method === 'permutation') {
        const r = await permutationImportance(ev.predict, ref, n, layout.names, features, {
          repeats: req.repeats,
          seed: req.seed,
          ...(req.target ? { target: Float64Array.from(req.target) } : {}),
          ...(req.metric ? { metric: req.metric } : {}),
        })
        body = { measure: r.measure, baseline_score: r.baseline, repeats: req.repeats, importances: r.importances }
        table = r.table
      } else {
        const r = await partialDependence(ev.predict, ref, n, layout.names, features, {
          numPoints: req.num_points,
          bounds: req.bounds,
          iceRows: req.ice_rows,
        })
        body = { num_points: req.num_points, curves: r.curves }
        table = r.table
      }
    } else {
      if (!req.rows) throw new InvalidRequestError(`method '${req.method}' explains "rows": give the rows to explain`)
      const X = rowsToMatrix(layout, req.rows, 'rows')
      const { B, nb } = sampleBackground(ref, n, F, req.background, req.seed)
      const base = await baseValue(ev.predict, B, nb)
      const nsamples = req.nsamples ?? 2 * F + 2048
      const results = []
      for (let r = 0; r < req.rows.length; r++) {
        const x = X.subarray(r * F, (r + 1) * F)
        const a =
          req.method === 'kernel_shap'
            ? await kernelShap(ev.predict, x, B, nb, base, { nsamples, seed: req.seed + r })
            : await permutationShap(ev.predict, x, B, nb, base, {
                npermutations: req.npermutations,
                seed: req.seed + r,
              })
        results.push({ row: r, prediction: a.prediction, attributions: a.phi })
      }
      body = {
        base_value: base,
        background_rows: nb,
        ...(req.method === 'kernel_shap' ? { nsamples } : { npermutations: req.npermutations }),
        rows: results,
      }
      const cols = { row: [] as number[], feature: [] as string[], value: [] as number[], attribution: [] as number[] }
      for (const res of results) {
        res.attributions.forEach((phi, j) => {
          cols.row.push(res.row)
          cols.feature.push(layout.names[j] as string)
          cols.value.push(X[res.row * F + j] as number)
          cols.attribution.push(phi)
        })
      }
      table = aq.table(cols) as aq.ColumnTable
    }
    const report: ExplainReport = {
      ...common,
      evaluated_rows: ev.rows(),
      seconds: (performance.now() - t0) / 1000,
      ...body,
    }
    return { report, table }
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
      report: null,
      summary: null,
      createdAt: job.created_at,
      finishedAt: null,
    })
    await this.deps.store.prune(KEEP_JOBS)
    this.run(job, req)
    return job
  }

  /** Run again the jobs a previous run of the server left unfinished (after deployments are restored). */
  async resume(): Promise<string[]> {
    const resumed: string[] = []
    for (const r of await this.deps.store.running()) {
      const req = explainSchema.parse(r.request)
      this.run({ ...newJob(r.id, r.workspace, r.pipeline, req), created_at: r.createdAt }, req)
      resumed.push(r.id)
    }
    return resumed
  }

  /** From now on, a job failing because the server shuts down stays `running` in the store, to run again. */
  stop(): void {
    this.stopping = true
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

const timeOf = (v: string | number) =>
  typeof v === 'number' ? v : Number.isFinite(Number(v)) ? Number(v) : Date.parse(v)

function pickFeatures(names: string[], wanted?: Array<string | number>): number[] {
  if (!wanted) return names.map((_, i) => i)
  return wanted.map((w) => {
    const j = typeof w === 'number' ? w : names.indexOf(w)
    if (j < 0 || j >= names.length) {
      throw new InvalidRequestError(
        `feature ${JSON.stringify(w)} is not one of ${names.slice(0, 12).join(', ')}${names.length > 12 ? ', …' : ''}`,
      )
    }
    return j
  })
}

/** Up to `k` background rows drawn without replacement from the reference (seeded). */
function sampleBackground(
  ref: Float64Array,
  n: number,
  F: number,
  k: number,
  seed: number,
): { B: Float64Array; nb: number } {
  if (n <= k) return { B: ref, nb: n }
  const idx = Array.from({ length: n }, (_, i) => i)
  const rand = mulberry32(seed ^ 0x5eed)
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rand() * (n - i))
    ;[idx[i], idx[j]] = [idx[j] as number, idx[i] as number]
  }
  const B = new Float64Array(k * F)
  for (let i = 0; i < k; i++) B.set(ref.subarray((idx[i] as number) * F, ((idx[i] as number) + 1) * F), i * F)
  return { B, nb: k }
}

/** Model rows an explanation will evaluate (for progress). */
function plannedRows(req: ExplainRequest, n: number, F: number): number {
  const features = req.features?.length ?? F
  const nb = Math.min(n, req.background)
  const rows = req.rows?.length ?? 0
  switch (req.method) {
    case 'permutation':
      return n * (1 + features * req.repeats)
    case 'pdp':
      return features * req.num_points * n
    case 'kernel_shap':
      return nb + rows * (1 + (req.nsamples ?? 2 * F + 2048) * nb)
    case 'permutation_shap':
      return nb + rows * (1 + 2 * req.npermutations * (F + 1) * nb)
  }
}
