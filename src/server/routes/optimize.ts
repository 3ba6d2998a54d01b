/**
 * Measured tuning routes: start a run on a deployed pipeline (202, then poll it), one run, and a
 * pipeline's runs. Thin: decode, one call into the optimize service, encode.
 */
import type { Context, Hono } from 'hono'
import { z } from 'zod'
import type { OptimizationView } from '../../optimize/service.js'
import { type Optimization, optimizationSchema } from '../../wire/optimize.js'
import { bodyBytes, jsonRules, parseJson } from '../body.js'
import type { ServerDeps } from '../deps.js'
import type { RouteTable } from '../route-table.js'
import { list } from './registry.js'

const param = (c: Context, name: string) => c.req.param(name) as string

/** A run on the wire (the view is already snake_case; this checks it matches the schema's type). */
const runJson = (v: OptimizationView): Optimization => v

export function optimizeRoutes(app: Hono, routes: RouteTable, deps: ServerDeps): void {
  const { optimize } = deps
  const tag = 'Tuning'
  const P = '/v1/workspaces/{ws}/pipelines/{name}'
  routes.add(
    app,
    {
      method: 'post',
      path: `${P}/optimize`,
      summary:
        'Measure a deployed pipeline over backends, batching, threads, GPU paths and graph optimization, and recommend the config with the most rows/s meeting a p99 target (a run: 202, then poll)',
      tag,
      access: 'deployer',
      query: z.object({
        apply: z
          .enum(['true', 'false'])
          .default('false')
          .transform((v) => v === 'true')
          .describe('true: redeploy with the recommendation when the run ends (hot swap; other settings kept)'),
      }),
      responses: {
        202: { description: 'the run, started (Location: its URL)', json: optimizationSchema },
        400: 'invalid request: an unknown or unavailable backend, a target ≤ 0, a budget over the maximum',
        404: 'not deployed',
        409: 'another run is in progress on this server',
      },
    },
    async (c, { query }) => {
      const bytes = await bodyBytes(c, jsonRules('small', deps))
      const req = optimize.parse(bytes.length === 0 ? {} : parseJson(bytes))
      await deps.registry.requireWorkspace(param(c, 'ws'))
      const run = await optimize.start(param(c, 'ws'), param(c, 'name'), req, { apply: query.apply })
      c.header('Location', `/v1/workspaces/${param(c, 'ws')}/optimizations/${run.id}`)
      return c.json(runJson(run), 202)
    },
  )
  routes.add(
    app,
    {
      method: 'get',
      path: '/v1/workspaces/{ws}/optimizations/{id}',
      summary: 'A tuning run: its progress, then its report (table and recommendation)',
      tag,
      access: 'viewer',
      responses: { 200: { description: 'the run', json: optimizationSchema }, 404: 'none' },
    },
    async (c) => c.json(runJson(await optimize.get(param(c, 'ws'), param(c, 'id')))),
  )
  routes.add(
    app,
    {
      method: 'get',
      path: `${P}/optimizations`,
      summary: "A pipeline's tuning runs, newest first",
      tag,
      access: 'viewer',
      query: z.object({
        limit: z.coerce.number().int().min(1).max(100).default(20).describe('runs at most (1–100, default 20)'),
      }),
      responses: { 200: list(optimizationSchema, 'the runs, newest first'), 404: 'no workspace' },
    },
    async (c, { query }) => {
      await deps.registry.requireWorkspace(param(c, 'ws'))
      return c.json((await optimize.list(param(c, 'ws'), param(c, 'name'), query.limit)).map(runJson))
    },
  )
}
