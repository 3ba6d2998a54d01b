/**
 * The OpenAPI 3.1 document of the declared routes. Every schema in it comes from a zod schema
 * (`z.toJSONSchema`, JSON Schema 2020-12, which OpenAPI 3.1's Schema Objects are): request bodies
 * and parameters from what the routes parse with, answers from the wire schemas (src/wire/) the
 * handlers are typed by. Named wire schemas (`.meta({ id })`) become `components/schemas`; each
 * error status gets the body of the route's error style.
 */
import { isDeepStrictEqual } from 'node:util'
import { z } from 'zod'
import { JSON_TYPE } from '../formats/media-types.js'
import { ERROR_BODY_SCHEMAS, ERROR_CODE_HEADER, type ErrorStyle } from './errors.js'
import type { Answer, RouteSpec } from './route-table.js'

type Json = Record<string, unknown>

const ERROR_COMPONENTS: Record<ErrorStyle, string> = {
  lastmile: 'Error',
  oip: 'OipError',
  wallaroo: 'WallarooError',
}

/** Media types whose bodies are text (a string schema); the rest are bytes (no schema, as OAS 3.1 advises). */
const isText = (type: string) => /^text\/|\+xml$|^application\/x-ndjson$/.test(type)

/** Converts zod schemas, collecting their named parts as components. */
class Components {
  readonly schemas: Record<string, Json> = {}

  /** `schema` as JSON Schema, its named parts as `$ref`s into the components. */
  convert(schema: z.ZodType, io: 'input' | 'output'): Json {
    const out = z.toJSONSchema(schema, { io, unrepresentable: 'any', reused: 'inline', cycles: 'ref' }) as Json
    const { $schema: _dialect, $defs, ...root } = out
    for (const [id, def] of Object.entries(($defs ?? {}) as Record<string, Json>)) {
      const json = relink(def) as Json
      const seen = this.schemas[id]
      if (seen && !isDeepStrictEqual(seen, json)) throw new Error(`two different schemas are named '${id}'`)
      this.schemas[id] = json
    }
    return relink(root) as Json
  }
}

/** zod's `#/$defs/<id>` references, pointed at the document's components. */
function relink(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(relink)
  if (v === null || typeof v !== 'object') return v
  return Object.fromEntries(
    Object.entries(v).map(([k, x]) => [
      k,
      k === '$ref' && typeof x === 'string' ? x.replace(/^#\/\$defs\//, '#/components/schemas/') : relink(x),
    ]),
  )
}

/** Parameters of `schema` (an object), one per property, in `where` (query or path). */
function parameters(schema: z.ZodObject, where: 'query' | 'path', components: Components): Json[] {
  const json = components.convert(schema, 'input')
  const required = new Set((json.required ?? []) as string[])
  return Object.entries((json.properties ?? {}) as Record<string, Json>).map(([name, s]) => ({
    name,
    in: where,
    required: where === 'path' || required.has(name),
    ...(typeof s.description === 'string' ? { description: s.description } : {}),
    schema: s,
  }))
}

/** A route's path parameters: typed by its `params` schema, strings otherwise. */
function pathParameters(s: RouteSpec, components: Components): Json[] {
  const typed = s.params ? parameters(s.params, 'path', components) : []
  const names = [...s.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1] as string)
  return names.map(
    (name) => typed.find((p) => p.name === name) ?? { name, in: 'path', required: true, schema: { type: 'string' } },
  )
}

