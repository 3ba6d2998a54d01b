/**
 * One explanation of a deployed pipeline, start to report: its features and output, the limits
 * checked before any model row runs, the reference rows (given or read from the log), then the
 * method, through the deployment as bulk batches, summarised as a report and an Arquero table.
 */
import * as aq from 'arquero'
import { parseTime } from '../assays/time.js'
import { InvalidRequestError } from '../errors.js'
import type { InferenceLog } from '../logs/inference-log.js'
import { mulberry32 } from '../random.js'
import type { DeploymentManager } from '../serving/deployment.js'
import { evaluator } from './evaluate.js'
import { type FeatureLayout, featureLayout, outputSelector, rowsToMatrix } from './features.js'
import { partialDependence, permutationImportance } from './global.js'
import { baseValue, kernelShap, permutationShap } from './local.js'
import { checkExplainLimits, defaultNsamples, type ExplainLimits, type ExplainRequest, explainCost } from './request.js'

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

export interface ExplainRunDeps {
  manager: DeploymentManager
  log: InferenceLog
  batchRows: number
  limits: ExplainLimits
}

/**
 * The deployment, its features, the explained output and the rows the request carries as feature
 * matrices, once the request is within the limits: what can be refused without running the model
 * (a job's 202 waits for this, so a malformed row is a 400, not a failed job).
 */
export function admitExplanation(deps: ExplainRunDeps, workspace: string, pipeline: string, req: ExplainRequest) {
  const d = deps.manager.require(workspace, pipeline)
  const layout = featureLayout(d.inputs, req.feature_names)
  const out = outputSelector(d.outputs, req.output)
  checkExplainLimits(req, layout.names.length, deps.limits)
  const local = req.method === 'kernel_shap' || req.method === 'permutation_shap'
  const given = {
    ref: 'rows' in req.reference ? rowsToMatrix(layout, req.reference.rows, 'reference.rows') : undefined,
    rows: local && req.rows ? rowsToMatrix(layout, req.rows, 'rows') : undefined,
  }
  return { d, layout, out, given }
}

/** Run an explanation now; `onProgress` hears the model rows evaluated and planned. */
export async function explainPipeline(
  deps: ExplainRunDeps,
  workspace: string,
  pipeline: string,
  req: ExplainRequest,
  onProgress?: (evaluated: number, planned: number) => void,
): Promise<{ report: ExplainReport; table: aq.ColumnTable }> {
  const t0 = performance.now()
  const { d, layout, out, given } = admitExplanation(deps, workspace, pipeline, req)
  const refRows =
    'rows' in req.reference
      ? req.reference.rows
      : await deps.log.query(workspace, pipeline, {
          start: parseTime(req.reference.start),
          end: parseTime(req.reference.end),
          limit: req.reference.limit,
        })
  if (refRows.length === 0) throw new InvalidRequestError(`the log of '${pipeline}' has no rows in the reference range`)
  const F = layout.names.length
  const ref = given.ref ?? rowsToMatrix(layout, refRows, 'reference.rows')
  const n = refRows.length
  const planned = explainCost(req, n, F).rows
  const ev = evaluator({
    infer: (feeds) => d.infer(feeds, { bulk: true }),
    layout,
    output: out,
    batchRows: deps.batchRows,
    onRows: (rows) => onProgress?.(rows, planned),
  })
  const run = { predict: ev.predict, ref, n, layout, req, X: given.rows }
  const { body, table } =
    req.method === 'permutation' || req.method === 'pdp' ? await globalMethod(run) : await localMethod(run)
  const report: ExplainReport = {
    method: req.method,
    workspace,
    pipeline,
    pipeline_version: d.spec.pipelineVersion,
    output: out.label,
    features: layout.names,
    reference_rows: n,
    evaluated_rows: ev.rows(),
    seconds: (performance.now() - t0) / 1000,
    ...body,
  }
  return { report, table }
}

interface Run {
  predict: ReturnType<typeof evaluator>['predict']
  ref: Float64Array
  n: number
  layout: FeatureLayout
  req: ExplainRequest
  /** The rows to explain (local methods), as admitted. */
  X: Float64Array | undefined
}

type Outcome = { body: Record<string, unknown>; table: aq.ColumnTable }

async function globalMethod({ predict, ref, n, layout, req }: Run): Promise<Outcome> {
  const features = pickFeatures(layout.names, req.features)
  if (req.method === 'permutation') {
    const r = await permutationImportance(predict, ref, n, layout.names, features, {
      repeats: req.repeats,
      seed: req.seed,
      ...(req.target ? { target: Float64Array.from(req.target) } : {}),
      ...(req.metric ? { metric: req.metric } : {}),
    })
    return {
      body: { measure: r.measure, baseline_score: r.baseline, repeats: req.repeats, importances: r.importances },
      table: r.table,
    }
  }
  const r = await partialDependence(predict, ref, n, layout.names, features, {
    numPoints: req.num_points,
    bounds: req.bounds,
    iceRows: req.ice_rows,
  })
  return { body: { num_points: req.num_points, curves: r.curves }, table: r.table }
}

async function localMethod({ predict, ref, n, layout, req, X }: Run): Promise<Outcome> {
  if (!req.rows || !X) throw new InvalidRequestError(`method '${req.method}' explains "rows": give the rows to explain`)
  const F = layout.names.length
  const { B, nb } = sampleBackground(ref, n, F, req.background, req.seed)
  const base = await baseValue(predict, B, nb)
  const nsamples = req.nsamples ?? defaultNsamples(F)
  const results = []
  for (let r = 0; r < req.rows.length; r++) {
    const x = X.subarray(r * F, (r + 1) * F)
    const a =
      req.method === 'kernel_shap'
        ? await kernelShap(predict, x, B, nb, base, { nsamples, seed: req.seed + r })
        : await permutationShap(predict, x, B, nb, base, { npermutations: req.npermutations, seed: req.seed + r })
    results.push({ row: r, prediction: a.prediction, attributions: a.phi })
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
  return {
    body: {
      base_value: base,
      background_rows: nb,
      ...(req.method === 'kernel_shap' ? { nsamples } : { npermutations: req.npermutations }),
      rows: results,
    },
    table: aq.table(cols) as aq.ColumnTable,
  }
}

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
