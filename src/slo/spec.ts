/**
 * A pipeline's service-level objectives, as its version carries them (`slo` beside `steps`), in
 * the shape of OpenSLO's SLO kind: a rolling `time_window`, objectives with an `op`, a `value`
 * and a `target`, occurrence budgeting for latency and availability, time slices for throughput.
 * The README's "Service-level objectives" section is the user's manual of these fields.
 */
import { z } from 'zod'
import { parseDuration } from '../assays/time.js'
import { InvalidConfigError } from '../errors.js'

/** Minutes are the accounting's bucket and the throughput objective's time slice. */
export const MINUTE_MS = 60_000

/** Shortest and longest rolling window an objective may be measured over. */
const MIN_WINDOW_MS = 3_600_000
const MAX_WINDOW_MS = 90 * 86_400_000

/** Google's SRE workbook, "Alerting on SLOs", table 5-8: multiwindow, multi-burn-rate alerts for a 30-day objective. */
const WORKBOOK_BURN_RATES = [
  { long: '1h', short: '5m', factor: 14.4, severity: 'page' },
  { long: '6h', short: '30m', factor: 6, severity: 'page' },
  { long: '3d', short: '6h', factor: 1, severity: 'ticket' },
] as const

/** Alert severities, the more urgent first. */
export const SEVERITIES = ['page', 'ticket'] as const
export type Severity = (typeof SEVERITIES)[number]

const duration = z.string().regex(/^\d+(ms|s|m|h|d)$/, 'a duration like "5m", "6h" or "30d"')
const target = z
  .number()
  .gt(0, 'a share above 0')
  .lt(1, 'a share below 1: 0.999 is 99.9%; an objective of 1 would leave no error budget')
const name = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9_-]{0,62}$/,
    'lowercase letters, digits, "-" and "_", at most 63, starting with a letter or digit',
  )

const objectiveSchema = z.discriminatedUnion('indicator', [
  z
    .object({
      name,
      /** Requests answered (2xx) within `value` ms, from the request's arrival to its answer's encoding. */
      indicator: z.literal('latency'),
      op: z.literal('lte').default('lte'),
      value: z.number().positive().max(3_600_000),
      target,
    })
    .strict(),
  z
    .object({
      name,
      /** Requests answered without a 5xx. */
      indicator: z.literal('availability'),
      target,
    })
    .strict(),
  z
    .object({
      name,
      /** Minutes in which clients sent at least `value` rows/s that answered at least `value` rows/s. */
      indicator: z.literal('throughput'),
      op: z.literal('gte').default('gte'),
      value: z.number().positive().max(1e9),
      target,
    })
    .strict(),
])

const burnRateSchema = z
  .object({
    long: duration,
    short: duration,
    factor: z.number().positive().max(1000),
    severity: z.enum(SEVERITIES),
  })
  .strict()

export const sloSchema = z
  .object({
    /** Rolling window the attainment and the error budget are measured over (OpenSLO's timeWindow). */
    time_window: duration.default('30d'),
    objectives: z.array(objectiveSchema).min(1).max(10),
    /** Also measure latency objectives per split arm (the model that answered a row). */
    per_arm: z.boolean().default(false),
    alerting: z
      .object({
        /** URLs that receive a POST when an objective starts or stops burning too fast. */
        webhooks: z.array(z.string().url()).max(10).default([]),
        /** Each rule fires when the burn rate over both windows is above its factor. */
        burn_rates: z
          .array(burnRateSchema)
          .min(1)
          .max(6)
          .default(() => WORKBOOK_BURN_RATES.map((r) => ({ ...r }))),
      })
      .strict()
      .prefault({}),
  })
  .strict()

export type Slo = z.infer<typeof sloSchema>
export type Objective = Slo['objectives'][number]
type BurnRateRule = Slo['alerting']['burn_rates'][number]

/** A parsed objective with its durations in ms. */
export interface SloPlan {
  slo: Slo
  windowMs: number
  rules: Array<BurnRateRule & { longMs: number; shortMs: number }>
  /** How long buckets are kept: the longest window any figure reads, and a day to spare. */
  retentionMs: number
}

/** Validate a pipeline's `slo`, with a 400 that names the field and what it expects. */
export function parseSlo(raw: unknown): SloPlan {
  const parsed = sloSchema.safeParse(raw)
  if (!parsed.success) {
    const i = parsed.error.issues[0]
    throw new InvalidConfigError(`slo.${i?.path.join('.') || ''}: ${i?.message}`.replace('slo.:', 'slo:'))
  }
  const slo = parsed.data
  const names = slo.objectives.map((o) => o.name)
  const twice = names.find((n, i) => names.indexOf(n) !== i)
  if (twice !== undefined) throw new InvalidConfigError(`slo.objectives: the name '${twice}' is used twice`)
  const windowMs = parseDuration(slo.time_window)
  if (windowMs < MIN_WINDOW_MS || windowMs > MAX_WINDOW_MS || windowMs % MINUTE_MS !== 0)
    throw new InvalidConfigError(`slo.time_window: '${slo.time_window}' is not whole minutes from 1h to 90d`)
  const given = (raw as { alerting?: { burn_rates?: unknown } }).alerting?.burn_rates !== undefined
  const rules = slo.alerting.burn_rates.map((r, i) => {
    const longMs = parseDuration(r.long)
    const shortMs = parseDuration(r.short)
    if ([shortMs, longMs].some((ms) => ms < MINUTE_MS || ms > MAX_WINDOW_MS || ms % MINUTE_MS !== 0))
      throw new InvalidConfigError(`slo.alerting.burn_rates.${i}: windows are whole minutes from 1m to 90d`)
    if (shortMs >= longMs)
      throw new InvalidConfigError(
        `slo.alerting.burn_rates.${i}: the short window (${r.short}) must be shorter than the long one (${r.long})`,
      )
    if (longMs > windowMs)
      throw new InvalidConfigError(
        `slo.alerting.burn_rates.${i}: its long window (${r.long}) is longer than the time_window (${slo.time_window}); the default rules are the SRE workbook's for 30 days: give rules that fit a shorter window`,
      )
    // The error ratio is at most 1: a rule given above it could never fire. (The workbook's 14.4
    // cannot fire below a 93.06% target either; the README says so, and its ticket rule still does.)
    const never = slo.objectives.find((o) => r.factor * (1 - o.target) >= 1 - 1e-9) // 1 − 0.9 is 0.0999…98
    if (never && given)
      throw new InvalidConfigError(
        `slo.alerting.burn_rates.${i}: a burn rate of ${r.factor} against objective '${never.name}' (target ${never.target}) needs more than every event to fail: it could never fire`,
      )
    return { ...r, longMs, shortMs }
  })
  const hooks = slo.alerting.webhooks
  const again = hooks.find((u, i) => hooks.indexOf(u) !== i)
  if (again !== undefined) throw new InvalidConfigError(`slo.alerting.webhooks: '${again}' is listed twice`)
  const retentionMs = Math.max(windowMs, ...rules.map((r) => r.longMs)) + 86_400_000
  return { slo, windowMs, rules, retentionMs }
}
