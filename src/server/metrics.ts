/**
 * Prometheus metrics (prom-client): requests and rows by pipeline and status, latency per stage,
 * batch sizes, queue depth, and what each deployment and the GPU run on. One registry per server.
 */
import client from 'prom-client'
import type { Engine } from '../engine/engine.js'
import type { BatchObserver } from '../serving/batcher.js'
import type { Deployment, DeploymentManager, InferResult } from '../serving/deployment.js'

const SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
const ROWS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 65536]

export class Metrics {
  readonly registry = new client.Registry()
  private readonly requests: client.Counter<'workspace' | 'pipeline' | 'protocol' | 'code'>
  private readonly rows: client.Counter<'workspace' | 'pipeline' | 'code'>
  private readonly stages: client.Histogram<'workspace' | 'pipeline' | 'stage'>
  private readonly batchRows: client.Histogram<'workspace' | 'pipeline'>

  constructor(manager: DeploymentManager, engine: Engine) {
    const registers = [this.registry]
    client.collectDefaultMetrics({ register: this.registry, prefix: 'lastmile_' })
    this.requests = new client.Counter({
      name: 'lastmile_requests_total',
      help: 'Inference requests by pipeline, protocol and HTTP status code',
      labelNames: ['workspace', 'pipeline', 'protocol', 'code'],
      registers,
    })
    this.rows = new client.Counter({
      name: 'lastmile_rows_total',
      help: 'Rows scored (or refused) by pipeline and HTTP status code',
      labelNames: ['workspace', 'pipeline', 'code'],
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

  /** Batch-level observations for a deployment (passed to its batcher). */
  observer(d: Deployment): BatchObserver {
    const labels = { workspace: d.workspace, pipeline: d.name }
    return {
      onBatch: (rows, _requests, t) => {
        this.batchRows.observe(labels, rows)
        this.stages.observe({ ...labels, stage: 'pre' }, t.pre / 1000)
        this.stages.observe({ ...labels, stage: 'model' }, t.model / 1000)
        this.stages.observe({ ...labels, stage: 'post' }, t.post / 1000)
      },
    }
  }

  /** Count one answered or refused request. */
  request(
    labels: { workspace: string; pipeline: string; protocol: string },
    code: number,
    rows: number,
    result?: InferResult,
  ): void {
    const c = String(code)
    this.requests.inc({ ...labels, code: c })
    this.rows.inc({ workspace: labels.workspace, pipeline: labels.pipeline, code: c }, rows)
    if (result) {
      const l = { workspace: labels.workspace, pipeline: labels.pipeline }
      this.stages.observe({ ...l, stage: 'queue' }, result.timings.queue / 1000)
      this.stages.observe({ ...l, stage: 'total' }, result.timings.total / 1000)
    }
  }
}
