/**
 * `auto` through the server: a pipeline whose model the webgpu backend cannot load deploys on cpu
 * and its deployment status says why, instead of the deploy failing. `auto` picks webgpu only on
 * a hardware adapter; the test stands in for one (the webgpu load itself is real, on whatever
 * adapter this machine has).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { LastmileClient } from '../../src/client/client.js'
import { Engine } from '../../src/engine/engine.js'
import { sklearnPipeline } from '../fixtures/models.js'
import { gpuTitle, probeGpu } from '../helpers/gpu.js'
import { clientFor, post, testServer } from '../helpers/server.js'

const gpu = await probeGpu()

describe.runIf(gpu.ok)(gpuTitle('auto backend, a model webgpu cannot run', gpu), () => {
  let server: Awaited<ReturnType<typeof testServer>>
  let lm: LastmileClient
  beforeAll(async () => {
    vi.spyOn(Engine.prototype, 'resolveBackend').mockImplementation(async (choice = 'auto') =>
      choice === 'auto' ? 'webgpu' : choice,
    )
    server = await testServer({ backend: 'auto' })
    lm = clientFor(server.app)
  })
  afterAll(async () => {
    await server?.shutdown()
    vi.restoreAllMocks()
  })

  it('deploys it on cpu, says so in the status, and answers', async () => {
    await lm.uploadModel('default', 'skl', sklearnPipeline().bytes)
    await lm.putPipeline('default', 'skl', [{ model: 'skl' }])
    const status = await lm.deploy('default', 'skl')
    expect(status.backend).toBe('cpu')
    expect(status.stages[0]?.models[0]).toEqual({
      model: 'skl:1',
      backend: 'cpu',
      active_backend: 'cpu',
      path: 'cpu',
      backend_note: 'auto chose webgpu, which cannot run operator Scaler of this model: it runs on cpu',
    })
    const res = await server.app.request(
      '/v2/models/skl/infer',
      post({ inputs: [{ name: 'x', shape: [1, 6], datatype: 'FP32', data: [0, 0, 0, 0, 0, 0] }] }),
    )
    expect(res.status).toBe(200)
  })

  it('refuses it with engine webgpu by name: 400 unsupported_model naming the operator and cpu', async () => {
    const res = await server.app.request('/v1/workspaces/default/pipelines/skl/deploy', post({ engine: 'webgpu' }))
    expect(res.status).toBe(400)
    const body = (await res.json()) as { error: { code: string; message: string } }
    expect(body.error.code).toBe('unsupported_model')
    expect(body.error.message).toMatch(/^the webgpu backend cannot run operator Scaler: /)
    expect(body.error.message).toContain('deploy with "engine": "cpu" to run this model')
  })
})
