/**
 * What an assay request may say and how much work it may ask for: the definition and preview
 * schemas, the window grid of a stored assay, and the limits (narrowest window, windows per run,
 * values per request) checked before any work starts.
 */
import { z } from 'zod'
import { InvalidConfigError } from '../errors.js'
import { CorruptRowError } from '../store/schemas.js'
import type { AssayRecord } from '../store/types.js'
import { summarizerSchema, thresholdsSchema } from './assay.js'
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
    /** URLs that receive a POST for every window whose status is `alert` (through the outbound policy). */
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

/**
 * A definition as the store keeps it (`AssayRecord.config`): the baseline's values counted (they
 * are stored apart, as float64 values) and the window's start fixed when the assay was created.
 */
export const storedAssaySchema = assayDefinitionSchema.extend({
  baseline: z.union([
    z.object({ start: timeSchema, end: timeSchema }).strict(),
    z.object({ values: z.int().min(1) }).strict(),
  ]),
  window: z.object({ width: durationSchema, interval: durationSchema.optional(), start: timeSchema }).strict(),
})

export type StoredAssay = z.infer<typeof storedAssaySchema>

/** The stored definition of `a`, parsed: one changed outside lastmile is refused naming the field. */
export function storedDefinition(a: AssayRecord): StoredAssay {
  const parsed = storedAssaySchema.safeParse(a.config)
  if (parsed.success) return parsed.data
  const issue = parsed.error.issues[0]
  // Stryker disable next-line OptionalChaining,ArrayDeclaration: a failed parse has at least one issue, so `issue` is never undefined and its path never nullish
  throw new CorruptRowError('assays', 'config', `id=${a.id}`, issue?.path ?? [], issue?.message ?? 'not a definition')
}

/** How much work one assay request may ask for (the `assays` settings). */
export interface AssayLimits {
  /** Narrowest window width and interval, in ms. */
  minWindowMs: number
  /** Windows one run may score. */
  maxRunWindows: number
  /** Windows the scheduler scores per tick, over all assays. */
  maxTickWindows: number
  /** Values one request may carry. */
  maxRequestValues: number
  /** Webhooks one assay may have. */
  maxWebhooks: number
}

/** A stored assay's window grid, in ms. */
export interface WindowGrid {
  width: number
  interval: number
  start: number
}

export function windowOf(a: AssayRecord): WindowGrid {
  const w = storedDefinition(a).window
  const width = parseDuration(w.width)
  return { width, interval: w.interval === undefined ? width : parseDuration(w.interval), start: parseTime(w.start) }
}

/** A duration for messages: 12 significant digits (1e-10 s reads 1e-7 ms, not 1.0000000000000001e-7). */
const ms = (v: number) => `${Number(v.toPrecision(12))} ms`

/** Refuse a width or interval narrower than the minimum (a 1e-7 ms window never finishes a day). */
export function checkWindow(w: { width: number; interval: number }, limits: AssayLimits): void {
  for (const [name, v] of [
    ['width', w.width],
    ['interval', w.interval],
  ] as const) {
    if (!(v >= limits.minWindowMs)) {
      throw new InvalidConfigError(
        `window ${name} ${ms(v)} is below the minimum of ${ms(limits.minWindowMs)} (LASTMILE_ASSAY_MIN_WINDOW_MS)`,
        { [name]: v, minimum: limits.minWindowMs },
      )
    }
  }
}

/** Windows of the grid that fit in `[start, end)` from `start`: the count is known before any is scored. */
export function windowsIn(start: number, end: number, w: { width: number; interval: number }): number {
  return end - start < w.width ? 0 : Math.floor((end - start - w.width) / w.interval) + 1
}

/** Refuse a run that would score more windows than the limit, naming the count. */
export function checkRunWindows(count: number, w: { width: number; interval: number }, limits: AssayLimits): void {
  if (count > limits.maxRunWindows) {
    throw new InvalidConfigError(
      `this range holds ${count} windows of ${ms(w.width)} every ${ms(w.interval)}; one run scores at most ${limits.maxRunWindows} (LASTMILE_ASSAY_MAX_RUN_WINDOWS): run shorter ranges`,
      { windows: count, limit: limits.maxRunWindows },
    )
  }
}

/**
 * Refuse a request carrying more values than the limit, counted from the raw body before the
 * schema walks every value. `parts` names the `{ values: [...] }` members to count.
 */
export function checkRequestValues(what: string, body: unknown, parts: string[], limits: AssayLimits): void {
  const counts = parts.map((p) => {
    const values = (body as Record<string, { values?: unknown } | undefined> | null)?.[p]?.values
    return Array.isArray(values) ? values.length : 0
  })
  const total = counts.reduce((a, b) => a + b, 0)
  if (total > limits.maxRequestValues) {
    const each = parts.map((p, i) => `${p} ${counts[i]}`).join(' + ')
    throw new InvalidConfigError(
      `${what} carries ${total} values (${each}); the limit is ${limits.maxRequestValues} (LASTMILE_ASSAY_MAX_REQUEST_VALUES)`,
      { values: total, limit: limits.maxRequestValues },
    )
  }
}

/** Refuse more webhooks than the limit: each is resolved at definition and POSTed at every alert. */
export function checkWebhooks(webhooks: readonly string[], limits: AssayLimits): void {
  if (webhooks.length > limits.maxWebhooks) {
    throw new InvalidConfigError(
      `the assay has ${webhooks.length} webhooks; at most ${limits.maxWebhooks} (LASTMILE_ASSAY_MAX_WEBHOOKS)`,
      { webhooks: webhooks.length, limit: limits.maxWebhooks },
    )
  }
}

export function thresholdsOf(c: { warning_threshold?: number | undefined; alert_threshold?: number | undefined }) {
  return thresholdsSchema.parse({
    ...(c.warning_threshold !== undefined ? { warning_threshold: c.warning_threshold } : {}),
    ...(c.alert_threshold !== undefined ? { alert_threshold: c.alert_threshold } : {}),
  })
}

export function invalid(what: string, e: z.ZodError): InvalidConfigError {
  return new InvalidConfigError(
    `${what}: ${e.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}`,
  )
}
