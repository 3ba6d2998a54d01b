/**
 * Compressed request bodies over real sockets, as tritonclient sends them
 * (triton-inference-server/client, src/python/library/tritonclient/http/_client.py, `infer`):
 * `request_compression_algorithm="gzip"` sends `gzip.compress(body)` with `Content-Encoding: gzip`,
 * `"deflate"` sends `zlib.compress(body)` (a zlib stream) with `Content-Encoding: deflate`, and
 * `Inference-Header-Content-Length` counts the JSON *before* compression; the sync client sets no
 * Content-Type. Unknown codings are a 415 naming those accepted; corrupt data a 400; a body that
 * inflates past the limit a 413 that costs no more memory than the limit.
 */
import { request } from 'node:http'
import { deflateSync, gunzipSync, gzipSync, inflateSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { preferredCoding } from '../../src/server/body.js'
import { type RunningServer, startServer } from '../../src/server/serve.js'
import { doubler, spec, testConfig, testServer } from '../helpers/server.js'

const encoder = new TextEncoder()
const LIMIT = 2 * 1024 * 1024

/**
 * tritonclient's body for one FP32 input sent as binary and no requested outputs
 * (`_get_inference_request` in http/_utils.py: `binary_data_output` is set when `outputs` is
 * empty; rapidjson writes no spaces): the JSON, then the tensor's bytes; and `json_size`.
 */
function tritonBody(values: number[], rows: number): { body: Uint8Array; jsonSize: number } {
  const tensor = new Uint8Array(Float32Array.from(values).buffer)
  const json = encoder.encode(
    JSON.stringify({
      inputs: [
        {
          name: 'x',
          shape: [rows, values.length / rows],
          datatype: 'FP32',
          parameters: { binary_data_size: tensor.length },
        },
      ],
      parameters: { binary_data_output: true },
    }),
  )
  const body = new Uint8Array(json.length + tensor.length)
  body.set(json)
  body.set(tensor, json.length)
  return { body, jsonSize: json.length }
}

/**
 * The output tensor the way `InferResult` reads a binary answer (http/_infer_result.py): the JSON
 * header is the first `Inference-Header-Content-Length` bytes, then each output's
 * `binary_data_size` bytes in order.
 */
async function binaryOutput(res: Response, name: string): Promise<number[]> {
  const bytes = new Uint8Array(await res.arrayBuffer())
  const headerLength = Number(res.headers.get('inference-header-content-length'))
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(0, headerLength))) as {
    outputs: Array<{ name: string; parameters: { binary_data_size: number } }>
  }
  let at = headerLength
  for (const o of header.outputs) {
    const size = o.parameters.binary_data_size
    if (o.name === name) return Array.from(new Float32Array(bytes.slice(at, at + size).buffer))
    at += size
  }
  throw new Error(`no output ${name}`)
}

