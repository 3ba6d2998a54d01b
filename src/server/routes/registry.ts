/**
 * Registry routes: workspaces, model versions (raw ONNX uploads), pipeline versions and
 * deployments (deploy, rollback to any version, undeploy). Thin: decode, one registry call, encode.
 */
import type { Context, Hono } from 'hono'
import { NotFoundError } from '../../errors.js'
import { deployRequestSchema, pipelineRequestSchema, workspaceRequestSchema } from '../../registry/schemas.js'
import type { ModelRecord, PipelineRecord } from '../../store/types.js'
import { bodyBytes, parseJson } from '../body.js'
import type { ServerDeps } from '../deps.js'
import { jsonBody, type RouteTable, visibleWorkspace } from '../route-table.js'

const modelJson = (m: ModelRecord) => ({
  workspace: m.workspace,
  name: m.name,
  version: m.version,
  sha256: m.sha256,
  size: m.size,
  inputs: m.inputs,
  outputs: m.outputs,
  created_at: m.createdAt,
})
const pipelineJson = (p: PipelineRecord) => ({
  workspace: p.workspace,
  name: p.name,
  version: p.version,
  steps: p.steps,
  created_at: p.createdAt,
})

const param = (c: Context, name: string) => c.req.param(name) as string
const intParam = (c: Context, name: string) => {
  const v = Number(c.req.param(name))
  if (!Number.isInteger(v) || v < 1) throw new NotFoundError(`'${c.req.param(name)}' is not a version number`)
  return v
}

