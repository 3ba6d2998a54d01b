/**
 * Pipeline registry routes: pipeline versions (a PUT of steps is a new version; a deployed pipeline
 * moves to it) and deployments (deploy, rollback to any version, undeploy). Thin: decode, one
 * registry call, encode.
 */
import type { Context, Hono } from 'hono'
import { deployRequestSchema, pipelineRequestSchema } from '../../registry/schemas.js'
import {
  type DeploymentStatus,
  deletedSchema,
  deploymentStatusSchema,
  pipelineJson,
  pipelinePutSchema,
  pipelineSchema,
  pipelineSummarySchema,
  pipelineVersionSchema,
  undeployedSchema,
} from '../../wire/registry.js'
import { bodyBytes, jsonRules, parseJson } from '../body.js'
import type { ServerDeps } from '../deps.js'
import { jsonBody, type RouteTable } from '../route-table.js'
import { list, versionParam } from './registry.js'

const param = (c: Context, name: string) => c.req.param(name) as string

export function pipelineRegistryRoutes(app: Hono, routes: RouteTable, deps: ServerDeps): void {
  const r = deps.registry
  const tag = 'Pipelines'
  const P = '/v1/workspaces/{ws}/pipelines'
  routes.add(
    app,
    {
      method: 'put',
      path: `${P}/{name}`,
      summary: 'Create a pipeline version from steps (a deployed pipeline moves to it: hot swap)',
      tag,
      access: 'deployer',
      body: { json: pipelineRequestSchema },
      responses: {
        201: { description: 'the new version', json: pipelinePutSchema },
        400: 'invalid steps or objectives',
        404: 'no workspace',
        408: 'a large body that arrived too slowly',
        409: 'saved, but redeploying failed',
        429: 'too many large bodies at once',
      },
    },
    async (c) => {
      const { steps, slo } = await jsonBody(c, deps, pipelineRequestSchema, 'data')
      const { record, deployed } = await r.putPipeline(param(c, 'ws'), param(c, 'name'), steps, slo)
      return c.json({ ...pipelineJson(record), deployed }, 201)
    },
  )
  routes.add(
    app,
    {
      method: 'get',
      path: P,
      summary: 'List pipelines (latest versions, deployment status)',
      tag,
      access: 'viewer',
      responses: { 200: list(pipelineSummarySchema, 'pipelines: latest versions and deployments') },
    },
    async (c) =>
      c.json(
        (await r.listPipelines(param(c, 'ws'))).map((p) => ({
          ...pipelineJson(p),
          deployment: p.deployment satisfies DeploymentStatus | null,
        })),
      ),
  )
  routes.add(
    app,
    {
      method: 'get',
      path: `${P}/{name}`,
      summary: 'A pipeline, its versions and deployment',
      tag,
      access: 'viewer',
      responses: {
        200: { description: 'the pipeline, its versions and deployment', json: pipelineSchema },
        404: 'none',
      },
    },
    async (c) => {
      const p = await r.getPipeline(param(c, 'ws'), param(c, 'name'))
      const deployment: DeploymentStatus | null = p.deployment
      return c.json({ name: p.name, versions: p.versions.map(pipelineJson), deployment })
    },
  )
  routes.add(
    app,
    {
      method: 'get',
      path: `${P}/{name}/versions/{version}`,
      summary: 'One pipeline version',
      tag,
      access: 'viewer',
      params: versionParam,
      responses: { 200: { description: 'the version', json: pipelineVersionSchema }, 404: 'none' },
    },
    async (c, { params }) =>
      c.json(pipelineJson(await r.getPipelineVersion(param(c, 'ws'), param(c, 'name'), params.version))),
  )
  routes.add(
    app,
    {
      method: 'delete',
      path: `${P}/{name}`,
      summary: 'Delete a pipeline (every version)',
      tag,
      access: 'deployer',
      responses: { 200: { description: 'deleted', json: deletedSchema }, 404: 'none', 409: 'deployed' },
    },
    async (c) => {
      await r.deletePipeline(param(c, 'ws'), param(c, 'name'))
      return c.json({ deleted: param(c, 'name') })
    },
  )
  routes.add(
    app,
    {
      method: 'post',
      path: `${P}/{name}/deploy`,
      summary: 'Deploy a pipeline version (latest by default; an earlier version is a rollback)',
      tag,
      access: 'deployer',
      body: { json: deployRequestSchema },
      responses: {
        200: { description: 'the deployment', json: deploymentStatusSchema },
        400: 'bad settings or model',
        404: 'no such pipeline or version',
        503: 'backend unavailable',
      },
    },
    async (c) => {
      const bytes = await bodyBytes(c, jsonRules('small', deps))
      const body = bytes.length === 0 ? {} : parseJson(bytes)
      const status: DeploymentStatus = await r.deploy(param(c, 'ws'), param(c, 'name'), body)
      return c.json(status)
    },
  )
  routes.add(
    app,
    {
      method: 'post',
      path: `${P}/{name}/undeploy`,
      summary: 'Undeploy (queued requests are answered first)',
      tag,
      access: 'deployer',
      responses: { 200: { description: 'undeployed', json: undeployedSchema }, 404: 'not deployed' },
    },
    async (c) => {
      await r.undeploy(param(c, 'ws'), param(c, 'name'))
      return c.json({ undeployed: param(c, 'name') })
    },
  )
}
