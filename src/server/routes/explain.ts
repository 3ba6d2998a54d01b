/**
 * Explanation routes: run one now (JSON, Arrow or SVG), or start one as a job and follow it.
 */

import * as aq from 'arquero'
import type { Context, Hono } from 'hono'
import { z } from 'zod'
import { InvalidRequestError } from '../../errors.js'
import { explanationChart } from '../../explain/charts.js'
import { explainSchema } from '../../explain/request.js'
import type { ExplainReport } from '../../explain/run.js'
import type { ExplanationJob } from '../../explain/service.js'
import type { ServerDeps } from '../deps.js'
import { jsonBody, type RouteTable } from '../route-table.js'

const FORMATS = ['json', 'arrow', 'svg'] as const

/**
 * Answer a report as `?format=json|arrow|svg` (svg: `&row=` / `&feature=` pick what to draw);
 * `arrow` gives the summary table's Arrow IPC stream bytes, made only when asked for.
 */
function answer(c: Context, report: ExplainReport, arrow: () => Uint8Array) {
  const format = c.req.query('format') ?? 'json'
  if (!(FORMATS as readonly string[]).includes(format))
    throw new InvalidRequestError(`format must be one of ${FORMATS.join(', ')}, got '${format}'`)
  if (format === 'arrow') {
    c.header('Content-Type', 'application/vnd.apache.arrow.stream')
    return c.body(arrow() as Uint8Array<ArrayBuffer>)
  }
  if (format === 'svg') {
    const row = c.req.query('row')
    const feature = c.req.query('feature')
    c.header('Content-Type', 'image/svg+xml')
    return c.body(
      explanationChart(report, {
        ...(row !== undefined ? { row: Number(row) } : {}),
        ...(feature !== undefined ? { feature } : {}),
      }),
    )
  }
  return c.json(report)
}

export function explainRoutes(app: Hono, routes: RouteTable, deps: ServerDeps): void {
  const { explain } = deps
  const tag = 'explain'
  const param = (c: Context, name: string) => c.req.param(name) as string
  routes.add(
    app,
    {
      method: 'post',
      path: '/v1/workspaces/{ws}/pipelines/{name}/explain',
      summary:
        'Explain a deployed pipeline: permutation importance, partial dependence (PDP/ICE), KernelSHAP or permutation SHAP; ?format=json|arrow|svg, ?async=true starts a job',
      tag,
      access: 'viewer',
      body: { json: explainSchema },
      responses: {
        200: 'report',
        202: 'job started',
        400: 'invalid, or over a limit (a parameter or the model rows it would cost)',
        404: 'not deployed',
      },
    },
    async (c) => {
      const req = explain.parse(await jsonBody(c, deps, z.unknown()))
      await deps.registry.requireWorkspace(param(c, 'ws'))
      if (c.req.query('async') === 'true') {
        explain.admit(param(c, 'ws'), param(c, 'name'), req) // over a limit: a 400 now, not a failed job later
        const job = await explain.start(param(c, 'ws'), param(c, 'name'), req)
        c.header('Location', `/v1/workspaces/${param(c, 'ws')}/explanations/${job.id}`)
        return c.json(jobJson(job), 202)
      }
      const { report, table } = await explain.explain(param(c, 'ws'), param(c, 'name'), req)
      return answer(c, report, () => aq.toArrowIPC(table, { format: 'stream' }) as Uint8Array)
    },
  )
  routes.add(
    app,
    {
      method: 'get',
      path: '/v1/workspaces/{ws}/explanations/{id}',
      summary: 'An explanation job: progress, then its report (?format=json|arrow|svg once it has succeeded)',
      tag,
      access: 'viewer',
      responses: { 200: 'job or report', 404: 'none' },
    },
    async (c) => {
      const job = await explain.job(param(c, 'ws'), param(c, 'id'))
      const { report, summary } = job
      if (report && summary && c.req.query('format')) return answer(c, report, () => summary)
      return c.json(jobJson(job))
    },
  )
}

const jobJson = (j: ExplanationJob) => {
  const { summary: _summary, ...rest } = j
  return rest
}
