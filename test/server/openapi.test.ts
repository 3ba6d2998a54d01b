/** /openapi.json is OpenAPI 3.1 and documents every route the app serves, with its request schema. */
import { describe, expect, it } from 'vitest'
import { createApp } from '../../src/server/app.js'
import { testServer } from '../helpers/server.js'

describe('OpenAPI document', () => {
  it('lists every registered route, its access and JSON request schemas', async () => {
    const s = await testServer()
    const { app } = createApp(s.deps)
    const doc = (await (await s.app.request('/openapi.json')).json()) as {
      openapi: string
      paths: Record<
        string,
        Record<string, { 'x-lastmile-access': string; requestBody?: { content: Record<string, { schema: unknown }> } }>
      >
    }
    expect(doc.openapi).toBe('3.1.0')
    const served = new Set(app.routes.map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:(\w+)/g, '{$1}')}`))
    const documented = new Set(
      Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`)),
    )
    expect([...served].sort()).toEqual([...documented].sort())
    expect(served.size).toBeGreaterThan(25)
    const put = doc.paths['/v1/workspaces/{ws}/pipelines/{name}']?.put
    expect(put?.['x-lastmile-access']).toBe('deployer')
    expect(put?.requestBody?.content['application/json']?.schema).toMatchObject({
      type: 'object',
      properties: { steps: { type: 'array', minItems: 1 } },
    })
    const deploy =
      doc.paths['/v1/workspaces/{ws}/pipelines/{name}/deploy']?.post?.requestBody?.content['application/json']?.schema
    expect(deploy).toMatchObject({
      properties: { replicas: { type: 'integer' }, engine: { enum: ['auto', 'webgpu', 'cpu', 'wasm'] } },
    })
    await s.shutdown()
  })
})
