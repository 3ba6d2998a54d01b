/**
 * Assays as a service: definitions (baseline frozen at creation, from the inference log or given
 * values), windows scored over the log (on demand or on a schedule), results stored and listed,
 * alerts POSTed to webhooks with retries, and the latest score per assay for metrics.
 */
import { z } from 'zod'
import { ConflictError, errorMessage, InvalidConfigError, NotFoundError } from '../errors.js'
import type { Logger } from '../log.js'
import type { InferenceLog } from '../logs/inference-log.js'
import { parseIopath } from '../logs/inference-log.js'
import type { AssayRecord, AssayResultRecord, Store } from '../store/types.js'
import {
  type AssayResult,
  computeAssay,
  type PreparedBaseline,
  prepareBaseline,
  summarizerSchema,
  thresholdsSchema,
} from './assay.js'
import { durationSchema, parseDuration, parseTime, timeSchema } from './time.js'

export const assayDefinitionSchema = z
  .object({
    name: z.string().min(1).max(128),
    pipeline: z.string().min(1),
    /** `in.<input>[i]` or `out.<output>[i]`. */
    iopath: z.string().min(1),
    /** A time range of the pipeline's log, or the values themselves. */
    baseline: z.union([
      z.object({ start: timeSchema, end: timeSchema }).strict(),
      z.object({ values: z.array(z.number().nullable()).min(1) }).strict(),
    ]),
    summarizer: summarizerSchema.default(summarizerSchema.parse({})),
    warning_threshold: z.number().optional(),
    alert_threshold: z.number().default(0.25),
    /** Windows of `width`, one every `interval` (default: width), from `start` (default: now). */
    window: z
      .object({ width: durationSchema, interval: durationSchema.optional(), start: timeSchema.optional() })
      .strict(),
    /** URLs that receive a POST for every window whose status is `alert`. */
    webhooks: z.array(z.string().url()).default([]),
    /** Whether the scheduler runs it. */
    active: z.boolean().default(true),
  })
  .strict()

export const previewSchema = z
  .object({
    baseline: z.object({ values: z.array(z.number().nullable()).min(1) }).strict(),
    window: z.object({ values: z.array(z.number().nullable()).min(1) }).strict(),
    summarizer: summarizerSchema.default(summarizerSchema.parse({})),
    warning_threshold: z.number().optional(),
    alert_threshold: z.number().default(0.25),
  })
  .strict()

export type AssayDefinition = z.infer<typeof assayDefinitionSchema>

export interface AssayServiceDeps {
  store: Store
  log: InferenceLog
  logger: Logger
  /** Throws NotFoundError when the pipeline does not exist. */
  requirePipeline(workspace: string, pipeline: string): Promise<void>
  webhookAttempts: number
  /** First retry delay; doubles per attempt. */
  webhookBaseDelayMs?: number
  fetch?: typeof fetch
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
  private timer: NodeJS.Timeout | undefined
  private readonly deliveries = new Set<Promise<void>>()
  private readonly latestScores = new Map<number, LatestScore>()
  /** Baselines sorted and binned once per assay, not once per window. */
  private readonly baselines = new Map<number, PreparedBaseline>()
  private ticking: Promise<void> | undefined

  constructor(private readonly deps: AssayServiceDeps) {}

