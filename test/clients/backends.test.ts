/**
 * The clients' datatype round trips on the wasm and webgpu backends (triton.test.ts and
 * kserve.test.ts run them on cpu). One request per client and backend carries every datatype,
 * through an Identity node per datatype, so each backend's runtime handles each one. Before, the
 * webgpu backend loaded such a model and answered 500 for INT8, INT16, UINT16, UINT64 and FP64.
 * Every datatype is supported on both; a model with an operator the web build lacks is refused
 * at deploy (test/engine/web-dtypes.test.ts, test/server/auto-backend.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { BackendName } from '../../src/engine/types.js'
import { GraphBuilder } from '../../src/onnx/builder.js'
import { type RunningServer, startServer } from '../../src/server/serve.js'
import { gpuTitle, probeGpu } from '../helpers/gpu.js'
import { testConfig } from '../helpers/server.js'
import { fromBytes, type KInput, toRest } from './kserve-client.js'
import { array, CASES, expected, lower, py } from './triton-cases.js'
import { InferInput, inferenceRequest, inferResult, requestedOutput } from './triton-client.js'

const gpu = await probeGpu()

/** An Identity node per datatype: x_<type> [N, 2] → y_<type>, so the backend runs each one. */
function identityNodes(): Uint8Array {
  const g = new GraphBuilder('identity_nodes')
  for (const [datatype, dtype] of CASES) {
    const x = g.input(`x_${lower(datatype)}`, dtype, ['N', 2])
    g.output(g.node('Identity', [x]), dtype, ['N', 2], `y_${lower(datatype)}`)
  }
  return g.toModel()
}

async function post(url: string, req: { body: Uint8Array; headers: Record<string, string> }) {
  const res = await fetch(`${url}/v2/models/types/infer`, { method: 'POST', body: req.body, headers: req.headers })
  return { status: res.status, headers: res.headers, body: new Uint8Array(await res.arrayBuffer()) }
}

function roundTrips(backend: BackendName) {
  let server: RunningServer
  beforeAll(async () => {
    server = await startServer(testConfig())
    const d = await server.deps.manager.deploy({
      workspace: 'default',
      pipeline: 'types',
      pipelineVersion: 1,
      steps: [{ model: 'identity_nodes:1' }],
      models: { 'identity_nodes:1': identityNodes() },
      backend,
    })
    expect(d.status().backend).toBe(backend)
  })
  afterAll(() => server?.close())

  it('tritonclient: every datatype back exactly, each in binary one way and JSON the other', async () => {
    // Even cases go in binary and come back in JSON; odd ones the other way round.
    const inputs = CASES.map(([d], i) => new InferInput(`x_${lower(d)}`, array(d), i % 2 === 0))
    const outputs = CASES.map(([d], i) => requestedOutput(`y_${lower(d)}`, i % 2 === 1))
    const res = await post(server.url, inferenceRequest(inputs, { outputs }))
    const { outputs: got } = inferResult(res.status, res.headers, res.body)
    CASES.forEach(([d], i) => {
      const o = got[`y_${lower(d)}`]
      expect([d, o?.datatype, o?.binary, py(d, o?.values ?? [])]).toEqual([d, d, i % 2 === 1, py(d, expected(d))])
    })
  })

  it("KServe's client: every datatype back exactly, JSON in (FP16 binary, as it sends it), binary out", async () => {
    const inputs: KInput[] = CASES.map(([d]) => ({ name: `x_${lower(d)}`, array: array(d), binary: d === 'FP16' }))
    const res = await post(server.url, toRest('types', inputs, { parameters: { binary_data_output: true } }))
    const { outputs } = fromBytes(res.status, res.headers, res.body)
    for (const [d] of CASES) {
      const o = outputs[`y_${lower(d)}`]
      expect([d, o?.datatype, py(d, o?.values ?? [])]).toEqual([d, d, py(d, expected(d))])
    }
  })
}

describe('the clients on the wasm backend', () => roundTrips('wasm'))
describe.runIf(gpu.ok)(gpuTitle('the clients on the webgpu backend', gpu), () => roundTrips('webgpu'))