/** The errors the route table itself answers for a route, before its handler runs. */
function tableErrors(s: RouteSpec): Record<number, string> {
  const refused = 'a cross-site request from a browser, or a foreign Host on a keyless loopback server'
  const errors: Record<number, string> = { 403: refused }
  if (s.access !== 'public') {
    errors[401] = 'no valid API key'
    errors[403] = `the key's role or workspace does not allow this; or ${refused}`
  }
  const invalid: string[] = []
  if (s.path.includes('{')) {
    errors[404] = 'no such resource'
    invalid.push('a path parameter that is not a valid name') // checked before the guard (route-table.ts)
  }
  if (s.query || s.body) invalid.push('invalid parameters or body')
  if (invalid.length > 0) errors[400] = invalid.join('; ')
  if (s.body) {
    errors[413] = 'body too large'
    errors[415] = 'unsupported Content-Type or Content-Encoding'
  }
  return errors
}

function successResponse(a: Answer, components: Components): Json {
  const content: Json = {}
  if (a.json) content[JSON_TYPE] = { schema: components.convert(a.json, 'output') }
  for (const type of a.media ?? []) content[type] = isText(type) ? { schema: { type: 'string' } } : {}
  return { description: a.description, ...(Object.keys(content).length ? { content } : {}) }
}

function errorResponse(description: string, style: ErrorStyle): Json {
  return {
    description,
    headers: { [ERROR_CODE_HEADER]: { description: 'the stable error code', schema: { type: 'string' } } },
    content: { [JSON_TYPE]: { schema: { $ref: `#/components/schemas/${ERROR_COMPONENTS[style]}` } } },
  }
}

/** A unique, stable operation id from method and path: `get /v1/jobs/{id}` → `get_v1_jobs_id`, `/v2/` → `get_v2_index`. */
const operationId = (s: RouteSpec) =>
  [
    s.method,
    ...s.path
      .split('/')
      .slice(1)
      .map((seg) => seg.replace(/[^A-Za-z0-9]+/g, '_').replace(/^_+|_+$/g, '') || 'index'),
  ].join('_')

function operation(s: RouteSpec, components: Components): Json {
  const parameters_ = [...pathParameters(s, components), ...(s.query ? parameters(s.query, 'query', components) : [])]
  const requestBody =
    s.body === undefined
      ? undefined
      : 'json' in s.body
        ? { required: true, content: { [JSON_TYPE]: { schema: components.convert(s.body.json, 'input') } } }
        : { required: true, content: Object.fromEntries(s.body.raw.map((t) => [t, {}])) }
  const style = s.errorStyle ?? 'lastmile'
  const declared = Object.entries({ ...tableErrors(s), ...s.responses })
  return {
    operationId: operationId(s),
    summary: s.summary,
    tags: [s.tag],
    ...(parameters_.length ? { parameters: parameters_ } : {}),
    ...(requestBody ? { requestBody } : {}),
    ...(s.access === 'public' ? { security: [] } : {}),
    'x-lastmile-access': s.access,
    responses: Object.fromEntries(
      declared.map(([code, r]) => [
        code,
        typeof r === 'string'
          ? Number(code) === 204
            ? { description: r }
            : errorResponse(r, style)
          : successResponse(r, components),
      ]),
    ),
  }
}

/** The OpenAPI 3.1 document for the declared routes. */
export function openApiDocument(specs: readonly RouteSpec[], version: string): Json {
  const components = new Components()
  const paths: Record<string, Json> = {}
  for (const s of specs) {
    paths[s.path] ??= {}
    ;(paths[s.path] as Json)[s.method] = operation(s, components)
  }
  for (const [style, name] of Object.entries(ERROR_COMPONENTS) as [ErrorStyle, string][])
    components.schemas[name] = ERROR_BODY_SCHEMAS[style]
  return {
    openapi: '3.1.0',
    info: {
      title: 'lastmile',
      version,
      description:
        'Inference server for the last mile of ML. Every key in the bodies of its own routes (/v1) is snake_case; the /v2 routes speak the Open Inference Protocol.',
    },
    paths,
    components: {
      securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'lm_<id>_<secret>' } },
      schemas: Object.fromEntries(Object.entries(components.schemas).sort(([a], [b]) => a.localeCompare(b))),
    },
    security: [{ apiKey: [] }],
  }
}
