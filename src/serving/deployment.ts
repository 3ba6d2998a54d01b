/**
 * A deployed pipeline: its model sessions (a set per replica), pre/post steps and dynamic
 * batcher, ready to answer inference requests; and the manager that holds the deployments of a
 * server. Replacing a deployment starts and warms the new one first, switches atomically, then
 * lets the old one finish what it holds (no request fails for a hot swap). With autoscaling, a
 * deployment adds and removes replicas as its {@link Autoscaler} decides, without failing a
 * request: a new replica serves once built and warmed, an old one leaves after its batch.
 */

import type { z } from 'zod'
import type { BackendChoice } from '../config.js'
import type { GpuPathChoice } from '../config-schema.js'
import type { Engine } from '../engine/engine.js'
import { rowCount } from '../engine/rows.js'
import { type ColumnSpec, elementCount, type HostTensor, type StringTensor, zeros } from '../engine/tensor.js'
import type { Columns, GpuPathReport, GraphOptimizationLevel } from '../engine/types.js'
import { validateFeeds } from '../engine/validate.js'
import { errorMessage, InvalidInputError, NotFoundError } from '../errors.js'
import { oipTensorMetadata } from '../formats/oip.js'
import { type Logger, silentLogger } from '../logger.js'
import type { InferenceSink } from '../logs/record.js'
import type { FusedOutputs, FusedSteps } from '../pipeline/fused.js'
import type { OutputSpec } from '../pipeline/post.js'
import { CHECKS_COLUMN, MODEL_COLUMN, PipelineRunner, SHADOW_PREFIX } from '../pipeline/runner.js'
import { compileStages, parseSteps } from '../pipeline/steps.js'
import { Autoscaler, type AutoscalerView, DECISIONS_KEPT, InFlight, type ScaleDecision } from './autoscaler.js'
import { type BatchObserver, type BatchRunner, DynamicBatcher } from './batcher.js'
import { nonFiniteRows, refuseNonFinite } from './finite.js'
import {
  type AutoscalingConfig,
  autoscalingSchema,
  type BatchingConfig,
  batchingSchema,
  type NonFinitePolicy,
  type SessionSettings,
} from './settings.js'

/** How often an autoscaled deployment samples its requests in flight and asks its autoscaler. */
const AUTOSCALE_TICK_MS = 1000

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
  /**
   * Copies of the pipeline's sessions; up to this many batches run at once. Default 1. With
   * `autoscaling`, the count to start at (clamped to its range; its minimum by default).
   */
  replicas?: number
  /** Replicas that follow the requests in flight (src/serving/autoscaler.ts). */
  autoscaling?: z.input<typeof autoscalingSchema>
  /** NaN and ±Infinity in float inputs: refused (400, the default) or passed to the model. */
  nonFiniteInputs?: NonFinitePolicy
  /** The sessions' intra-op threads and graph optimization level (the server's settings by default). */
  session?: SessionSettings
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

/** What a deployment reports as it runs (metrics): each batch, each autoscaling decision. */
export interface DeploymentObserver extends BatchObserver {
  onScale?(decision: ScaleDecision): void
}

export interface DeploymentDeps {
  log?: Logger
  sink?: InferenceSink
  /** Batch-level and autoscaling metrics. */
  observer?: (deployment: Deployment) => DeploymentObserver
  /**
   * Runs each batch on a replica: `run` is the replica's own run. Tests and benchmarks wrap it
   * (a batch that takes a fixed time bounds a replica's capacity by time, not by the machine's
   * CPU); the default calls it.
   */
  runBatch?: (run: BatchRunner, feeds: Columns) => ReturnType<BatchRunner>
}

/** A deployment's autoscaling as its status shows it. */
export interface AutoscalingStatus extends AutoscalerView {
  config: AutoscalingConfig
  /** Requests admitted and not yet answered, now. */
  in_flight: number
  /** The latest decisions, oldest first (at most DECISIONS_KEPT). */
  decisions: ScaleDecision[]
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

