/**
 * A deployed pipeline: its model sessions (a set per replica), pre/post steps and dynamic
 * batcher, ready to answer inference requests; and the manager that holds the deployments of a
 * server. Replacing a deployment starts and warms the new one first, switches atomically, then
 * lets the old one finish what it holds (no request fails for a hot swap).
 */

import type { z } from 'zod'
import type { BackendChoice } from '../config.js'
import type { Engine } from '../engine/engine.js'
import { rowCount } from '../engine/rows.js'
import { type ColumnSpec, elementCount, type HostTensor, type StringTensor, zeros } from '../engine/tensor.js'
import type { Columns } from '../engine/types.js'
import { validateFeeds } from '../engine/validate.js'
import { errorMessage, InvalidInputError, NotFoundError } from '../errors.js'
import { oipTensorMetadata } from '../formats/oip.js'
import { type Logger, silentLogger } from '../logger.js'
import type { InferenceSink } from '../logs/record.js'
import type { FusedOutputs, FusedSteps } from '../pipeline/fused.js'
import type { OutputSpec } from '../pipeline/post.js'
import { CHECKS_COLUMN, MODEL_COLUMN, PipelineRunner, SHADOW_PREFIX } from '../pipeline/runner.js'
import { compileStages, parseSteps } from '../pipeline/steps.js'
import { type BatchObserver, DynamicBatcher } from './batcher.js'
import { nonFiniteRows, refuseNonFinite } from './finite.js'
import { type BatchingConfig, batchingSchema, type NonFinitePolicy } from './settings.js'

export interface DeploymentSpec {
  workspace: string
  pipeline: string
  pipelineVersion: number
  /** The pipeline's steps (see src/pipeline/steps.ts), model references pinned as "name:version". */
  steps: unknown[]
  /** Bytes of every model the steps reference, by pinned reference. */
  models: Record<string, Uint8Array>
  backend?: BackendChoice
  batching?: z.input<typeof batchingSchema>
  /** Copies of the pipeline's sessions; up to this many batches run at once. Default 1. */
  replicas?: number
  /** NaN and ±Infinity in float inputs: refused (400, the default) or passed to the model. */
  nonFiniteInputs?: NonFinitePolicy
}

/** A one-model pipeline: [pre?] model [post?]. */
export function singleModelSpec(a: {
  workspace?: string
  pipeline: string
  pipelineVersion?: number
  model: { name: string; version: number; bytes: Uint8Array }
  pre?: FusedSteps['pre']
  post?: FusedSteps['post']
  backend?: BackendChoice
  batching?: z.input<typeof batchingSchema>
}): DeploymentSpec {
  const ref = `${a.model.name}:${a.model.version}`
  return {
    workspace: a.workspace ?? 'default',
    pipeline: a.pipeline,
    pipelineVersion: a.pipelineVersion ?? 1,
    steps: [...(a.pre ? [{ pre: a.pre }] : []), { model: ref }, ...(a.post ? [{ post: a.post }] : [])],
    models: { [ref]: a.model.bytes },
    ...(a.backend ? { backend: a.backend } : {}),
    ...(a.batching ? { batching: a.batching } : {}),
  }
}

export interface InferResult {
  outputs: FusedOutputs
  rows: number
  /** The model(s) of the pipeline, e.g. "a:1" or "a:1,b:2". */
  model: string
  /** The model that answered each row (differs per row in a split). */
  rowModels: string[]
  /** Failed validations per row. */
  checkFailures: Int32Array
  /** Shadow challengers' outputs by `out_<model>.<output>`. */
  shadow: FusedOutputs
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

  /** The first replica: what status and metadata describe (replicas are identical). */
  readonly runner: PipelineRunner
  /** Request inputs whose NaN a pre step imputes, by row column (see src/serving/finite.ts). */
  private readonly imputed: Map<string, readonly boolean[]>

  private constructor(
    readonly spec: Omit<DeploymentSpec, 'models'>,
    private readonly replicas: PipelineRunner[],
    readonly batching: BatchingConfig,
    private readonly deps: DeploymentDeps,
  ) {
    this.runner = replicas[0] as PipelineRunner
    this.imputed = this.runner.imputed()
    // One batch per idle replica: the batcher never runs more batches than there are replicas.
    const idle = [...replicas]
    const run = async (feeds: Columns) => {
      const r = idle.pop() as PipelineRunner
      try {
        return await r.runTimed(feeds)
      } finally {
        idle.push(r)
      }
    }
    this.batcher = new DynamicBatcher(run, batching, deps.observer?.(this) ?? {}, replicas.length)
  }

  /**
   * Load every model of the steps, resolve pre/post/splits, and warm up (a first run compiles
   * GPU shaders), so the deployment answers at full speed from its first request.
   */
  static async start(engine: Engine, spec: DeploymentSpec, deps: DeploymentDeps = {}): Promise<Deployment> {
    const batching = batchingSchema.parse(spec.batching ?? {})
    const stages = compileStages(parseSteps(spec.steps))
    const backend = spec.backend ?? engine.config.backend
    const runnerDeps = {
      load: async (ref: string) => {
        const bytes = spec.models[ref]
        if (!bytes) throw new NotFoundError(`pipeline '${spec.pipeline}': no bytes for model '${ref}'`)
        return engine.load(bytes, { backend })
      },
      ...(backend !== 'cpu' && backend !== 'wasm' ? { gpu: await engine.gpu().catch(() => undefined) } : {}),
      ...(deps.log ? { log: deps.log } : {}),
    } as Parameters<typeof PipelineRunner.build>[1]
    const replicas: PipelineRunner[] = []
    try {
      for (let i = 0; i < (spec.replicas ?? 1); i++) replicas.push(await PipelineRunner.build(stages, runnerDeps))
    } catch (e) {
      await Promise.all(replicas.map((r) => r.release()))
      throw e
    }
    const { models: _models, ...rest } = spec
    const d = new Deployment(rest, replicas, batching, deps)
    await d.warmUp()
    return d
  }

