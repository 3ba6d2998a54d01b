/**
 * The OIP v2 surface as the clients read it: server metadata at `/v2` and at `/v2/` (the spec's
 * YAML spells it with the slash), Triton's platform name for ONNX Runtime, and health answers that
 * tritonclient (status only: `is_server_live` is `response.status_code == 200`, http/_client.py)
 * and KServe's client (`response.json().get("live")` / `.get("ready")`, inference_client.py) both
 * take, with `Content-Type: application/json` exactly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { doubler, spec, testServer } from '../helpers/server.js'

describe('the OIP v2 surface', () => {
  let s: Awaited<ReturnType<typeof testServer>>
  beforeAll(async () => {
    s = await testServer()
    await s.deps.manager.deploy(spec('double', doubler(2), { pipelineVersion: 4 }))
  })
  afterAll(() => s.shutdown())

  it('answers server metadata at /v2 and /v2/ alike', async () => {
    const plain = await s.app.request('/v2')
    const slash = await s.app.request('/v2/')
    expect(slash.status).toBe(200)
    const body = await slash.json()
    expect(body).toEqual(await plain.json())
    expect(body).toMatchObject({ name: 'lastmile', extensions: ['classification', 'binary_tensor_data'] })
  })

  it('names the platform as Triton does for an ONNX Runtime model, at either version path', async () => {
    for (const path of ['/v2/models/double', '/v2/models/double/versions/4']) {
      const meta = (await (await s.app.request(path)).json()) as Record<string, unknown>
      expect(meta).toMatchObject({ name: 'double', versions: ['4'], platform: 'onnxruntime_onnx' })
    }
  })

  it('answers health as tritonclient and KServe read it', async () => {
    for (const [path, key] of [
      ['/v2/health/live', 'live'],
      ['/v2/health/ready', 'ready'],
    ] as const) {
      const res = await s.app.request(path)
      expect(res.status).toBe(200) // tritonclient: True
      expect(res.headers.get('content-type')).toBe('application/json')
      expect(((await res.json()) as Record<string, unknown>)[key]).toBe(true) // KServe: True
    }
    expect((await s.app.request('/v2/models/double/ready')).status).toBe(200) // both read the status only
    expect((await s.app.request('/v2/models/nope/ready')).status).toBe(404)
  })
})
