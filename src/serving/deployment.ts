/**
 * A deployed pipeline: its model session, pre/post steps and dynamic batcher, ready to answer
 * inference requests; and the manager that holds the deployments of a server. Replacing a
 * deployment starts and warms the new one first, switches atomically, then lets the old one
 * finish what it holds (no request fails for a hot swap).
 */

import type { z } from 'zod'
import type { BackendChoice } from '../config.js'
import type { Engine } from '../engine/engine.js'
import { rowCount } from '../engine/rows.js'
import { elementCount, type TensorSpec, zeros } from '../engine/tensor.js'
import type { Feeds } from '../engine/types.js'
import { validateFeeds } from '../engine/validate.js'
import { errorMessage, InvalidInputError, NotFoundError } from '../errors.js'
import { type Logger, silentLogger } from '../log.js'
import { FusedModel, type FusedOutputs, type FusedSteps } from '../pipeline/fused.js'
import type { OutputSpec } from '../pipeline/post.js'
import { type BatchingConfig, type BatchObserver, batchingSchema, DynamicBatcher } from './batcher.js'

export interface DeploymentSpec {
  workspace: string
  pipeline: string
  pipelineVersion: number
  model: { name: string; version: number; bytes: Uint8Array }
  steps?: FusedSteps
  backend?: BackendChoice
  batching?: z.input<typeof batchingSchema>
}

/** One answered request, as handed to the inference log. */
export interface InferenceRecord {
  /** ms since epoch when the answer was ready. */
  time: number
  workspace: string
  pipeline: string
  pipelineVersion: number
  model: string
  rows: number
  inputs: Feeds
  outputs: FusedOutputs
  latencyMs: number
}

/** Where answered inferences go (the inference log). `append` must not block or throw. */
export interface InferenceSink {
  append(record: InferenceRecord): void
}

export interface InferResult {
  outputs: FusedOutputs
  rows: number
  model: string
  pipelineVersion: number
  /** Milliseconds per stage; `total` is from arrival to answer. */
  timings: { queue: number; pre: number; model: number; post: number; total: number }
}

export interface DeploymentDeps {
  log?: Logger
  sink?: InferenceSink
  /** Batch-level metrics. */
  observer?: (deployment: Deployment) => BatchObserver
}

export type DeploymentState = 'ready' | 'draining' | 'stopped'

export class Deployment {
  private stateValue: DeploymentState = 'ready'
  private readonly batcher: DynamicBatcher
  /** Set when a newer deployment took this one's place: late requests go there. */
  private replacedBy: Deployment | undefined

  /** Hand later requests to `next` and drain (a hot swap). */
  replaceWith(next: Deployment): Promise<void> {
    this.replacedBy = next
    return this.stop()
  }

  private constructor(
    readonly spec: Omit<DeploymentSpec, 'model'> & { model: { name: string; version: number } },
    readonly fused: FusedModel,
    readonly batching: BatchingConfig,
    private readonly deps: DeploymentDeps,
  ) {
    this.batcher = new DynamicBatcher((feeds) => fused.runTimed(feeds), batching, deps.observer?.(this) ?? {})
  }

  /**
   * Load the model, resolve the steps and warm the session up (a first run compiles GPU shaders),
   * so the deployment answers at full speed from its first request.
   */
  static async start(engine: Engine, spec: DeploymentSpec, deps: DeploymentDeps = {}): Promise<Deployment> {
    const batching = batchingSchema.parse(spec.batching ?? {})
    const session = await engine.load(spec.model.bytes, { backend: spec.backend ?? engine.config.backend })
    try {
      const gpu = session.backend === 'webgpu' ? await engine.gpu() : undefined
      const fused = FusedModel.create(session, spec.steps ?? {}, gpu)
      const { bytes: _bytes, ...model } = spec.model
      const d = new Deployment({ ...spec, model }, fused, batching, deps)
      await d.warmUp()
      return d
    } catch (e) {
      await session.release()
      throw e
    }
  }

  get workspace(): string {
    return this.spec.workspace
  }

  get name(): string {
    return this.spec.pipeline
  }

  get modelRef(): string {
    return `${this.spec.model.name}:${this.spec.model.version}`
  }

  get inputs(): readonly TensorSpec[] {
    return this.fused.inputs
  }

  get outputs(): readonly OutputSpec[] {
    return this.fused.outputs
  }

  get state(): DeploymentState {
    return this.stateValue
  }

  status() {
    return {
      workspace: this.workspace,
      pipeline: this.name,
      pipeline_version: this.spec.pipelineVersion,
      model: this.modelRef,
      state: this.stateValue,
      backend: this.fused.session.backend,
      active_backend: this.fused.session.activeBackend(),
      path: this.fused.path(),
      queued_rows: this.batcher.queuedRows(),
      batching: this.batching,
    }
  }

  queuedRows(): number {
    return this.batcher.queuedRows()
  }

