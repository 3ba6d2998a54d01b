/**
 * Routes are declared once: the declaration registers the Hono handler behind its role guard and
 * feeds the OpenAPI 3.1 document, whose request schemas come from the same zod schemas the
 * handlers parse with (`z.toJSONSchema`). A route cannot exist without being documented.
 */
import type { Context, Handler, Hono } from 'hono'
import { z } from 'zod'
import { InvalidRequestError } from '../errors.js'
import { authenticate, authorize, isServerAdmin } from '../registry/keys.js'
import type { ApiKeyRecord, Role } from '../store/types.js'
import { bodyBytes, parseJson } from './body.js'
import { checkBrowserRequest } from './cross-site.js'
import type { ServerDeps } from './deps.js'
import { type ErrorStyle, useErrorStyle } from './errors.js'

/**
 * `public`: no key. `key`: any valid key (the route limits what it shows or does to the key's
 * workspace). `server-admin`: an admin key of workspace default.
 */
export type Access = Role | 'public' | 'key' | 'server-admin'

/** The key each request was authenticated with (none when keys are off or the route is public). */
const callers = new WeakMap<Request, ApiKeyRecord>()

/**
 * The one workspace a request may see, for routes that span workspaces (`key` access): its key's,
 * or undefined (every workspace) for a server admin, a public route, or a server without keys.
 */
export function visibleWorkspace(c: Context): string | undefined {
  const key = callers.get(c.req.raw)
  return key && !isServerAdmin(key) ? key.workspace : undefined
}

export interface RouteSpec {
  method: 'get' | 'post' | 'put' | 'delete'
  /** OpenAPI template, e.g. `/v1/workspaces/{ws}/models/{name}`. */
  path: string
  summary: string
  tag: string
  access: Access
  /** A JSON body validated with this schema, or raw bodies of these content types. */
  body?: { json: z.ZodType } | { raw: string[] }
  /** Status → description. */
  responses: Record<number, string>
  /**
   * The body its errors (its guard's 401/403 included) are answered with; by default `oip` under
   * `/v2`, `lastmile` elsewhere (src/server/errors.ts).
   */
  errorStyle?: ErrorStyle
}

export class RouteTable {
  readonly specs: RouteSpec[] = []

  constructor(private readonly deps: ServerDeps) {}

  /**
   * Register `handler` for `spec` on `app`, behind the browser check (every method but GET changes
   * state, so GET handlers must never) and the access check.
   */
  add(app: Hono, spec: RouteSpec, handler: Handler): void {
    this.specs.push(spec)
    const path = spec.path.replace(/\{(\w+)\}/g, ':$1')
    const method = spec.method.toUpperCase()
    app.on(method, path, async (c, next) => {
      if (spec.errorStyle) useErrorStyle(c, spec.errorStyle)
      const req = { method, path: c.req.path, header: (name: string) => c.req.header(name) }
      checkBrowserRequest(req, spec.method !== 'get', this.deps.browser)
      await this.guard(c, spec.access)
      return (await handler(c, next)) as Response
    })
  }

  private async guard(c: Context, access: Access): Promise<void> {
    if (access === 'public' || !this.deps.authRequired) return
    const key = await authenticate(this.deps.store, c.req.header('authorization'))
    callers.set(c.req.raw, key)
    if (access === 'key') return
    const ws = access === 'server-admin' ? undefined : (c.req.param('ws') ?? 'default')
    authorize(key, ws, access === 'server-admin' ? 'admin' : access)
  }
}

/** Read and validate a JSON body with `schema`; 400 names each problem. */
export async function jsonBody<T extends z.ZodType>(c: Context, deps: ServerDeps, schema: T): Promise<z.infer<T>> {
  const raw = parseJson(await bodyBytes(c, deps.bodyLimitBytes))
  const parsed = schema.safeParse(raw)
  if (!parsed.success) {
    throw new InvalidRequestError(
      parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '),
    )
  }
  return parsed.data
}

/** The OpenAPI 3.1 document for the declared routes. */
export function openApiDocument(specs: RouteSpec[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {}
  for (const s of specs) {
    const params = [...s.path.matchAll(/\{(\w+)\}/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }))
    const requestBody =
      s.body === undefined
        ? undefined
        : 'json' in s.body
          ? { required: true, content: { 'application/json': { schema: jsonSchema(s.body.json) } } }
          : {
              required: true,
              content: Object.fromEntries(s.body.raw.map((t) => [t, { schema: { type: 'string', format: 'binary' } }])),
            }
    paths[s.path] ??= {}
    ;(paths[s.path] as Record<string, unknown>)[s.method] = {
      summary: s.summary,
      tags: [s.tag],
      ...(params.length ? { parameters: params } : {}),
      ...(requestBody ? { requestBody } : {}),
      ...(s.access === 'public' ? { security: [] } : {}),
      'x-lastmile-access': s.access,
      responses: Object.fromEntries(
        Object.entries(s.responses).map(([code, description]) => [
          code,
          Number(code) >= 400
            ? { description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } }
            : { description },
        ]),
      ),
    }
  }
  return {
    openapi: '3.1.0',
    info: { title: 'lastmile', version, description: 'Inference server for the last mile of ML' },
    paths,
    components: {
      securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'lm_<id>_<secret>' } },
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: { code: { type: 'string' }, message: { type: 'string' }, details: { type: 'object' } },
            },
          },
        },
      },
    },
    security: [{ apiKey: [] }],
  }
}

function jsonSchema(schema: z.ZodType): unknown {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >
  return rest
}
