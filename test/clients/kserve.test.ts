/**
 * KServe's Python client (`InferenceRESTClient(RESTConfig(protocol="v2"))`) against a real server
 * socket: the bytes `InferRequest.to_rest` sends (see kserve-client.ts), with its top-level `id`
 * and `model_name`, for every datatype JSON and binary (FP16 binary only: the client refuses it
 * in JSON), nested data and chosen outputs; answers read the way `InferResponse.from_bytes` and
 * `as_numpy` read them, with orjson. NaN and ±Infinity answers are read by both clients: Triton's
 * literals by tritonclient, `non_finite_as_null` for orjson.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GraphBuilder } from '../../src/onnx/builder.js'
import { type RunningServer, startServer } from '../../src/server/serve.js'
import { testConfig } from '../helpers/server.js'
import { fromBytes, type KInput, OrFloat, orjsonDumps, toRest } from './kserve-client.js'
import { array, CASES, expected, identities, lower, py } from './triton-cases.js'
import { InferInput, inferenceRequest, inferResult, requestedOutput } from './triton-client.js'

/** log(x) and 1/x for x float32 [N, 3]: x = [-1, 0, 1] gives NaN, -Infinity, 0 and -1, Infinity, 1. */
function nonFiniteOutputs(): Uint8Array {
  const g = new GraphBuilder('edges')
  const x = g.input('x', 'float32', ['N', 3])
  g.output(g.node('Log', [x]), 'float32', ['N', 3], 'log')
  g.output(g.node('Reciprocal', [x]), 'float32', ['N', 3], 'inv')
  return g.toModel()
}

async function post(url: string, pipeline: string, req: { body: Uint8Array; headers: Record<string, string> }) {
  const res = await fetch(`${url}/v2/models/${pipeline}/infer`, {
    method: 'POST',
    body: req.body,
    headers: req.headers,
  })
  return { status: res.status, headers: res.headers, body: new Uint8Array(await res.arrayBuffer()) }
}

