/**
 * Explanation routes: run one now (JSON, Arrow or SVG), or start one as a job and follow it.
 */

import * as aq from 'arquero'
import type { Context, Hono } from 'hono'
import { z } from 'zod'
import { explanationChart } from '../../explain/charts.js'
import { explainSchema } from '../../explain/request.js'
import type { ExplainReport } from '../../explain/run.js'
import type { ExplanationJob } from '../../explain/service.js'
import { ARROW_TYPES } from '../../formats/media-types.js'
import {
  type ExplanationJob as ExplanationJobWire,
  explainReportSchema,
  explanationJobSchema,
} from '../../wire/explain.js'
import type { ServerDeps } from '../deps.js'
import { jsonBody, type RouteTable } from '../route-table.js'

const ARROW = ARROW_TYPES.stream
const SVG = 'image/svg+xml'

/** How a report is answered: JSON, its summary table as Arrow, or a chart. */
const reportQuery = {
  format: z.enum(['json', 'arrow', 'svg']).optional().describe("the report's form (default json)"),
  row: z.coerce.number().int().min(0).optional().describe('svg of a local method: the explained row to draw'),
  feature: z.string().optional().describe('svg of pdp: the feature whose curve to draw'),
}
type ReportQuery = z.output<z.ZodObject<typeof reportQuery>>

/** Answer a report in `format`; `arrow` gives the summary table's Arrow IPC stream bytes, made only when asked for. */
function answer(c: Context, report: ExplainReport, q: ReportQuery, arrow: () => Uint8Array) {
  if (q.format === 'arrow') {
    c.header('Content-Type', ARROW)
    return c.body(arrow() as Uint8Array<ArrayBuffer>)
  }
  if (q.format === 'svg') {
    c.header('Content-Type', SVG)
    return c.body(
      explanationChart(report, {
        ...(q.row !== undefined ? { row: q.row } : {}),
        ...(q.feature !== undefined ? { feature: q.feature } : {}),
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
        'Explain a deployed pipeline: permutation importance, partial dependence (PDP/ICE), KernelSHAP or permutation SHAP, now or as a job',
      tag,
      access: 'viewer',
      body: { json: explainSchema },
      query: z.object({
        ...reportQuery,
        async: z
          .enum(['true', 'false'])
          .default('false')
          .transform((v) => v === 'true')
          .describe('true: start a job and answer 202 with it'),
      }),
      responses: {
        200: { description: 'the report', json: explainReportSchema, media: [ARROW, SVG] },
        202: { description: 'the job, started (Location: its URL)', json: explanationJobSchema },
        400: 'invalid, or over a limit (a parameter or the model rows it would cost)',
        404: 'not deployed',
        408: 'a large body that arrived too slowly',
        429: 'too many large bodies at once',
      },
    },
    async (c, { query }) => {
      const req = explain.parse(await jsonBody(c, deps, z.unknown(), 'data'))
      await deps.registry.requireWorkspace(param(c, 'ws'))
      if (query.async) {
        explain.admit(param(c, 'ws'), param(c, 'name'), req) // over a limit: a 400 now, not a failed job later
        const job = await explain.start(param(c, 'ws'), param(c, 'name'), req)
        c.header('Location', `/v1/workspaces/${param(c, 'ws')}/explanations/${job.id}`)
        return c.json(jobJson(job), 202)
      }
      const { report, table } = await explain.explain(param(c, 'ws'), param(c, 'name'), req)
      return answer(c, report, query, () => aq.toArrowIPC(table, { format: 'stream' }) as Uint8Array)
    },
  )
  routes.add(
    app,
    {
      method: 'get',
      path: '/v1/workspaces/{ws}/explanations/{id}',
      summary: 'An explanation job: its progress, then its report',
      tag,
      access: 'viewer',
      query: z.object(reportQuery),
      responses: {
        200: {
          description: 'the job; its report alone with ?format= once it has succeeded',
          json: z.union([explanationJobSchema, explainReportSchema]),
          media: [ARROW, SVG],
        },
        404: 'none',
      },
    },
    async (c, { query }) => {
      const job = await explain.job(param(c, 'ws'), param(c, 'id'))
      const { report, summary } = job
      if (report && summary && query.format) return answer(c, report, query, () => summary)
      return c.json(jobJson(job))
    },
  )
}

const jobJson = (j: ExplanationJob): ExplanationJobWire => {
  const { summary: _summary, ...rest } = j
  return rest as ExplanationJobWire
}
