/**
 * A typed client for every lastmile route, used by the CLI and the tests. Errors come back as
 * {@link ApiError} with the server's status, code and message.
 *
 * @example
 * const lm = new LastmileClient({ url: 'http://127.0.0.1:8080', apiKey: process.env.KEY })
 * await lm.uploadModel('default', 'fraud', bytes)
 * await lm.putPipeline('default', 'fraud', [{ model: 'fraud' }])
 * await lm.deploy('default', 'fraud')
 * const rows = await lm.inferRecords('default', 'fraud', [{ x: [0.1, 0.2] }])
 */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message)
    this.name = 'ApiError'
  }
}

export interface ClientOptions {
  url: string
  apiKey?: string
  /** A fetch to use instead of the global one (tests pass the app's `request`). */
  fetch?: (url: string, init: RequestInit) => Promise<Response>
}

// The bodies' types come from the wire schemas the server documents its routes with (/openapi.json).
import { parseExactJson } from '../exact-json.js'
import { ARROW_TYPES, BYTES_TYPE, JSON_TYPE, RECORDS_TYPE } from '../formats/media-types.js'
import type { Assay, AssayResult, AssayWindow } from '../wire/assays.js'
import type { ExplainReport, ExplanationJob } from '../wire/explain.js'
import type { Job } from '../wire/jobs.js'
import type { LiveSnapshotWire } from '../wire/live.js'
import type { InferResponse } from '../wire/oip.js'
import type { Optimization, OptimizeOptions } from '../wire/optimize.js'
import type { FeedbackResult, OutcomeMetrics, OutcomeSettings, OutcomeSpecInput } from '../wire/outcomes.js'
import type { ChallengerReportWire, Decision, PromotionRuleView } from '../wire/promotion.js'
import type {
  ApiKey,
  AuditRow,
  Caller,
  CreatedApiKey,
  DeploymentStatus,
  DeployOptions,
  Model,
  ModelSummary,
  ModelUpload,
  ModelVersion,
  Pipeline,
  PipelinePut,
  PipelineSummary,
  PipelineVersion,
  TensorMeta,
  Workspace,
  WorkspaceDetail,
} from '../wire/registry.js'
import type { SloStatus } from '../wire/slo.js'
import type { TrainingSet } from '../wire/training-sets.js'

export type {
  ApiKey,
  Assay,
  AssayResult,
  AssayWindow,
  AuditRow,
  Caller,
  CreatedApiKey,
  DeploymentStatus,
  DeployOptions,
  ExplainReport,
  ExplanationJob,
  InferResponse,
  LiveSnapshotWire,
  Model,
  ModelSummary,
  ModelUpload,
  ModelVersion,
  Pipeline,
  PipelinePut,
  PipelineSummary,
  PipelineVersion,
  TensorMeta,
  Workspace,
  WorkspaceDetail,
}

/** Tensor elements as the client reads them: INT64/UINT64 values past 2^53 as bigints (exact), NaN and ±Infinity as numbers. */
export type TensorValues = Array<number | bigint | string | boolean | TensorValues>

/**
 * An Open Inference Protocol answer as {@link LastmileClient.inferOip} reads it: outputs' `data`
 * exact ({@link TensorValues}), where JSON.parse would round 64-bit integers and refuse the `NaN`
 * and `Infinity` literals the server writes as Triton's does.
 */
export type OipAnswer = Omit<InferResponse, 'outputs'> & {
  outputs: Array<Omit<InferResponse['outputs'][number], 'data'> & { data?: TensorValues }>
}

/** A file format a batch job reads and writes. */
export type JobFormatName = Job['format']

/** A batch job's status and progress (GET /v1/jobs/{id}). */
export type JobStatus = Job

const enc = encodeURIComponent

/** lastmile's structured error (its own routes). */
type ErrorBody = { code?: string; message?: string; details?: unknown }
const inferPath = (ws: string, name: string) => `/v1/workspaces/${enc(ws)}/pipelines/${enc(name)}/infer`

