/**
 * Runs a compiled pipeline over a batch. A frame holds the request's columns and every output so
 * far; each model stage reads its inputs from the frame by name and adds its outputs, so model
 * steps chain. Splits route rows to models and put the answers back in row order; shadow stages
 * answer from the champion and keep the challengers' outputs for the log; validations count
 * failures per row. Per-row metadata travels as reserved columns (`$model`, `$check_failures`,
 * `$shadow.<model>.<output>`) so the batcher can hand each request its own rows of it.
 */
import { emptyRows, rowCount, scatterRows, takeRows } from '../engine/rows.js'
import type { AnyTensor, ColumnSpec, HostTensor, StringTensor } from '../engine/tensor.js'
import type { BackendName, CaptureStats, GpuPathReport, ModelSession } from '../engine/types.js'
import { errorMessage, InferenceError, InvalidConfigError } from '../errors.js'
import type { GpuRuntime } from '../gpu/index.js'
import type { Logger } from '../logger.js'
import { mulberry32 } from '../random.js'
import { FusedModel, type StageTimings } from './fused.js'
import { routeRows } from './routing.js'
import { type Routing, routingModels, type Stage } from './steps.js'

export const MODEL_COLUMN = '$model'
export const CHECKS_COLUMN = '$check_failures'
export const SHADOW_PREFIX = '$shadow.'

type Frame = Record<string, AnyTensor>

/** A captured session's counters as the deployment status shows them. */
export interface CaptureStatus {
  buckets: number[]
  runs: number
  rows: number
  padded_rows: number
  buffer_bytes: number
  sessions: number
  fallbacks: number
}

function captureStatus(c: CaptureStats | undefined): { capture?: CaptureStatus } {
  if (!c) return {}
  const { paddedRows, bufferBytes, ...rest } = c
  return { capture: { ...rest, padded_rows: paddedRows, buffer_bytes: bufferBytes } }
}

interface ModelStage {
  kind: 'models'
  routing: Routing
  fused: Map<string, FusedModel>
  outputs: ColumnSpec[]
  random: () => number
  log?: Logger
}
type RunStage = ModelStage | Extract<Stage, { kind: 'validations' }>

export interface RunnerDeps {
  /** Load the model `ref` ("name:version") as a session. */
  load(ref: string): Promise<ModelSession>
  gpu?: GpuRuntime
  log?: Logger
}

export class PipelineRunner {
  private constructor(
    private readonly stages: RunStage[],
    /** Request columns: model inputs not produced by an earlier stage, and routing keys. */
    readonly inputs: ColumnSpec[],
    /** Every output the pipeline answers with (model and post outputs of all stages). */
    readonly outputs: ColumnSpec[],
    private readonly sessions: ModelSession[],
  ) {}

  /**
   * Per request input whose NaN the pipeline handles: the row columns every model reading the
   * input imputes (a tabular pre step's `impute`). Inputs absent are read as they are somewhere.
   */
  imputed(): Map<string, readonly boolean[]> {
    const fused = this.stages.flatMap((s) => (s.kind === 'models' ? [...s.fused.values()] : []))
    const out = new Map<string, readonly boolean[]>()
    for (const { name } of this.inputs) {
      const masks = fused.filter((f) => f.inputs.some((i) => i.name === name)).map((f) => f.imputed(name))
      const first = masks[0]
      if (!first || masks.some((m) => !m)) continue
      const all = first.map((_, j) => masks.every((m) => m?.[j] === true))
      if (all.some(Boolean)) out.set(name, all)
    }
    return out
  }

  static async build(stages: Stage[], deps: RunnerDeps): Promise<PipelineRunner> {
    const sessions: ModelSession[] = []
    try {
      const run: RunStage[] = []
      for (const s of stages) {
        if (s.kind === 'validations') {
          run.push(s)
          continue
        }
        const fused = new Map<string, FusedModel>()
        for (const ref of routingModels(s.routing)) {
          const session = await deps.load(ref)
          sessions.push(session)
          const gpu = session.backend === 'webgpu' ? deps.gpu : undefined
          fused.set(
            ref,
            FusedModel.create(session, { ...(s.pre ? { pre: s.pre } : {}), ...(s.post ? { post: s.post } : {}) }, gpu),
          )
        }
        const seed = s.routing.kind === 'random' ? (s.routing.seed ?? (Math.random() * 2 ** 31) >>> 0) : 0
        run.push({
          kind: 'models',
          routing: s.routing,
          fused,
          outputs: stageOutputs(s.routing, fused),
          random: mulberry32(seed),
          ...(deps.log ? { log: deps.log } : {}),
        })
      }
      const { inputs, outputs } = columns(run)
      return new PipelineRunner(run, inputs, outputs, sessions)
    } catch (e) {
      await Promise.all(sessions.map((x) => x.release().catch(() => {})))
      throw e
    }
  }

