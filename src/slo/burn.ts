/**
 * The arithmetic of an objective, as the SRE workbook defines it: attainment is good ÷ total
 * events; the error budget is 1 − target; the burn rate over a window is the window's error ratio
 * ÷ the budget (1 spends the whole budget in exactly the objective's window); a multiwindow rule
 * fires when the burn rate over its long and its short window are both above its factor.
 */
import type { Severity } from './spec.js'

/** Good and total events over some span (requests, or eligible minutes for throughput). */
export interface Tally {
  good: number
  total: number
}

/** good ÷ total, or null when nothing was counted. */
export function attainment(t: Tally): number | null {
  return t.total > 0 ? t.good / t.total : null
}

/** The share of the error budget not yet spent: 1 − (1 − attainment) ÷ (1 − target); below 0 once overspent. */
export function budgetRemaining(t: Tally, target: number): number | null {
  const a = attainment(t)
  return a === null ? null : 1 - (1 - a) / (1 - target)
}

/** Error ratio ÷ (1 − target); 0 when nothing was counted (no traffic burns no budget). */
export function burnRate(t: Tally, target: number): number {
  const a = attainment(t)
  return a === null ? 0 : (1 - a) / (1 - target)
}

/** A rule with its windows in ms. */
export interface TimedRule {
  long: string
  short: string
  longMs: number
  shortMs: number
  factor: number
  severity: Severity
}

export interface Firing {
  severity: Severity
  rule: { long: string; short: string; factor: number; burn_rate_long: number; burn_rate_short: number }
}

/**
 * The alerts that fire, given the burn rate over each window (by ms): one per severity (`page`,
 * `ticket`) for which some rule's long and short burn rates are both above its factor, naming the
 * first such rule listed. Severities fire and resolve apart, as the Prometheus rules' alerts do.
 */
export function firing(rules: readonly TimedRule[], burn: (windowMs: number) => number): Firing[] {
  const out: Firing[] = []
  for (const r of rules) {
    if (out.some((f) => f.severity === r.severity)) continue
    const long = burn(r.longMs)
    const short = burn(r.shortMs)
    if (!(long > r.factor && short > r.factor)) continue
    out.push({
      severity: r.severity,
      rule: { long: r.long, short: r.short, factor: r.factor, burn_rate_long: long, burn_rate_short: short },
    })
  }
  return out
}
