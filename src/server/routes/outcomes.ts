/**
 * Ground-truth routes: a pipeline's outcome settings, the feedback clients send (actual outcomes
 * for logged rows, in JSON, CSV or Arrow), and the outcome metrics per window, version and arm,
 * realized beside estimated.
 */
import type { Context, Hono } from 'hono'
import { z } from 'zod'
import { ConflictError, InvalidConfigError, NotFoundError, UnsupportedMediaTypeError } from '../../errors.js'
import { ARROW_TYPES, JSON_TYPE } from '../../formats/media-types.js'
import { type FeedbackItems, feedbackFromJson, feedbackOutcomes } from '../../outcomes/feedback.js'
import { feedbackFromArrow } from '../../outcomes/feedback-arrow.js'
import { feedbackFromCsv } from '../../outcomes/feedback-csv.js'
import { outcomeReport } from '../../outcomes/report.js'
import { type OutcomeSpec, outcomeSpecSchema, settingsOf } from '../../outcomes/spec.js'
import type { OutcomeSpecRecord } from '../../store/types.js'
import {
  type FeedbackResult,
  feedbackResultSchema,
  type OutcomeMetrics,
  type OutcomeSettings,
  outcomeMetricsSchema,
  outcomeSettingsSchema,
} from '../../wire/outcomes.js'
import { contentType, inferenceBody, jsonValue } from '../body.js'
import type { ServerDeps } from '../deps.js'
import { jsonBody, type RouteTable } from '../route-table.js'
import { time } from './logs.js'

const CSV_TYPE = 'text/csv'
const param = (c: Context, name: string) => c.req.param(name) as string
const iso = (ms: number) => new Date(ms).toISOString()

const settingsJson = (r: OutcomeSpecRecord, settings: OutcomeSpec): OutcomeSettings => ({
  workspace: r.workspace,
  pipeline: r.pipeline,
  settings,
  updated_at: r.updatedAt,
})

/** Default range of a metrics report: the last day. */
const DAY_MS = 86_400_000
/** The furthest a date reaches from the epoch, in ms. */
const MAX_TIME_MS = 8.64e15

const metricsQuery = z.object({
  start: time.optional().describe('from this time (ISO 8601 or ms since the epoch; a day before `end` by default)'),
  end: time.optional().describe('until this time (now by default)'),
  window: z.coerce
    .number()
    .int()
    .min(1)
    .max(366 * 86_400)
    .default(3600)
    .describe('seconds per window (3600 by default; at most 1000 windows per report)'),
})

/**
 * Check settings against the deployed pipeline, when it is deployed (an undeployed one's outputs
 * are only known once built): `output` must be one of its outputs, `key` one of its inputs.
 */
function checkAgainstDeployment(deps: ServerDeps, ws: string, name: string, spec: OutcomeSpec): void {
  const d = deps.manager.get(ws, name)
  if (!d) return
  const outputs = d.outputs.map((o) => o.name)
  if (!outputs.includes(spec.output))
    throw new InvalidConfigError(
      `output '${spec.output}' is not an output of pipeline '${name}' (deployed version ${d.spec.pipelineVersion}); its outputs are ${outputs.join(', ')}`,
    )
  const inputs = d.inputs.map((i) => i.name)
  if (spec.key !== undefined && !inputs.includes(spec.key))
    throw new InvalidConfigError(
      `key '${spec.key}' is not an input of pipeline '${name}' (deployed version ${d.spec.pipelineVersion}); its inputs are ${inputs.join(', ')}`,
    )
}

/** The feedback rows of a request body, by its content type. */
async function feedbackBody(c: Context, deps: ServerDeps): Promise<FeedbackItems> {
  const { type } = contentType(c)
  const arrow = type === ARROW_TYPES.stream || type === ARROW_TYPES.file
  if (type === JSON_TYPE) return feedbackFromJson(await jsonValue(c, deps, 'data'))
  if (type !== CSV_TYPE && !arrow)
    throw new UnsupportedMediaTypeError(
      `Content-Type '${type || '(none)'}' is not accepted here; send ${JSON_TYPE}, ${CSV_TYPE} or ${ARROW_TYPES.stream}`,
    )
  const body = await inferenceBody(c, deps)
  try {
    return arrow ? feedbackFromArrow(body.bytes) : feedbackFromCsv(body.bytes)
  } finally {
    body.release()
  }
}

