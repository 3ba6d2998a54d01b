/**
 * Pipeline inference in lastmile's own formats: pandas-records JSON and Arrow IPC, answered in the
 * format asked; and a deployment's status.
 */
import { Hono } from 'hono'
import { UnsupportedMediaTypeError } from '../../errors.js'
import { type ArrowFormat, decodeArrow, encodeArrow } from '../../formats/arrow.js'
import { decodeRecords, encodeRecords } from '../../formats/records.js'
import { bodyBytes, contentType, parseJson } from '../body.js'
import type { ServerDeps } from '../deps.js'

const ARROW_TYPES: Record<string, ArrowFormat> = {
  'application/vnd.apache.arrow.stream': 'stream',
  'application/vnd.apache.arrow.file': 'file',
}

export function pipelineRoutes(deps: ServerDeps): Hono {
  const app = new Hono()
  const { manager, metrics } = deps

  app.post('/v1/workspaces/:ws/pipelines/:name/infer', async (c) => {
    const { ws, name } = c.req.param()
    const { type } = contentType(c)
    const arrow = ARROW_TYPES[type]
    if (!arrow && type !== 'application/json') {
      throw new UnsupportedMediaTypeError(
        `Content-Type '${type || '(none)'}' is not accepted here; send application/json; format=pandas-records, application/vnd.apache.arrow.stream or application/vnd.apache.arrow.file`,
      )
    }
    const labels = { workspace: '', pipeline: '', protocol: arrow ? 'arrow' : 'records' }
    try {
      const d = manager.require(ws, name)
      labels.workspace = ws // only deployed names become label values
      labels.pipeline = name
      const bytes = await bodyBytes(c, deps.bodyLimitBytes)
      const feeds = arrow ? decodeArrow(bytes, d.inputs) : decodeRecords(parseJson(bytes), d.inputs)
      const result = await d.infer(feeds)
      metrics.request(labels, 200, result.rows, result)
      const meta = { time: Date.now(), rowModels: result.rowModels, checkFailures: result.checkFailures }
      if (arrow) {
        c.header('Content-Type', type)
        return c.body(encodeArrow(feeds, result.outputs, { ...meta, format: arrow }) as Uint8Array<ArrayBuffer>)
      }
      return c.json(encodeRecords(feeds, result.outputs, meta))
    } catch (e) {
      metrics.request(labels, deps.statusOf(e), 0)
      throw e
    }
  })

  app.get('/v1/workspaces/:ws/pipelines/:name/deployment', (c) => {
    const { ws, name } = c.req.param()
    return c.json(manager.require(ws, name).status())
  })
  return app
}