  /** The sessions' backends: the first model's configured and currently active ones. */
  backends(): { backend: BackendName; active: BackendName; path: 'gpu' | 'cpu' } {
    const first = this.stages.find((s): s is ModelStage => s.kind === 'models')
    const f = first?.fused.values().next().value as FusedModel | undefined
    return {
      backend: f?.session.backend ?? 'cpu',
      active: f?.session.activeBackend() ?? 'cpu',
      path: f?.path() ?? 'cpu',
    }
  }

  /** Per model stage: its routing and, per model, where it runs right now (GPU or CPU path). */
  describe(): Array<{
    routing: string
    models: Array<{
      model: string
      backend: BackendName
      active_backend: BackendName
      path: 'gpu' | 'cpu'
      backend_note?: string
      gpu_path?: GpuPathReport
      capture?: CaptureStatus
    }>
  }> {
    return this.stages.flatMap((s) =>
      s.kind === 'models'
        ? [
            {
              routing: s.routing.kind,
              models: [...s.fused].map(([model, f]) => ({
                model,
                backend: f.session.backend,
                active_backend: f.session.activeBackend(),
                path: f.path(),
                ...(f.session.backendNote ? { backend_note: f.session.backendNote } : {}),
                ...(f.session.gpuPath ? { gpu_path: f.session.gpuPath } : {}),
                ...captureStatus(f.session.captureStats?.()),
              })),
            },
          ]
        : [],
    )
  }

  /** Model refs by stage, e.g. ["a:1", "b:2"]. */
  models(): string[] {
    return this.stages.flatMap((s) => (s.kind === 'models' ? [...s.fused.keys()] : []))
  }

  async runTimed(feeds: Frame): Promise<{ outputs: Frame; timings: StageTimings }> {
    const rows = rowCount(Object.values(feeds)[0] ?? { dims: [] })
    const frame: Frame = { ...feeds }
    const out: Frame = {}
    const timings: StageTimings = { pre: 0, model: 0, post: 0 }
    const checks = new Int32Array(rows)
    let modelColumn: string[] = new Array(rows).fill('')
    for (const stage of this.stages) {
      if (stage.kind === 'validations') {
        validate(stage, feeds, out, rows, checks)
        continue
      }
      const r = await runStage(stage, frame, rows, timings)
      Object.assign(frame, r.outputs)
      Object.assign(out, r.outputs, r.shadow)
      modelColumn = r.models
    }
    out[MODEL_COLUMN] = { dtype: 'string', dims: [rows], data: modelColumn } satisfies StringTensor
    out[CHECKS_COLUMN] = { dtype: 'int32', dims: [rows], data: checks }
    return { outputs: out, timings }
  }

  async release(): Promise<void> {
    await Promise.all(this.sessions.map((s) => s.release()))
  }
}

/** The outputs a model stage adds to the frame. */
function stageOutputs(routing: Routing, fused: Map<string, FusedModel>): ColumnSpec[] {
  const specs = (ref: string) => (fused.get(ref) as FusedModel).outputs
  switch (routing.kind) {
    case 'multi':
      return routing.models.flatMap((m) => specs(m).map((o) => ({ ...o, name: `${m.split(':')[0]}.${o.name}` })))
    case 'shadow':
      return [...specs(routing.champion)]
    case 'single':
      return [...specs(routing.model)]
    default: {
      const models = routingModels(routing)
      const first = specs(models[0] as string)
      const key = (o: readonly ColumnSpec[]) =>
        o
          .map((x) => `${x.name}:${x.dtype}:${x.shape.slice(1).join(',')}`)
          .sort()
          .join(';')
      for (const m of models.slice(1)) {
        if (key(specs(m)) !== key(first)) {
          throw new InvalidConfigError(
            `split: models '${models[0]}' and '${m}' must have the same outputs (names, dtypes, row shapes) to answer the same rows`,
          )
        }
      }
      return [...first]
    }
  }
}

/** Request columns and pipeline outputs from the stage list. */
function columns(stages: RunStage[]): { inputs: ColumnSpec[]; outputs: ColumnSpec[] } {
  const produced = new Set<string>()
  const inputs = new Map<string, ColumnSpec>()
  const outputs = new Map<string, ColumnSpec>()
  for (const s of stages) {
    if (s.kind !== 'models') continue
    for (const f of s.fused.values()) {
      for (const i of f.inputs) if (!produced.has(i.name) && !inputs.has(i.name)) inputs.set(i.name, i)
    }
    const key = s.routing.kind === 'random' ? s.routing.hashKey : s.routing.kind === 'key' ? s.routing.key : undefined
    if (key && !produced.has(key) && !inputs.has(key)) inputs.set(key, { name: key, dtype: 'string', shape: ['N'] })
    for (const o of s.outputs) {
      produced.add(o.name)
      outputs.set(o.name, o)
    }
  }
  return { inputs: [...inputs.values()], outputs: [...outputs.values()] }
}

