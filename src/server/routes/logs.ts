/**
 * The inference log's route: a pipeline's logged rows as JSON or Arrow, a bounded page at a time
 * (at most LASTMILE_INFERENCE_LOG_QUERY_MAX_ROWS rows and a few million values), read and encoded
 * in a body worker; a page that stops short of the range links to the rest.
 */
import type { Context, Hono } from 'hono'
import { z } from 'zod'
import { parseTime } from '../../assays/time.js'
import { errorMessage } from '../../errors.js'
import { ARROW_TYPES, JSON_TYPE } from '../../formats/media-types.js'
import { logRowSchema } from '../../wire/observe.js'
import type { ServerDeps } from '../deps.js'
import type { RouteTable } from '../route-table.js'

const param = (c: Context, name: string) => c.req.param(name) as string

/** A point in time in a query: ISO 8601, or ms since the epoch. */
export const time = z
  .string()
  .transform((v, ctx) => {
    try {
      return parseTime(v)
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: errorMessage(e) })
      return z.NEVER
    }
  })
  .describe('ISO 8601 time, or ms since the epoch')

/** Rows a log query answers when it does not say (or the most it may, when that is less). */
const DEFAULT_LOG_ROWS = 1000

/** A log page's cursor, `<segment>.<row>`: where the next page starts. */
const cursor = z
  .string()
  .regex(/^\d{1,15}\.\d{1,15}$/, 'expected the cursor of a previous page\'s Link rel="next"')
  .transform((v) => {
    const [segment, row] = v.split('.').map(Number) as [number, number]
    return { segment, row }
  })

/** The log query's parameters; `limit` at most `maxRows` (LASTMILE_INFERENCE_LOG_QUERY_MAX_ROWS). */
const logsQuery = (maxRows: number) =>
  z.object({
    start: time.optional().describe('rows from this time on (ISO 8601, or ms since the epoch)'),
    end: time.optional().describe('rows before this time'),
    limit: z.coerce
      .number()
      .int()
      .min(1)
      .max(
        maxRows,
        `at most ${maxRows} rows per request (LASTMILE_INFERENCE_LOG_QUERY_MAX_ROWS): page through with the answer's Link rel="next"`,
      )
      .default(Math.min(DEFAULT_LOG_ROWS, maxRows))
      .describe(`rows at most (${DEFAULT_LOG_ROWS} by default, at most LASTMILE_INFERENCE_LOG_QUERY_MAX_ROWS)`),
    cursor: cursor.optional().describe('where to go on: the cursor in the previous page\'s Link rel="next"'),
    columns: z
      .string()
      .transform((v) => v.split(',').map((s) => s.trim()))
      .optional()
      .describe('columns to keep besides time, comma-separated (in.x,out.y)'),
    pipeline_version: z.coerce.number().int().min(1).optional().describe("only this pipeline version's rows"),
    model: z.string().max(300).optional().describe("only the rows this model answered, e.g. `fraud:2` (a split's arm)"),
    check_failures: z
      .enum(['true', 'false'])
      .transform((v) => v === 'true')
      .optional()
      .describe('true: only rows where a validation failed'),
    format: z.enum(['json', 'arrow']).default('json'),
  })

/** The request's own URL (path and query) with `cursor` set to `next`: a page's Link rel="next". */
function nextPage(c: Context, next: { segment: number; row: number }): string {
  const url = new URL(c.req.url)
  url.searchParams.set('cursor', `${next.segment}.${next.row}`)
  return `<${url.pathname}${url.search}>; rel="next"`
}

/** The log route, for the observability routes to add first. */
export function logRoutes(app: Hono, routes: RouteTable, deps: ServerDeps): void {
  const { inferenceLog } = deps
  const tag = 'Observability'
  routes.add(
    app,
    {
      method: 'get',
      path: '/v1/workspaces/{ws}/pipelines/{name}/logs',
      summary: 'The inference log, oldest rows first, as JSON or Arrow, a page at a time',
      tag,
      access: 'viewer',
      query: logsQuery(deps.logQueryMaxRows),
      responses: {
        200: {
          description:
            'rows, oldest first; when the page stopped short of the range (its limit, or a few million values), a Link header rel="next" gives the query for the rest',
          json: z.array(logRowSchema),
          media: [ARROW_TYPES.stream],
        },
        400: 'bad query, or a limit over LASTMILE_INFERENCE_LOG_QUERY_MAX_ROWS',
      },
    },
    async (c, { query: q }) => {
      await deps.registry.requireWorkspace(param(c, 'ws'))
      const page = await inferenceLog.page(param(c, 'ws'), param(c, 'name'), {
        ...(q.start !== undefined ? { start: q.start } : {}),
        ...(q.end !== undefined ? { end: q.end } : {}),
        limit: q.limit,
        ...(q.cursor ? { from: q.cursor } : {}),
        ...(q.columns ? { columns: q.columns } : {}),
        ...(q.pipeline_version !== undefined || q.model !== undefined || q.check_failures
          ? {
              where: {
                ...(q.pipeline_version !== undefined ? { pipelineVersion: q.pipeline_version } : {}),
                ...(q.model !== undefined ? { model: q.model } : {}),
                ...(q.check_failures ? { failedChecks: true } : {}),
              },
            }
          : {}),
        format: q.format,
      })
      const headers: Record<string, string> = { 'Content-Type': q.format === 'arrow' ? ARROW_TYPES.stream : JSON_TYPE }
      if (page.next) headers.Link = nextPage(c, page.next)
      return c.body(page.body as Uint8Array<ArrayBuffer>, 200, headers)
    },
  )
}
