/**
 * The alerts that roll a challenger back: the latest scored window of an active assay of the
 * pipeline, when it is an `alert` and started after the contest's version was created; or an
 * objective's alert firing on the challenger's arm (its latency measured per arm).
 */
import type { Store } from '../store/types.js'
import type { Contest, PromotionRule } from './promotion-spec.js'

/** An alert that rolls a challenger back. */
export type FiredAlert =
  | { kind: 'assay'; assay: number; name: string; window_start: string; window_end: string; score: number }
  | { kind: 'slo'; objective: string; arm: string; severity: string; since: string }

/** The alert that rolls the contest's challenger back, if one fires. */
export async function firedAlert(
  store: Store,
  workspace: string,
  pipeline: string,
  contest: Contest,
  rule: PromotionRule,
  since: number,
): Promise<FiredAlert | undefined> {
  if (rule.rollback_on.assay_alerts) {
    for (const a of await store.assays.list(workspace)) {
      if (a.pipeline !== pipeline || !a.active) continue
      const results = await store.assays.results(a.id, since)
      const last = results[results.length - 1]
      if (last?.status === 'alert')
        return {
          kind: 'assay',
          assay: a.id,
          name: a.name,
          window_start: new Date(last.windowStart).toISOString(),
          window_end: new Date(last.windowEnd).toISOString(),
          score: last.score,
        }
    }
  }
  if (rule.rollback_on.slo_alerts) {
    const fired = (await store.slo.alerts(workspace, pipeline)).find((x) => x.arm === contest.challenger)
    if (fired)
      return {
        kind: 'slo',
        objective: fired.objective,
        arm: fired.arm,
        severity: fired.severity,
        since: new Date(fired.since).toISOString(),
      }
  }
  return undefined
}