  get workspace(): string {
    return this.spec.workspace
  }

  get name(): string {
    return this.spec.pipeline
  }

  /** The pipeline's models, e.g. "a:1" or "a:1,b:2". */
  get modelRef(): string {
    return this.runner.models().join(',')
  }

  get inputs(): readonly ColumnSpec[] {
    return this.runner.inputs
  }

  get outputs(): readonly OutputSpec[] {
    return this.runner.outputs
  }

  get state(): DeploymentState {
    return this.stateValue
  }

  status() {
    const b = this.runner.backends()
    return {
      workspace: this.workspace,
      pipeline: this.name,
      pipeline_version: this.spec.pipelineVersion,
      model: this.modelRef,
      models: this.runner.models(),
      state: this.stateValue,
      backend: b.backend,
      active_backend: b.active,
      path: b.path,
      replicas: this.replicas.length,
      stages: this.runner.describe(),
      inputs: this.runner.inputs.map(oipTensorMetadata),
      outputs: this.runner.outputs.map(oipTensorMetadata),
      queued_rows: this.batcher.queuedRows(),
      batching: this.batching,
      non_finite_inputs: this.nonFiniteInputs,
    }
  }

  get nonFiniteInputs(): NonFinitePolicy {
    return this.spec.nonFiniteInputs ?? 'refuse'
  }

  /**
   * The rows of `feeds` the deployment would refuse for non-finite values, with the reason: batch
   * jobs report them as row errors and score the rest. Empty when non-finite inputs pass.
   */
  nonFiniteRows(feeds: Columns): Map<number, string> {
    return this.nonFiniteInputs === 'pass' ? new Map() : nonFiniteRows(this.runner.inputs, feeds, this.imputed)
  }

  queuedRows(): number {
    return this.batcher.queuedRows()
  }

  /**
   * Validate and queue a request; resolves with its own rows' outputs. `bulk` (batch jobs): run
   * as batches of its own rows, without queue limits or timeout, and leave it out of the
   * inference log.
   */
  async infer(feeds: Columns, opts: { bulk?: boolean } = {}): Promise<InferResult> {
    if (this.stateValue !== 'ready' && this.replacedBy) return this.replacedBy.infer(feeds, opts)
    const t0 = performance.now()
    validateFeeds(this.runner.inputs, feeds)
    if (this.nonFiniteInputs === 'refuse') refuseNonFinite(this.runner.inputs, feeds, this.imputed)
    const rows = requestRows(feeds)
    const r = await this.batcher.submit(feeds, rows, opts)
    const total = performance.now() - t0
    const outputs: FusedOutputs = {}
    const shadow: FusedOutputs = {}
    for (const [name, t] of Object.entries(r.outputs)) {
      if (name.startsWith(SHADOW_PREFIX)) {
        const rest = name.slice(SHADOW_PREFIX.length)
        const dot = rest.lastIndexOf('.')
        shadow[`out_${rest.slice(0, dot)}.${rest.slice(dot + 1)}`] = t
      } else if (!name.startsWith('$')) outputs[name] = t
    }
    const result: InferResult = {
      outputs,
      rows,
      model: this.modelRef,
      rowModels: (r.outputs[MODEL_COLUMN] as StringTensor | undefined)?.data ?? new Array(rows).fill(this.modelRef),
      checkFailures:
        ((r.outputs[CHECKS_COLUMN] as HostTensor | undefined)?.data as Int32Array | undefined) ?? new Int32Array(rows),
      shadow,
      pipelineVersion: this.spec.pipelineVersion,
      timings: { queue: r.queueMs, ...r.timings, total },
    }
    if (!opts.bulk) this.record(feeds, result)
    return result
  }

  private record(inputs: Columns, r: InferResult): void {
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
        rowModels: r.rowModels,
        checkFailures: r.checkFailures,
        shadow: r.shadow,
        latencyMs: r.timings.total,
      })
    } catch (e) {
      // Logging never fails an answered request.
      this.deps.log?.error('inference log append failed', { error: errorMessage(e) })
    }
  }

  /** Finish queued work, refuse new work, release the sessions. Idempotent. */
  async stop(): Promise<void> {
    if (this.stateValue !== 'ready') return
    this.stateValue = 'draining'
    await this.batcher.drain()
    await Promise.all(this.replicas.map((r) => r.release()))
    this.stateValue = 'stopped'
  }

  /** One run of a row of zeros when every request column has a fixed row shape. */
  private async warmUp(): Promise<void> {
    const feeds: Columns = {}
    for (const spec of this.runner.inputs) {
      const row = spec.shape.slice(1)
      if (spec.dtype === 'string' || !row.every((d) => typeof d === 'number' && d >= 0)) return
      const dims = [1, ...(row as number[])]
      if (elementCount(dims) === 0) return
      feeds[spec.name] = zeros(spec.dtype, dims)
    }
    try {
      for (const r of this.replicas) await r.runTimed(feeds)
    } catch (e) {
      this.deps.log?.warn('warm-up run failed; the first request will pay for compilation', {
        pipeline: this.name,
        error: errorMessage(e),
      })
    }
  }
}

/** The batch size of a request: dim 0, equal across inputs (validated before). */
function requestRows(feeds: Columns): number {
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