/** The columns a fused model reads, from the frame. */
function feedsFor(f: FusedModel, frame: Frame, rows?: number[]): Record<string, HostTensor> {
  const feeds: Record<string, HostTensor> = {}
  for (const i of f.inputs) {
    const t = frame[i.name]
    if (!t) throw new InferenceError(`pipeline: no column '${i.name}' for model input`)
    feeds[i.name] = (rows ? takeRows(t, rows) : t) as HostTensor
  }
  return feeds
}

function add(t: StageTimings, r: StageTimings): void {
  t.pre += r.pre
  t.model += r.model
  t.post += r.post
}

async function runStage(
  s: ModelStage,
  frame: Frame,
  rows: number,
  timings: StageTimings,
): Promise<{ outputs: Frame; shadow: Frame; models: string[] }> {
  const r = s.routing
  if (r.kind === 'single') {
    const res = await (s.fused.get(r.model) as FusedModel).runTimed(feedsFor(s.fused.get(r.model) as FusedModel, frame))
    add(timings, res.timings)
    return { outputs: res.outputs, shadow: {}, models: new Array(rows).fill(r.model) }
  }
  if (r.kind === 'multi') {
    const results = await Promise.all(
      r.models.map((m) => (s.fused.get(m) as FusedModel).runTimed(feedsFor(s.fused.get(m) as FusedModel, frame))),
    )
    const outputs: Frame = {}
    results.forEach((res, i) => {
      add(timings, res.timings)
      const prefix = (r.models[i] as string).split(':')[0]
      for (const [name, t] of Object.entries(res.outputs)) outputs[`${prefix}.${name}`] = t
    })
    return { outputs, shadow: {}, models: new Array(rows).fill(r.models.join('+')) }
  }
  if (r.kind === 'shadow') {
    const run = (m: string) => (s.fused.get(m) as FusedModel).runTimed(feedsFor(s.fused.get(m) as FusedModel, frame))
    const [champion, ...challengers] = await Promise.allSettled([run(r.champion), ...r.challengers.map(run)])
    if (champion?.status === 'rejected') throw champion.reason
    const res = (champion as PromiseFulfilledResult<Awaited<ReturnType<typeof run>>>).value
    add(timings, res.timings)
    const shadow: Frame = {}
    challengers.forEach((c, i) => {
      // A failing challenger never fails the answer; its columns are simply absent from the log.
      if (c.status === 'fulfilled') {
        for (const [name, t] of Object.entries(c.value.outputs))
          shadow[`${SHADOW_PREFIX}${r.challengers[i]}.${name}`] = t
      } else {
        s.log?.warn('shadow challenger failed; the champion answered', {
          model: r.challengers[i],
          error: errorMessage(c.reason),
        })
      }
    })
    return { outputs: res.outputs, shadow, models: new Array(rows).fill(r.champion) }
  }
  // Splits: group rows by model, run each group, scatter the answers back into row order.
  const keyName = r.kind === 'random' ? r.hashKey : r.key
  const models = routeRows(r, rows, keyName ? frame[keyName] : undefined, s.random)
  const groups = new Map<string, number[]>()
  models.forEach((m, row) => {
    const g = groups.get(m) ?? []
    g.push(row)
    groups.set(m, g)
  })
  const parts = await Promise.all(
    [...groups].map(async ([m, idx]) => {
      const f = s.fused.get(m) as FusedModel
      return { idx, res: await f.runTimed(feedsFor(f, frame, idx)) }
    }),
  )
  const outputs: Frame = {}
  for (const { idx, res } of parts) {
    add(timings, res.timings)
    for (const [name, t] of Object.entries(res.outputs)) {
      outputs[name] ??= emptyRows(t, rows)
      scatterRows(outputs[name] as AnyTensor, t, idx)
    }
  }
  return { outputs, shadow: {}, models }
}

function validate(
  s: Extract<Stage, { kind: 'validations' }>,
  inputs: Frame,
  outputs: Frame,
  rows: number,
  checks: Int32Array,
): void {
  const tensor = (scope: 'in' | 'out', name: string) => (scope === 'in' ? inputs[name] : outputs[name])
  for (let row = 0; row < rows; row++) {
    for (const v of s.validations) {
      if (!v.check({ row, tensor })) checks[row] = (checks[row] as number) + 1
    }
  }
}
