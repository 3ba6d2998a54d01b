/**
 * Observability routes: the inference log (JSON or Arrow), assays (define, list, run over a range,
 * results, preview) and their SVG charts.
 */
import { float64, tableFromArrays, tableToIPC } from '@uwdata/flechette'
import type { Context, Hono } from 'hono'
import { z } from 'zod'
import type { AssayResult } from '../../assays/assay.js'
import { binsChart, scoresChart } from '../../assays/charts.js'
import type { ScheduleState } from '../../assays/scheduler.js'
import { parseTime } from '../../assays/time.js'
import { InvalidRequestError, NotFoundError } from '../../errors.js'
import type { AssayRecord, AssayResultRecord } from '../../store/types.js'
import type { ServerDeps } from '../deps.js'
import { jsonBody, type RouteTable } from '../route-table.js'

const param = (c: Context, name: string) => c.req.param(name) as string
const assayId = (c: Context) => {
  const id = Number(c.req.param('id'))
  if (!Number.isInteger(id)) throw new NotFoundError(`'${c.req.param('id')}' is not an assay id`)
  return id
}
const optionalTime = (v: string | undefined) => (v === undefined || v === '' ? undefined : parseTime(v))

/** An assay as the API shows it, with where the scheduler stands (once it has looked at it). */
const assayJson = (a: AssayRecord, schedule?: ScheduleState) => ({
  id: a.id,
  workspace: a.workspace,
  pipeline: a.pipeline,
  name: a.name,
  active: a.active,
  baseline_values: a.baseline.length,
  created_at: a.createdAt,
  ...a.config,
  ...(schedule ? { schedule } : {}),
})
const resultJson = (r: AssayResultRecord) => ({
  window_start: new Date(r.windowStart).toISOString(),
  window_end: new Date(r.windowEnd).toISOString(),
  score: r.status === 'no_data' ? null : r.score,
  status: r.status,
  ...r.result,
})

const runSchema = z
  .object({ start: z.union([z.string(), z.number()]), end: z.union([z.string(), z.number()]) })
  .strict()

export function observeRoutes(app: Hono, routes: RouteTable, deps: ServerDeps): void {
  const { assays, inferenceLog } = deps
  const A = '/v1/workspaces/{ws}/assays'
  const tag = 'Observability'

  routes.add(
    app,
    {
      method: 'get',
      path: '/v1/workspaces/{ws}/pipelines/{name}/logs',
      summary: 'The inference log: ?start=&end= (ISO or ms), &limit=, &columns=a,b, &format=json|arrow',
      tag,
      access: 'viewer',
      responses: { 200: 'rows, oldest first', 400: 'bad query' },
    },
    async (c) => {
      const q = c.req.query()
      const limit = q.limit === undefined ? 1000 : Number(q.limit)
      if (!Number.isInteger(limit) || limit < 1)
        throw new InvalidRequestError(`limit must be a positive integer, got '${q.limit}'`)
      await deps.registry.requireWorkspace(param(c, 'ws'))
      const start = optionalTime(q.start)
      const end = optionalTime(q.end)
      const rows = await inferenceLog.query(param(c, 'ws'), param(c, 'name'), {
        ...(start !== undefined ? { start } : {}),
        ...(end !== undefined ? { end } : {}),
        limit,
        ...(q.columns ? { columns: q.columns.split(',').map((s) => s.trim()) } : {}),
      })
      if (q.format === 'arrow') {
        const names = [...new Set(rows.flatMap((r) => Object.keys(r)))]
        const columns = Object.fromEntries(names.map((n) => [n, rows.map((r) => r[n] ?? null)]))
        const table = tableFromArrays(columns as never, { types: { time: float64() } as never })
        c.header('Content-Type', 'application/vnd.apache.arrow.stream')
        return c.body(tableToIPC(table, { format: 'stream' }) as Uint8Array<ArrayBuffer>)
      }
      if (q.format !== undefined && q.format !== 'json')
        throw new InvalidRequestError(`format must be json or arrow, got '${q.format}'`)
      return c.json(rows)
    },
  )

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
        201: 'assay',
        400: 'invalid definition, a window below the minimum, or a webhook the outbound policy refuses',
        404: 'no pipeline',
        409: 'name taken',
      },
    },
    async (c) => {
      const body = await jsonBody(c, deps, z.unknown())
      await deps.registry.requireWorkspace(param(c, 'ws'))
      return c.json(assayJson(await assays.define(param(c, 'ws'), body)), 201)
    },
  )
  routes.add(
    app,
    { method: 'get', path: A, summary: 'List assays', tag, access: 'viewer', responses: { 200: 'assays' } },
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
      body: { json: z.record(z.string(), z.unknown()) },
      responses: { 200: 'result', 400: 'invalid, or more values than one request may carry' },
    },
    async (c) => c.json(await assays.preview(await jsonBody(c, deps, z.unknown()))),
  )
  routes.add(
    app,
    {
      method: 'get',
      path: `${A}/{id}`,
      summary: 'One assay',
      tag,
      access: 'viewer',
      responses: { 200: 'assay', 404: 'none' },
    },
    async (c) => {
      const a = await assays.get(param(c, 'ws'), assayId(c))
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
      responses: { 200: 'deleted', 404: 'none' },
    },
    async (c) => {
      await assays.delete(param(c, 'ws'), assayId(c))
      return c.json({ deleted: assayId(c) })
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
      responses: { 200: 'results', 400: 'bad range, or more windows than one run may score', 404: 'none' },
    },
    async (c) => {
      const range = await jsonBody(c, deps, runSchema)
      return c.json((await assays.run(param(c, 'ws'), assayId(c), range)).map(resultJson))
    },
  )
  routes.add(
    app,
    {
      method: 'get',
      path: `${A}/{id}/results`,
      summary: 'Stored results, ?start=&end=',
      tag,
      access: 'viewer',
      responses: { 200: 'results', 404: 'none' },
    },
    async (c) =>
      c.json(
        (await assays.results(param(c, 'ws'), assayId(c), c.req.query('start'), c.req.query('end'))).map(resultJson),
      ),
  )
  routes.add(
    app,
    {
      method: 'get',
      path: `${A}/{id}/chart.svg`,
      summary:
        'SVG: ?kind=scores (score over time, thresholds drawn; default) or ?kind=bins (baseline vs the latest or ?window_start= window)',
      tag,
      access: 'viewer',
      responses: { 200: 'image/svg+xml', 404: 'none' },
    },
    async (c) => {
      const a = await assays.get(param(c, 'ws'), assayId(c))
      const results = await assays.results(a.workspace, a.id)
      const cfg = a.config as { iopath: string; warning_threshold?: number; alert_threshold?: number }
      const title = `${a.name}: ${a.pipeline} ${cfg.iopath}`
      let svg: string
      if ((c.req.query('kind') ?? 'scores') === 'bins') {
        const at = optionalTime(c.req.query('window_start'))
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
          { warning: cfg.warning_threshold, alert: cfg.alert_threshold ?? 0.25 },
        )
      }
      c.header('Content-Type', 'image/svg+xml')
      return c.body(svg)
    },
  )
}
