/**
 * Prometheus rules equivalent to the built-in burn-rate alerts, as Sloth and Pyrra generate them:
 * one recording rule per window of the error ratio, from the counters lastmile exports
 * (`lastmile_slo_events_total` and `lastmile_slo_good_events_total`), and one alert per objective
 * and severity that fires when the ratio over a rule's long and short windows is both above its
 * factor times the error budget. As a rule file for `promtool` and Prometheus, or wrapped in the
 * Prometheus Operator's `PrometheusRule` resource for Kubernetes.
 */
import { createHash } from 'node:crypto'
import { SEVERITIES, type SloPlan } from './spec.js'

export const RULE_FORMATS = ['prometheus', 'prometheus-operator'] as const
export type RuleFormat = (typeof RULE_FORMATS)[number]

const BY = 'workspace, pipeline, objective, arm'
const recorded = (window: string) => `lastmile:slo_error_ratio:rate${window}`

/** The rule groups of one pipeline's objectives, as a YAML document. */
export function sloRules(workspace: string, pipeline: string, plan: SloPlan, format: RuleFormat): string {
  const sel = `workspace="${workspace}",pipeline="${pipeline}"`
  const windows = [...new Set(plan.rules.flatMap((r) => [r.short, r.long]))]
  const ratios = windows.map((w) => ({
    record: recorded(w),
    expr: `1 - (sum by (${BY}) (rate(lastmile_slo_good_events_total{${sel}}[${w}])) / sum by (${BY}) (rate(lastmile_slo_events_total{${sel}}[${w}])))`,
  }))
  const alerts = plan.slo.objectives.flatMap((o) =>
    SEVERITIES.flatMap((severity) => {
      const rules = plan.rules.filter((r) => r.severity === severity)
      if (rules.length === 0) return []
      const one = `${sel},objective="${o.name}"`
      const budget = `(1 - ${o.target})`
      const expr = rules
        .map(
          (r) =>
            `(${recorded(r.long)}{${one}} > (${r.factor} * ${budget}) and ${recorded(r.short)}{${one}} > (${r.factor} * ${budget}))`,
        )
        .join(' or ')
      return [
        {
          alert: 'LastmileSloBurnRate',
          expr,
          labels: { severity, workspace, pipeline, objective: o.name },
          annotations: {
            summary: `${workspace}/${pipeline}: objective '${o.name}' is burning its error budget too fast`,
            description: `Objective ${o.name} (${o.indicator}, target ${o.target} over ${plan.slo.time_window}): the error ratio is above ${rules.map((r) => `${r.factor}x the budget over ${r.long} and ${r.short}`).join(', or ')}.`,
          },
        },
      ]
    }),
  )
  // '/' is in no workspace or pipeline name: group names of two pipelines never meet.
  const groups = [
    { name: `lastmile-slo/${workspace}/${pipeline}/ratios`, rules: ratios },
    { name: `lastmile-slo/${workspace}/${pipeline}/alerts`, rules: alerts },
  ]
  if (format === 'prometheus') return yaml({ groups })
  return yaml({
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: {
      name: resourceName(workspace, pipeline),
      labels: { 'app.kubernetes.io/name': 'lastmile', 'app.kubernetes.io/component': 'slo' },
    },
    spec: { groups },
  })
}

/**
 * A Kubernetes name (lower-case letters, digits and '-', at most 63, starting and ending with a
 * letter or digit) for a pipeline's rules: readable, and unique by a hash of the exact names
 * (`team-a`/`x` and `team`/`a-x`, or `Fraud` and `fraud`, would read alike).
 */
function resourceName(workspace: string, pipeline: string): string {
  const hash = createHash('sha256').update(`${workspace}/${pipeline}`).digest('hex').slice(0, 8)
  const readable = `${workspace}-${pipeline}`
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .slice(0, 40)
    .replace(/-+$/, '')
  return `lastmile-slo-${readable}-${hash}`
}

/**
 * YAML in block style, every string double-quoted with JSON's escapes (which YAML's double-quoted
 * scalars read the same): enough for rule files, and no parser's guess at what a bare word means.
 */
export function yaml(value: unknown, indent = ''): string {
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]\n'
    return value.map((v) => `${indent}- ${yaml(v, `${indent}  `).trimStart()}`).join('')
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value)
    if (entries.length === 0) return '{}\n'
    return entries
      .map(([k, v]) => {
        const nested = v !== null && typeof v === 'object' && Object.keys(v).length > 0
        return nested ? `${indent}${k}:\n${yaml(v, `${indent}  `)}` : `${indent}${k}: ${yaml(v, indent).trimStart()}`
      })
      .join('')
  }
  return `${indent}${JSON.stringify(value)}\n`
}