describe('compressed request bodies (tritonclient request_compression_algorithm)', () => {
  let server: RunningServer
  beforeAll(async () => {
    server = await startServer(
      testConfig({ server: { bodyLimitBytes: LIMIT }, bodies: { largeBytes: 64 * 1024, workers: 1 } }),
    )
    await server.deps.manager.deploy(spec('double', doubler(2)))
  })
  afterAll(() => server.close())

  const infer = (
    body: Uint8Array | ReadableStream<Uint8Array>,
    headers: Record<string, string>,
    path = '/v2/models/double/infer',
  ) => fetch(`${server.url}${path}`, { method: 'POST', body, headers, duplex: 'half' } as RequestInit)

  for (const [coding, compress] of [
    ['gzip', gzipSync],
    ['deflate', deflateSync],
  ] as const) {
    it(`answers a binary-extension body sent with Content-Encoding: ${coding}, no Content-Type`, async () => {
      const x = [1.5, -2, 0.25, 1e-3, 7, -0.5]
      const { body, jsonSize } = tritonBody(x, 3)
      const res = await infer(compress(body), {
        'content-encoding': coding,
        'inference-header-content-length': String(jsonSize), // the uncompressed JSON's length
      })
      expect(res.status).toBe(200)
      expect(await binaryOutput(res, 'y')).toEqual(x.map((v) => Math.fround(2 * Math.fround(v))))
    })
  }

  it('answers a compressed JSON body sent in chunks of unknown length', async () => {
    const json = encoder.encode(
      JSON.stringify({ inputs: [{ name: 'x', shape: [1, 2], datatype: 'FP32', data: [3, 4] }] }),
    )
    const gz = gzipSync(json)
    const chunks = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < gz.length; i += 7) controller.enqueue(gz.subarray(i, i + 7))
        controller.close()
      },
    })
    const res = await infer(chunks, { 'content-encoding': 'gzip', 'content-type': 'application/json' })
    expect(res.status).toBe(200)
    expect(((await res.json()) as { outputs: Array<{ data: number[] }> }).outputs[0]?.data).toEqual([6, 8])
  })

  it('decodes a large compressed body in a body worker, as an uncompressed one', async () => {
    const rows = 20_000
    const x = Array.from({ length: rows * 2 }, (_, i) => (i % 97) - 48)
    const json = encoder.encode(
      JSON.stringify({ inputs: [{ name: 'x', shape: [rows, 2], datatype: 'FP32', data: x }] }),
    )
    const before = server.deps.bodies.stats().workerTasks.decode
    const res = await infer(gzipSync(json), { 'content-encoding': 'gzip' })
    expect(res.status).toBe(200)
    const y = ((await res.json()) as { outputs: Array<{ data: number[] }> }).outputs[0]?.data as number[]
    expect(y.length).toBe(rows * 2)
    expect(y[rows * 2 - 1]).toBe(2 * (((rows * 2 - 1) % 97) - 48))
    expect(server.deps.bodies.stats().workerTasks.decode).toBe(before + 1)
  })

  it('decompresses bodies of the pandas-records route too', async () => {
    const res = await infer(
      deflateSync(encoder.encode('[{"x": [1, 2]}, {"x": [5, 6]}]')),
      { 'content-encoding': 'deflate', 'content-type': 'application/json; format=pandas-records' },
      '/v1/workspaces/default/pipelines/double/infer',
    )
    expect(res.status).toBe(200)
    // Nested as Wallaroo's engine answers without a dataset query.
    expect(((await res.json()) as Array<{ out: { y: number[] } }>).map((r) => r.out.y)).toEqual([
      [2, 4],
      [10, 12],
    ])
  })

  it('decompresses a body handed over as a web Request too (app.request, no Node stream)', async () => {
    const s = await testServer()
    try {
      await s.deps.manager.deploy(spec('double', doubler(2)))
      const json = encoder.encode(
        JSON.stringify({ inputs: [{ name: 'x', shape: [1, 2], datatype: 'FP32', data: [5, 6] }] }),
      )
      const res = await s.app.request('/v2/models/double/infer', {
        method: 'POST',
        body: gzipSync(json),
        headers: { 'content-encoding': 'gzip' },
      })
      expect(((await res.json()) as { outputs: Array<{ data: number[] }> }).outputs[0]?.data).toEqual([10, 12])
    } finally {
      await s.shutdown()
    }
  })

  it('refuses an unknown coding, or a list of them, with 415 naming gzip and deflate', async () => {
    for (const coding of ['br', 'gzip, gzip', 'compress']) {
      const res = await infer(encoder.encode('{}'), { 'content-encoding': coding })
      expect(res.status).toBe(415)
      expect(res.headers.get('accept-encoding')).toBe('gzip, deflate')
      expect(((await res.json()) as { error: string }).error).toMatch(
        /Content-Encoding '.+' is not supported; send gzip, deflate or identity/,
      )
    }
    expect((await infer(encoder.encode('{}'), { 'content-encoding': 'identity' })).status).toBe(400) // no inputs
  })

  it('refuses corrupt and truncated compressed data with 400, and keeps serving', async () => {
    const good = gzipSync(
      encoder.encode(JSON.stringify({ inputs: [{ name: 'x', shape: [1, 2], datatype: 'FP32', data: [1, 2] }] })),
    )
    const flipped = new Uint8Array(good) // a copy: Buffer's slice() is a view
    flipped[12] = (flipped[12] as number) ^ 0xff
    for (const [body, coding] of [
      [good.subarray(0, good.length - 9), 'gzip'],
      [flipped, 'gzip'],
      [encoder.encode('not compressed at all'), 'deflate'],
      [good, 'deflate'], // gzip bytes labelled deflate
      [new Uint8Array(0), 'gzip'],
    ] as const) {
      const res = await infer(body, { 'content-encoding': coding })
      expect(res.status).toBe(400)
      expect(((await res.json()) as { error: string }).error).toMatch(new RegExp(`not valid ${coding} data`))
    }
    expect((await infer(good, { 'content-encoding': 'gzip' })).status).toBe(200)
  })

  it('stops inflating a zip bomb at the body limit: 413, and no more memory than the limit', async () => {
    // 64 gzip members of 16 MiB of zeros each (a gzip stream may hold several): ~1 MB that inflates to 1 GiB.
    const member = gzipSync(new Uint8Array(16 * 1024 * 1024), { level: 9 })
    const bomb = new Uint8Array(member.length * 64)
    for (let i = 0; i < 64; i++) bomb.set(member, i * member.length)
    expect(bomb.length).toBeLessThan(LIMIT)
    const peak = process.resourceUsage().maxRSS // kB, this process's (the server runs in it)
    const res = await infer(bomb, { 'content-encoding': 'gzip' })
    expect(res.status).toBe(413)
    expect(((await res.json()) as { error: string }).error).toMatch(/larger than the limit of 2097152 bytes/)
    // Inflating it all would hold 1 GiB; stopping at the limit holds 2 MiB and a zlib chunk.
    expect(process.resourceUsage().maxRSS - peak).toBeLessThan(256 * 1024)
    const ok = await infer(encoder.encode('{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[1,2]}]}'), {})
    expect(ok.status).toBe(200)
  })
})

