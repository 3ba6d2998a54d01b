/**
 * Prometheus metrics (prom-client): requests and rows by pipeline and status, latency per stage,
 * batch sizes, queue depth, requests in flight, replicas and autoscaling decisions, and what each
 * deployment and the GPU run on. One registry per server.
 */
import client from 'prom-client'
import type { AssayService } from '../assays/service.js'
import type { Engine } from '../engine/engine.js'
import type { LiveStats } from '../live/stats.js'
import type { InferenceLog } from '../logs/inference-log.js'
import type { Deployment, DeploymentManager, DeploymentObserver, InferResult } from '../serving/deployment.js'
import type { SloService } from '../slo/service.js'
import { sloMetrics } from './slo-metrics.js'

const SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
const ROWS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 65536]

/**
 * A sample line's `workspace` label. The text format escapes `"` inside label values as `\"`, so
 * `workspace="` can only start a real label, never hide inside another label's value.
 */
const WORKSPACE_LABEL = /[{,]workspace="((?:[^"\\]|\\.)*)"/

/** Rows a decoded request carries, as a refused one is counted (dim 0 of its first input; 0 for none). */
export function feedRows(feeds: Record<string, { dims: readonly number[] }>): number {
  return Object.values(feeds)[0]?.dims[0] ?? 0
}

export class Metrics {
  readonly registry = new client.Registry()
  private readonly requests: client.Counter<'workspace' | 'pipeline' | 'protocol' | 'code'>
  private readonly rows: client.Counter<'workspace' | 'pipeline' | 'protocol' | 'code'>
  private readonly stages: client.Histogram<'workspace' | 'pipeline' | 'stage'>
  private readonly batchRows: client.Histogram<'workspace' | 'pipeline'>
  private readonly decisions: client.Counter<'workspace' | 'pipeline' | 'direction'>

  constructor(
    manager: DeploymentManager,
    engine: Engine,
    observe?: { assays: AssayService; inferenceLog: InferenceLog; slo: SloService; live: LiveStats },
  ) {
    this.slo = observe?.slo
    this.live = observe?.live
    const registers = [this.registry]
    client.collectDefaultMetrics({ register: this.registry, prefix: 'lastmile_' })
    // prom-client's totals of active handles, requests and resources are gauges named `_total`,
    // which Prometheus' linter refuses; their per-type twins (`…_active_handles{type}`) sum to them.
    for (const what of ['handles', 'requests', 'resources'])
      this.registry.removeSingleMetric(`lastmile_nodejs_active_${what}_total`)
    this.requests = new client.Counter({
      name: 'lastmile_requests_total',
      help: 'Inference requests by pipeline, protocol and HTTP status code',
      labelNames: ['workspace', 'pipeline', 'protocol', 'code'],
      registers,
    })
    this.rows = new client.Counter({
      name: 'lastmile_rows_total',
      help: 'Rows scored (or refused) by pipeline, protocol and HTTP status code',
      labelNames: ['workspace', 'pipeline', 'protocol', 'code'],
      registers,
    })
    this.stages = new client.Histogram({
      name: 'lastmile_stage_seconds',
      help: 'Latency per stage: queue and total per request; pre, model and post per batch',
      labelNames: ['workspace', 'pipeline', 'stage'],
      buckets: SECONDS,
      registers,
    })
    this.batchRows = new client.Histogram({
      name: 'lastmile_batch_rows',
      help: 'Rows per batch run',
      labelNames: ['workspace', 'pipeline'],
      buckets: ROWS,
      registers,
    })
    new client.Gauge({
      name: 'lastmile_queue_rows',
      help: 'Rows waiting for a batch, by pipeline',
      labelNames: ['workspace', 'pipeline'],
      registers,
      collect() {
        this.reset()
        for (const d of manager.list()) this.set({ workspace: d.workspace, pipeline: d.name }, d.queuedRows())
      },
    })
    // The name a Kubernetes autoscaler (KEDA, a HorizontalPodAutoscaler on custom metrics) sums
    // over pods: keep it as it is.
    new client.Gauge({
      name: 'lastmile_in_flight_requests',
      help: 'Inference requests admitted and not yet answered, by pipeline',
      labelNames: ['workspace', 'pipeline'],
      registers,
      collect() {
        this.reset()
        for (const d of manager.list()) this.set({ workspace: d.workspace, pipeline: d.name }, d.inFlightRequests)
      },
    })
    new client.Gauge({
      name: 'lastmile_replicas',
      help: "Replicas serving each pipeline (copies of its models' sessions)",
      labelNames: ['workspace', 'pipeline'],
      registers,
      collect() {
        this.reset()
        for (const d of manager.list()) this.set({ workspace: d.workspace, pipeline: d.name }, d.replicaCount)
      },
    })
    this.decisions = new client.Counter({
      name: 'lastmile_autoscaler_decisions_total',
      help: 'Changes of the replica count the autoscaler decided, by pipeline and direction (up, down)',
      labelNames: ['workspace', 'pipeline', 'direction'],
      registers,
    })
    new client.Gauge({
      name: 'lastmile_deployment_info',
      help: 'Deployed pipelines: version, model, configured and active backend (value 1)',
      labelNames: ['workspace', 'pipeline', 'version', 'model', 'backend', 'active_backend'],
      registers,
      collect() {
        this.reset()
        for (const d of manager.list()) {
          const s = d.status()
          this.set(
            {
              workspace: s.workspace,
              pipeline: s.pipeline,
              version: String(s.pipeline_version),
              model: s.model,
              backend: s.backend,
              active_backend: s.active_backend,
            },
            1,
          )
        }
      },
    })
    if (observe) {
      new client.Gauge({
        name: 'lastmile_assay_score',
        help: 'Latest window score of each assay',
        labelNames: ['workspace', 'pipeline', 'assay'],
        registers,
        collect() {
          this.reset()
          for (const a of observe.assays.latest())
            this.set({ workspace: a.workspace, pipeline: a.pipeline, assay: a.name }, a.score)
        },
      })
      new client.Gauge({
        name: 'lastmile_assay_status',
        help: 'Latest window status of each assay: 0 ok, 1 warning, 2 alert',
        labelNames: ['workspace', 'pipeline', 'assay'],
        registers,
        collect() {
          this.reset()
          const code: Record<string, number> = { ok: 0, warning: 1, alert: 2 }
          for (const a of observe.assays.latest())
            this.set({ workspace: a.workspace, pipeline: a.pipeline, assay: a.name }, code[a.status] ?? -1)
        },
      })
      sloMetrics(observe.slo, registers)
      // A counter (promtool: only counters end in _total): the log's count only grows, from 0 at
      // each start, which Prometheus reads as a counter reset.
      new client.Counter({
        name: 'lastmile_log_dropped_rows_total',
        help: 'Rows not logged because the inference log buffer was full, since the server started',
        registers,
        collect() {
          this.reset()
          this.inc(observe.inferenceLog.dropped)
        },
      })
    }
    new client.Gauge({
      name: 'lastmile_gpu_info',
      help: 'The WebGPU adapter and device state, when the GPU is open (value 1)',
      labelNames: ['backend', 'vendor', 'architecture', 'description', 'software', 'state', 'generation'],
      registers,
      async collect() {
        this.reset()
        const s = await engine.status()
        if (!('adapter' in s.gpu)) return
        const a = s.gpu.adapter
        this.set(
          {
            backend: a.backend,
            vendor: a.vendor,
            architecture: a.architecture,
            description: a.description,
            software: String(a.software),
            state: s.gpu.state,
            generation: String(s.gpu.generation),
          },
          1,
        )
      },
    })
  }