export function outcomeRoutes(app: Hono, routes: RouteTable, deps: ServerDeps): void {
  const { store } = deps
  const tag = 'Ground truth'
  const P = '/v1/workspaces/{ws}/pipelines/{name}'

  routes.add(
    app,
    {
      method: 'put',
      path: `${P}/outcomes`,
      summary: 'Set the outcome settings: the output holding the predictions, class labels, the join key',
      tag,
      access: 'deployer',
      body: { json: outcomeSpecSchema },
      responses: {
        200: { description: 'the settings', json: outcomeSettingsSchema },
        400: 'invalid settings, an output (key) the deployed pipeline does not have, or a retraining webhook the outbound policy refuses',
        404: 'no pipeline',
      },
    },
    async (c) => {
      const spec = await jsonBody(c, deps, outcomeSpecSchema, 'data') // up to 1000 labels
      const ws = param(c, 'ws')
      const name = param(c, 'name')
      await deps.registry.getPipeline(ws, name)
      checkAgainstDeployment(deps, ws, name, spec)
      await deps.trainingSets.checkWebhooks(spec)
      return c.json(settingsJson(await store.outcomes.putSpec(ws, name, spec), spec))
    },
  )
  routes.add(
    app,
    {
      method: 'get',
      path: `${P}/outcomes`,
      summary: 'The outcome settings',
      tag,
      access: 'viewer',
      responses: { 200: { description: 'the settings', json: outcomeSettingsSchema }, 404: 'no settings' },
    },
    async (c) => {
      const ws = param(c, 'ws')
      const name = param(c, 'name')
      const spec = await settingsOf(store.outcomes, ws, name)
      const record = (await store.outcomes.getSpec(ws, name)) as OutcomeSpecRecord
      return c.json(settingsJson(record, spec))
    },
  )
  routes.add(
    app,
    {
      method: 'delete',
      path: `${P}/outcomes`,
      summary: 'Delete the outcome settings (the outcomes received stay)',
      tag,
      access: 'deployer',
      responses: { 204: { description: 'deleted' }, 404: 'no settings' },
    },
    async (c) => {
      const ws = param(c, 'ws')
      const name = param(c, 'name')
      if (!(await store.outcomes.deleteSpec(ws, name)))
        throw new NotFoundError(`pipeline '${name}' has no outcome settings`)
      return c.body(null, 204)
    },
  )
  routes.add(
    app,
    {
      method: 'post',
      path: `${P}/feedback`,
      summary: 'Actual outcomes of logged rows, by request id and row (or key): JSON, CSV or Arrow; all or nothing',
      tag,
      access: 'deployer',
      body: { raw: [JSON_TYPE, CSV_TYPE, ARROW_TYPES.stream, ARROW_TYPES.file] },
      responses: {
        200: { description: 'stored', json: feedbackResultSchema },
        400: 'a bad row (the first is named; nothing was stored), or more than 100,000 rows',
        404: 'no pipeline',
        408: 'a large body that arrived too slowly',
        409: 'the pipeline has no outcome settings',
        413: 'body too large',
        415: 'unsupported content type',
        429: 'too many large bodies at once',
      },
    },
    async (c) => {
      const ws = param(c, 'ws')
      const name = param(c, 'name')
      await deps.registry.getPipeline(ws, name)
      const spec = await settingsOf(store.outcomes, ws, name).catch((e: unknown) => {
        throw e instanceof NotFoundError ? new ConflictError(e.message) : e
      })
      const outcomes = feedbackOutcomes(await feedbackBody(c, deps), spec, Date.now())
      const { updated } = await store.outcomes.put(ws, name, outcomes)
      return c.json({ accepted: outcomes.length, updated } satisfies FeedbackResult)
    },
  )
  routes.add(
    app,
    {
      method: 'get',
      path: `${P}/outcomes/metrics`,
      summary: 'Outcome metrics per window, version and arm: realized over labeled rows, estimated (CBPE) over all',
      tag,
      access: 'viewer',
      query: metricsQuery,
      responses: {
        200: { description: 'the metrics', json: outcomeMetricsSchema },
        400: 'a bad range, or more than 1000 windows',
        404: 'no pipeline, or no outcome settings',
      },
    },
    async (c, { query }) => {
      const ws = param(c, 'ws')
      const name = param(c, 'name')
      await deps.registry.getPipeline(ws, name)
      const spec = await settingsOf(store.outcomes, ws, name)
      const end = query.end ?? Date.now()
      const start = query.start ?? Math.max(end - DAY_MS, -MAX_TIME_MS)
      const windowMs = query.window * 1000
      const r = await outcomeReport(deps.inferenceLog, store.outcomes, ws, name, spec, { start, end, windowMs })
      const answer: OutcomeMetrics = {
        workspace: ws,
        pipeline: name,
        task: spec.task,
        start: iso(start),
        end: iso(end),
        window_seconds: query.window,
        rows: r.rows,
        truncated: r.truncated,
        skipped: r.skipped,
        unknown_outcomes: r.unknown,
        windows: r.windows.map((w) => ({ start: iso(w.start), end: iso(w.end), arms: w.arms })),
      }
      return c.json(answer)
    },
  )
}