export class LastmileClient {
  private readonly base: string
  private readonly doFetch: NonNullable<ClientOptions['fetch']>

  constructor(private readonly opts: ClientOptions) {
    this.base = opts.url.replace(/\/+$/, '')
    this.doFetch = opts.fetch ?? ((url, init) => fetch(url, init))
  }

  /** Send a request; throws {@link ApiError} unless it succeeded. */
  private async request(
    method: string,
    path: string,
    body?: { json: unknown } | { bytes: Uint8Array | ReadableStream<Uint8Array>; type: string },
    signal?: AbortSignal,
  ): Promise<Response> {
    const headers: Record<string, string> = {}
    if (this.opts.apiKey) headers.authorization = `Bearer ${this.opts.apiKey}`
    let payload: string | Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array> | undefined
    if (body && 'json' in body) {
      headers['content-type'] = JSON_TYPE
      payload = JSON.stringify(body.json)
    } else if (body) {
      headers['content-type'] = body.type
      payload = body.bytes as Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array>
    }
    const res = await this.doFetch(`${this.base}${path}`, {
      method,
      headers,
      ...(payload !== undefined ? { body: payload } : {}),
      ...(signal ? { signal } : {}),
      // A streamed upload (a file of many GB) goes out as it is read.
      ...(payload instanceof ReadableStream ? { duplex: 'half' } : {}),
    } as RequestInit)
    if (!res.ok) {
      const type = res.headers.get('content-type') ?? ''
      const body = type.includes('json') ? ((await res.json()) as { error?: unknown }) : undefined
      // lastmile's routes answer {"error": {code, message, details?}}; the OIP v2 routes the spec's
      // {"error": "<message>"}, with the code in the Lastmile-Error-Code header.
      const err = typeof body?.error === 'object' && body.error !== null ? (body.error as ErrorBody) : undefined
      throw new ApiError(
        res.status,
        err?.code ?? res.headers.get('lastmile-error-code') ?? 'http_error',
        err?.message ?? (typeof body?.error === 'string' ? body.error : `${method} ${path}: HTTP ${res.status}`),
        err?.details,
      )
    }
    return res
  }

  /**
   * Send a request and read its answer. `exact`: JSON that carries tensors is read with the exact
   * parser (64-bit integers past 2^53 as bigints, NaN and ±Infinity literals); the other routes'
   * JSON with JSON.parse, whose numbers are always plain.
   */
  private async call<T>(
    method: string,
    path: string,
    body?: { json: unknown } | { bytes: Uint8Array | ReadableStream<Uint8Array>; type: string },
    exact = false,
  ): Promise<T> {
    const res = await this.request(method, path, body)
    const type = res.headers.get('content-type') ?? ''
    if (res.status === 204) return undefined as T
    if (type.includes('json')) return (exact ? parseExactJson(await res.text()) : await res.json()) as T
    if (type.startsWith('text/')) return (await res.text()) as T
    return new Uint8Array(await res.arrayBuffer()) as T
  }

  // Workspaces
  listWorkspaces() {
    return this.call<Workspace[]>('GET', '/v1/workspaces')
  }
  createWorkspace(name: string) {
    return this.call<Workspace>('POST', '/v1/workspaces', { json: { name } })
  }
  getWorkspace(ws: string) {
    return this.call<WorkspaceDetail>('GET', `/v1/workspaces/${enc(ws)}`)
  }
  deleteWorkspace(ws: string) {
    return this.call<{ deleted: string }>('DELETE', `/v1/workspaces/${enc(ws)}`)
  }

