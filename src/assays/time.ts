/**
 * Times and durations in assay definitions: times as ISO 8601 strings or ms since the epoch;
 * durations as seconds, or strings like "90s", "15m", "24h", "7d", "500ms".
 */
import { z } from 'zod'
import { InvalidConfigError } from '../errors.js'

export const timeSchema = z.union([z.string().min(1), z.number()])
export const durationSchema = z.union([z.string().min(1), z.number().positive()])

const UNIT: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** Farthest time from the epoch a Date holds, in ms (ECMAScript's time value range). */
const MAX_TIME = 8.64e15

/** ms since the epoch, within the range a Date holds (results are written as ISO 8601). */
export function parseTime(v: unknown): number {
  let t = Number.NaN
  if (typeof v === 'number') t = v
  else if (typeof v === 'string') t = v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : Date.parse(v)
  if (Number.isFinite(t) && Math.abs(t) <= MAX_TIME) return t
  throw new InvalidConfigError(
    `'${String(v)}' is not a time: use ISO 8601 (2024-05-01T00:00:00Z) or ms since the epoch (at most ${MAX_TIME})`,
  )
}

/** Milliseconds. */
export function parseDuration(v: unknown): number {
  if (typeof v === 'number' && v > 0 && Number.isFinite(v)) return v * 1000
  const m = typeof v === 'string' ? /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(v.trim()) : null
  if (!m) throw new InvalidConfigError(`'${String(v)}' is not a duration: use seconds, or "30s", "15m", "24h", "7d"`)
  return Number(m[1]) * (UNIT[m[2] as string] as number)
}