  /** The first replica: what status and metadata describe (replicas are identical); never removed. */
  readonly runner: PipelineRunner
  /** Request inputs whose NaN a pre step imputes, by row column (see src/serving/finite.ts). */
  private readonly imputed: Map<string, readonly boolean[]>
  /** Replicas not running a batch. The batcher runs at most as many batches as there are serving replicas. */
  private readonly idle: PipelineRunner[]
  /** Replicas to take out as soon as one other than the first is idle (a scale-down in progress). */
  private readonly leaving: Array<() => void> = []
  /** Releases of replicas taken out, which stop() waits for. */
  private readonly releases = new Set<Promise<void>>()
  /** Requests admitted and not yet answered. */
  private readonly inFlight = new InFlight(performance.now())
  private readonly observer: DeploymentObserver
  private readonly autoscale:
    | {
        scaler: Autoscaler
        /** Builds another replica (its models' bytes are kept for this, only while autoscaling). */
        build: () => Promise<PipelineRunner>
        timer: NodeJS.Timeout | undefined
        decisions: ScaleDecision[]
        /** The scale change in progress, if any; `again` when another decision came meanwhile. */
        change: Promise<void> | undefined
        again: boolean
      }
    | undefined

  private constructor(
    readonly spec: Omit<DeploymentSpec, 'models'>,
    private readonly replicas: PipelineRunner[],
    readonly batching: BatchingConfig,
    private readonly deps: DeploymentDeps,
    autoscale?: { config: AutoscalingConfig; build: () => Promise<PipelineRunner>; previous?: Deployment },
  ) {
    this.runner = replicas[0] as PipelineRunner
    this.imputed = this.runner.imputed()
    this.idle = [...replicas]
    const runBatch = deps.runBatch ?? ((run, feeds) => run(feeds))
    const run = async (feeds: Columns) => {
      const r = this.idle.pop() as PipelineRunner
      try {
        return await runBatch((f) => r.runTimed(f), feeds)
      } finally {
        this.idle.push(r)
        this.takeOutIdle()
      }
    }
    this.observer = deps.observer?.(this) ?? {}
    this.batcher = new DynamicBatcher(run, batching, this.observer, replicas.length)
    if (autoscale) {
      const now = performance.now()
      const history = autoscale.previous?.autoscale?.scaler.history()
      const scaler = new Autoscaler(autoscale.config, replicas.length, now, history)
      this.autoscale = {
        scaler,
        build: autoscale.build,
        timer: undefined,
        decisions: [],
        change: undefined,
        again: false,
      }
    }
  }

  /**
   * Load every model of the steps, resolve pre/post/splits, and warm up (a first run compiles
   * GPU shaders), so the deployment answers at full speed from its first request. With
   * autoscaling, `previous` (the deployment this one replaces) gives the replica count to start
   * at and its autoscaler's samples, so a hot swap under load does not drop to the minimum.
   */
  static async start(
    engine: Engine,
    spec: DeploymentSpec,
    deps: DeploymentDeps = {},
    previous?: Deployment,
  ): Promise<Deployment> {
    const batching = batchingSchema.parse(spec.batching ?? {})
    const autoscaling = spec.autoscaling === undefined ? undefined : autoscalingSchema.parse(spec.autoscaling)
    const stages = compileStages(parseSteps(spec.steps))
    const backend = spec.backend ?? engine.config.backend
    const models = spec.models
    // The first replica's load measures the GPU paths (`auto`); later replicas load the one chosen.
    const measured = new Map<string, GpuPathReport>()
    const runnerDeps = {
      load: async (ref: string) => {
        const bytes = models[ref]
        if (!bytes) throw new NotFoundError(`pipeline '${spec.pipeline}': no bytes for model '${ref}'`)
        const earlier = measured.get(ref)
        const session = await engine.load(bytes, {
          backend,
          ...loadOptions(spec.session),
          maxBatch: batching.max_batch_size,
          ...(earlier ? { measured: earlier } : {}),
        })
        if (session.gpuPath && !earlier) measured.set(ref, session.gpuPath)
        return session
      },
      ...(backend !== 'cpu' && backend !== 'wasm' ? { gpu: await engine.gpu().catch(() => undefined) } : {}),
      ...(deps.log ? { log: deps.log } : {}),
    } as Parameters<typeof PipelineRunner.build>[1]
    let count = spec.replicas ?? 1
    if (autoscaling) {
      const from =
        previous?.autoscale?.scaler.replicas ?? previous?.replicaCount ?? spec.replicas ?? autoscaling.min_replicas
      count = Math.min(autoscaling.max_replicas, Math.max(autoscaling.min_replicas, from))
    }
    const replicas: PipelineRunner[] = []
    try {
      for (let i = 0; i < count; i++) replicas.push(await PipelineRunner.build(stages, runnerDeps))
    } catch (e) {
      await Promise.all(replicas.map((r) => r.release()))
      throw e
    }
    const { models: _models, ...rest } = spec
    const build = () => PipelineRunner.build(stages, runnerDeps)
    const d = new Deployment(
      rest,
      replicas,
      batching,
      deps,
      autoscaling ? { config: autoscaling, build, ...(previous ? { previous } : {}) } : undefined,
    )
    await d.warmUp(replicas)
    if (d.autoscale) {
      d.autoscale.timer = setInterval(() => d.tick(), AUTOSCALE_TICK_MS)
      d.autoscale.timer.unref()
    }
    return d
  }

