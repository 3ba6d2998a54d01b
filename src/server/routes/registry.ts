/**
 * Registry routes: workspaces and model versions (raw ONNX uploads); pipeline versions and
 * deployments are in pipeline-registry.ts. Thin: decode, one registry call, encode.
 */
import type { Context, Hono } from 'hono'
import { z } from 'zod'
import { BYTES_TYPE } from '../../formats/media-types.js'
import { workspaceRequestSchema } from '../../registry/schemas.js'
import type { ModelRecord } from '../../store/types.js'
import {
  deletedSchema,
  modelJson,
  modelSchema,
  modelSummarySchema,
  modelUploadSchema,
  modelVersionSchema,
  workspaceDetailSchema,
  workspaceJson,
  workspaceSchema,
} from '../../wire/registry.js'
import { bodyBytes } from '../body.js'
import type { ServerDeps } from '../deps.js'
import { jsonBody, type RouteTable, visibleWorkspace } from '../route-table.js'

const param = (c: Context, name: string) => c.req.param(name) as string
/** `{version}` in a path: a version number, or no such version (404). */
export const versionParam = z.object({ version: z.coerce.number().int().min(1).describe('a version number, from 1') })
/** A success answer that is a list of `schema`. */
export const list = (schema: z.ZodType, description: string) => ({ description, json: z.array(schema) })

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
      responses: { 200: list(workspaceSchema, 'workspaces') },
    },
    async (c) => {
      const only = visibleWorkspace(c)
      const all = await r.listWorkspaces()
      const seen = only === undefined ? all : all.filter((w) => w.name === only)
      return c.json(seen.map(workspaceJson))
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
      responses: { 201: { description: 'created', json: workspaceSchema }, 400: 'bad name', 409: 'exists' },
    },
    async (c) => {
      const { name } = await jsonBody(c, deps, workspaceRequestSchema)
      return c.json(workspaceJson(await r.createWorkspace(name)), 201)
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
      responses: { 200: { description: 'the workspace and its counts', json: workspaceDetailSchema }, 404: 'none' },
    },
    async (c) => {
      const { name, createdAt, ...counts } = await r.getWorkspace(param(c, 'ws'))
      return c.json({ ...workspaceJson({ name, createdAt }), ...counts })
    },
  )
  routes.add(
    app,
    {
      method: 'delete',
      path: `${W}/{ws}`,
      summary: 'Delete a workspace and its models and pipelines',
      tag,
      access: 'server-admin',
      responses: {
        200: { description: 'deleted', json: deletedSchema },
        404: 'none',
        409: 'has deployed pipelines',
      },
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
      body: { raw: [BYTES_TYPE] },
      responses: {
        201: { description: 'a new version', json: modelUploadSchema },
        200: { description: 'these bytes are already a version', json: modelUploadSchema },
        400: 'not a valid ONNX model',
        404: 'no workspace',
        413: 'too large',
      },
    },
    async (c) => {
      // As sent: a compressed upload is a 415 (a few KiB of gzip would make a GiB here).
      const rules = { limit: deps.modelLimitBytes, setting: 'LASTMILE_MODEL_LIMIT_BYTES', compressed: false }
      const bytes = await bodyBytes(c, rules)
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
      responses: { 200: list(modelSummarySchema, 'models, each with its latest version') },
    },
    async (c) =>
      c.json(
        (await r.listModels(param(c, 'ws'))).map((m) => ({
          name: m.name,
          versions: m.versions,
          latest: modelJson(m.latest as ModelRecord), // a listed model has at least one version
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
      responses: { 200: { description: 'the model and its versions', json: modelSchema }, 404: 'none' },
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
      params: versionParam,
      responses: { 200: { description: 'the version', json: modelVersionSchema }, 404: 'none' },
    },
    async (c, { params }) =>
      c.json(modelJson(await r.getModelVersion(param(c, 'ws'), param(c, 'name'), params.version))),
  )
  routes.add(
    app,
    {
      method: 'delete',
      path: `${M}/{name}`,
      summary: 'Delete a model (every version)',
      tag,
      access: 'deployer',
      responses: {
        200: { description: 'deleted', json: deletedSchema },
        404: 'none',
        409: 'used by a deployed pipeline',
      },
    },
    async (c) => {
      await r.deleteModel(param(c, 'ws'), param(c, 'name'))
      return c.json({ deleted: param(c, 'name') })
    },
  )
}