  // Models
  uploadModel(ws: string, name: string, bytes: Uint8Array) {
    return this.call<ModelUpload>('POST', `/v1/workspaces/${enc(ws)}/models/${enc(name)}`, {
      bytes,
      type: BYTES_TYPE,
    })
  }
  listModels(ws: string) {
    return this.call<ModelSummary[]>('GET', `/v1/workspaces/${enc(ws)}/models`)
  }
  getModel(ws: string, name: string) {
    return this.call<Model>('GET', `/v1/workspaces/${enc(ws)}/models/${enc(name)}`)
  }
  getModelVersion(ws: string, name: string, version: number) {
    return this.call<ModelVersion>('GET', `/v1/workspaces/${enc(ws)}/models/${enc(name)}/versions/${version}`)
  }
  deleteModel(ws: string, name: string) {
    return this.call<{ deleted: string }>('DELETE', `/v1/workspaces/${enc(ws)}/models/${enc(name)}`)
  }

  // Pipelines
  /** A new version from steps, with its service-level objectives when given (`slo`, the README's fields). */
  putPipeline(ws: string, name: string, steps: unknown[], slo?: unknown) {
    const json = slo === undefined ? { steps } : { steps, slo }
    return this.call<PipelinePut>('PUT', `/v1/workspaces/${enc(ws)}/pipelines/${enc(name)}`, { json })
  }
  listPipelines(ws: string) {
    return this.call<PipelineSummary[]>('GET', `/v1/workspaces/${enc(ws)}/pipelines`)
  }
  getPipeline(ws: string, name: string) {
    return this.call<Pipeline>('GET', `/v1/workspaces/${enc(ws)}/pipelines/${enc(name)}`)
  }
  getPipelineVersion(ws: string, name: string, version: number) {
    return this.call<PipelineVersion>('GET', `/v1/workspaces/${enc(ws)}/pipelines/${enc(name)}/versions/${version}`)
  }
  deletePipeline(ws: string, name: string) {
    return this.call<{ deleted: string }>('DELETE', `/v1/workspaces/${enc(ws)}/pipelines/${enc(name)}`)
  }
  deploy(ws: string, name: string, options: DeployOptions = {}) {
    return this.call<DeploymentStatus>('POST', `/v1/workspaces/${enc(ws)}/pipelines/${enc(name)}/deploy`, {
      json: options,
    })
  }
  undeploy(ws: string, name: string) {
    return this.call<{ undeployed: string }>('POST', `/v1/workspaces/${enc(ws)}/pipelines/${enc(name)}/undeploy`)
  }
  deployment(ws: string, name: string) {
    return this.call<DeploymentStatus>('GET', `/v1/workspaces/${enc(ws)}/pipelines/${enc(name)}/deployment`)
  }

  // Inference
  /**
   * pandas-records in, flat answers out (`in.x`, `out.y`, `metadata.model` keys: `dataset.flatten`),
   * read exactly: INT64/UINT64 values past 2^53 come back as bigints.
   */
  inferRecords(ws: string, name: string, records: Record<string, unknown>[]) {
    return this.call<Array<Record<string, unknown>>>(
      'POST',
      `${inferPath(ws, name)}?dataset.flatten=true`,
      { bytes: new TextEncoder().encode(JSON.stringify(records)), type: RECORDS_TYPE },
      true,
    )
  }
  inferArrow(ws: string, name: string, ipc: Uint8Array, format: 'stream' | 'file' = 'stream') {
    return this.call<Uint8Array>('POST', `${inferPath(ws, name)}?dataset.flatten=true`, {
      bytes: ipc,
      type: ARROW_TYPES[format],
    })
  }
  /**
   * An Open Inference Protocol v2 request to pipeline `model` of workspace default; the answer is
   * read exactly ({@link OipAnswer}: NaN and ±Infinity outputs, 64-bit integers past 2^53).
   */
  inferOip(
    model: string,
    request: { id?: string; inputs: unknown[]; outputs?: unknown[]; parameters?: unknown },
    version?: number,
  ) {
    const path =
      version === undefined ? `/v2/models/${enc(model)}/infer` : `/v2/models/${enc(model)}/versions/${version}/infer`
    return this.call<OipAnswer>('POST', path, { json: request }, true)
  }

