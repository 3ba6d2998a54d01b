/**
 * Observability routes: the inference log (logs.ts), assays (define, list, run over a range,
 * results, preview) and their SVG charts.
 */
import type { Context, Hono } from 'hono'
import { z } from 'zod'
import type { AssayResult } from '../../assays/assay.js'
import { binsChart, scoresChart } from '../../assays/charts.js'
import { storedDefinition } from '../../assays/definition.js'
import type { ScheduleState } from '../../assays/scheduler.js'
import { NotFoundError } from '../../errors.js'
import type { AssayRecord, AssayResultRecord } from '../../store/types.js'
import {
  type Assay,
  type AssayWindow,
  assayResultSchema,
  assaySchema,
  assayWindowSchema,
  deletedAssaySchema,
} from '../../wire/assays.js'
import type { ServerDeps } from '../deps.js'
import { jsonBody, type RouteTable } from '../route-table.js'
import { logRoutes, time } from './logs.js'

const param = (c: Context, name: string) => c.req.param(name) as string
/** `{id}` of an assay. */
const assayParams = z.object({ id: z.coerce.number().int().describe('the assay id') })
/** An assay as the API shows it, with where the scheduler stands (once it has looked at it). */
const assayJson = (a: AssayRecord, schedule?: ScheduleState): Assay => ({
  ...storedDefinition(a),
  id: a.id,
  workspace: a.workspace,
  pipeline: a.pipeline,
  name: a.name,
  active: a.active,
  baseline_values: a.baseline.length,
  created_at: a.createdAt,
  ...(schedule ? { schedule } : {}),
})
const resultJson = (r: AssayResultRecord): AssayWindow =>
  ({
    window_start: new Date(r.windowStart).toISOString(),
    window_end: new Date(r.windowEnd).toISOString(),
    score: r.status === 'no_data' ? null : r.score,
    status: r.status,
    ...r.result,
  }) as AssayWindow

const runSchema = z
  .object({ start: z.union([z.string(), z.number()]), end: z.union([z.string(), z.number()]) })
  .strict()

