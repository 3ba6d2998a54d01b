/**
 * Routes are declared once: the declaration registers the Hono handler behind its role guard,
 * parses its path and query parameters, and feeds the OpenAPI 3.1 document (openapi.ts), whose
 * schemas are the zod schemas the route parses its input with and types its answers by. A route
 * cannot exist without being documented.
 */
import type { Context, Hono } from 'hono'
import type { z } from 'zod'
import { InvalidRequestError, NotFoundError } from '../errors.js'
import { authenticate, authorize, isServerAdmin } from '../registry/keys.js'
import { checkName, type NameKind } from '../store/names.js'
import type { ApiKeyRecord, Role } from '../store/types.js'
import { type JsonKind, jsonValue } from './body.js'
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
  const key = callerKey(c)
  return key && !isServerAdmin(key) ? key.workspace : undefined
}

/** The key a request was authenticated with: undefined when keys are off or the route is public. */
export function callerKey(c: Context): ApiKeyRecord | undefined {
  return callers.get(c.req.raw)
}

/** A route's declaration: what it is, who may call it, what it reads and what it answers. */
export interface RouteSpec {
  method: 'get' | 'post' | 'put' | 'delete'
  /** OpenAPI template, e.g. `/v1/workspaces/{ws}/models/{name}`. */
  path: string
  summary: string
  tag: string
  access: Access
  /**
   * Whether a call is written to the audit trail: by default every call of a POST, PUT or DELETE
   * that passed authentication; `false` for those that change nothing (inference, a preview).
   */
  audit?: false
  /** A JSON body validated with this schema, or raw bodies of these content types. */
  body?: { json: z.ZodType } | { raw: string[] }
  /** Query parameters, parsed with this schema before the handler runs: a bad one is a 400 naming it. */
  query?: z.ZodObject
  /** Path parameters that are not plain strings, parsed with this schema: a bad one is a 404 naming it. */
  params?: z.ZodObject
  /**
   * A success status → what it answers (each one's schema is required, see {@link Answer}); an
   * error status → when it happens (its body is the route's error style).
   */
  responses: Record<number, Answer | string>
  /**
   * The body its errors (its guard's 401/403 included) are answered with; by default `oip` under
   * `/v2`, `lastmile` elsewhere (src/server/errors.ts).
   */
  errorStyle?: ErrorStyle
}

/**
 * A success answer: a JSON body of schema `json` (which also types what the handler returns), and
 * bodies of the non-JSON `media` types (Prometheus text, SVG, Arrow, Parquet, CSV, the OIP binary
 * extension); neither for a 204.
 */
export interface Answer {
  description: string
  json?: z.ZodType
  media?: readonly string[]
}

/** A route's parsed input: its query and path parameters, per the spec's schemas. */
interface RouteInput<Q extends z.ZodObject, P extends z.ZodObject> {
  query: z.output<Q>
  params: z.output<P>
}

/** A route's handler: the request's context and its parsed parameters. */
export type RouteHandler<Q extends z.ZodObject, P extends z.ZodObject> = (
  c: Context,
  input: RouteInput<Q, P>,
) => Response | Promise<Response>

/** The declared routes: each registered on the app behind its checks, and listed for the document. */
export class RouteTable {
  readonly specs: RouteSpec[] = []

  constructor(private readonly deps: ServerDeps) {}

  /**
   * Register `handler` for `spec` on `app`, behind the browser check (every method but GET changes
   * state, so GET handlers must never) and the access check.
   */
  add<
    Q extends z.ZodObject = z.ZodObject<Record<never, never>>,
    P extends z.ZodObject = z.ZodObject<Record<never, never>>,
  >(app: Hono, spec: RouteSpec & { query?: Q; params?: P }, handler: RouteHandler<Q, P>): void {
    checkAnswers(spec)
    const names = pathNames(spec.path)
    this.specs.push(spec)
    const path = spec.path.replace(/\{(\w+)\}/g, ':$1')
    const method = spec.method.toUpperCase()
    const audited = spec.method !== 'get' && spec.audit !== false
    app.on(method, path, async (c) => {
      if (spec.errorStyle) useErrorStyle(c, spec.errorStyle)
      const req = { method, path: c.req.path, header: (name: string) => c.req.header(name) }
      checkBrowserRequest(req, spec.method !== 'get', this.deps.browser)
      // Hono has decoded the parameters (`%2F` is a `/`): a name the registry could never have
      // created names nothing, and must not reach the guard's workspace check or a file path.
      for (const [param, kind] of names) checkName(kind, c.req.param(param) as string)
      let status = 500
      try {
        await this.guard(c, spec.access)
        const params = spec.params ? parseParams(c, spec.params) : {}
        const query = spec.query ? parseQuery(c, spec.query) : {}
        const res = await handler(c, { query, params } as RouteInput<Q, P>)
        status = res.status
        return res
      } catch (e) {
        status = this.deps.statusOf(e)
        throw e
      } finally {
        if (audited) await this.record(c, method, status)
      }
    })
  }

