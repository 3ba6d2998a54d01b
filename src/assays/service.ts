/**
 * Assays as a service: definitions (baseline frozen at creation, from the inference log or given
 * values), windows scored over the log (on demand or on a schedule), results stored and listed,
 * alerts POSTed to webhooks with retries, and the latest score per assay for metrics.
 */
import { ConflictError, InvalidConfigError, NotFoundError } from '../errors.js'
import type { Logger } from '../logger.js'
import type { InferenceLog } from '../logs/inference-log.js'
import { parseIopath } from '../logs/inference-log.js'
import type { OutboundPolicy } from '../outbound/policy.js'
import type { AssayRecord, AssayResultRecord, Store } from '../store/types.js'
import { type AssayResult, computeAssay, type PreparedBaseline, prepareBaseline } from './assay.js'
import {
  type AssayLimits,
  assayDefinitionSchema,
  checkRequestValues,
  checkRunWindows,
  checkWebhooks,
  checkWindow,
  invalid,
  previewSchema,
  storedDefinition,
  thresholdsOf,
  windowOf,
  windowsIn,
} from './definition.js'
import { AssayScheduler, type ScheduleState } from './scheduler.js'
import { parseDuration, parseTime } from './time.js'
import { Webhooks } from './webhooks.js'

export interface AssayServiceDeps {
  store: Store
  log: InferenceLog
  logger: Logger
  /** Throws NotFoundError when the pipeline does not exist. */
  requirePipeline(workspace: string, pipeline: string): Promise<void>
  /** Every webhook URL is checked by it at definition and each alert is sent through it. */
  outbound: OutboundPolicy
  limits: AssayLimits
  webhookAttempts: number
  /** First retry delay; doubles per attempt. */
  webhookBaseDelayMs?: number
  /**
   * Values assays may watch besides the log's columns: per-row outcome metrics (`outcome.correct`
   * and the others, see src/outcomes/assay-values.ts), given by the server so that assays need not
   * know how outcomes are joined. Without it such an iopath is refused.
   */
  derived?: DerivedValues
  /** Told of each alert after its webhooks are sent (a training-set export); must not throw. */
  onAlert?(a: AssayRecord, r: AssayResultRecord): void
}

/** A source of per-row values an assay may watch that are not columns of the log (see AssayServiceDeps.derived). */
export interface DerivedValues {
  /** Whether `iopath` names values of this source (`outcome.correct`, …). */
  accepts(iopath: string): boolean
  /** Refuse (InvalidConfigError) an iopath the pipeline cannot give, before an assay is defined on it. */
  check(workspace: string, pipeline: string, iopath: string): Promise<void>
  /** One value per row with `start <= time < end`, oldest first. */
  values(workspace: string, pipeline: string, iopath: string, start: number, end: number): Promise<Float64Array>
}

const toNumbers = (v: Array<number | null>) => Float64Array.from(v, (x) => (x === null ? Number.NaN : x))

export interface LatestScore {
  workspace: string
  pipeline: string
  name: string
  score: number
  status: string
  /** End of the window it scored (ms). */
  windowEnd: number
}

export class AssayService {
  private readonly webhooks: Webhooks
  private readonly scheduler: AssayScheduler
  private readonly latestScores = new Map<number, LatestScore>()
  /** Baselines sorted and binned once per assay, not once per window. */
  private readonly baselines = new Map<number, PreparedBaseline>()

  constructor(private readonly deps: AssayServiceDeps) {
    this.webhooks = new Webhooks({
      outbound: deps.outbound,
      logger: deps.logger,
      attempts: deps.webhookAttempts,
      baseDelayMs: deps.webhookBaseDelayMs ?? 1000,
    })
    this.scheduler = new AssayScheduler({
      store: deps.store,
      logger: deps.logger,
      limits: deps.limits,
      runWindow: (a, start, end) => this.runWindow(a, start, end),
    })
  }

