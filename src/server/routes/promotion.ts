/**
 * Champion vs challenger routes: a pipeline's report comparing its arms, a challenger put beside
 * the deployed model (shadow or canary), the promotion rule (set, read, delete) and the decisions
 * it took, newest first.
 */
import type { Context, Hono } from 'hono'
import { z } from 'zod'
import { challengerRequestSchema } from '../../outcomes/challenger.js'
import { decisionJson } from '../../outcomes/promotion.js'
import { promotionRuleSchema } from '../../outcomes/promotion-spec.js'
import type { PromotionRuleRecord } from '../../store/types.js'
import {
  challengerPutSchema,
  challengerReportSchema,
  decisionSchema,
  type PromotionRuleView,
  promotionRuleViewSchema,
} from '../../wire/promotion.js'
import type { ServerDeps } from '../deps.js'
import { jsonBody, type RouteTable } from '../route-table.js'

const param = (c: Context, name: string) => c.req.param(name) as string

const reportQuery = z.object({
  version: z.coerce.number().int().min(1).optional().describe('the version (the deployed one by default)'),
  start: z.string().optional().describe("ISO 8601 or ms since the epoch (default: the version's creation)"),
  end: z.string().optional().describe('ISO 8601 or ms since the epoch (default: now)'),
})

const decisionsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100).describe('decisions at most (100 by default)'),
  before: z.coerce
    .number()
    .int()
    .min(1)
    .optional()
    .describe('decisions older than this id: the last id of the previous page'),
})

export function promotionRoutes(app: Hono, routes: RouteTable, deps: ServerDeps): void {
  const { promotion } = deps
  const tag = 'Champion vs challenger'
  const P = '/v1/workspaces/{ws}/pipelines/{name}'
  const view = (r: PromotionRuleRecord): PromotionRuleView => ({
    workspace: r.workspace,
    pipeline: r.pipeline,
    rule: promotionRuleSchema.parse(r.config),
    updated_at: r.updatedAt,
    evaluation: promotion.evaluation(r.workspace, r.pipeline) ?? null,
  })
  routes.add(
    app,
    {
      method: 'get',
      path: `${P}/challengers`,
      summary: "A version's champion and challengers: outcome metrics per arm, latency, drift, the sequential test",
      tag,
      access: 'viewer',
      query: reportQuery,
      responses: {
        200: { description: 'the report', json: challengerReportSchema },
        400: 'a bad time or range',
        404: 'no such pipeline or version, or no outcome settings',
      },
    },
    async (c, { query }) => c.json(await promotion.report(param(c, 'ws'), param(c, 'name'), query)),
  )
  routes.add(
    app,
    {
      method: 'post',
      path: `${P}/challenger`,
      summary: 'Put a model beside the deployed one as a shadow or a canary: a new version, hot-swapped in',
      tag,
      access: 'deployer',
      body: { json: challengerRequestSchema },
      responses: {
        201: { description: 'the new version, deployed', json: challengerPutSchema },
        400: 'a bad request, no such model, or a deployed version whose shape takes no challenger (saying why)',
        409: 'the pipeline is not deployed',
      },
    },
    async (c) => {
      const body = await jsonBody(c, deps, challengerRequestSchema)
      return c.json(await promotion.challenger(param(c, 'ws'), param(c, 'name'), body), 201)
    },
  )
  routes.add(
    app,
    {
      method: 'put',
      path: `${P}/promotion`,
      summary: "Set the pipeline's promotion rule: promote a better challenger, roll back on an alert",
      tag,
      access: 'deployer',
      body: { json: promotionRuleSchema },
      responses: {
        200: { description: 'the rule, defaults filled in', json: promotionRuleViewSchema },
        400: 'a bad field, a metric that does not fit the outcome settings, or a webhook the outbound policy refuses',
        404: 'no such pipeline',
      },
    },
    async (c) => {
      const body = await jsonBody(c, deps, z.unknown())
      return c.json(view(await promotion.putRule(param(c, 'ws'), param(c, 'name'), body)))
    },
  )
  routes.add(
    app,
    {
      method: 'get',
      path: `${P}/promotion`,
      summary: "The pipeline's promotion rule and its latest evaluation",
      tag,
      access: 'viewer',
      responses: { 200: { description: 'the rule', json: promotionRuleViewSchema }, 404: 'no rule' },
    },
    async (c) => c.json(view(await promotion.getRule(param(c, 'ws'), param(c, 'name')))),
  )
  routes.add(
    app,
    {
      method: 'delete',
      path: `${P}/promotion`,
      summary: "Delete the pipeline's promotion rule (its decisions stay)",
      tag,
      access: 'deployer',
      responses: { 200: { description: 'deleted', json: z.object({ deleted: z.string() }) }, 404: 'no rule' },
    },
    async (c) => {
      await promotion.deleteRule(param(c, 'ws'), param(c, 'name'))
      return c.json({ deleted: param(c, 'name') })
    },
  )
  routes.add(
    app,
    {
      method: 'get',
      path: `${P}/decisions`,
      summary: "The promotion rule's decisions with their evidence, newest first, a page at a time",
      tag,
      access: 'viewer',
      query: decisionsQuery,
      responses: { 200: { description: 'the decisions', json: z.array(decisionSchema) } },
    },
    async (c, { query }) =>
      c.json(
        (await deps.store.promotion.decisions(param(c, 'ws'), param(c, 'name'), query.limit, query.before)).map(
          decisionJson,
        ),
      ),
  )
}
