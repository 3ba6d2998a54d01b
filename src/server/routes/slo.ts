/** Service-level objective routes: a deployed pipeline's attainment, budget, burn rates and alerts, its chart, its Prometheus rules. */
import type { Context, Hono } from 'hono'
import { z } from 'zod'
import { sloChart } from '../../slo/chart.js'
import { RULE_FORMATS, sloRules } from '../../slo/rules.js'
import { sloStatusSchema } from '../../wire/slo.js'
import type { ServerDeps } from '../deps.js'
import type { RouteTable } from '../route-table.js'

const param = (c: Context, name: string) => c.req.param(name) as string

export function sloRoutes(app: Hono, routes: RouteTable, deps: ServerDeps): void {
  const { slo } = deps
  const tag = 'Objectives'
  const P = '/v1/workspaces/{ws}/pipelines/{name}/slo'
  routes.add(
    app,
    {
      method: 'get',
      path: P,
      summary: "The deployed version's objectives: attainment, error budget left, burn rates, alerts",
      tag,
      access: 'viewer',
      responses: { 200: { description: 'the objectives', json: sloStatusSchema }, 404: 'not deployed with objectives' },
    },
    async (c) => c.json(await slo.status(param(c, 'ws'), param(c, 'name'))),
  )
  routes.add(
    app,
    {
      method: 'get',
      path: `${P}/chart.svg`,
      summary: "An objective's attainment and error budget over its time window, as SVG",
      tag,
      access: 'viewer',
      query: z.object({
        objective: z.string().min(1).optional().describe('the objective, by name (the first by default)'),
        arm: z.string().default('').describe('a split arm (model reference); the whole pipeline by default'),
      }),
      responses: { 200: { description: 'the chart', media: ['image/svg+xml'] }, 404: 'no such objective' },
    },
    async (c, { query }) => {
      const ws = param(c, 'ws')
      const name = param(c, 'name')
      const { plan } = slo.plan(ws, name)
      const which = query.objective ?? (plan.slo.objectives[0] as { name: string }).name
      const { objective, steps } = await slo.history(ws, name, which, query.arm, 60)
      const what = `${objective.indicator}${'value' in objective ? ` ${objective.op} ${objective.value}` : ''}`
      const title = `${name}: ${objective.name} (${what}, target ${objective.target} over ${plan.slo.time_window})${query.arm ? `, arm ${query.arm}` : ''}`
      c.header('Content-Type', 'image/svg+xml')
      return c.body(sloChart(title, objective.target, steps))
    },
  )
  routes.add(
    app,
    {
      method: 'get',
      path: `${P}/rules`,
      summary: 'Prometheus recording and alerting rules equivalent to the built-in burn-rate alerts (YAML)',
      tag,
      access: 'viewer',
      query: z.object({
        format: z
          .enum(RULE_FORMATS)
          .default('prometheus')
          .describe('prometheus: a rule file; prometheus-operator: a PrometheusRule resource'),
      }),
      responses: {
        200: { description: 'the rules', media: ['application/yaml'] },
        404: 'not deployed with objectives',
      },
    },
    (c, { query }) => {
      const ws = param(c, 'ws')
      const name = param(c, 'name')
      c.header('Content-Type', 'application/yaml; charset=utf-8')
      return c.body(sloRules(ws, name, slo.plan(ws, name).plan, query.format))
    },
  )
}