  async define(workspace: string, body: unknown): Promise<AssayRecord> {
    const { limits } = this.deps
    checkRequestValues('the assay definition', body, ['baseline'], limits)
    const parsed = assayDefinitionSchema.safeParse(body)
    if (!parsed.success) throw invalid('assay', parsed.error)
    const def = parsed.data
    await this.deps.requirePipeline(workspace, def.pipeline)
    await this.checkIopath(workspace, def.pipeline, def.iopath)
    // Refuse a bad window now, not at every scheduler tick.
    const width = parseDuration(def.window.width)
    checkWindow(
      { width, interval: def.window.interval === undefined ? width : parseDuration(def.window.interval) },
      limits,
    )
    if (def.window.start !== undefined) parseTime(def.window.start)
    checkWebhooks(def.webhooks, limits)
    await Promise.all(def.webhooks.map((url) => this.deps.outbound.check(url))) // resolved now, and again at each send
    let baseline: Float64Array
    if ('values' in def.baseline) baseline = toNumbers(def.baseline.values)
    else {
      baseline = await this.values(
        workspace,
        def.pipeline,
        def.iopath,
        parseTime(def.baseline.start),
        parseTime(def.baseline.end),
      )
      if (baseline.length === 0) {
        throw new InvalidConfigError(
          `the log of '${def.pipeline}' has no ${def.iopath} values between the baseline's start and end`,
        )
      }
    }
    prepareBaseline(baseline, def.summarizer) // refuse what cannot be binned now, not at the first window
    if ((await this.deps.store.assays.list(workspace)).some((a) => a.name === def.name)) {
      throw new ConflictError(`an assay named '${def.name}' exists in workspace '${workspace}'`)
    }
    const { baseline: b, ...rest } = def
    const config = {
      ...rest,
      baseline: 'values' in b ? { values: b.values.length } : b,
      window: { ...def.window, start: def.window.start ?? Date.now() },
    }
    return this.deps.store.assays.add({
      workspace,
      pipeline: def.pipeline,
      name: def.name,
      config,
      baseline,
      active: def.active,
    })
  }

  list(workspace: string): Promise<AssayRecord[]> {
    return this.deps.store.assays.list(workspace)
  }

  async get(workspace: string, id: number): Promise<AssayRecord> {
    const a = await this.deps.store.assays.get(workspace, id)
    if (!a) throw new NotFoundError(`no assay ${id} in workspace '${workspace}'`)
    return a
  }

  async delete(workspace: string, id: number): Promise<void> {
    if (!(await this.deps.store.assays.delete(workspace, id)))
      throw new NotFoundError(`no assay ${id} in workspace '${workspace}'`)
    this.latestScores.delete(id)
    this.baselines.delete(id)
    this.scheduler.forget(id)
  }

  /** The preview route: the same computation on given values. */
  async preview(body: unknown): Promise<AssayResult> {
    checkRequestValues('the preview', body, ['baseline', 'window'], this.deps.limits)
    const parsed = previewSchema.safeParse(body)
    if (!parsed.success) throw invalid('preview', parsed.error)
    const p = parsed.data
    const baseline = prepareBaseline(toNumbers(p.baseline.values), p.summarizer)
    return computeAssay(baseline, toNumbers(p.window.values), p.summarizer, thresholdsOf(p))
  }

  /**
   * Score every window that fits in `[start, end)` (stepping by the interval); stores and alerts.
   * The window count is checked against the limit before the first one is scored.
   */
  async run(workspace: string, id: number, range: { start: unknown; end: unknown }): Promise<AssayResultRecord[]> {
    const a = await this.get(workspace, id)
    const start = parseTime(range.start)
    const end = parseTime(range.end)
    if (!(end > start)) throw new InvalidConfigError('run: "end" must be after "start"')
    const w = windowOf(a)
    checkWindow(w, this.deps.limits) // the minimum may have risen since the assay was defined
    const count = windowsIn(start, end, w)
    checkRunWindows(count, w, this.deps.limits)
    const out: AssayResultRecord[] = []
    for (let k = 0; k < count; k++) {
      const s = start + k * w.interval
      out.push(await this.runWindow(a, s, s + w.width))
    }
    return out
  }

  results(workspace: string, id: number, start?: unknown, end?: unknown): Promise<AssayResultRecord[]> {
    return this.get(workspace, id).then((a) =>
      this.deps.store.assays.results(
        a.id,
        start === undefined ? undefined : parseTime(start),
        end === undefined ? undefined : parseTime(end),
      ),
    )
  }

  /** Where the scheduler stood with this assay at its last tick (undefined before one looked at it). */
  schedule(id: number): ScheduleState | undefined {
    return this.scheduler.state(id)
  }