export function observeRoutes(app: Hono, routes: RouteTable, deps: ServerDeps): void {
  const { assays } = deps
  const A = '/v1/workspaces/{ws}/assays'
  const tag = 'Observability'

  logRoutes(app, routes, deps)
  routes.add(
    app,
    {
      method: 'post',
      path: A,
      summary: 'Define an assay (its baseline is frozen now)',
      tag,
      access: 'deployer',
      body: { json: z.record(z.string(), z.unknown()) },
      responses: {
        201: { description: 'the assay', json: assaySchema },
        400: 'invalid definition, a window below the minimum, or a webhook the outbound policy refuses',
        404: 'no pipeline',
        408: 'a large body that arrived too slowly',
        409: 'name taken',
        429: 'too many large bodies at once',
      },
    },
    async (c) => {
      const body = await jsonBody(c, deps, z.unknown(), 'data')
      await deps.registry.requireWorkspace(param(c, 'ws'))
      return c.json(assayJson(await assays.define(param(c, 'ws'), body)), 201)
    },
  )
  routes.add(
    app,
    {
      method: 'get',
      path: A,
      summary: 'List assays',
      tag,
      access: 'viewer',
      responses: { 200: { description: 'the assays', json: z.array(assaySchema) } },
    },
    async (c) => c.json((await assays.list(param(c, 'ws'))).map((a) => assayJson(a, assays.schedule(a.id)))),
  )
  routes.add(
    app,
    {
      method: 'post',
      path: `${A}/preview`,
      summary: 'Score given baseline and window values (the computation scheduled assays use)',
      tag,
      access: 'viewer',
      audit: false, // a computation: nothing is stored
      body: { json: z.record(z.string(), z.unknown()) },
      responses: {
        200: { description: 'the window scored', json: assayResultSchema },
        400: 'invalid, or more values than one request may carry',
        408: 'a large body that arrived too slowly',
        429: 'too many large bodies at once',
      },
    },
    async (c) => c.json(await assays.preview(await jsonBody(c, deps, z.unknown(), 'data'))),
  )
  routes.add(
    app,
    {
      method: 'get',
      path: `${A}/{id}`,
      summary: 'One assay',
      tag,
      access: 'viewer',
      params: assayParams,
      responses: { 200: { description: 'the assay', json: assaySchema }, 404: 'none' },
    },
    async (c, { params }) => {
      const a = await assays.get(param(c, 'ws'), params.id)
      return c.json(assayJson(a, assays.schedule(a.id)))
    },
  )
  routes.add(
    app,
    {
      method: 'delete',
      path: `${A}/{id}`,
      summary: 'Delete an assay and its results',
      tag,
      access: 'deployer',
      params: assayParams,
      responses: { 200: { description: 'deleted', json: deletedAssaySchema }, 404: 'none' },
    },
    async (c, { params }) => {
      await assays.delete(param(c, 'ws'), params.id)
      return c.json({ deleted: params.id })
    },
  )
  routes.add(
    app,
    {
      method: 'post',
      path: `${A}/{id}/run`,
      summary: 'Score every window in {start, end} now (stored; alerts sent)',
      tag,
      access: 'deployer',
      body: { json: runSchema },
      params: assayParams,
      responses: {
        200: { description: 'the windows scored', json: z.array(assayWindowSchema) },
        400: 'bad range, or more windows than one run may score',
        404: 'none',
      },
    },
    async (c, { params }) => {
      const range = await jsonBody(c, deps, runSchema)
      return c.json((await assays.run(param(c, 'ws'), params.id, range)).map(resultJson))
    },
  )
  routes.add(
    app,
    {
      method: 'get',
      path: `${A}/{id}/results`,
      summary: 'Stored results, oldest window first',
      tag,
      access: 'viewer',
      params: assayParams,
      query: z.object({
        start: time.optional().describe('windows starting at or after this time'),
        end: time.optional().describe('windows starting before this time'),
      }),
      responses: { 200: { description: 'the stored windows', json: z.array(assayWindowSchema) }, 404: 'none' },
    },
    async (c, { params, query }) =>
      c.json((await assays.results(param(c, 'ws'), params.id, query.start, query.end)).map(resultJson)),
  )
  routes.add(
    app,
    {
      method: 'get',
      path: `${A}/{id}/chart.svg`,
      summary: 'A chart as SVG: the score over time, or the bins of one window against the baseline',
      tag,
      access: 'viewer',
      params: assayParams,
      query: z.object({
        kind: z
          .enum(['scores', 'bins'])
          .default('scores')
          .describe('scores: the score over time, thresholds drawn; bins: baseline vs a window'),
        window_start: time.optional().describe('the window of a bins chart (default: the latest scored)'),
      }),
      responses: { 200: { description: 'the chart', media: ['image/svg+xml'] }, 404: 'none' },
    },
    async (c, { params, query }) => {
      const a = await assays.get(param(c, 'ws'), params.id)
      const results = await assays.results(a.workspace, a.id)
      const cfg = storedDefinition(a)
      const title = `${a.name}: ${a.pipeline} ${cfg.iopath}`
      let svg: string
      if (query.kind === 'bins') {
        const at = query.window_start
        const scored = results.filter((r) => r.status !== 'no_data')
        const r = at === undefined ? scored[scored.length - 1] : scored.find((x) => x.windowStart === at)
        if (!r)
          throw new NotFoundError(
            `assay ${a.id} has no scored window${at === undefined ? ' yet' : ` starting at ${c.req.query('window_start')}`}`,
          )
        svg = binsChart(
          `${title}, window from ${new Date(r.windowStart).toISOString()}`,
          r.result as unknown as AssayResult,
        )
      } else {
        svg = scoresChart(
          title,
          results.map((r) => ({
            time: r.windowStart,
            score: r.status === 'no_data' ? Number.NaN : r.score,
            status: r.status,
          })),
          { warning: cfg.warning_threshold, alert: cfg.alert_threshold },
        )
      }
      c.header('Content-Type', 'image/svg+xml')
      return c.body(svg)
    },
  )
}
