/**
 * The audit trail: every change made through the API (POST, PUT, DELETE that passed
 * authentication), newest first, a page at a time: a workspace's for its admins, every row for a
 * server admin.
 */
import type { Context, Hono } from 'hono'
import { z } from 'zod'
import { auditJson, auditRowSchema } from '../../wire/registry.js'
import type { ServerDeps } from '../deps.js'
import type { RouteTable } from '../route-table.js'

const auditQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100).describe('rows at most (100 by default, at most 1000)'),
  before: z.coerce
    .number()
    .int()
    .min(1)
    .optional()
    .describe('rows older than this id: the last id of the previous page'),
})

const responses = { 200: { description: 'the rows, newest first', json: z.array(auditRowSchema) } }

export function auditRoutes(app: Hono, routes: RouteTable, deps: ServerDeps): void {
  const tag = 'Audit'
  const page = async (c: Context, ws: string | undefined, q: z.output<typeof auditQuery>) =>
    c.json((await deps.store.audit.list(ws, q.limit, q.before)).map(auditJson))
  routes.add(
    app,
    {
      method: 'get',
      path: '/v1/audit',
      summary: 'The audit trail of every workspace and of server-wide changes, newest first',
      tag,
      access: 'server-admin',
      query: auditQuery,
      responses,
    },
    (c, { query }) => page(c, undefined, query),
  )
  routes.add(
    app,
    {
      method: 'get',
      path: '/v1/workspaces/{ws}/audit',
      summary: "A workspace's audit trail: who changed what, when, with which key, and how it was answered",
      tag,
      access: 'admin',
      query: auditQuery,
      responses,
    },
    (c, { query }) => page(c, c.req.param('ws') as string, query),
  )
}
