/**
 * /openapi.json is OpenAPI 3.1 (the OAI schema, JSON Schema 2020-12 schemas), documents every
 * route the app serves with typed answers and parameters, and names lastmile's own keys in
 * snake_case only.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { Validator } from '@seriousme/openapi-schema-validator'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../../src/server/app.js'
import { CONSOLE_PATHS } from '../../src/server/console.js'
import type { OpenApiDoc } from '../helpers/openapi-check.js'
import { clientFor, doubler, testServer } from '../helpers/server.js'

type Json = Record<string, unknown>
type Op = {
  'x-lastmile-access': string
  parameters?: Array<{ name: string; in: string; required: boolean; schema: Json }>
  requestBody?: { content: Record<string, { schema?: Json }> }
  responses: Record<string, { content?: Record<string, { schema?: Json }> }>
}
type Doc = OpenApiDoc & { openapi: string; paths: Record<string, Record<string, Op>> }

let s: Awaited<ReturnType<typeof testServer>>
let doc: Doc
const ops = () =>
  Object.entries(doc.paths).flatMap(([path, m]) => Object.entries(m).map(([method, op]) => ({ path, method, op })))

beforeAll(async () => {
  s = await testServer()
  doc = (await (await s.app.request('/openapi.json')).json()) as Doc
})
afterAll(() => s.shutdown())

/** Every Schema Object of the document, with where it is. */
function schemas(): Array<[string, Json]> {
  const out: Array<[string, Json]> = Object.entries(doc.components.schemas).map(([k, v]) => [
    `#/components/schemas/${k}`,
    v as Json,
  ])
  for (const { path, method, op } of ops()) {
    for (const p of op.parameters ?? []) out.push([`${method} ${path} parameter ${p.name}`, p.schema])
    for (const [t, c] of Object.entries(op.requestBody?.content ?? {}))
      if (c.schema) out.push([`${method} ${path} body ${t}`, c.schema])
    for (const [code, r] of Object.entries(op.responses))
      for (const [t, c] of Object.entries(r.content ?? {}))
        if (c.schema) out.push([`${method} ${path} ${code} ${t}`, c.schema])
  }
  return out
}

/** Property names anywhere in `schema`, following `$ref`s into the components. */
function propertyNames(schema: unknown, seen = new Set<string>()): string[] {
  if (Array.isArray(schema)) return schema.flatMap((x) => propertyNames(x, seen))
  if (schema === null || typeof schema !== 'object') return []
  const o = schema as Json
  const names: string[] = []
  if (typeof o.$ref === 'string' && !seen.has(o.$ref)) {
    seen.add(o.$ref)
    names.push(...propertyNames(doc.components.schemas[o.$ref.split('/').pop() as string], seen))
  }
  if (o.properties && typeof o.properties === 'object') names.push(...Object.keys(o.properties))
  for (const [k, v] of Object.entries(o)) if (k !== '$ref') names.push(...propertyNames(v, seen))
  return names
}