  /**
   * The Prometheus text: every series, or, given a workspace, that workspace's series and those
   * with no workspace label (the process, the GPU): what a key of one tenant may see.
   */
  async text(workspace?: string): Promise<string> {
    const all = await this.registry.metrics()
    if (workspace === undefined) return all
    return all
      .split('\n')
      .filter((line) => {
        if (line === '' || line.startsWith('#')) return true
        const ws = WORKSPACE_LABEL.exec(line)?.[1]
        return ws === undefined || ws === workspace
      })
      .join('\n')
  }

  /** Batch-level observations (passed to its batcher) and autoscaling decisions of a deployment. */
  observer(d: Deployment): DeploymentObserver {
    const labels = { workspace: d.workspace, pipeline: d.name }
    // Labelled children, resolved once: label hashing per observation is measurable on the hot path.
    const rows = this.batchRows.labels(labels)
    const pre = this.stages.labels({ ...labels, stage: 'pre' })
    const model = this.stages.labels({ ...labels, stage: 'model' })
    const post = this.stages.labels({ ...labels, stage: 'post' })
    const live = this.live
    return {
      onBatch: (n, _requests, t) => {
        rows.observe(n)
        pre.observe(t.pre / 1000)
        model.observe(t.model / 1000)
        post.observe(t.post / 1000)
        live?.batch(d.workspace, d.name, t)
      },
      onScale: (decision) => this.decisions.inc({ ...labels, direction: decision.direction }),
    }
  }

  private readonly slo: SloService | undefined
  private readonly live: LiveStats | undefined
  private readonly children = new Map<
    string,
    { requests: client.Counter; rows: client.Counter; queue: client.Histogram; total: client.Histogram }
  >()

  /**
   * Count one answered or refused request, toward the metrics and the pipeline's objectives:
   * `rows` it carried (0 when it failed before they were decoded), `started` its arrival
   * (`performance.now()`), `result` when answered.
   */
  request(
    labels: { workspace: string; pipeline: string; protocol: string },
    outcome: { code: number; rows: number; started: number; result?: InferResult },
  ): void {
    const { code, result } = outcome
    const rows = result?.rows ?? 0
    if (labels.pipeline !== '') {
      this.slo?.record(labels.workspace, labels.pipeline, {
        code,
        ms: performance.now() - outcome.started,
        rows: outcome.rows,
        rowModels: result?.rowModels,
      })
      this.live?.request(labels.workspace, labels.pipeline, {
        code,
        rows,
        timings: result?.timings,
        rowModels: result?.rowModels,
      })
    }
    const key = `${labels.workspace}\0${labels.pipeline}\0${labels.protocol}\0${code}`
    let c = this.children.get(key)
    if (!c) {
      const l = { workspace: labels.workspace, pipeline: labels.pipeline }
      c = {
        requests: this.requests.labels({ ...labels, code: String(code) }) as unknown as client.Counter,
        rows: this.rows.labels({ ...labels, code: String(code) }) as unknown as client.Counter,
        queue: this.stages.labels({ ...l, stage: 'queue' }) as unknown as client.Histogram,
        total: this.stages.labels({ ...l, stage: 'total' }) as unknown as client.Histogram,
      }
      this.children.set(key, c)
    }
    c.requests.inc()
    c.rows.inc(rows)
    if (result) {
      c.queue.observe(result.timings.queue / 1000)
      c.total.observe(result.timings.total / 1000)
    }
  }
}
