/**
 * The Hono app, built without listening: `createApp(deps)` for tests (`app.request()`) and for
 * `serve`. Thin routes: decode → one core call → encode; errors mapped once (errors.ts); every
 * route declared once in the route table, which guards it and documents it (`/openapi.json`).
 */
import { Hono } from 'hono'
import { z } from 'zod'
import { NotFoundError } from '../errors.js'
import { VERSION } from '../version.js'
import { consoleRoutes } from './console.js'
import type { ServerDeps } from './deps.js'
import { errorAnswer, onError } from './errors.js'
import { openApiDocument } from './openapi.js'
import { RouteTable, visibleWorkspace } from './route-table.js'
import { auditRoutes } from './routes/audit.js'
import { explainRoutes } from './routes/explain.js'
import { jobRoutes } from './routes/jobs.js'
import { keyRoutes } from './routes/keys.js'
import { liveRoutes } from './routes/live.js'
import { observeRoutes } from './routes/observe.js'
import { optimizeRoutes } from './routes/optimize.js'
import { outcomeRoutes } from './routes/outcomes.js'
import { pipelineRegistryRoutes } from './routes/pipeline-registry.js'
import { inferenceRoutes } from './routes/pipelines.js'
import { promotionRoutes } from './routes/promotion.js'
import { registryRoutes } from './routes/registry.js'
import { sloRoutes } from './routes/slo.js'
import { trainingSetRoutes } from './routes/training-sets.js'
import { v2Routes } from './routes/v2.js'

export function createApp(deps: ServerDeps): { app: Hono; routes: RouteTable } {
  const app = new Hono()
  app.onError(onError(deps.log))
  // Unknown paths answer in the style of their prefix: a `/v2/...` path the OIP's body.
  app.notFound((c) => errorAnswer(c, new NotFoundError(`no route ${c.req.method} ${c.req.path}`), deps.log))
  const routes = new RouteTable(deps)
  routes.add(
    app,
    {
      method: 'get',
      path: '/metrics',
      summary: "Prometheus metrics: a key sees its workspace's series and the process's; a server admin, all",
      tag: 'Operations',
      // Series name every tenant's pipelines and assays: a key unless the operator chose otherwise.
      access: deps.metricsPublic ? 'public' : 'key',
      responses: { 200: { description: 'Prometheus text exposition', media: ['text/plain; version=0.0.4'] } },
    },
    async (c) => {
      c.header('Content-Type', deps.metrics.registry.contentType)
      return c.body(await deps.metrics.text(visibleWorkspace(c)))
    },
  )
  routes.add(
    app,
    {
      method: 'get',
      path: '/openapi.json',
      summary: 'This API as OpenAPI 3.1',
      tag: 'Operations',
      access: 'public',
      responses: { 200: { description: 'this document', json: z.looseObject({ openapi: z.literal('3.1.0') }) } },
    },
    (c) => c.json(openApiDocument(routes.specs, VERSION)),
  )
  v2Routes(app, routes, deps)
  inferenceRoutes(app, routes, deps)
  registryRoutes(app, routes, deps)
  pipelineRegistryRoutes(app, routes, deps)
  keyRoutes(app, routes, deps)
  auditRoutes(app, routes, deps)
  observeRoutes(app, routes, deps)
  sloRoutes(app, routes, deps)
  outcomeRoutes(app, routes, deps)
  promotionRoutes(app, routes, deps)
  liveRoutes(app, routes, deps)
  jobRoutes(app, routes, deps)
  trainingSetRoutes(app, routes, deps)
  explainRoutes(app, routes, deps)
  optimizeRoutes(app, routes, deps)
  // The console's page and assets: not API routes, so not in the route table nor the document.
  consoleRoutes(app, deps.console)
  return { app, routes }
}