export function registryRoutes(app: Hono, routes: RouteTable, deps: ServerDeps): void {
  const r = deps.registry
  const W = '/v1/workspaces'

  let tag = 'Workspaces'
  routes.add(
    app,
    {
      method: 'get',
      path: W,
      summary: "List workspaces: the key's own, or every one for a server admin",
      tag,
      access: 'key',
      responses: { 200: 'workspaces' },
    },
    async (c) => {
      const only = visibleWorkspace(c)
      const all = await r.listWorkspaces()
      const seen = only === undefined ? all : all.filter((w) => w.name === only)
      return c.json(seen.map((w) => ({ name: w.name, created_at: w.createdAt })))
    },
  )
  routes.add(
    app,
    {
      method: 'post',
      path: W,
      summary: 'Create a workspace',
      tag,
      access: 'server-admin',
      body: { json: workspaceRequestSchema },
      responses: { 201: 'created', 400: 'bad name', 409: 'exists' },
    },
    async (c) => {
      const { name } = await jsonBody(c, deps, workspaceRequestSchema)
      const w = await r.createWorkspace(name)
      return c.json({ name: w.name, created_at: w.createdAt }, 201)
    },
  )
  routes.add(
    app,
    {
      method: 'get',
      path: `${W}/{ws}`,
      summary: 'A workspace and its counts',
      tag,
      access: 'viewer',
      responses: { 200: 'workspace', 404: 'none' },
    },
    async (c) => c.json(await r.getWorkspace(param(c, 'ws'))),
  )
  routes.add(
    app,
    {
      method: 'delete',
      path: `${W}/{ws}`,
      summary: 'Delete a workspace and its models and pipelines',
      tag,
      access: 'server-admin',
      responses: { 200: 'deleted', 404: 'none', 409: 'has deployed pipelines' },
    },
    async (c) => {
      await r.deleteWorkspace(param(c, 'ws'))
      return c.json({ deleted: param(c, 'ws') })
    },
  )

  tag = 'Models'
  const M = `${W}/{ws}/models`
  routes.add(
    app,
    {
      method: 'post',
      path: `${M}/{name}`,
      summary: 'Upload an ONNX model: a new version, or the existing one for the same bytes',
      tag,
      access: 'deployer',
      body: { raw: ['application/octet-stream'] },
      responses: {
        201: 'new version',
        200: 'these bytes are already a version',
        400: 'not a valid ONNX model',
        404: 'no workspace',
        413: 'too large',
      },
    },
    async (c) => {
      const bytes = await bodyBytes(c, deps.modelLimitBytes)
      const { record, created } = await r.uploadModel(param(c, 'ws'), param(c, 'name'), bytes)
      return c.json({ ...modelJson(record), created }, created ? 201 : 200)
    },
  )
  routes.add(
    app,
    {
      method: 'get',
      path: M,
      summary: 'List models (latest versions)',
      tag,
      access: 'viewer',
      responses: { 200: 'models' },
    },
    async (c) =>
      c.json(
        (await r.listModels(param(c, 'ws'))).map((m) => ({
          name: m.name,
          versions: m.versions,
          latest: m.latest && modelJson(m.latest),
        })),
      ),
  )
  routes.add(
    app,
    {
      method: 'get',
      path: `${M}/{name}`,
      summary: 'A model and its versions',
      tag,
      access: 'viewer',
      responses: { 200: 'model', 404: 'none' },
    },
    async (c) => {
      const m = await r.getModel(param(c, 'ws'), param(c, 'name'))
      return c.json({ name: m.name, versions: m.versions.map(modelJson) })
    },
  )
  routes.add(
    app,
    {
      method: 'get',
      path: `${M}/{name}/versions/{version}`,
      summary: 'One model version',
      tag,
      access: 'viewer',
      responses: { 200: 'version', 404: 'none' },
    },
    async (c) => c.json(modelJson(await r.getModelVersion(param(c, 'ws'), param(c, 'name'), intParam(c, 'version')))),
  )
  routes.add(
    app,
    {
      method: 'delete',
      path: `${M}/{name}`,
      summary: 'Delete a model (every version)',
      tag,
      access: 'deployer',
      responses: { 200: 'deleted', 404: 'none', 409: 'used by a deployed pipeline' },
    },
    async (c) => {
      await r.deleteModel(param(c, 'ws'), param(c, 'name'))
      return c.json({ deleted: param(c, 'name') })
    },
  )

  tag = 'Pipelines'
  const P = `${W}/{ws}/pipelines`
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
        201: 'new version',
        400: 'invalid steps',
        404: 'no workspace',
        409: 'saved, but redeploying failed',
      },
    },
    async (c) => {
      const { steps } = await jsonBody(c, deps, pipelineRequestSchema)
      const { record, deployed } = await r.putPipeline(param(c, 'ws'), param(c, 'name'), steps)
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
      responses: { 200: 'pipelines' },
    },
    async (c) =>
      c.json((await r.listPipelines(param(c, 'ws'))).map((p) => ({ ...pipelineJson(p), deployment: p.deployment }))),
  )
  routes.add(
    app,
    {
      method: 'get',
      path: `${P}/{name}`,
      summary: 'A pipeline, its versions and deployment',
      tag,
      access: 'viewer',
      responses: { 200: 'pipeline', 404: 'none' },
    },
    async (c) => {
      const p = await r.getPipeline(param(c, 'ws'), param(c, 'name'))
      return c.json({ name: p.name, versions: p.versions.map(pipelineJson), deployment: p.deployment })
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
      responses: { 200: 'version', 404: 'none' },
    },
    async (c) =>
      c.json(pipelineJson(await r.getPipelineVersion(param(c, 'ws'), param(c, 'name'), intParam(c, 'version')))),
  )
  routes.add(
    app,
    {
      method: 'delete',
      path: `${P}/{name}`,
      summary: 'Delete a pipeline (every version)',
      tag,
      access: 'deployer',
      responses: { 200: 'deleted', 404: 'none', 409: 'deployed' },
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
        200: 'deployment status',
        400: 'bad settings or model',
        404: 'no such pipeline or version',
        503: 'backend unavailable',
      },
    },
    async (c) => {
      const bytes = await bodyBytes(c, deps.bodyLimitBytes)
      const body = bytes.length === 0 ? {} : parseJson(bytes)
      return c.json(await r.deploy(param(c, 'ws'), param(c, 'name'), body))
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
      responses: { 200: 'undeployed', 404: 'not deployed' },
    },
    async (c) => {
      await r.undeploy(param(c, 'ws'), param(c, 'name'))
      return c.json({ undeployed: param(c, 'name') })
    },
  )
}
