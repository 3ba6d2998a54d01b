/**
 * Training-set routes: export a pipeline's log range joined with its outcomes as Parquet, list
 * the exports, download one by the name the server gave it (checked against that form before
 * anything else, and resolved only inside the pipeline's exports folder).
 */
import { createReadStream } from 'node:fs'
import { Readable } from 'node:stream'
import type { Context, Hono } from 'hono'
import { z } from 'zod'
import { contentTypeFor } from '../../jobs/io/index.js'
import { trainingSetRequestSchema, trainingSetSchema } from '../../wire/training-sets.js'
import type { ServerDeps } from '../deps.js'
import { jsonBody, type RouteTable } from '../route-table.js'

const param = (c: Context, name: string) => c.req.param(name) as string

export function trainingSetRoutes(app: Hono, routes: RouteTable, deps: ServerDeps): void {
  const { trainingSets } = deps
  const tag = 'Retraining'
  const P = '/v1/workspaces/{ws}/pipelines/{name}/training-sets'
  routes.add(
    app,
    {
      method: 'post',
      path: P,
      summary: "Export a training set: the log range's rows joined with their outcomes, as Parquet (in the background)",
      tag,
      access: 'deployer',
      body: { json: trainingSetRequestSchema },
      responses: {
        202: { description: 'the export, running (Location: where the file will be)', json: trainingSetSchema },
        400: 'a bad range',
        404: 'no outcome settings for the pipeline',
        409: 'an export of the pipeline is running',
      },
    },
    async (c) => {
      const body = await jsonBody(c, deps, trainingSetRequestSchema)
      const record = await trainingSets.request(param(c, 'ws'), param(c, 'name'), body)
      c.header('Location', record.url)
      return c.json(record, 202)
    },
  )
  routes.add(
    app,
    {
      method: 'get',
      path: P,
      summary: "The pipeline's training sets, newest first (running and failed ones of the server answering too)",
      tag,
      access: 'viewer',
      responses: { 200: { description: 'the exports', json: z.array(trainingSetSchema) } },
    },
    async (c) => c.json(await trainingSets.list(param(c, 'ws'), param(c, 'name'))),
  )
  routes.add(
    app,
    {
      method: 'get',
      path: `${P}/{file}`,
      summary: 'Download a training set (Parquet)',
      tag,
      access: 'viewer',
      responses: {
        200: { description: 'the Parquet file', media: [contentTypeFor('parquet')] },
        400: 'not a name the server gives an export',
        404: 'no such export',
      },
    },
    async (c) => {
      const name = param(c, 'file')
      const { path, bytes } = await trainingSets.file(param(c, 'ws'), param(c, 'name'), name)
      c.header('Content-Type', contentTypeFor('parquet'))
      c.header('Content-Length', String(bytes))
      c.header('Content-Disposition', `attachment; filename="${name}"`)
      return c.body(Readable.toWeb(createReadStream(path)) as unknown as ReadableStream<Uint8Array>)
    },
  )
}
