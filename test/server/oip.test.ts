/** Open Inference Protocol v2 routes, through the app (no socket): happy paths and every error. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mlpClassifier } from '../fixtures/models.js'
import { doubler, spec, testServer } from '../helpers/server.js'

const json = (body: unknown, headers: Record<string, string> = {}) => ({
  method: 'POST',
  body: JSON.stringify(body),
  headers: { 'content-type': 'application/json', ...headers },
})

describe('OIP v2 routes', () => {
  let s: Awaited<ReturnType<typeof testServer>>
  beforeAll(async () => {
    s = await testServer()
    await s.deps.manager.deploy(spec('double', doubler(2)))
    await s.deps.manager.deploy(
      spec('classify', mlpClassifier({ features: 4, classes: 3 }).bytes, {
        pipelineVersion: 3,
        post: { argmax: true, labels: ['a', 'b', 'c'] },
      }),
    )
  })
  afterAll(() => s.shutdown())

  it('answers health, server metadata and model metadata', async () => {
    expect(await (await s.app.request('/v2/health/live')).json()).toEqual({ live: true })
    expect((await s.app.request('/v2/health/ready')).status).toBe(200)
    expect(await (await s.app.request('/v2')).json()).toEqual({
      name: 'lastmile',
      version: '0.1.0',
      extensions: ['classification', 'binary_tensor_data'],
    })
    expect(await (await s.app.request('/v2/models/classify')).json()).toEqual({
      name: 'classify',
      versions: ['3'],
      platform: 'onnxruntime_onnx',
      inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 4] }],
      outputs: [
        { name: 'probs', datatype: 'FP32', shape: [-1, 3] },
        { name: 'label', datatype: 'INT32', shape: [-1] },
        { name: 'label_name', datatype: 'BYTES', shape: [-1] },
      ],
    })
    expect((await s.app.request('/v2/models/classify/versions/3/ready')).status).toBe(200)
    expect((await s.app.request('/v2/models/classify/versions/2/ready')).status).toBe(404)
  })

  it('answers a stock OIP v2 request: flat or nested data, id echoed, every output', async () => {
    for (const data of [
      [1, 2, 3, 4],
      [
        [1, 2],
        [3, 4],
      ],
    ]) {
      const res = await s.app.request(
        '/v2/models/double/infer',
        json({ id: 'req-7', inputs: [{ name: 'x', shape: [2, 2], datatype: 'FP32', data }] }),
      )
      expect(res.status).toBe(200)
      expect(await res.json()).toEqual({
        model_name: 'double',
        model_version: '1',
        id: 'req-7',
        parameters: { model: 'double:1', check_failures: '[0,0]' }, // the spec allows only scalar parameters
        outputs: [{ name: 'y', datatype: 'FP32', shape: [2, 2], data: [2, 4, 6, 8] }],
      })
    }
  })

  it('returns only the outputs asked for, and class names as BYTES', async () => {
    const res = await s.app.request(
      '/v2/models/classify/versions/3/infer',
      json({
        inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [0, 0, 0, 0] }],
        outputs: [{ name: 'label_name' }],
      }),
    )
    const body = (await res.json()) as { outputs: Array<{ name: string; datatype: string; data: string[] }> }
    expect(body.outputs).toHaveLength(1)
    expect(body.outputs[0]).toMatchObject({ name: 'label_name', datatype: 'BYTES', shape: [1] })
    expect(['a', 'b', 'c']).toContain(body.outputs[0]?.data[0])
  })

  it('speaks the binary tensor data extension both ways', async () => {
    const header = new TextEncoder().encode(
      JSON.stringify({
        inputs: [{ name: 'x', shape: [3, 2], datatype: 'FP32', parameters: { binary_data_size: 24 } }],
        outputs: [{ name: 'y', parameters: { binary_data: true } }],
      }),
    )
    const data = new Float32Array([1, 2, 3, 4, 5, 6])
    const body = new Uint8Array(header.length + 24)
    body.set(header)
    body.set(new Uint8Array(data.buffer), header.length)
    const res = await s.app.request('/v2/models/double/infer', {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) },
    })
    expect(res.status).toBe(200)
    const n = Number(res.headers.get('inference-header-content-length'))
    const bytes = new Uint8Array(await res.arrayBuffer())
    const head = JSON.parse(new TextDecoder().decode(bytes.subarray(0, n)))
    expect(head.outputs).toEqual([{ name: 'y', datatype: 'FP32', shape: [3, 2], parameters: { binary_data_size: 24 } }])
    expect(Array.from(new Float32Array(bytes.slice(n).buffer))).toEqual([2, 4, 6, 8, 10, 12])
  })

  const bad: Array<[string, unknown, number, RegExp]> = [
    ['malformed JSON', '{"inputs": [', 400, /malformed JSON/],
    ['no inputs', {}, 400, /"inputs" must be a non-empty array/],
    [
      'unknown input',
      { inputs: [{ name: 'z', shape: [1, 2], datatype: 'FP32', data: [1, 2] }] },
      400,
      /unknown input 'z'/,
    ],
    ['missing input', { inputs: [{ name: 'q', shape: [1], datatype: 'FP32', data: [1] }] }, 400, /unknown input 'q'/],
    [
      'wrong datatype',
      { inputs: [{ name: 'x', shape: [1, 2], datatype: 'INT64', data: [1, 2] }] },
      400,
      /has datatype INT64, the model expects FP32/,
    ],
    [
      'wrong shape',
      { inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }] },
      400,
      /has shape \[1,3\], the model expects \[N,2\]/,
    ],
    [
      'count mismatch',
      { inputs: [{ name: 'x', shape: [2, 2], datatype: 'FP32', data: [1, 2, 3] }] },
      400,
      /needs 4 values, data has 3/,
    ],
    [
      'ragged rows',
      { inputs: [{ name: 'x', shape: [2, 2], datatype: 'FP32', data: [[1, 2], [3]] }] },
      400,
      /ragged data at \[1\]: 1 items, expected 2/,
    ],
    [
      'non-numeric',
      { inputs: [{ name: 'x', shape: [1, 2], datatype: 'FP32', data: [1, 'two'] }] },
      400,
      /element 1 is "two"; expected a number/,
    ],
    [
      'unknown datatype',
      { inputs: [{ name: 'x', shape: [1, 2], datatype: 'FLOAT', data: [1, 2] }] },
      400,
      /unknown datatype "FLOAT"/,
    ],
    [
      'unknown output',
      { inputs: [{ name: 'x', shape: [1, 2], datatype: 'FP32', data: [1, 2] }], outputs: [{ name: 'w' }] },
      400,
      /unknown output 'w'/,
    ],
  ]
  for (const [what, body, status, message] of bad) {
    it(`answers ${status} for ${what}, and keeps serving`, async () => {
      const res = await s.app.request('/v2/models/double/infer', {
        method: 'POST',
        body: typeof body === 'string' ? body : JSON.stringify(body),
        headers: { 'content-type': 'application/json' },
      })
      expect(res.status).toBe(status)
      const err = (await res.json()) as { error: string } // the spec's error object
      expect(err.error).toMatch(message)
      expect(Object.keys(err)).toEqual(['error'])
      const ok = await s.app.request(
        '/v2/models/double/infer',
        json({ inputs: [{ name: 'x', shape: [1, 2], datatype: 'FP32', data: [1, 1] }] }),
      )
      expect(ok.status).toBe(200)
    })
  }

  it('answers 404 for an unknown pipeline or version, naming what is deployed', async () => {
    const a = await s.app.request('/v2/models/nope/infer', json({ inputs: [] }))
    expect(a.status).toBe(404)
    expect(((await a.json()) as { error: string }).error).toMatch(/deployed: (double, classify|classify, double)/)
    const b = await s.app.request('/v2/models/classify/versions/9/infer', json({ inputs: [] }))
    expect(b.status).toBe(404)
    expect((await s.app.request('/v2/nothing/here')).status).toBe(404)
  })

  it('logs every answered inference with its rows, outputs and latency', async () => {
    const before = s.records.length
    await s.app.request(
      '/v2/models/double/infer',
      json({ inputs: [{ name: 'x', shape: [2, 2], datatype: 'FP32', data: [1, 2, 3, 4] }] }),
    )
    const r = s.records[before]
    expect(r).toMatchObject({
      workspace: 'default',
      pipeline: 'double',
      pipelineVersion: 1,
      model: 'double:1',
      rows: 2,
    })
    expect(Array.from(r?.outputs.y?.data as Float32Array)).toEqual([2, 4, 6, 8])
    expect(r?.latencyMs).toBeGreaterThan(0)
  })
})