describe('the OpenAPI document', () => {
  it('is valid against the OpenAPI 3.1 schema, and its internal references resolve', async () => {
    const res = await new Validator().validate(structuredClone(doc) as never)
    expect(res.errors).toBeUndefined()
    expect(res.valid).toBe(true)
    expect(doc.openapi).toBe('3.1.0')
  })

  it('holds JSON Schema 2020-12 schemas without their own $schema, each compiling against the components', () => {
    const ajv = new Ajv2020({ strict: false })
    const link = (v: unknown) =>
      JSON.parse(JSON.stringify(v).replaceAll('#/components/schemas/', 'https://x.test/c#/$defs/')) as Json
    ajv.addSchema({ $id: 'https://x.test/c', $defs: link(doc.components.schemas) })
    const bad: string[] = []
    for (const [where, schema] of schemas()) {
      if (JSON.stringify(schema).includes('"$schema"')) bad.push(`${where}: has $schema`)
      if (!ajv.validateSchema(schema)) bad.push(`${where}: ${ajv.errorsText(ajv.errors)}`)
      expect(() => ajv.compile(link(schema)), where).not.toThrow()
    }
    expect(bad).toEqual([])
    expect(schemas().length).toBeGreaterThan(100)
  })

  it('lists every registered route, its access and JSON request schemas', () => {
    const served = new Set(
      createApp(s.deps).app.routes.map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:(\w+)/g, '{$1}')}`),
    )
    // The web console's page and assets are served beside the API, not part of it.
    for (const path of Object.values(CONSOLE_PATHS)) expect(served.delete(`get ${path}`), path).toBe(true)
    expect([...served].sort()).toEqual(
      ops()
        .map(({ path, method }) => `${method} ${path}`)
        .sort(),
    )
    expect(served.size).toBeGreaterThan(25)
    // Generated clients name their methods by operationId: one per operation, none twice.
    const ids = ops().map(({ op }) => (op as Op & { operationId: string }).operationId)
    expect(new Set(ids).size).toBe(ids.length)
    expect(doc.paths['/v1/jobs/{id}']?.get).toMatchObject({ operationId: 'get_v1_jobs_id' })
    const put = doc.paths['/v1/workspaces/{ws}/pipelines/{name}']?.put
    expect(put?.['x-lastmile-access']).toBe('deployer')
    expect(put?.requestBody?.content['application/json']?.schema).toMatchObject({
      type: 'object',
      properties: { steps: { type: 'array', minItems: 1 } },
    })
  })

  it('gives every success status a schema or media types, and names the wire schemas', () => {
    const untyped: string[] = []
    for (const { path, method, op } of ops()) {
      for (const [code, r] of Object.entries(op.responses)) {
        if (code === '204' || Number(code) >= 300) continue
        const content = Object.entries(r.content ?? {})
        if (content.length === 0) untyped.push(`${method} ${path} ${code}`)
        for (const [type, c] of content)
          if (type === 'application/json' && !c.schema) untyped.push(`${method} ${path} ${code} json`)
      }
    }
    expect(untyped).toEqual([])
    const answer = (path: string, method: string, code: string, type = 'application/json') =>
      doc.paths[path]?.[method]?.responses[code]?.content?.[type]
    expect(answer('/v1/workspaces/{ws}', 'get', '200')?.schema).toEqual({
      $ref: '#/components/schemas/WorkspaceDetail',
    })
    expect(doc.components.schemas.WorkspaceDetail).toMatchObject({
      required: ['name', 'created_at', 'models', 'pipelines', 'deployed'],
      additionalProperties: false,
    })
    expect(answer('/v1/jobs/{id}', 'get', '200')?.schema).toEqual({ $ref: '#/components/schemas/Job' })
    expect(answer('/v2/models/{name}/infer', 'post', '200')?.schema).toEqual({
      $ref: '#/components/schemas/OipInferResponse',
    })
    expect(answer('/v2/models/{name}/infer', 'post', '400')?.schema).toEqual({ $ref: '#/components/schemas/OipError' })
    expect(answer('/metrics', 'get', '200', 'text/plain; version=0.0.4')?.schema).toEqual({ type: 'string' })
    expect(Object.keys(doc.paths['/v1/jobs/{id}/result']?.get?.responses['200']?.content ?? {})).toContain(
      'application/vnd.apache.parquet',
    )
    expect(answer('/v1/workspaces/{ws}/assays/{id}/chart.svg', 'get', '200', 'image/svg+xml')).toBeDefined()
  })

  it('documents query and path parameters with their types, enums and defaults', () => {
    const param = (path: string, method: string, name: string) =>
      doc.paths[path]?.[method]?.parameters?.find((p) => p.name === name)
    const logs = '/v1/workspaces/{ws}/pipelines/{name}/logs'
    expect(param(logs, 'get', 'limit')).toMatchObject({
      in: 'query',
      required: false,
      schema: { type: 'integer', minimum: 1, default: 1000 },
    })
    expect(param(logs, 'get', 'format')?.schema).toMatchObject({ enum: ['json', 'arrow'], default: 'json' })
    expect(param('/v1/workspaces/{ws}/pipelines/{name}/jobs', 'post', 'max_error_share')?.schema).toMatchObject({
      type: 'number',
      minimum: 0,
      maximum: 1,
    })
    expect(param('/v1/workspaces/{ws}/pipelines/{name}/explain', 'post', 'async')?.schema).toMatchObject({
      enum: ['true', 'false'],
      default: 'false',
    })
    expect(param('/v1/workspaces/{ws}/models/{name}/versions/{version}', 'get', 'version')).toMatchObject({
      in: 'path',
      required: true,
      schema: { type: 'integer', minimum: 1 },
    })
    expect(param('/v2/models/{name}/versions/{version}', 'get', 'version')?.schema).toEqual({ type: 'string' })
    expect(param('/v1/workspaces/{ws}/pipelines/{name}/infer', 'post', 'dataset[]')?.schema).toMatchObject({
      type: 'array',
    })
  })

  it('documents every query parameter a handler reads itself', () => {
    const dir = new URL('../../src/server/routes/', import.meta.url)
    const documented = new Set(
      ops().flatMap(({ op }) => (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name)),
    )
    const read = readdirSync(dir).flatMap((f) =>
      [...readFileSync(new URL(f, dir), 'utf8').matchAll(/c\.req\.quer(?:y|ies)\('([^']+)'\)/g)].map(
        (m) => m[1] as string,
      ),
    )
    expect(read.filter((name) => !documented.has(name))).toEqual([])
  })

  it("names every key of lastmile's own bodies and parameters in snake_case", () => {
    const names = new Set<string>()
    for (const { path, op } of ops()) {
      if (path.startsWith('/v2')) continue // the Open Inference Protocol's keys are the spec's
      for (const p of op.parameters ?? []) if (!p.name.startsWith('dataset')) names.add(p.name) // Wallaroo's
      for (const c of Object.values(op.requestBody?.content ?? {}))
        for (const n of propertyNames(c.schema)) names.add(n)
      for (const r of Object.values(op.responses))
        for (const c of Object.values(r.content ?? {})) for (const n of propertyNames(c.schema)) names.add(n)
    }
    expect([...names].filter((n) => !/^[a-z][a-z0-9_]*$/.test(n))).toEqual([])
    expect(names).toContain('created_at')
    expect(names).toContain('queued_rows')
  })
})

describe('one wire casing on the wire', () => {
  it('answers created_at, never createdAt, on every workspace route', async () => {
    const lm = clientFor(s.app)
    const created = (await lm.createWorkspace('casing')) as Json
    const [listed] = ((await lm.listWorkspaces()) as Json[]).filter((w) => w.name === 'casing')
    const one = (await lm.getWorkspace('casing')) as Json
    for (const w of [created, listed, one]) {
      expect(w).toHaveProperty('created_at')
      expect(w).not.toHaveProperty('createdAt')
    }
    expect(one).toEqual({ name: 'casing', created_at: created.created_at, models: 0, pipelines: 0, deployed: [] })
  })

  it('answers only snake_case keys from the registry, deployment and key routes', async () => {
    const lm = clientFor(s.app)
    await lm.uploadModel('casing', 'twice', doubler(3))
    await lm.putPipeline('casing', 'twice', [{ model: 'twice' }])
    const bodies: unknown[] = [
      await lm.deploy('casing', 'twice', { batching: { max_batch_size: 8 } }),
      await lm.listModels('casing'),
      await lm.listPipelines('casing'),
      await lm.getPipeline('casing', 'twice'),
      await lm.createKey('casing', 'ci', 'viewer'),
      await lm.listKeys('casing'),
    ]
    const keys = (v: unknown): string[] =>
      Array.isArray(v)
        ? v.flatMap(keys)
        : v && typeof v === 'object'
          ? Object.entries(v).flatMap(([k, x]) => [k, ...keys(x)])
          : []
    expect(bodies.flatMap(keys).filter((k) => !/^[a-z][a-z0-9_]*$/.test(k))).toEqual([])
    expect(bodies[0]).toMatchObject({ pipeline: 'twice', queued_rows: 0, batching: { max_batch_size: 8 } })
    await lm.undeploy('casing', 'twice')
  })
})

describe('parameters are parsed as documented', () => {
  it('answers 400 naming a bad query parameter and what it should be', async () => {
    const bad = async (url: string, init?: RequestInit) => {
      const res = await s.app.request(url, init)
      expect(res.status, url).toBe(400)
      return ((await res.json()) as { error: { message: string } }).error.message
    }
    expect(await bad('/v1/workspaces/default/pipelines/p/logs?limit=0')).toMatch(
      /query parameter 'limit': .*>=1.*got "0"/,
    )
    expect(await bad('/v1/workspaces/default/pipelines/p/logs?start=yesterday')).toMatch(
      /'start': 'yesterday' is not a time/,
    )
    expect(await bad('/v1/jobs/none/result?format=xml')).toMatch(/'format': .*"csv".*got "xml"/)
    expect(await bad('/v1/workspaces/default/pipelines/p/explain?async=maybe', { method: 'POST' })).toMatch(/'async'/)
  })

  it('treats an empty value as absent, and answers 404 for a path parameter naming nothing', async () => {
    const logs = await s.app.request('/v1/workspaces/default/pipelines/none/logs?limit=&format=')
    expect(logs.status).toBe(200)
    expect(await logs.json()).toEqual([])
    const res = await s.app.request('/v1/workspaces/default/models/m/versions/first')
    expect(res.status).toBe(404)
    expect(await res.text()).toMatch(/path parameter 'version'/)
  })
})