  // Batch jobs
  /** Score a file (bytes, or a stream for large files) through a deployed pipeline as a job. */
  createJob(
    ws: string,
    pipeline: string,
    file: Uint8Array | ReadableStream<Uint8Array>,
    opts: { format: JobFormatName; features?: string[]; maxErrorShare?: number },
  ) {
    const q = new URLSearchParams({ format: opts.format })
    if (opts.features) q.set('features', opts.features.join(','))
    if (opts.maxErrorShare !== undefined) q.set('max_error_share', String(opts.maxErrorShare))
    return this.call<JobStatus>('POST', `/v1/workspaces/${enc(ws)}/pipelines/${enc(pipeline)}/jobs?${q}`, {
      bytes: file,
      type: BYTES_TYPE,
    })
  }
  job(id: string) {
    return this.call<JobStatus>('GET', `/v1/jobs/${enc(id)}`)
  }
  listJobs(ws: string) {
    return this.call<JobStatus[]>('GET', `/v1/workspaces/${enc(ws)}/jobs`)
  }
  /** Cancel an active job (its status comes back); delete a finished one (undefined). */
  cancelJob(id: string) {
    return this.call<JobStatus | undefined>('DELETE', `/v1/jobs/${enc(id)}`)
  }
  /** The result as a streaming response (write `body` to a file). */
  jobResult(id: string, format?: JobFormatName) {
    return this.request('GET', `/v1/jobs/${enc(id)}/result${format ? `?format=${format}` : ''}`)
  }

  // Training sets
  /** Export `[start, end)` of the pipeline's log joined with its outcomes (runs in the background): its record. */
  exportTrainingSet(ws: string, pipeline: string, range: { start: string | number; end: string | number }) {
    return this.call<TrainingSet>('POST', `/v1/workspaces/${enc(ws)}/pipelines/${enc(pipeline)}/training-sets`, {
      json: range,
    })
  }
  /** The pipeline's training sets, newest first. */
  trainingSets(ws: string, pipeline: string) {
    return this.call<TrainingSet[]>('GET', `/v1/workspaces/${enc(ws)}/pipelines/${enc(pipeline)}/training-sets`)
  }
  /** A training set's Parquet file as a streaming response (write `body` to a file). */
  downloadTrainingSet(ws: string, pipeline: string, file: string) {
    return this.request('GET', `/v1/workspaces/${enc(ws)}/pipelines/${enc(pipeline)}/training-sets/${enc(file)}`)
  }

  // Inference log
  /**
   * A page of the inference log as a raw response (JSON rows or Arrow; `Link` rel="next" when
   * more): a time range, and only a pipeline version's, a model's or failed checks' rows when asked.
   */
  logs(
    ws: string,
    pipeline: string,
    query: {
      start?: string
      end?: string
      limit?: number
      columns?: string[]
      cursor?: string
      pipeline_version?: number
      model?: string
      check_failures?: boolean
    } = {},
    format: 'json' | 'arrow' = 'json',
  ) {
    const q = new URLSearchParams({ format })
    for (const [k, v] of Object.entries(query))
      if (v !== undefined) q.set(k, Array.isArray(v) ? v.join(',') : String(v))
    return this.request('GET', `/v1/workspaces/${enc(ws)}/pipelines/${enc(pipeline)}/logs?${q}`)
  }