  /** Replicas serving now (a scale-down in progress counts until its replica is out). */
  get replicaCount(): number {
    return this.replicas.length
  }

  /** Requests admitted and not yet answered. */
  get inFlightRequests(): number {
    return this.inFlight.now
  }

  /** The autoscaler's view, its settings and its latest decisions; null without autoscaling. */
  autoscalingStatus(): AutoscalingStatus | null {
    const a = this.autoscale
    if (!a) return null
    return {
      config: a.scaler.config,
      ...a.scaler.view(performance.now()),
      in_flight: this.inFlight.now,
      decisions: [...a.decisions],
    }
  }

  /** One autoscaling tick: sample, decide, and start the change a decision asks for. */
  private tick(): void {
    const a = this.autoscale
    if (!a || this.stateValue !== 'ready') return
    const now = performance.now()
    const decision = a.scaler.tick(now, this.inFlight.sample(now))
    if (decision) {
      const shown = { ...decision, time: Date.now() }
      a.decisions.push(shown)
      if (a.decisions.length > DECISIONS_KEPT) a.decisions.shift()
      this.observer.onScale?.(shown)
      ;(this.deps.log ?? silentLogger).info('autoscaled', {
        workspace: this.workspace,
        pipeline: this.name,
        from: shown.from,
        to: shown.to,
        direction: shown.direction,
        mode: shown.mode,
        reason: shown.reason,
        stable_in_flight: shown.stable_in_flight,
        panic_in_flight: shown.panic_in_flight,
      })
    }
    // Also without a decision: a replica that failed to build is tried again.
    if (a.scaler.replicas !== this.replicas.length - this.leaving.length) this.changeReplicas()
  }

  /**
   * Move the serving replicas toward the autoscaler's count, one change at a time: new replicas
   * are built in parallel and each serves once warm; replicas leave one by one, each after its
   * batch. A decision that comes meanwhile is followed once the change in progress ends.
   */
  private changeReplicas(): void {
    const a = this.autoscale as NonNullable<Deployment['autoscale']>
    if (a.change) {
      a.again = true
      return
    }
    a.change = (async () => {
      do {
        a.again = false
        const have = this.replicas.length - this.leaving.length
        const want = a.scaler.replicas
        if (want > have) {
          // Every build settles before the next change (none is left running unseen); then the first failure is reported.
          const built = await Promise.allSettled(Array.from({ length: want - have }, () => this.addReplica(a.build)))
          const failed = built.find((b) => b.status === 'rejected')
          if (failed) throw failed.reason
        } else if (want < have) await Promise.all(Array.from({ length: have - want }, () => this.removeReplica()))
      } while (a.again && this.stateValue === 'ready')
    })()
      .catch((e) =>
        this.deps.log?.error('autoscaling: a replica could not be added', {
          workspace: this.workspace,
          pipeline: this.name,
          error: errorMessage(e),
        }),
      )
      .finally(() => {
        a.change = undefined
      })
  }

  /** Build and warm a replica, then hand it to the batcher; released instead if the deployment stopped meanwhile. */
  private async addReplica(build: () => Promise<PipelineRunner>): Promise<void> {
    const r = await build()
    await this.warmUp([r])
    if (this.stateValue !== 'ready') {
      await r.release()
      return
    }
    this.replicas.push(r)
    this.idle.push(r)
    this.batcher.setConcurrency(this.replicas.length - this.leaving.length)
  }

