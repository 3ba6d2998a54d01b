/**
 * Every response a test receives, checked against the server's own OpenAPI document: the route and
 * status must be documented, a JSON body must match the documented schema (JSON Schema 2020-12,
 * with ajv), and any other body must have a documented media type. A mismatch fails the request
 * (it throws, naming the route, status and schema error) and the test (an afterEach).
 */
import { gunzipSync, inflateSync } from 'node:zlib'
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import formats from 'ajv-formats'
import { afterEach } from 'vitest'

declare module 'vitest' {
  interface TaskMeta {
    /** Responses of this test (and the hooks before it) checked against the OpenAPI document. */
    openapiChecked?: number
  }
}

type Json = Record<string, unknown>
interface Operation {
  responses: Record<string, { content?: Record<string, { schema?: unknown }> }>
}
export interface OpenApiDoc {
  paths: Record<string, Record<string, Operation>>
  components: { schemas: Record<string, unknown> }
}

/** Where the document's components live for ajv (refs `#/components/schemas/X` point here). */
const COMPONENTS = 'https://lastmile.test/components'

let checked = 0
const failures: string[] = []

afterEach((ctx) => {
  ctx.task.meta.openapiChecked = checked
  checked = 0
  if (failures.length > 0) throw new Error(failures.splice(0).join('\n'))
})

/** Take the problems recorded so far: a test of the check itself takes those it caused on purpose. */
export function takeProblems(): string[] {
  return failures.splice(0)
}

/** `#/components/schemas/X` → the components schema registered with ajv. */
function relink(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(relink)
  if (v === null || typeof v !== 'object') return v
  return Object.fromEntries(
    Object.entries(v).map(([k, x]) => [
      k,
      k === '$ref' && typeof x === 'string' ? x.replace('#/components/schemas/', `${COMPONENTS}#/$defs/`) : relink(x),
    ]),
  )
}

/** A media type without its parameters, lower case. */
const base = (type: string) => (type.split(';')[0] ?? '').trim().toLowerCase()

/**
 * JSON as the server may write it: OIP tensors carry bare NaN/Infinity as Triton writes them, which
 * JSON.parse refuses; outside strings they read as 0 here (the schema checks shape, not values).
 */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return JSON.parse(text.replace(/"(?:[^"\\]|\\.)*"|-?(?:NaN|Infinity|Inf)\b/g, (m) => (m.startsWith('"') ? m : '0')))
  }
}

/**
 * A body's text. An in-process answer sent with Content-Encoding is still compressed (fetch over a
 * socket has decoded it already, header kept): the zlib or gzip magic bytes tell which.
 */
function decoded(encoding: string | null, bytes: Uint8Array): string {
  let plain = bytes
  if (encoding === 'gzip' && bytes[0] === 0x1f && bytes[1] === 0x8b) plain = gunzipSync(bytes)
  else if (encoding === 'deflate' && bytes[0] === 0x78) plain = inflateSync(bytes)
  return new TextDecoder().decode(plain)
}

export class OpenApiChecker {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true })
  private readonly validators = new Map<unknown, ValidateFunction>()
  private readonly routes: Array<{ template: string; re: RegExp; literal: number; ops: Record<string, Operation> }>

  constructor(readonly doc: OpenApiDoc) {
    formats.default(this.ajv) // a CommonJS module: its function is `default` under NodeNext
    this.ajv.addSchema({ $id: COMPONENTS, $defs: relink(doc.components.schemas) })
    this.routes = Object.entries(doc.paths)
      .map(([template, ops]) => ({
        template,
        re: new RegExp(`^${template.replace(/[.]/g, '\\.').replace(/\{\w+\}/g, '[^/]+')}$`),
        literal: template.replace(/\{\w+\}/g, '').length,
        ops,
      }))
      .sort((a, b) => b.literal - a.literal)
  }

  /** The documented template of `method path`, preferring the most literal match (as routers do). */
  route(method: string, path: string): { template: string; op: Operation } | undefined {
    for (const r of this.routes) {
      const op = r.ops[method.toLowerCase()]
      if (op && r.re.test(path)) return { template: r.template, op }
    }
    return undefined
  }

  private validator(schema: unknown): ValidateFunction {
    const known = this.validators.get(schema)
    if (known) return known
    const v = this.ajv.compile(relink(schema) as Json)
    this.validators.set(schema, v)
    return v
  }

  /** What is wrong with `res` as the answer to `method url`, or undefined. Reads a clone of JSON bodies. */
  async problem(method: string, url: string, res: Response): Promise<string | undefined> {
    const path = new URL(url, 'http://x').pathname
    const found = this.route(method, path)
    // An unknown path is the app's 404; its body is still the error body of its prefix.
    if (!found) return res.status === 404 ? undefined : `${method} ${path}: no such route is documented`
    const where = `${method} ${found.template} answered ${res.status}`
    const documented = found.op.responses[String(res.status)]
    if (!documented) return `${where}, which is not documented (${Object.keys(found.op.responses).join(', ')})`
    const type = res.headers.get('content-type')
    const content = documented.content ?? {}
    if (!type)
      return Object.keys(content).length === 0 || res.status === 204 ? undefined : `${where} without a Content-Type`
    const media = Object.keys(content).find((k) => base(k) === base(type))
    if (media === undefined) return `${where} as ${type}, not one of: ${Object.keys(content).join(', ') || '(no body)'}`
    const schema = content[media]?.schema
    if (base(media) !== 'application/json' || schema === undefined) return undefined
    const text = decoded(res.headers.get('content-encoding'), new Uint8Array(await res.clone().arrayBuffer()))
    let body: unknown
    try {
      body = parseJson(text)
    } catch (e) {
      return `${where} with a body that is not JSON (${(e as Error).message}): ${text.slice(0, 200)}`
    }
    const validate = this.validator(schema)
    if (validate(body)) return undefined
    const all = validate.errors ?? []
    const errors = `${this.ajv.errorsText(all.slice(0, 8), { separator: '; ' })}${all.length > 8 ? `; … ${all.length - 8} more` : ''}`
    return `${where} with a body its schema refuses: ${errors}\nbody: ${text.slice(0, 500)}`
  }

  /** Check `res`; a problem fails the request now and the test at its end. */
  async check(method: string, url: string, res: Response): Promise<Response> {
    const problem = await this.problem(method, url, res)
    checked++
    if (problem) {
      failures.push(problem)
      throw new Error(`response does not match the OpenAPI document: ${problem}`)
    }
    return res
  }
}

/**
 * `request` (an app's `request`, or `fetch` on a server's URL), with every response checked against
 * the document the server serves at `/openapi.json` (fetched once, unchecked).
 */
export function checkedRequest(
  request: (url: string, init?: RequestInit) => Response | Promise<Response>,
  origin = '',
): (url: string, init?: RequestInit) => Promise<Response> {
  let checker: Promise<OpenApiChecker> | undefined
  return async (url, init) => {
    checker ??= Promise.resolve(request(`${origin}/openapi.json`)).then(
      async (r) => new OpenApiChecker((await r.json()) as OpenApiDoc),
    )
    const res = await request(url, init)
    return (await checker).check(init?.method ?? 'GET', url, res)
  }
}