/** A POST over node:http, its body as sent on the wire (fetch would decompress it unseen). */
function rawPost(
  url: string,
  body: Uint8Array,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { ...headers, 'content-length': body.length } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}

describe('compressed answers (tritonclient response_compression_algorithm)', () => {
  let server: RunningServer
  beforeAll(async () => {
    server = await startServer(testConfig({ bodies: { largeBytes: 64 * 1024, workers: 1 } }))
    await server.deps.manager.deploy(spec('double', doubler(2)))
  })
  afterAll(() => server.close())

  const rows = 8_000
  const x = Array.from({ length: rows * 2 }, (_, i) => (i % 89) / 8)
  const json = encoder.encode(JSON.stringify({ inputs: [{ name: 'x', shape: [rows, 2], datatype: 'FP32', data: x }] }))
  const url = () => `${server.url}/v2/models/double/infer`

  it('compresses a large JSON answer with the coding Accept-Encoding prefers, to the same bytes', async () => {
    const plain = await rawPost(url(), json, { 'content-type': 'application/json' })
    expect(plain.headers['content-encoding']).toBeUndefined()
    expect(plain.body.length).toBeGreaterThan(64 * 1024)
    const gz = await rawPost(url(), json, { 'accept-encoding': 'gzip' })
    expect(gz.headers['content-encoding']).toBe('gzip')
    expect(gz.headers.vary).toBe('Accept-Encoding')
    expect(gz.body.length).toBeLessThan(plain.body.length / 2)
    expect(gunzipSync(gz.body).equals(plain.body)).toBe(true)
    const preferred = await rawPost(url(), json, { 'accept-encoding': 'gzip;q=0.4, deflate;q=0.9' })
    expect(preferred.headers['content-encoding']).toBe('deflate')
    expect(inflateSync(preferred.body).equals(plain.body)).toBe(true)
    for (const refused of ['gzip;q=0', 'identity, gzip;q=0.5', 'br', '*']) {
      const res = await rawPost(url(), json, { 'accept-encoding': refused })
      expect(res.headers['content-encoding'], refused).toBeUndefined()
    }
  })

  it('compresses a binary answer whole, Inference-Header-Content-Length counting the JSON uncompressed', async () => {
    // As tritonclient asks with outputs unnamed (binary_data_output) and response_compression_algorithm="deflate".
    const { body, jsonSize } = tritonBody(x, rows)
    const res = await rawPost(url(), body, {
      'inference-header-content-length': String(jsonSize),
      'accept-encoding': 'deflate',
    })
    expect(res.status).toBe(200)
    expect(res.headers['content-encoding']).toBe('deflate')
    const whole = inflateSync(res.body) // InferResult.from_response_body: zlib.decompress, then split
    const headerLength = Number(res.headers['inference-header-content-length'])
    const header = JSON.parse(whole.subarray(0, headerLength).toString()) as { outputs: Array<{ name: string }> }
    expect(header.outputs[0]?.name).toBe('y')
    const y = new Float32Array(whole.buffer.slice(whole.byteOffset + headerLength, whole.byteOffset + whole.length))
    expect(Array.from(y)).toEqual(x.map((v) => Math.fround(2 * Math.fround(v))))
  })

  it('leaves small answers uncompressed', async () => {
    const small = encoder.encode(
      JSON.stringify({ inputs: [{ name: 'x', shape: [1, 2], datatype: 'FP32', data: [1, 2] }] }),
    )
    const res = await rawPost(url(), small, { 'accept-encoding': 'gzip' })
    expect(res.headers['content-encoding']).toBeUndefined()
    expect(JSON.parse(res.body.toString()).outputs[0].data).toEqual([2, 4])
  })

  it('reads Accept-Encoding as Triton does: the highest q, the first on a tie', () => {
    expect(preferredCoding('gzip, deflate')).toBe('gzip')
    expect(preferredCoding('deflate, gzip')).toBe('deflate')
    expect(preferredCoding('deflate;q=0.5, gzip;q=0.6')).toBe('gzip')
    expect(preferredCoding('X-GZIP')).toBe('gzip')
    expect(preferredCoding('identity;q=1, gzip;q=0.9')).toBeUndefined()
    expect(preferredCoding('gzip;q=abc, deflate;q=0.1')).toBe('deflate')
    expect(preferredCoding(undefined)).toBeUndefined()
  })
})