  /**
   * Write a call to the audit trail once it is answered, if it passed authentication (a keyless
   * flood of 401s must not push real rows out). A failed write is logged; the answer stands.
   */
  private async record(c: Context, method: string, status: number): Promise<void> {
    const key = callerKey(c)
    if (this.deps.authRequired && !key) return
    const workspace = c.req.param('ws') ?? (c.req.path.startsWith('/v2/') ? 'default' : visibleWorkspace(c))
    try {
      await this.deps.store.audit.append(
        {
          time: new Date().toISOString(),
          ...(workspace === undefined ? {} : { workspace }),
          ...(key ? { key: { id: key.id, name: key.name, role: key.role } } : {}),
          method,
          path: c.req.path,
          status,
        },
        this.deps.auditMaxRows,
      )
    } catch (e) {
      this.deps.log.error('audit row not written', { method, path: c.req.path, error: String(e) })
    }
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

/**
 * Read and validate a JSON body with `schema`; 400 names each problem. `kind` says what it
 * carries: `small`, names and settings (64 KiB at most, parsed here); `data`, values, rows or steps
 * (admitted and parsed in a body worker when large, its values bounded: see `jsonValue`).
 */
export async function jsonBody<T extends z.ZodType>(
  c: Context,
  deps: ServerDeps,
  schema: T,
  kind: JsonKind = 'small',
): Promise<z.infer<T>> {
  const raw = await jsonValue(c, deps, kind)
  const parsed = schema.safeParse(raw)
  if (!parsed.success) {
    throw new InvalidRequestError(
      parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '),
    )
  }
  return parsed.data
}

/** What a path parameter names, by the path segment before it: `/models/{name}` names a model. */
const NAMED_BY: Readonly<Record<string, NameKind>> = {
  workspaces: 'workspace',
  models: 'model',
  pipelines: 'pipeline',
  assays: 'assay',
  jobs: 'job',
  explanations: 'explanation',
  keys: 'key',
  versions: 'version',
  'training-sets': 'training-set',
  optimizations: 'optimization',
}

/** A path template's parameters and what each names; a parameter nothing here names is refused. */
function pathNames(path: string): [param: string, kind: NameKind][] {
  const segments = path.split('/')
  return segments.flatMap((segment, i) => {
    const param = /^\{(\w+)\}$/.exec(segment)?.[1]
    if (param === undefined) return []
    const before = segments[i - 1] ?? ''
    if (!Object.hasOwn(NAMED_BY, before))
      throw new Error(`${path}: {${param}} follows '${before}', which NAMED_BY lacks`)
    return [[param, NAMED_BY[before] as NameKind]]
  })
}

/** A spec's every success status but 204 says what it answers: generated clients are typed by it. */
function checkAnswers(spec: RouteSpec): void {
  for (const [status, answer] of Object.entries(spec.responses)) {
    const code = Number(status)
    if (code >= 400 || code === 204) continue
    if (typeof answer === 'string' || (!answer.json && !answer.media?.length))
      throw new Error(`${spec.method} ${spec.path}: status ${status} needs a JSON schema or media types`)
  }
}

/** Whether a query field takes repeated values (`?k=a&k=b`): an array, maybe optional or defaulted. */
function isList(field: z.ZodType | undefined): boolean {
  const def = field?._zod.def as { type: string; innerType?: z.ZodType } | undefined
  if (!def) return false
  return def.type === 'array' || (def.innerType !== undefined && isList(def.innerType))
}

/** The issues of a failed parse, each naming the parameter and the value sent. */
function describeIssues(error: z.ZodError, kind: string, raw: Record<string, unknown>): string {
  return error.issues
    .map((i) => {
      const name = String(i.path[0] ?? '')
      const got = raw[name] === undefined ? '' : `, got ${JSON.stringify(raw[name])}`
      return `${kind} '${name}': ${i.message}${got}`
    })
    .join('; ')
}

/**
 * The query parsed with `schema`. An empty value is no value (`?start=` reads as absent); a
 * parameter given twice takes its first value unless its schema is a list.
 */
function parseQuery(c: Context, schema: z.ZodObject): unknown {
  // Keys are the client's: `constructor` or `__proto__` must be plain keys, never Object's own.
  const raw: Record<string, string | string[]> = Object.create(null)
  for (const [key, all] of Object.entries(c.req.queries())) {
    const values = all.filter((v) => v !== '')
    if (values.length === 0) continue
    raw[key] = Object.hasOwn(schema.shape, key) && isList(schema.shape[key]) ? values : (values[0] as string)
  }
  const parsed = schema.safeParse(raw)
  if (!parsed.success) throw new InvalidRequestError(describeIssues(parsed.error, 'query parameter', raw))
  return parsed.data
}

/** The path parameters parsed with `schema`: a path naming no resource (`/versions/abc`) is a 404. */
function parseParams(c: Context, schema: z.ZodObject): unknown {
  const raw = c.req.param() as Record<string, string>
  const parsed = schema.safeParse(raw)
  if (!parsed.success) throw new NotFoundError(describeIssues(parsed.error, 'path parameter', raw))
  return { ...raw, ...parsed.data }
}
