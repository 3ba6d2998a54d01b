/**
 * API key routes of a workspace: create (the key is shown once), list (never the secrets), revoke;
 * and who the caller's own key is.
 */
import type { Context, Hono } from 'hono'
import { z } from 'zod'
import { NotFoundError } from '../../errors.js'
import { createApiKey, isServerAdmin } from '../../registry/keys.js'
import { keyRequestSchema } from '../../registry/schemas.js'
import { apiKeyJson, apiKeySchema, callerSchema, createdApiKeySchema, revokedSchema } from '../../wire/registry.js'
import type { ServerDeps } from '../deps.js'
import { callerKey, jsonBody, type RouteTable } from '../route-table.js'

const param = (c: Context, name: string) => c.req.param(name) as string

export function keyRoutes(app: Hono, routes: RouteTable, deps: ServerDeps): void {
  const r = deps.registry
  const tag = 'API keys'
  const K = '/v1/workspaces/{ws}/keys'
  routes.add(
    app,
    {
      method: 'get',
      path: '/v1/me',
      summary: "The request's own key: its workspace and role (what a console shows by); keys off: every right",
      tag,
      access: 'key',
      responses: { 200: { description: 'the caller', json: callerSchema } },
    },
    (c) => {
      const key = callerKey(c)
      return c.json({
        auth: deps.authRequired,
        key: key ? apiKeyJson(key) : null,
        server_admin: key ? isServerAdmin(key) : true,
      })
    },
  )
  routes.add(
    app,
    {
      method: 'post',
      path: K,
      summary: 'Create an API key (the key is shown once)',
      tag,
      access: 'admin',
      body: { json: keyRequestSchema },
      responses: { 201: { description: 'the key, with its secret', json: createdApiKeySchema }, 404: 'no workspace' },
    },
    async (c) => {
      const { name, role } = await jsonBody(c, deps, keyRequestSchema)
      await r.requireWorkspace(param(c, 'ws'))
      const k = await createApiKey(deps.store, param(c, 'ws'), name, role)
      return c.json({ ...apiKeyJson(k), key: k.key }, 201)
    },
  )
  routes.add(
    app,
    {
      method: 'get',
      path: K,
      summary: 'List API keys (never the secrets)',
      tag,
      access: 'admin',
      responses: { 200: { description: 'the keys, without secrets', json: z.array(apiKeySchema) } },
    },
    async (c) => c.json((await deps.store.apiKeys.list(param(c, 'ws'))).map(apiKeyJson)),
  )
  routes.add(
    app,
    {
      method: 'delete',
      path: `${K}/{id}`,
      summary: 'Revoke an API key',
      tag,
      access: 'admin',
      responses: { 200: { description: 'revoked', json: revokedSchema }, 404: 'none' },
    },
    async (c) => {
      const key = (await deps.store.apiKeys.list(param(c, 'ws'))).find((k) => k.id === param(c, 'id'))
      if (!key) throw new NotFoundError(`no key '${param(c, 'id')}' in workspace '${param(c, 'ws')}'`)
      await deps.store.apiKeys.delete(key.id)
      return c.json({ revoked: key.id })
    },
  )
}
