/**
 * tritonclient.http against a real server socket: the exact bytes `InferenceServerClient.infer`
 * sends (see triton-client.ts for the files and functions rebuilt), for every datatype, JSON and
 * binary, flat and nested data, with and without `outputs`; answers read the way `InferResult`
 * reads them. The pipeline is an Identity model per datatype, so every value must come back as
 * sent. Expected values are written out by hand.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GraphBuilder } from '../../src/onnx/builder.js'
import { type RunningServer, startServer } from '../../src/server/serve.js'
import { testConfig } from '../helpers/server.js'
import { array, CASES, expected, identities, lower, py } from './triton-cases.js'
import {
  InferInput,
  inferenceRequest,
  inferResult,
  type NpArray,
  type NpResult,
  rapidjsonDumps,
  requestedOutput,
  serializeByteTensor,
  tobytes,
} from './triton-client.js'

async function post(url: string, pipeline: string, req: { body: Uint8Array; headers: Record<string, string> }) {
  const res = await fetch(`${url}/v2/models/${pipeline}/infer`, {
    method: 'POST',
    body: req.body,
    headers: req.headers,
  })
  return { status: res.status, headers: res.headers, body: new Uint8Array(await res.arrayBuffer()) }
}

describe('tritonclient.http, every datatype', () => {
  let server: RunningServer
  beforeAll(async () => {
    server = await startServer(testConfig())
    const bytes = identities()
    await server.deps.manager.deploy({
      workspace: 'default',
      pipeline: 'types',
      pipelineVersion: 1,
      steps: [{ model: 'identities:1' }],
      models: { 'identities:1': bytes },
    })
  })
  afterAll(() => server?.close())

  it('JSON in (binary_data=False), JSON out (InferRequestedOutput binary_data=False): every value exact', async () => {
    const inputs = CASES.map(([d]) => new InferInput(`x_${lower(d)}`, array(d), false))
    const outputs = CASES.map(([d]) => requestedOutput(`y_${lower(d)}`, false))
    const req = inferenceRequest(inputs, { outputs, requestId: 'r1' })
    // What tritonclient puts on the wire: Python floats by repr, 64-bit ints exact, no Content-Type.
    const text = new TextDecoder().decode(req.body)
    expect(text).toContain('"data":[-9223372036854775808,9223372036854775807,-9007199254740993,4]')
    expect(text).toContain('"data":[1.0,-2.0,0.5,65504.0]')
    expect(text).toContain('"data":[0.10000000149011612,-3.5,1.401298464324817e-45,3.4028234663852886e+38]')
    expect(req.headers).not.toHaveProperty('Content-Type')
    const res = await post(server.url, 'types', req)
    const { response, outputs: got } = inferResult(res.status, res.headers, res.body)
    expect(response.id).toBe('r1')
    for (const [d] of CASES) {
      const o = got[`y_${lower(d)}`]
      expect({ d, ...o }).toEqual({ d, datatype: d, shape: [2, 2], binary: false, values: expect.anything() })
      expect([d, py(d, o?.values ?? [])]).toEqual([d, py(d, expected(d))])
    }
    // Exactly as Triton writes them: no rounding of 2^63-1, FP16 as values not bits.
    const body = new TextDecoder().decode(res.body)
    expect(body).toContain('"data":[18446744073709551615,0,9007199254740993,42]')
    expect(body).toContain('"data":[1,-2,0.5,65504]')
  })

  it('binary in, binary out (no outputs: binary_data_output), read with np.frombuffer', async () => {
    const inputs = CASES.map(([d]) => new InferInput(`x_${lower(d)}`, array(d)))
    const req = inferenceRequest(inputs)
    expect(
      JSON.parse(
        new TextDecoder().decode(req.body.subarray(0, Number(req.headers['Inference-Header-Content-Length']))),
      ),
    ).toMatchObject({
      parameters: { binary_data_output: true },
    })
    const res = await post(server.url, 'types', req)
    expect(res.headers.get('content-type')).toBe('application/octet-stream')
    const { outputs: got } = inferResult(res.status, res.headers, res.body)
    for (const [d] of CASES) {
      const o = got[`y_${lower(d)}`]
      expect([d, o?.binary, o?.shape]).toEqual([d, true, [2, 2]])
      expect([d, py(d, o?.values ?? [])]).toEqual([d, py(d, expected(d))])
    }
  })

  it('nested data (the spec allows it; KServe users send it) answers the same as flat', async () => {
    const nested = CASES.map(([d]) => {
      const t = new InferInput(`x_${lower(d)}`, array(d), false).tensor()
      const data = t.data as unknown[]
      return { ...t, data: [data.slice(0, 2), data.slice(2)] }
    })
    const body = new TextEncoder().encode(
      rapidjsonDumps({ inputs: nested, outputs: CASES.map(([d]) => requestedOutput(`y_${lower(d)}`, false)) }),
    )
    const res = await post(server.url, 'types', { body, headers: {} })
    const { outputs: got } = inferResult(res.status, res.headers, res.body)
    for (const [d] of CASES) expect([d, py(d, got[`y_${lower(d)}`]?.values ?? [])]).toEqual([d, py(d, expected(d))])
  })

  it('answers only the outputs asked for, each as its own binary_data says, in the order asked', async () => {
    const inputs = CASES.map(([d]) => new InferInput(`x_${lower(d)}`, array(d)))
    const req = inferenceRequest(inputs, {
      outputs: [requestedOutput('y_uint64', false), requestedOutput('y_fp16', true)],
    })
    const res = await post(server.url, 'types', req)
    const { response, outputs: got } = inferResult(res.status, res.headers, res.body)
    expect((response.outputs as Array<{ name: string }>).map((o) => o.name)).toEqual(['y_uint64', 'y_fp16'])
    expect(got.y_uint64).toEqual({
      datatype: 'UINT64',
      shape: [2, 2],
      binary: false,
      values: [18446744073709551615n, 0, 9007199254740993n, 42],
    })
    expect(got.y_fp16).toEqual({ datatype: 'FP16', shape: [2, 2], binary: true, values: [1, -2, 0.5, 65504] })
  })

  it("gives an output's binary_data: false precedence over binary_data_output: true, as Triton does", async () => {
    const inputs = [CASES[8], CASES[10]].map(
      (c) => new InferInput(`x_${lower(c?.[0] as string)}`, array(c?.[0] as string), false),
    )
    const tensors = inputs.map((i) => i.tensor())
    const body = new TextEncoder().encode(
      rapidjsonDumps({
        inputs: [
          ...tensors,
          ...CASES.filter(([d]) => d !== 'INT64' && d !== 'FP32').map(([d]) =>
            new InferInput(`x_${lower(d)}`, array(d), false).tensor(),
          ),
        ],
        outputs: [{ name: 'y_int64', parameters: { binary_data: false } }, { name: 'y_fp32' }],
        parameters: { binary_data_output: true },
      }),
    )
    const res = await post(server.url, 'types', { body, headers: {} })
    const { outputs: got } = inferResult(res.status, res.headers, res.body)
    expect(got.y_int64?.binary).toBe(false) // its own false wins
    expect(got.y_fp32?.binary).toBe(true) // no binary_data of its own: binary_data_output applies
    expect(py('INT64', got.y_int64?.values ?? [])).toEqual(expected('INT64'))
  })

  it('answers response parameters that are only strings, numbers or booleans (the spec)', async () => {
    const inputs = CASES.map(([d]) => new InferInput(`x_${lower(d)}`, array(d), false))
    const res = await post(
      server.url,
      'types',
      inferenceRequest(inputs, { outputs: [requestedOutput('y_bool', false)] }),
    )
    const { response } = inferResult(res.status, res.headers, res.body)
    expect(response.parameters).toEqual({ model: 'identities:1', check_failures: '[0,0]' })
    for (const v of Object.values(response.parameters as object))
      expect(['string', 'number', 'boolean']).toContain(typeof v)
  })
})

describe('tritonclient.http, BYTES', () => {
  let server: RunningServer
  beforeAll(async () => {
    server = await startServer(testConfig())
    // Two scorers routed by a BYTES key column; class names as a BYTES output.
    const scorer = (name: string, w: [number, number]) => {
      const g = new GraphBuilder(name)
      const x = g.input('x', 'float32', ['N', 2])
      g.output(g.node('Mul', [x, g.constant('w', 'float32', [1, 2], w)]), 'float32', ['N', 2], 'scores')
      return g.toModel()
    }
    await server.deps.manager.deploy({
      workspace: 'default',
      pipeline: 'routed',
      pipelineVersion: 1,
      steps: [
        { key_split: { key: 'region', options: { eu: 'eu:1' }, default: 'us:1' } },
        { post: { argmax: true, labels: ['low', 'high'] } },
      ],
      models: { 'eu:1': scorer('eu', [1, 0]), 'us:1': scorer('us', [0, 1]) },
    })
  })
  afterAll(() => server?.close())

  const utf8 = (s: string) => new TextEncoder().encode(s)
  // Row 0: [3, 1] by eu (weights 1, 0) → low; row 1 by us (0, 1) → high; row 2 'été' is not eu: us → low.
  const x: NpArray = { datatype: 'FP32', shape: [3, 2], values: [3, 1, 1, 5, 4, 0] }
  const region: NpArray = { datatype: 'BYTES', shape: [3], values: [utf8('eu'), utf8('us'), utf8('été')] }

  it('reads BYTES inputs length-prefixed and answers BYTES outputs in binary: as_numpy(...)[0].decode() works', async () => {
    const req = inferenceRequest([new InferInput('x', x), new InferInput('region', region)])
    const blob = req.body.subarray(Number(req.headers['Inference-Header-Content-Length']) + 24)
    expect(Array.from(blob)).toEqual(Array.from(serializeByteTensor(region.values as Uint8Array[])))
    const res = await post(server.url, 'routed', req)
    const { response, outputs } = inferResult(res.status, res.headers, res.body)
    const names = outputs.label_name as NpResult
    expect(names.binary).toBe(true)
    // `as_numpy('label_name')[0].decode()`: bytes objects, not str.
    expect((names.values as Uint8Array[]).map((b) => new TextDecoder().decode(b))).toEqual(['low', 'high', 'low'])
    // Rows answered by different models: one JSON string per-row list (scalar parameters only).
    expect(JSON.parse((response.parameters as { models: string }).models)).toEqual(['eu:1', 'us:1', 'us:1'])
  })

  it('reads BYTES inputs as JSON strings and answers BYTES as JSON strings when asked', async () => {
    const req = inferenceRequest([new InferInput('x', x, false), new InferInput('region', region, false)], {
      outputs: [requestedOutput('label_name', false), requestedOutput('label', true)],
    })
    expect(new TextDecoder().decode(req.body)).toContain('"data":["eu","us","\\u00e9t\\u00e9"]')
    const res = await post(server.url, 'routed', req)
    const { outputs } = inferResult(res.status, res.headers, res.body)
    expect(outputs.label_name).toEqual({ datatype: 'BYTES', shape: [3], binary: false, values: ['low', 'high', 'low'] })
    expect(outputs.label).toEqual({ datatype: 'INT32', shape: [3], binary: true, values: [0, 1, 0] })
  })

  it('refuses BYTES elements whose lengths lie, naming the element, and keeps serving', async () => {
    const good = serializeByteTensor([utf8('eu'), utf8('us'), utf8('eu')]) // 3 × (4 + 2) bytes
    const longer = good.slice()
    new DataView(longer.buffer).setUint32(6, 1e9, true) // element 1's length
    const lies: Array<[Uint8Array, RegExp]> = [
      [longer, /input 'region': element 1 claims 1000000000 bytes but 8 are left of binary_data_size 18/],
      [good.subarray(0, 12), /input 'region': element 2 has no length prefix; the 12 bytes end at 12/],
      [Uint8Array.of(...good, 0), /the 3 elements of shape \[3\] take 18 bytes but parameters.binary_data_size is 19/],
      [
        serializeByteTensor([utf8('eu'), Uint8Array.of(0xff, 0xfe), utf8('eu')]),
        /input 'region': element 1 is not UTF-8 text/,
      ],
      [
        new Uint8Array(8),
        /shape \[3\] of BYTES needs at least 4 bytes an element, but parameters.binary_data_size is 8/,
      ],
    ]
    for (const [blob, message] of lies) {
      const header = new TextEncoder().encode(
        rapidjsonDumps({
          inputs: [
            new InferInput('x', x).tensor(),
            { name: 'region', shape: [3], datatype: 'BYTES', parameters: { binary_data_size: blob.length } },
          ],
        }),
      )
      const body = new Uint8Array([...header, ...tobytes(x), ...blob])
      const res = await post(server.url, 'routed', {
        body,
        headers: { 'Inference-Header-Content-Length': String(header.length) },
      })
      expect(res.status).toBe(400)
      expect(new TextDecoder().decode(res.body)).toMatch(message)
    }
    const ok = await post(
      server.url,
      'routed',
      inferenceRequest([new InferInput('x', x), new InferInput('region', region)]),
    )
    expect(ok.status).toBe(200)
  })
})
