/**
 * The Hono app, built without listening: `createApp(deps)` for tests (`app.request()`) and for
 * `serve`. Thin routes: decode → one core call → encode; errors mapped once (errors.ts).
 */
import { Hono } from 'hono'
import { NotFoundError } from '../errors.js'
import type { ServerDeps } from './deps.js'
import { errorResponse, onError } from './errors.js'
import { pipelineRoutes } from './routes/pipelines.js'
import { v2Routes } from './routes/v2.js'

export function createApp(deps: ServerDeps): Hono {
  const app = new Hono()
  app.onError(onError(deps.log))
  app.notFound((c) => {
    const r = errorResponse(new NotFoundError(`no route ${c.req.method} ${c.req.path}`), deps.log)
    return c.json(r.body, r.status)
  })
  app.get('/metrics', async (c) => {
    c.header('Content-Type', deps.metrics.registry.contentType)
    return c.body(await deps.metrics.registry.metrics())
  })
  app.route('/', v2Routes(deps))
  app.route('/', pipelineRoutes(deps))
  return app
}
