/**
 * Burn-rate alerts of objectives: one per series and severity, started when its rules fire and
 * resolved when none does any more, or when its series stops being measured (the pipeline was
 * undeployed or deleted, the version has no such objective). Each change is stored before it is
 * POSTed, so a restart neither repeats nor forgets one, and a resolution goes to the webhooks the
 * alert went to.
 */

import type { Webhooks } from '../assays/webhooks.js'
import type { Logger } from '../logger.js'
import type { SloAlertRecord, SloSeriesKey, SloStore } from '../store/types.js'
import type { Firing } from './burn.js'
import { SEVERITIES } from './spec.js'

/** Why an alert resolved. */
export type ResolveReason = 'recovered' | 'objective_removed' | 'undeployed' | 'pipeline_deleted'

/** What an alert's webhook says of the series beside the alert itself. */
export interface AlertContext {
  version: number
  indicator: string
  target: number
  time_window: string
  webhooks: readonly string[]
  /** The series' figures now (burn rates, attainment, budget), when it was just evaluated. */
  figures?: Record<string, unknown>
}

const keyOf = (k: SloSeriesKey, severity: string) =>
  `${k.workspace}\0${k.pipeline}\0${k.objective}\0${k.arm}\0${severity}`

export class SloAlerts {
  /** Alerts firing, by series and severity. */
  private readonly firing = new Map<string, SloAlertRecord>()

  constructor(
    private readonly store: SloStore,
    private readonly webhooks: Webhooks,
    private readonly logger: Logger,
  ) {}

  /** Take a pipeline's stored alerts into memory (it is watched). */
  async load(workspace: string, pipeline: string): Promise<void> {
    for (const a of await this.store.alerts(workspace, pipeline)) this.firing.set(keyOf(a, a.severity), a)
  }

  /** The alerts firing on a series. */
  of(key: SloSeriesKey): SloAlertRecord[] {
    return SEVERITIES.flatMap((s) => this.firing.get(keyOf(key, s)) ?? [])
  }

  /** Start each severity that fires and is not firing; resolve each firing one that fires no more. */
  async update(key: SloSeriesKey, fires: readonly Firing[], ctx: AlertContext, now: number): Promise<void> {
    for (const f of fires) {
      if (this.firing.has(keyOf(key, f.severity))) continue
      const record: SloAlertRecord = {
        ...key,
        severity: f.severity,
        since: now,
        detail: {
          rule: f.rule,
          webhooks: ctx.webhooks,
          version: ctx.version,
          indicator: ctx.indicator,
          target: ctx.target,
          time_window: ctx.time_window,
        },
      }
      await this.store.putAlert(record)
      this.firing.set(keyOf(key, f.severity), record)
      this.send('slo.alert', record, ctx, f.rule, now)
    }
    for (const a of this.of(key))
      if (!fires.some((f) => f.severity === a.severity)) await this.resolve(a, 'recovered', ctx, now)
  }

  /** Resolve every stored alert of a pipeline that `gone` says is no longer measured. */
  async resolveWhere(
    workspace: string,
    pipeline: string,
    gone: (a: SloAlertRecord) => boolean,
    reason: ResolveReason,
    now: number,
  ): Promise<void> {
    for (const a of await this.store.alerts(workspace, pipeline)) {
      if (!gone(a)) continue
      const d = a.detail as Partial<Omit<AlertContext, 'figures'>>
      const ctx = {
        version: d.version ?? 0,
        indicator: d.indicator ?? '',
        target: d.target ?? 0,
        time_window: d.time_window ?? '',
        webhooks: d.webhooks ?? [],
      }
      await this.resolve(a, reason, ctx, now)
    }
  }

  private async resolve(a: SloAlertRecord, reason: ResolveReason, ctx: AlertContext, now: number): Promise<void> {
    await this.store.clearAlert(a, a.severity)
    this.firing.delete(keyOf(a, a.severity))
    // To the webhooks the alert went to, whatever the version now says.
    const sent = (a.detail as { webhooks?: string[] }).webhooks ?? []
    this.send('slo.resolved', a, { ...ctx, webhooks: sent }, null, now, reason)
  }

  private send(
    event: 'slo.alert' | 'slo.resolved',
    a: SloAlertRecord,
    ctx: AlertContext,
    rule: Firing['rule'] | null,
    now: number,
    reason?: ResolveReason,
  ): void {
    const payload = {
      event,
      ...(reason ? { reason } : {}),
      workspace: a.workspace,
      pipeline: a.pipeline,
      version: ctx.version,
      objective: a.objective,
      indicator: ctx.indicator,
      arm: a.arm === '' ? null : a.arm,
      target: ctx.target,
      time_window: ctx.time_window,
      severity: a.severity,
      since: new Date(a.since).toISOString(),
      rule,
      ...(ctx.figures ?? {}),
      at: new Date(now).toISOString(),
    }
    const where = { workspace: a.workspace, pipeline: a.pipeline, objective: a.objective, severity: a.severity }
    this.logger.warn(event === 'slo.alert' ? 'slo alert' : 'slo alert resolved', { ...where, arm: a.arm, reason })
    this.webhooks.post(ctx.webhooks, JSON.stringify(payload), where)
  }
}
