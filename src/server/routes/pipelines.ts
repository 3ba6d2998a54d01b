/**
 * Pipeline inference in lastmile's own formats: pandas-records JSON and Arrow IPC, answered in the
 * format asked; and a deployment's status.
 */
import type { Hono } from 'hono'
import { UnsupportedMediaTypeError } from '../../errors.js'
import type { ArrowFormat } from '../../formats/arrow.js'
import { answer, contentType, type InferenceBody, inferenceBody } from '../body.js'
import type { ServerDeps } from '../deps.js'
import type { RouteTable } from '../route-table.js'

const ARROW_TYPES: Record<string, ArrowFormat> = {
  'application/vnd.apache.arrow.stream': 'stream',
  'application/vnd.apache.arrow.file': 'file',
}

export function inferenceRoutes(app: Hono, routes: RouteTable, deps: ServerDeps): void {
  const { manager, metrics } = deps
  const tag = 'Inference'
  const infer = {
    method: 'post' as const,
    path: '/v1/workspaces/{ws}/pipelines/{name}/infer',
    summary: 'Inference in pandas-records JSON or Arrow IPC (answered in the same format)',
    tag,
    // Wallaroo's SDK calls this route too: its requests get Wallaroo's engine error body.
    errorStyle: 'wallaroo' as const,
    access: 'viewer' as const,
    body: { raw: ['application/json; format=pandas-records', ...Object.keys(ARROW_TYPES)] },
    responses: {
      200: 'one record (or Arrow row) per input row',
      400: 'bad request or input',
      404: 'not deployed',
      413: 'body too large',
      415: 'unsupported content type',
      429: 'queue full',
      503: 'not ready',
      504: 'timeout',
    },
  }
  routes.add(app, infer, async (c) => {
    const { ws, name } = c.req.param() as { ws: string; name: string }
    const { type } = contentType(c)
    const arrow = ARROW_TYPES[type]
    if (!arrow && type !== 'application/json') {
      throw new UnsupportedMediaTypeError(
        `Content-Type '${type || '(none)'}' is not accepted here; send application/json; format=pandas-records, application/vnd.apache.arrow.stream or application/vnd.apache.arrow.file`,
      )
    }
    const labels = { workspace: '', pipeline: '', protocol: arrow ? 'arrow' : 'records' }
    let body: InferenceBody | undefined
    try {
      const d = manager.require(ws, name)
      labels.workspace = ws // only deployed names become label values
      labels.pipeline = name
      body = await inferenceBody(c, deps)
      const task = { bytes: body.bytes, specs: d.inputs, limits: { maxTensorBytes: deps.tensorLimitBytes } }
      const feeds = await deps.bodies.decode(arrow ? { ...task, kind: 'arrow' } : { ...task, kind: 'records' })
      const result = await d.infer(feeds)
      const meta = { time: Date.now(), rowModels: result.rowModels, checkFailures: result.checkFailures }
      const encoded = await deps.bodies.encode(
        arrow
          ? { kind: 'arrow', feeds, outputs: result.outputs, meta: { ...meta, format: arrow } }
          : { kind: 'records', feeds, outputs: result.outputs, meta },
      )
      metrics.request(labels, 200, result.rows, result)
      return answer(c, encoded)
    } catch (e) {
      metrics.request(labels, deps.statusOf(e), 0)
      throw e
    } finally {
      body?.release()
    }
  })

  routes.add(
    app,
    {
      method: 'get',
      path: '/v1/workspaces/{ws}/pipelines/{name}/deployment',
      summary: 'Deployment status',
      tag,
      access: 'viewer',
      responses: { 200: 'status', 404: 'not deployed' },
    },
    (c) => {
      const { ws, name } = c.req.param() as { ws: string; name: string }
      return c.json(manager.require(ws, name).status())
    },
  )
}