describe("KServe's Python client", () => {
  let server: RunningServer
  beforeAll(async () => {
    server = await startServer(testConfig())
    const deploy = (pipeline: string, ref: string, bytes: Uint8Array, nonFiniteInputs?: 'pass') =>
      server.deps.manager.deploy({
        workspace: 'default',
        pipeline,
        pipelineVersion: 1,
        steps: [{ model: ref }],
        models: { [ref]: bytes },
        ...(nonFiniteInputs ? { nonFiniteInputs } : {}),
      })
    await deploy('types', 'identities:1', identities())
    await deploy('edges', 'edges:1', nonFiniteOutputs())
    await deploy('passing', 'identities:1', identities(), 'pass')
  })
  afterAll(() => server?.close())

  const json = CASES.filter(([d]) => d !== 'FP16')
  /** Every input: JSON data, but FP16 as binary (the client refuses FP16 in JSON). */
  const jsonInputs = (): KInput[] =>
    CASES.map(([d]) => ({ name: `x_${lower(d)}`, array: array(d), binary: d === 'FP16' }))

  it('JSON (set_data_from_numpy(binary_data=False)), every datatype but FP16: every value back exactly', async () => {
    const req = toRest('types', jsonInputs(), { outputs: json.map(([d]) => ({ name: `y_${lower(d)}` })) })
    expect(new TextDecoder().decode(req.body)).toMatch(/^\{"id":"6f1c8a52-[^"]+","model_name":"types","inputs":/)
    const res = await post(server.url, 'types', req)
    const { response, outputs } = fromBytes(res.status, res.headers, res.body)
    expect(response.id).toBe('6f1c8a52-2b7e-4a43-9d0e-6c1f0b1a2d3e')
    for (const [d] of json) {
      const o = outputs[`y_${lower(d)}`]
      expect([d, o?.datatype, o?.shape, py(d, o?.values ?? [])]).toEqual([d, d, [2, 2], py(d, expected(d))])
    }
  })

  it('nested data as users pass lists, and chosen outputs, some binary', async () => {
    const inputs: KInput[] = CASES.map(([d]) => {
      const values = array(d).values.map((v) => (d === 'FP32' || d === 'FP64' ? new OrFloat(v as number) : v))
      const nested = d === 'FP16' ? undefined : [values.slice(0, 2), values.slice(2)]
      return { name: `x_${lower(d)}`, array: array(d), binary: d === 'FP16', ...(nested ? { data: nested } : {}) }
    })
    const req = toRest('types', inputs, {
      outputs: [
        { name: 'y_int64', parameters: { binary_data: true } },
        { name: 'y_fp16', parameters: { binary_data: false } },
      ],
    })
    const res = await post(server.url, 'types', req)
    const { outputs } = fromBytes(res.status, res.headers, res.body)
    expect(Object.keys(outputs)).toEqual(['y_int64', 'y_fp16'])
    expect(outputs.y_int64?.values).toEqual(expected('INT64'))
    expect(outputs.y_fp16?.values).toEqual([1, -2, 0.5, 65504]) // FP16 answered in JSON as values
  })

  it('binary inputs (set_data_from_numpy default) and binary_data_output: every datatype, FP16 included', async () => {
    const inputs: KInput[] = CASES.map(([d]) => ({ name: `x_${lower(d)}`, array: array(d), binary: true }))
    const req = toRest('types', inputs, { parameters: { binary_data_output: true } })
    expect(req.headers['content-type']).toBe('application/octet-stream')
    const res = await post(server.url, 'types', req)
    const { outputs } = fromBytes(res.status, res.headers, res.body)
    for (const [d] of CASES) expect([d, py(d, outputs[`y_${lower(d)}`]?.values ?? [])]).toEqual([d, py(d, expected(d))])
  })

  it('reads null in float inputs (orjson writes NaN as null) as NaN, where the pipeline passes them', async () => {
    const inputs = jsonInputs()
    const fp64 = inputs.find((i) => i.name === 'x_fp64') as KInput
    fp64.data = [new OrFloat(Number.NaN), new OrFloat(Number.POSITIVE_INFINITY), new OrFloat(1), new OrFloat(2)]
    const req = toRest('passing', inputs, { outputs: [{ name: 'y_fp64' }], parameters: { non_finite_as_null: true } })
    expect(new TextDecoder().decode(req.body)).toContain('"data":[null,null,1.0,2.0]')
    const res = await post(server.url, 'passing', req)
    expect(fromBytes(res.status, res.headers, res.body).outputs.y_fp64?.values).toEqual([Number.NaN, Number.NaN, 1, 2])
  })

  describe('NaN and ±Infinity answers', () => {
    const x = { datatype: 'FP32', shape: [1, 3], values: [-1, 0, 1] }

    it('tritonclient reads the NaN, Infinity and -Infinity literals Triton writes', async () => {
      const req = inferenceRequest([new InferInput('x', x, false)], {
        outputs: [requestedOutput('log', false), requestedOutput('inv', false)],
      })
      const res = await post(server.url, 'edges', req)
      expect(new TextDecoder().decode(res.body)).toContain('"data":[NaN,-Infinity,0]')
      const { outputs } = inferResult(res.status, res.headers, res.body)
      expect(outputs.log?.values).toEqual([Number.NaN, Number.NEGATIVE_INFINITY, 0])
      expect(outputs.inv?.values).toEqual([-1, Number.POSITIVE_INFINITY, 1])
    })

    it("KServe's orjson refuses those literals; with non_finite_as_null it reads null as NaN", async () => {
      const input: KInput = { name: 'x', array: x, binary: false }
      const plain = await post(server.url, 'edges', toRest('edges', [input]))
      expect(() => fromBytes(plain.status, plain.headers, plain.body)).toThrow(/Unrecognized request format/)
      const asNull = await post(
        server.url,
        'edges',
        toRest('edges', [input], { parameters: { non_finite_as_null: true } }),
      )
      const { outputs } = fromBytes(asNull.status, asNull.headers, asNull.body)
      expect(outputs.log?.values).toEqual([Number.NaN, Number.NaN, 0]) // -Infinity cannot be told from NaN in null
      expect(outputs.inv?.values).toEqual([-1, Number.NaN, 1])
    })

    it('binary answers carry them exactly for both clients', async () => {
      const input: KInput = { name: 'x', array: x, binary: true }
      const res = await post(
        server.url,
        'edges',
        toRest('edges', [input], { parameters: { binary_data_output: true } }),
      )
      const { outputs } = fromBytes(res.status, res.headers, res.body)
      expect(outputs.log?.values).toEqual([Number.NaN, Number.NEGATIVE_INFINITY, 0])
      expect(outputs.inv?.values).toEqual([-1, Number.POSITIVE_INFINITY, 1])
    })
  })

  it('tolerates the extra top-level model_name KServe always sends, and answers model_name as from_bytes needs', async () => {
    const body = new TextEncoder().encode(
      orjsonDumps({
        id: 'k1',
        model_name: 'edges',
        inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP32', data: [1, 2, 4] }],
      }),
    )
    const res = await post(server.url, 'edges', { body, headers: {} })
    const { response } = fromBytes(res.status, res.headers, res.body)
    expect(response).toMatchObject({ model_name: 'edges', id: 'k1' })
  })
})