  async define(workspace: string, body: unknown): Promise<AssayRecord> {
    const parsed = assayDefinitionSchema.safeParse(body)
    if (!parsed.success) throw invalid('assay', parsed.error)
    const def = parsed.data
    await this.deps.requirePipeline(workspace, def.pipeline)
    parseIopath(def.iopath)
    parseDuration(def.window.width) // refuse a bad window now, not at every scheduler tick
    if (def.window.interval !== undefined) parseDuration(def.window.interval)
    if (def.window.start !== undefined) parseTime(def.window.start)
    let baseline: Float64Array
    if ('values' in def.baseline) baseline = toNumbers(def.baseline.values)
    else {
      baseline = await this.deps.log.values(
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
    if ((await this.deps.store.listAssays(workspace)).some((a) => a.name === def.name)) {
      throw new ConflictError(`an assay named '${def.name}' exists in workspace '${workspace}'`)
    }
    const { baseline: b, ...rest } = def
    const config = {
      ...rest,
      baseline: 'values' in b ? { values: b.values.length } : b,
      window: { ...def.window, start: def.window.start ?? Date.now() },
    }
    return this.deps.store.addAssay({
      workspace,
      pipeline: def.pipeline,
      name: def.name,
      config,
      baseline,
      active: def.active,
    })
  }

  list(workspace: string): Promise<AssayRecord[]> {
    return this.deps.store.listAssays(workspace)
  }

  async get(workspace: string, id: number): Promise<AssayRecord> {
    const a = await this.deps.store.getAssay(workspace, id)
    if (!a) throw new NotFoundError(`no assay ${id} in workspace '${workspace}'`)
    return a
  }

  async delete(workspace: string, id: number): Promise<void> {
    if (!(await this.deps.store.deleteAssay(workspace, id)))
      throw new NotFoundError(`no assay ${id} in workspace '${workspace}'`)
    this.latestScores.delete(id)
    this.baselines.delete(id)
  }

  /** The preview route: the same computation on given values. */
  async preview(body: unknown): Promise<AssayResult> {
    const parsed = previewSchema.safeParse(body)
    if (!parsed.success) throw invalid('preview', parsed.error)
    const p = parsed.data
    const baseline = prepareBaseline(toNumbers(p.baseline.values), p.summarizer)
    return computeAssay(baseline, toNumbers(p.window.values), p.summarizer, thresholdsOf(p))
  }

  /** Score every window that fits in `[start, end)` (stepping by the interval); stores and alerts. */
  async run(workspace: string, id: number, range: { start: unknown; end: unknown }): Promise<AssayResultRecord[]> {
    const a = await this.get(workspace, id)
    const start = parseTime(range.start)
    const end = parseTime(range.end)
    if (!(end > start)) throw new InvalidConfigError('run: "end" must be after "start"')
    const { width, interval } = windowOf(a)
    const out: AssayResultRecord[] = []
    for (let s = start; s + width <= end; s += interval) out.push(await this.runWindow(a, s, s + width))
    return out
  }

  results(workspace: string, id: number, start?: unknown, end?: unknown): Promise<AssayResultRecord[]> {
    return this.get(workspace, id).then((a) =>
      this.deps.store.listAssayResults(
        a.id,
        start === undefined ? undefined : parseTime(start),
        end === undefined ? undefined : parseTime(end),
      ),
    )
  }

  private async runWindow(a: AssayRecord, start: number, end: number): Promise<AssayResultRecord> {
    const cfg = a.config as unknown as AssayDefinition & { window: { start: number } }
    const values = await this.deps.log.values(a.workspace, a.pipeline, cfg.iopath, start, end)
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
      const summarizer = summarizerSchema.parse(cfg.summarizer ?? {})
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
    await this.deps.store.putAssayResult({ ...record, score: Number.isFinite(record.score) ? record.score : -1 })
    this.remember(a, record)
    if (record.status === 'alert') this.alert(a, record)
    return record
  }

  /** POST the alert to each webhook, retrying with backoff; never blocks the assay. */
  private alert(a: AssayRecord, r: AssayResultRecord): void {
    const cfg = a.config as unknown as AssayDefinition
    const payload = JSON.stringify({
      event: 'assay.alert',
      assay: { id: a.id, name: a.name, workspace: a.workspace, pipeline: a.pipeline, iopath: cfg.iopath },
      window: { start: new Date(r.windowStart).toISOString(), end: new Date(r.windowEnd).toISOString() },
      score: r.score,
      status: r.status,
      thresholds: { warning: cfg.warning_threshold ?? null, alert: cfg.alert_threshold },
    })
    const doFetch = this.deps.fetch ?? fetch
    for (const url of cfg.webhooks ?? []) {
      const delivery = (async () => {
        let delay = this.deps.webhookBaseDelayMs ?? 1000
        for (let attempt = 1; attempt <= this.deps.webhookAttempts; attempt++) {
          try {
            const res = await doFetch(url, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: payload,
              signal: AbortSignal.timeout(10_000),
            })
            if (res.ok) return
            throw new Error(`HTTP ${res.status}`)
          } catch (e) {
            if (attempt === this.deps.webhookAttempts) {
              this.deps.logger.error('assay webhook failed', {
                url,
                assay: a.id,
                attempts: attempt,
                error: errorMessage(e),
              })
              return
            }
            await new Promise((res) => setTimeout(res, delay))
            delay *= 2
          }
        }
      })()
      this.deliveries.add(delivery)
      void delivery.finally(() => this.deliveries.delete(delivery))
    }
  }

  /** Resolves when pending webhook deliveries have finished (tests, shutdown). */
  async idle(): Promise<void> {
    await this.ticking
    await Promise.all([...this.deliveries])
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
    for (const a of await this.deps.store.listAssays()) {
      for (const r of await this.deps.store.listAssayResults(a.id)) this.remember(a, r)
    }
    this.timer = setInterval(() => {
      this.ticking ??= this.tick()
        .catch((e) => this.deps.logger.error('assay scheduler tick failed', { error: errorMessage(e) }))
        .finally(() => {
          this.ticking = undefined
        })
    }, tickMs)
    this.timer.unref()
  }

  /** Score every window that has ended since the last one stored, for every active assay. */
  async tick(now = Date.now()): Promise<void> {
    for (const a of await this.deps.store.listAssays()) {
      if (!a.active) continue
      const { width, interval, start } = windowOf(a)
      const done = await this.deps.store.listAssayResults(a.id)
      // The first scheduled window after the last stored one (manual runs may sit off the grid).
      const last = done.length > 0 ? (done[done.length - 1] as AssayResultRecord).windowStart : start - 1
      let next = last < start ? start : start + (Math.floor((last - start) / interval) + 1) * interval
      for (let n = 0; next + width <= now && n < 100; n++, next += interval) await this.runWindow(a, next, next + width)
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer)
    await this.idle()
  }
}

function windowOf(a: AssayRecord): { width: number; interval: number; start: number } {
  const w = (a.config as { window: { width: unknown; interval?: unknown; start: unknown } }).window
  const width = parseDuration(w.width)
  return { width, interval: w.interval === undefined ? width : parseDuration(w.interval), start: parseTime(w.start) }
}

function thresholdsOf(c: { warning_threshold?: number | undefined; alert_threshold?: number | undefined }) {
  return thresholdsSchema.parse({
    ...(c.warning_threshold !== undefined ? { warning_threshold: c.warning_threshold } : {}),
    ...(c.alert_threshold !== undefined ? { alert_threshold: c.alert_threshold } : {}),
  })
}

function invalid(what: string, e: z.ZodError): InvalidConfigError {
  return new InvalidConfigError(
    `${what}: ${e.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}`,
  )
}