  /** Take a replica out once one other than the first is idle, and release its sessions. */
  private removeReplica(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.leaving.push(resolve)
      this.batcher.setConcurrency(this.replicas.length - this.leaving.length)
      this.takeOutIdle()
    })
  }

  /** Take idle replicas out (never the first) for the scale-downs waiting. */
  private takeOutIdle(): void {
    while (this.leaving.length > 0) {
      const i = this.idle.findIndex((r) => r !== this.runner)
      if (i < 0) return
      const [r] = this.idle.splice(i, 1) as [PipelineRunner]
      this.replicas.splice(this.replicas.indexOf(r), 1)
      const done = this.leaving.shift() as () => void
      const release = r
        .release()
        .catch((e) =>
          this.deps.log?.error('releasing a replica failed', { pipeline: this.name, error: errorMessage(e) }),
        )
        .finally(() => {
          this.releases.delete(release)
          done()
        })
      this.releases.add(release)
    }
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
      autoscaling: this.autoscalingStatus(),
      stages: this.runner.describe(),
      inputs: this.runner.inputs.map(oipTensorMetadata),
      outputs: this.runner.outputs.map(oipTensorMetadata),
      queued_rows: this.batcher.queuedRows(),
      batching: this.batching,
      session: this.spec.session ?? {},
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
   * inference log. `requestId` (the client's, e.g. OIP `id`) is logged with the request's rows.
   */
  async infer(feeds: Columns, opts: { bulk?: boolean; requestId?: string } = {}): Promise<InferResult> {
    if (this.stateValue !== 'ready' && this.replacedBy) return this.replacedBy.infer(feeds, opts)
    const t0 = performance.now()
    validateFeeds(this.runner.inputs, feeds)
    if (this.nonFiniteInputs === 'refuse') refuseNonFinite(this.runner.inputs, feeds, this.imputed)
    const rows = requestRows(feeds)
    this.inFlight.add(performance.now())
    let r: Awaited<ReturnType<DynamicBatcher['submit']>>
    try {
      r = await this.batcher.submit(feeds, rows, { bulk: opts.bulk })
    } finally {
      this.inFlight.done(performance.now())
    }
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
    if (!opts.bulk) this.record(feeds, result, opts.requestId)
    return result
  }

  private record(inputs: Columns, r: InferResult, requestId: string | undefined): void {
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
        ...(requestId === undefined ? {} : { requestId }),
      })
    } catch (e) {
      // Logging never fails an answered request.
      this.deps.log?.error('inference log append failed', { error: errorMessage(e) })
    }
  }

  /**
   * Finish queued work, refuse new work, release the sessions. Idempotent. A scale change in
   * progress ends first: a replica being built is released once built, one leaving once out.
   */
  async stop(): Promise<void> {
    if (this.stateValue !== 'ready') return
    this.stateValue = 'draining'
    clearInterval(this.autoscale?.timer)
    await this.batcher.drain()
    await this.autoscale?.change
    await Promise.all([...this.releases, ...this.replicas.map((r) => r.release())])
    this.stateValue = 'stopped'
  }

  /** One run of a row of zeros on each of `replicas` when every request column has a fixed row shape. */
  private async warmUp(replicas: readonly PipelineRunner[]): Promise<void> {
    const feeds: Columns = {}
    for (const spec of this.runner.inputs) {
      const row = spec.shape.slice(1)
      if (spec.dtype === 'string' || !row.every((d) => typeof d === 'number' && d >= 0)) return
      const dims = [1, ...(row as number[])]
      if (elementCount(dims) === 0) return
      feeds[spec.name] = zeros(spec.dtype, dims)
    }
    try {
      for (const r of replicas) await r.runTimed(feeds)
    } catch (e) {
      this.deps.log?.warn('warm-up run failed; the first request will pay for compilation', {
        pipeline: this.name,
        error: errorMessage(e),
      })
    }
  }
}

/** The engine's load options for a deployment's session settings. */
export function loadOptions(session: SessionSettings | undefined): {
  threads?: number
  graphOptimization?: GraphOptimizationLevel
  gpuPath?: GpuPathChoice
} {
  return {
    ...(session?.threads !== undefined ? { threads: session.threads } : {}),
    ...(session?.graph_optimization !== undefined ? { graphOptimization: session.graph_optimization } : {}),
    ...(session?.gpu_path !== undefined ? { gpuPath: session.gpu_path } : {}),
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

  /**
   * Start `spec`, then switch traffic to it; a deployment it replaces drains in the background.
   * An autoscaled one starts at the replica count of the one it replaces.
   */
  async deploy(spec: DeploymentSpec): Promise<Deployment> {
    const key = this.key(spec.workspace, spec.pipeline)
    const next = await Deployment.start(this.engine, spec, this.deps, this.deployments.get(key))
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