  // Drift assays
  listAssays(ws: string) {
    return this.call<Assay[]>('GET', `/v1/workspaces/${enc(ws)}/assays`)
  }
  /** Define an assay (the README's fields); its baseline is frozen now. */
  createAssay(ws: string, definition: unknown) {
    return this.call<Assay>('POST', `/v1/workspaces/${enc(ws)}/assays`, { json: definition })
  }
  /** Score given baseline and window values with a summarizer, as the scheduler would: nothing is stored. */
  previewAssay(ws: string, request: unknown) {
    return this.call<AssayResult>('POST', `/v1/workspaces/${enc(ws)}/assays/preview`, { json: request })
  }
  runAssay(ws: string, id: number, range: { start: string | number; end: string | number }) {
    return this.call<AssayWindow[]>('POST', `/v1/workspaces/${enc(ws)}/assays/${id}/run`, { json: range })
  }
  assayResults(ws: string, id: number) {
    return this.call<AssayWindow[]>('GET', `/v1/workspaces/${enc(ws)}/assays/${id}/results`)
  }
  /** An assay's chart as SVG text: its score per window (`score`), or the latest window's bins. */
  async assayChart(ws: string, id: number, kind: 'score' | 'bins' = 'score') {
    const q = kind === 'bins' ? '?kind=bins' : ''
    return (await this.request('GET', `/v1/workspaces/${enc(ws)}/assays/${id}/chart.svg${q}`)).text()
  }
  deleteAssay(ws: string, id: number) {
    return this.call<{ deleted: number }>('DELETE', `/v1/workspaces/${enc(ws)}/assays/${id}`)
  }

  // Live view
  /** What the pipeline is doing now: rates, latency per stage, rows per arm over `window` seconds, its last minute. */
  liveStats(ws: string, pipeline: string, window?: number) {
    const q = window === undefined ? '' : `?window=${window}`
    return this.call<LiveSnapshotWire>('GET', `/v1/workspaces/${enc(ws)}/pipelines/${enc(pipeline)}/stats${q}`)
  }

