/**
 * The `outputs` an OIP request asks for (review F2): an output named twice is a 400, as Triton's
 * core answers it (`output 'x' already requested`, InferenceRequest::AddOriginalRequestedOutput in
 * triton-inference-server/server's src/core/infer_request.cc). Before, each entry was encoded (and
 * classified) in full, so a 1 KB gzip'd request repeating one name 20,000 times ran the server
 * out of memory. A name the pipeline lacks, `constructor` too, is a 400 naming the outputs.
 */
import { gzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mlpClassifier } from '../fixtures/models.js'
import { spec, testServer } from '../helpers/server.js'

/** A request of `rows` rows of 4 features whose `outputs` is `outputs`, as JSON text. */
function request(rows: number, outputs: unknown[]): string {
  const data = Array.from({ length: rows * 4 }, (_, i) => (i % 7) / 4)
  return JSON.stringify({ inputs: [{ name: 'x', shape: [rows, 4], datatype: 'FP32', data }], outputs })
}

describe('requested OIP outputs', () => {
  let s: Awaited<ReturnType<typeof testServer>>
  beforeAll(async () => {
    s = await testServer()
    await s.deps.manager.deploy(
      spec('classify', mlpClassifier({ features: 4, classes: 3 }).bytes, {
        post: { argmax: true, labels: ['a', 'b', 'c'] },
      }),
    )
  })
  afterAll(() => s.shutdown())

  const infer = async (body: string | Uint8Array, headers: Record<string, string> = {}) => {
    const res = await s.app.request('/v2/models/classify/infer', {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', ...headers },
    })
    return { status: res.status, text: await res.text() }
  }

  it('refuses an output named twice, naming both entries', async () => {
    const { status, text } = await infer(request(2, [{ name: 'label' }, { name: 'probs' }, { name: 'label' }]))
    expect(status).toBe(400)
    expect(JSON.parse(text)).toEqual({
      error: "output 'label' already requested (outputs[0] and outputs[2]); name each output once",
    })
  })

  it('refuses a small gzip body repeating one name thousands of times at once, classification too', async () => {
    for (const entry of [{ name: 'probs' }, { name: 'probs', parameters: { classification: 3 } }]) {
      const repeated = Array.from({ length: 5000 }, () => entry)
      const gz = gzipSync(request(500, repeated))
      expect(gz.length).toBeLessThan(4096)
      const { status, text } = await infer(gz, { 'content-encoding': 'gzip' })
      expect(status).toBe(400)
      expect(text).toMatch(/output 'probs' already requested \(outputs\[0\] and outputs\[1\]\)/)
    }
  })

  it('refuses the same in a binary request header', async () => {
    const header = JSON.stringify({
      inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', parameters: { binary_data_size: 16 } }],
      outputs: [{ name: 'label_name' }, { name: 'label_name', parameters: { binary_data: true } }],
    })
    const body = Buffer.concat([Buffer.from(header), Buffer.from(new Float32Array([1, 2, 3, 4]).buffer)])
    const { status, text } = await infer(body, {
      'content-type': 'application/octet-stream',
      'inference-header-content-length': String(Buffer.byteLength(header)),
    })
    expect(status).toBe(400)
    expect(text).toMatch(/output 'label_name' already requested/)
  })

  it('answers each distinct output once, in the order asked', async () => {
    const { status, text } = await infer(request(2, [{ name: 'label_name' }, { name: 'probs' }]))
    expect(status).toBe(200)
    const outputs = (JSON.parse(text) as { outputs: Array<{ name: string; shape: number[] }> }).outputs
    expect(outputs.map((o) => [o.name, o.shape])).toEqual([
      ['label_name', [2]],
      ['probs', [2, 3]],
    ])
  })

  it("refuses an output the pipeline lacks, Object.prototype's names too, naming the outputs", async () => {
    for (const name of ['constructor', 'toString', '__proto__', 'score']) {
      for (const entry of [{ name }, { name, parameters: { classification: 2 } }]) {
        const { status, text } = await infer(request(1, [{ name: 'label' }, entry]))
        expect(status, `${name}: ${text}`).toBe(400)
        expect(JSON.parse(text)).toEqual({
          error: `unknown output '${name}'; the outputs are probs, label, label_name`,
        })
      }
    }
  })
})
