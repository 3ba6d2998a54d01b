/**
 * The objectives in Prometheus: counters of good and total events since the process started (what
 * the generated rules compute their error ratios from), and gauges of the last evaluation's
 * attainment, error budget left, burn rate per window and alert firing.
 */
import client from 'prom-client'
import type { SloService } from '../slo/service.js'

const SERIES = ['workspace', 'pipeline', 'objective', 'arm'] as const

export function sloMetrics(slo: SloService, registers: client.Registry[]): void {
  for (const [name, help, pick] of [
    [
      'lastmile_slo_events_total',
      'Events counted toward each objective since the server started: requests, or for throughput the minutes with enough traffic',
      (c: { total: number }) => c.total,
    ],
    [
      'lastmile_slo_good_events_total',
      'Good events of each objective since the server started',
      (c: { good: number }) => c.good,
    ],
  ] as const) {
    new client.Counter({
      name,
      help,
      labelNames: SERIES,
      registers,
      collect() {
        this.reset()
        for (const c of slo.counts()) this.inc(c.key, pick(c))
      },
    })
  }
  const each = (
    f: (
      labels: Record<(typeof SERIES)[number], string>,
      s: ReturnType<SloService['latestStatus']>[number]['objectives'][number]['series'][number],
    ) => void,
  ) => {
    for (const st of slo.latestStatus())
      for (const o of st.objectives)
        for (const s of o.series)
          f({ workspace: st.workspace, pipeline: st.pipeline, objective: o.name, arm: s.arm ?? '' }, s)
  }
  new client.Gauge({
    name: 'lastmile_slo_attainment',
    help: 'Share of good events over the objective time window, at the last evaluation',
    labelNames: SERIES,
    registers,
    collect() {
      this.reset()
      each((l, s) => s.attainment !== null && this.set(l, s.attainment))
    },
  })
  new client.Gauge({
    name: 'lastmile_slo_error_budget_remaining',
    help: 'Share of the error budget left over the objective time window (below 0 when overspent)',
    labelNames: SERIES,
    registers,
    collect() {
      this.reset()
      each((l, s) => s.error_budget_remaining !== null && this.set(l, s.error_budget_remaining))
    },
  })
  new client.Gauge({
    name: 'lastmile_slo_burn_rate',
    help: 'Error ratio over the window divided by the error budget (1 spends the budget in exactly the time window)',
    labelNames: [...SERIES, 'window'],
    registers,
    collect() {
      this.reset()
      each((l, s) => {
        for (const [window, v] of Object.entries(s.burn_rates)) this.set({ ...l, window }, v)
      })
    },
  })
  new client.Gauge({
    name: 'lastmile_slo_alert',
    help: 'Burn-rate alerts firing (value 1), by severity',
    labelNames: [...SERIES, 'severity'],
    registers,
    collect() {
      this.reset()
      each((l, s) => {
        for (const a of s.alerts) this.set({ ...l, severity: a.severity }, 1)
      })
    },
  })
}