  /**
   * The same snapshots pushed by the server every `intervalMs` (…/live, server-sent events), until
   * `signal` aborts or the server ends the stream (a shutdown): read with `for await`.
   */
  async *live(
    ws: string,
    pipeline: string,
    opts: { intervalMs?: number; window?: number; signal?: AbortSignal } = {},
  ): AsyncGenerator<LiveSnapshotWire> {
    const q = new URLSearchParams()
    if (opts.intervalMs !== undefined) q.set('interval_ms', String(opts.intervalMs))
    if (opts.window !== undefined) q.set('window', String(opts.window))
    const path = `/v1/workspaces/${enc(ws)}/pipelines/${enc(pipeline)}/live?${q}`
    const res = await this.request('GET', path, undefined, opts.signal)
    if (!res.body) return
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
    let buffer = ''
    try {
      for (;;) {
        const { value, done } = await reader.read()
        if (done) return
        buffer += value.replace(/\r\n?/g, '\n')
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const lines = buffer.slice(0, end).split('\n')
          buffer = buffer.slice(end + 2)
          const data = lines.filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart())
          if (lines.includes('event: stats') && data.length) yield JSON.parse(data.join('\n')) as LiveSnapshotWire
        }
      }
    } finally {
      await reader.cancel().catch(() => {}) // closes the connection when the caller stops early
    }
  }

  // Service-level objectives
  /** The deployed version's objectives: attainment, error budget left, burn rates, alerts. */
  slo(ws: string, pipeline: string) {
    return this.call<SloStatus>('GET', `/v1/workspaces/${enc(ws)}/pipelines/${enc(pipeline)}/slo`)
  }
  /** Prometheus rules equivalent to the built-in alerts, as YAML text. */
  async sloRules(ws: string, pipeline: string, format: 'prometheus' | 'prometheus-operator' = 'prometheus') {
    const res = await this.request(
      'GET',
      `/v1/workspaces/${enc(ws)}/pipelines/${enc(pipeline)}/slo/rules?format=${format}`,
    )
    return res.text()
  }

  // Ground truth
  /** Set the pipeline's outcome settings (`task`, `output`, `labels`, `key`, `retraining`). */
  putOutcomeSettings(ws: string, pipeline: string, settings: OutcomeSpecInput) {
    return this.call<OutcomeSettings>('PUT', `/v1/workspaces/${enc(ws)}/pipelines/${enc(pipeline)}/outcomes`, {
      json: settings,
    })
  }
  getOutcomeSettings(ws: string, pipeline: string) {
    return this.call<OutcomeSettings>('GET', `/v1/workspaces/${enc(ws)}/pipelines/${enc(pipeline)}/outcomes`)
  }
  deleteOutcomeSettings(ws: string, pipeline: string) {
    return this.call<void>('DELETE', `/v1/workspaces/${enc(ws)}/pipelines/${enc(pipeline)}/outcomes`)
  }
  /**
   * Send actual outcomes: rows `{id, row?, outcome}` (or `{key, outcome}`) as JSON, or a CSV or
   * Arrow IPC body with those columns (`bytes` and its media type: `text/csv`, Arrow's stream type).
   */
  feedback(
    ws: string,
    pipeline: string,
    outcomes: Array<Record<string, unknown>> | { bytes: Uint8Array; type: string },
  ) {
    return this.call<FeedbackResult>(
      'POST',
      `/v1/workspaces/${enc(ws)}/pipelines/${enc(pipeline)}/feedback`,
      Array.isArray(outcomes) ? { json: { outcomes } } : outcomes,
    )
  }
  /** Outcome metrics per window (`window` seconds), version and arm: realized beside estimated. */
  outcomeMetrics(
    ws: string,
    pipeline: string,
    q: { start?: string | number; end?: string | number; window?: number } = {},
  ) {
    const query = new URLSearchParams(Object.entries(q).map(([k, v]): [string, string] => [k, String(v)])).toString()
    return this.call<OutcomeMetrics>(
      'GET',
      `/v1/workspaces/${enc(ws)}/pipelines/${enc(pipeline)}/outcomes/metrics${query ? `?${query}` : ''}`,
    )
  }

  // Champion vs challenger
  /** A version's champion and challengers (the deployed one by default): metrics per arm, latency, drift, the test. */
  challengers(ws: string, pipeline: string, q: { version?: number; start?: string; end?: string } = {}) {
    const query = new URLSearchParams(Object.entries(q).map(([k, v]): [string, string] => [k, String(v)])).toString()
    return this.call<ChallengerReportWire>(
      'GET',
      `/v1/workspaces/${enc(ws)}/pipelines/${enc(pipeline)}/challengers${query ? `?${query}` : ''}`,
    )
  }
  /** Put `model` beside the deployed model as a `shadow` or a `canary` of `weight`%: a new version, hot-swapped in. */
  deployChallenger(ws: string, pipeline: string, body: { model: string; mode?: 'shadow' | 'canary'; weight?: number }) {
    return this.call<{ version: number; steps: unknown[] }>(
      'POST',
      `/v1/workspaces/${enc(ws)}/pipelines/${enc(pipeline)}/challenger`,
      { json: body },
    )
  }
  /** Set the pipeline's promotion rule (the README's fields); answers it with its defaults. */
  putPromotion(ws: string, pipeline: string, rule: Record<string, unknown>) {
    return this.call<PromotionRuleView>('PUT', `/v1/workspaces/${enc(ws)}/pipelines/${enc(pipeline)}/promotion`, {
      json: rule,
    })
  }
  getPromotion(ws: string, pipeline: string) {
    return this.call<PromotionRuleView>('GET', `/v1/workspaces/${enc(ws)}/pipelines/${enc(pipeline)}/promotion`)
  }
  deletePromotion(ws: string, pipeline: string) {
    return this.call<{ deleted: string }>('DELETE', `/v1/workspaces/${enc(ws)}/pipelines/${enc(pipeline)}/promotion`)
  }
  /** The promotion rule's decisions, newest first: at most `limit`, older than id `before`. */
  decisions(ws: string, pipeline: string, q: { limit?: number; before?: number } = {}) {
    const query = new URLSearchParams(Object.entries(q).map(([k, v]): [string, string] => [k, String(v)])).toString()
    return this.call<Decision[]>(
      'GET',
      `/v1/workspaces/${enc(ws)}/pipelines/${enc(pipeline)}/decisions${query ? `?${query}` : ''}`,
    )
  }

  // Explanations
  /** An explanation report (JSON), or its chart / Arrow table as a raw response (`format`). */
  explain(ws: string, pipeline: string, request: unknown) {
    return this.call<ExplainReport>('POST', `/v1/workspaces/${enc(ws)}/pipelines/${enc(pipeline)}/explain`, {
      json: request,
    })
  }
  explainAs(ws: string, pipeline: string, request: unknown, format: 'svg' | 'arrow') {
    return this.request('POST', `/v1/workspaces/${enc(ws)}/pipelines/${enc(pipeline)}/explain?format=${format}`, {
      json: request,
    })
  }

  /** Start an explanation as a job (202); follow it with {@link LastmileClient.explanation}. */
  explainJob(ws: string, pipeline: string, request: unknown) {
    return this.call<ExplanationJob>(
      'POST',
      `/v1/workspaces/${enc(ws)}/pipelines/${enc(pipeline)}/explain?async=true`,
      { json: request },
    )
  }
  explanation(ws: string, id: string) {
    return this.call<ExplanationJob>('GET', `/v1/workspaces/${enc(ws)}/explanations/${enc(id)}`)
  }

  // Measured tuning
  /**
   * Start a tuning run on a deployed pipeline (202); follow it with {@link LastmileClient.optimization}
   * until its status is no longer `running`. `apply`: redeploy with the recommendation when it ends.
   */
  optimize(ws: string, pipeline: string, options: OptimizeOptions = {}, opts: { apply?: boolean } = {}) {
    return this.call<Optimization>(
      'POST',
      `/v1/workspaces/${enc(ws)}/pipelines/${enc(pipeline)}/optimize${opts.apply ? '?apply=true' : ''}`,
      { json: options },
    )
  }
  optimization(ws: string, id: string) {
    return this.call<Optimization>('GET', `/v1/workspaces/${enc(ws)}/optimizations/${enc(id)}`)
  }
  /** A pipeline's tuning runs, newest first. */
  optimizations(ws: string, pipeline: string, limit?: number) {
    return this.call<Optimization[]>(
      'GET',
      `/v1/workspaces/${enc(ws)}/pipelines/${enc(pipeline)}/optimizations${limit === undefined ? '' : `?limit=${limit}`}`,
    )
  }

  // API keys
  /** The key this client sends: its workspace and role (keys off: null, and every right). */
  me() {
    return this.call<Caller>('GET', '/v1/me')
  }
  createKey(ws: string, name: string, role: 'admin' | 'deployer' | 'viewer') {
    return this.call<CreatedApiKey>('POST', `/v1/workspaces/${enc(ws)}/keys`, { json: { name, role } })
  }
  listKeys(ws: string) {
    return this.call<ApiKey[]>('GET', `/v1/workspaces/${enc(ws)}/keys`)
  }
  revokeKey(ws: string, id: string) {
    return this.call<{ revoked: string }>('DELETE', `/v1/workspaces/${enc(ws)}/keys/${enc(id)}`)
  }

  // Audit trail
  /** Changes made through the API, newest first: a workspace's (its admins), or every one (a server admin). */
  audit(ws?: string, page: { limit?: number; before?: number } = {}) {
    const q = new URLSearchParams()
    if (page.limit !== undefined) q.set('limit', String(page.limit))
    if (page.before !== undefined) q.set('before', String(page.before))
    const path = ws === undefined ? '/v1/audit' : `/v1/workspaces/${enc(ws)}/audit`
    return this.call<AuditRow[]>('GET', `${path}?${q}`)
  }

  // Operations
  ready() {
    return this.call<{ ready: boolean }>('GET', '/v2/health/ready')
  }
  openapi() {
    return this.call<Record<string, unknown>>('GET', '/openapi.json')
  }
  metrics() {
    return this.call<string>('GET', '/metrics')
  }
}
