/**
 * Fuzzing model uploads through the real server (a socket, real fetch): byte mutations of valid
 * models and one-operator graphs with odd constants and attributes. Every upload is answered with
 * 201, 200 or a 400 that names the problem, within the case bound, and the server serves normally
 * afterwards. Operator graphs like these abort or segfault onnxruntime at load (OneHot, Einsum and
 * GatherND with odd constants; test/registry/trial-load.test.ts keeps the ones found): the trial
 * load in a child process must contain them.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LastmileClient } from '../../src/client/client.js'
import { silentLogger } from '../../src/logger.js'
import { type RunningServer, startServer } from '../../src/server/serve.js'
import { doubler, testConfig } from '../helpers/server.js'
import { CASE_TIMEOUT_MS, fuzzParams } from './budget.js'
import { mutatedModel, opModel, seedModels } from './onnx-models.js'

let server: RunningServer
beforeAll(async () => {
  // A lower trial memory cap than the default keeps a case's worst load small on CI machines.
  server = await startServer(testConfig({ server: { modelLoadMemoryBytes: 512 * 2 ** 20 } }), { log: silentLogger })
})
afterAll(() => server.close())

/** Upload `bytes` and check the answer: a status lastmile means, and a body that says what it was. */
async function upload(bytes: Uint8Array): Promise<number> {
  const res = await fetch(`${server.url}/v1/workspaces/default/models/fuzz`, {
    method: 'POST',
    body: bytes as Uint8Array<ArrayBuffer>,
    headers: { 'content-type': 'application/octet-stream' },
    signal: AbortSignal.timeout(CASE_TIMEOUT_MS),
  })
  const body = (await res.json()) as { version?: number; error?: { code: string; message: string } }
  if (res.status === 400) {
    expect(['invalid_model', 'unsupported_model']).toContain(body.error?.code)
    expect(body.error?.message.length).toBeGreaterThan(10)
  } else {
    expect([200, 201], JSON.stringify(body)).toContain(res.status)
    expect(body.version).toBeGreaterThan(0)
  }
  return res.status
}

describe('model upload fuzzing', () => {
  const statuses = new Map<number, number>()
  const count = (s: number): void => {
    statuses.set(s, (statuses.get(s) ?? 0) + 1)
  }

  it('answers byte-mutated models with 2xx or a 400 that names the problem', async () => {
    await fc.assert(
      fc.asyncProperty(mutatedModel(seedModels()), async (bytes) => count(await upload(bytes))),
      fuzzParams(60),
    )
  }, 300_000)

  it('answers odd one-operator graphs, whatever onnxruntime makes of them', async () => {
    await fc.assert(
      fc.asyncProperty(opModel, async (bytes) => count(await upload(bytes))),
      fuzzParams(30),
    )
  }, 300_000)

  it('serves normally afterwards', async () => {
    expect([...statuses.keys()].every((s) => [200, 201, 400].includes(s))).toBe(true)
    const lm = new LastmileClient({ url: server.url })
    expect(await lm.ready()).toMatchObject({ ready: true })
    await lm.uploadModel('default', 'double', doubler(1))
    await lm.putPipeline('default', 'double', [{ model: 'double' }])
    await lm.deploy('default', 'double')
    expect((await lm.inferRecords('default', 'double', [{ x: [21] }]))[0]?.['out.y']).toEqual([42])
  })
})