  /** Validate and queue a request; resolves with its own rows' outputs. */
  async infer(feeds: Feeds): Promise<InferResult> {
    if (this.stateValue !== 'ready' && this.replacedBy) return this.replacedBy.infer(feeds)
    const t0 = performance.now()
    validateFeeds(this.fused.inputs, feeds)
    const rows = requestRows(feeds)
    const r = await this.batcher.submit(feeds, rows)
    const total = performance.now() - t0
    const result: InferResult = {
      outputs: r.outputs,
      rows,
      model: this.modelRef,
      pipelineVersion: this.spec.pipelineVersion,
      timings: { queue: r.queueMs, ...r.timings, total },
    }
    this.record(feeds, result)
    return result
  }

  private record(inputs: Feeds, r: InferResult): void {
    if (!this.deps.sink) return
    try {
      this.deps.sink.append({
        time: Date.now(),
        workspace: this.workspace,
        pipeline: this.name,
        pipelineVersion: r.pipelineVersion,
        model: r.model,
        rows: r.rows,
        inputs,
        outputs: r.outputs,
        latencyMs: r.timings.total,
      })
    } catch (e) {
      // Logging never fails an answered request.
      this.deps.log?.error('inference log append failed', { error: errorMessage(e) })
    }
  }

  /** Finish queued work, refuse new work, release the session. Idempotent. */
  async stop(): Promise<void> {
    if (this.stateValue !== 'ready') return
    this.stateValue = 'draining'
    await this.batcher.drain()
    await this.fused.session.release()
    this.stateValue = 'stopped'
  }

  /** One run of a row of zeros, when every input has a fixed row shape. */
  private async warmUp(): Promise<void> {
    const feeds: Feeds = {}
    for (const spec of this.fused.inputs) {
      const row = spec.shape.slice(1)
      if (!row.every((d) => typeof d === 'number' && d >= 0)) return
      const dims = [1, ...(row as number[])]
      feeds[spec.name] = zeros(spec.dtype, dims)
      if (elementCount(dims) === 0) return
    }
    try {
      await this.fused.run(feeds)
    } catch (e) {
      this.deps.log?.warn('warm-up run failed; the first request will pay for compilation', {
        pipeline: this.name,
        error: errorMessage(e),
      })
    }
  }
}

/** The batch size of a request: dim 0, equal across inputs (validated before). */
function requestRows(feeds: Feeds): number {
  const first = Object.values(feeds)[0]
  if (!first || first.dims.length === 0)
    throw new InvalidInputError('inputs must be batch-major: dim 0 counts the rows')
  return rowCount(first)
}

/** The server's deployed pipelines, by workspace and name. */
export class DeploymentManager {
  private readonly deployments = new Map<string, Deployment>()

  constructor(
    private readonly engine: Engine,
    private readonly deps: DeploymentDeps = {},
  ) {}

  private key(workspace: string, pipeline: string): string {
    return `${workspace}/${pipeline}`
  }

  list(workspace?: string): Deployment[] {
    return [...this.deployments.values()].filter((d) => workspace === undefined || d.workspace === workspace)
  }

  get(workspace: string, pipeline: string): Deployment | undefined {
    return this.deployments.get(this.key(workspace, pipeline))
  }

  /** The deployment, or `NotFoundError` naming what exists. */
  require(workspace: string, pipeline: string): Deployment {
    const d = this.get(workspace, pipeline)
    if (!d) {
      const names = this.list(workspace).map((x) => x.name)
      throw new NotFoundError(
        `no pipeline '${pipeline}' is deployed in workspace '${workspace}'${names.length ? ` (deployed: ${names.join(', ')})` : ''}`,
      )
    }
    return d
  }

  /** Start `spec`, then switch traffic to it; a deployment it replaces drains in the background. */
  async deploy(spec: DeploymentSpec): Promise<Deployment> {
    const next = await Deployment.start(this.engine, spec, this.deps)
    const key = this.key(spec.workspace, spec.pipeline)
    const previous = this.deployments.get(key)
    this.deployments.set(key, next)
    if (previous) {
      void previous
        .replaceWith(next)
        .catch((e) => this.deps.log?.error('stopping the replaced deployment failed', { error: errorMessage(e) }))
    }
    ;(this.deps.log ?? silentLogger).info('pipeline deployed', {
      workspace: spec.workspace,
      pipeline: spec.pipeline,
      version: spec.pipelineVersion,
      backend: next.status().backend,
    })
    return next
  }

  async undeploy(workspace: string, pipeline: string): Promise<void> {
    const d = this.require(workspace, pipeline)
    this.deployments.delete(this.key(workspace, pipeline))
    await d.stop()
  }

  /** Drain and stop every deployment (graceful shutdown). */
  async stopAll(): Promise<void> {
    // Draining deployments stay listed: new requests get 503 (not 404) until they are gone.
    const all = [...this.deployments.values()]
    await Promise.all(all.map((d) => d.stop()))
    for (const [k, d] of this.deployments) if (all.includes(d)) this.deployments.delete(k)
  }
}