  /** Refuse an iopath that names no log column nor values of the derived source. */
  private async checkIopath(workspace: string, pipeline: string, iopath: string): Promise<void> {
    const derived = this.deps.derived
    if (derived?.accepts(iopath)) await derived.check(workspace, pipeline, iopath)
    else parseIopath(iopath)
  }

  /** An assay's values in `[start, end)`: from the log's column, or from the derived source. */
  private values(workspace: string, pipeline: string, iopath: string, start: number, end: number) {
    const derived = this.deps.derived
    if (derived?.accepts(iopath)) return derived.values(workspace, pipeline, iopath, start, end)
    return this.deps.log.values(workspace, pipeline, iopath, start, end)
  }

  private async runWindow(a: AssayRecord, start: number, end: number): Promise<AssayResultRecord> {
    const cfg = storedDefinition(a)
    const values = await this.values(a.workspace, a.pipeline, cfg.iopath, start, end)
    let record: AssayResultRecord
    if (values.length === 0) {
      record = {
        assayId: a.id,
        windowStart: start,
        windowEnd: end,
        score: Number.NaN,
        status: 'no_data',
        result: { values: 0 },
        createdAt: new Date().toISOString(),
      }
    } else {
      const summarizer = cfg.summarizer
      let baseline = this.baselines.get(a.id)
      if (!baseline) {
        baseline = prepareBaseline(a.baseline, summarizer)
        this.baselines.set(a.id, baseline)
      }
      const result = computeAssay(baseline, values, summarizer, thresholdsOf(cfg))
      record = {
        assayId: a.id,
        windowStart: start,
        windowEnd: end,
        score: result.score,
        status: result.status,
        result: result as unknown as Record<string, unknown>,
        createdAt: new Date().toISOString(),
      }
    }
    await this.deps.store.assays.putResult({ ...record, score: Number.isFinite(record.score) ? record.score : -1 })
    this.remember(a, record)
    if (record.status === 'alert') this.alert(a, record)
    return record
  }

  /** POST the alert to each webhook through the outbound policy; never blocks the assay. */
  private alert(a: AssayRecord, r: AssayResultRecord): void {
    const cfg = storedDefinition(a)
    const payload = JSON.stringify({
      event: 'assay.alert',
      assay: { id: a.id, name: a.name, workspace: a.workspace, pipeline: a.pipeline, iopath: cfg.iopath },
      window: { start: new Date(r.windowStart).toISOString(), end: new Date(r.windowEnd).toISOString() },
      score: r.score,
      status: r.status,
      thresholds: { warning: cfg.warning_threshold ?? null, alert: cfg.alert_threshold },
    })
    this.webhooks.post(cfg.webhooks, payload, { assay: a.id })
    this.deps.onAlert?.(a, r)
  }

  /** Resolves when the tick in progress and pending webhook deliveries have finished (tests, shutdown). */
  async idle(): Promise<void> {
    await this.scheduler.idle()
    await this.webhooks.idle()
  }

  /** Latest score of every assay that has scored a window. */
  latest(): LatestScore[] {
    return [...this.latestScores.values()]
  }

  /** Keep the score of the latest scored window (a backfill of older windows does not replace it). */
  private remember(a: AssayRecord, r: AssayResultRecord): void {
    const known = this.latestScores.get(a.id)
    if (r.status === 'no_data' || (known && known.windowEnd > r.windowEnd)) return
    this.latestScores.set(a.id, {
      workspace: a.workspace,
      pipeline: a.pipeline,
      name: a.name,
      score: r.score,
      status: r.status,
      windowEnd: r.windowEnd,
    })
  }

  /** Run due windows of active assays every `tickMs`; metrics start from the stored results. */
  async start(tickMs: number): Promise<void> {
    for (const a of await this.deps.store.assays.list()) {
      for (const r of await this.deps.store.assays.results(a.id)) this.remember(a, r)
    }
    this.scheduler.start(tickMs)
  }

  /** One scheduler tick as if it were `now` (tests; the timer calls it too). */
  tick(now = Date.now()): Promise<void> {
    return this.scheduler.tick(now)
  }

  async stop(): Promise<void> {
    this.scheduler.stop()
    await this.idle()
  }
}
