/**
 * Triton's classification extension (server/docs/protocol/extension_classification.md; strings as
 * server/src/classification.cc writes them): an output requested with
 * `"parameters": {"classification": k}` answers BYTES `"<value>:<index>[:<label>]"`, [rows, k], best
 * first. Expected answers are worked out here independently: ranks by a plain sort of (value,
 * index) pairs, and values as Python's `'%f' % float(numpy.float32(v))` printed them (the same
 * correctly rounded `%f` glibc's printf gives `std::to_string`), written down below.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { DType } from '../../src/engine/tensor.js'
import { cFixed6, classify } from '../../src/formats/classification.js'
import { GraphBuilder } from '../../src/onnx/builder.js'
import { spec, testServer } from '../helpers/server.js'

/** y = x for x of `dtype` [N, width], the output named `out`: the classes are the values sent. */
function identity(dtype: DType, width: number, out: string): Uint8Array {
  const g = new GraphBuilder('identity')
  const x = g.input('x', dtype, ['N', width])
  g.output(x, dtype, ['N', width], out)
  return g.toModel()
}

/** `'%f' % v` in Python 3.11 for float32 values (and -0, NaN, Inf, which print as glibc does). */
const PRINTF: Array<[number, string]> = [
  [0.0078125, '0.007812'], // exactly halfway: to even
  [0.0234375, '0.023438'], // exactly halfway: to even
  [123456.7890625, '123456.789062'], // exactly halfway: to even
  [0.1, '0.100000'],
  [0.7, '0.700000'],
  [1e-7, '0.000000'],
  [1.5e-6, '0.000002'],
  [2.5, '2.500000'],
  [-1.25, '-1.250000'],
  [-0, '-0.000000'],
  [3.4028234663852886e38, '340282346638528859811704183484516925440.000000'],
  [Number.NaN, 'nan'],
  [Number.NEGATIVE_INFINITY, '-inf'],
]

/** The k best of a row, as (value, index), by a plain sort: larger first, ties to the lower index, NaN last. */
function best(row: number[], k: number): Array<[number, number]> {
  const pairs = row.map((v, i) => [v, i] as [number, number])
  const key = (v: number) => (Number.isNaN(v) ? Number.NEGATIVE_INFINITY : v)
  pairs.sort((a, b) => {
    if (Number.isNaN(a[0]) !== Number.isNaN(b[0])) return Number.isNaN(a[0]) ? 1 : -1
    return key(b[0]) - key(a[0]) || a[1] - b[1]
  })
  return pairs.slice(0, k)
}

const printf = (v: number) => {
  const hit = PRINTF.find(([x]) => Object.is(Math.fround(x), v) || (Number.isNaN(x) && Number.isNaN(v)))
  if (!hit) throw new Error(`no printf value written down for ${v}`)
  return hit[1]
}

describe('the classification extension on /v2 inference', () => {
  let s: Awaited<ReturnType<typeof testServer>>
  const LABELS = ['a', 'b', 'c', 'd', 'e']
  beforeAll(async () => {
    s = await testServer()
    // Values pass through as sent (NaN and Infinity included): the classes are the request's.
    await s.deps.manager.deploy({
      ...spec('labelled', identity('float32', 5, 'logits'), { post: { argmax: true, labels: LABELS } }),
      nonFiniteInputs: 'pass',
    })
    await s.deps.manager.deploy({
      ...spec('soft', identity('float32', 3, 'logits'), {
        post: { activation: 'softmax', argmax: true, labels: ['x', 'y', 'z'] },
      }),
    })
    await s.deps.manager.deploy(spec('counts', identity('int64', 4, 'n')))
    await s.deps.manager.deploy(spec('wide', identity('float64', 3, 'v')))
  })
  afterAll(() => s.shutdown())

  const infer = async (pipeline: string, body: string) => {
    const res = await s.app.request(`/v2/models/${pipeline}/infer`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
    })
    return { status: res.status, body: (await res.json()) as Record<string, unknown> }
  }
  const output = (body: Record<string, unknown>, name: string) =>
    (body.outputs as Array<{ name: string; datatype: string; shape: number[]; data: unknown[] }>).find(
      (o) => o.name === name,
    )

  it("answers the k best classes of each row with the post step's labels, Triton's number text, ties to the lower index", async () => {
    const rows = [
      [0.0078125, 0.7, 0.7, Number.NaN, -0],
      [3.4028234663852886e38, 0.1, Number.NEGATIVE_INFINITY, 123456.7890625, 1.5e-6],
    ]
    // The JSON tritonclient writes (rapidjson with NaN and Infinity literals).
    const body = `{"inputs":[{"name":"x","shape":[2,5],"datatype":"FP32","data":[0.0078125,0.7,0.7,NaN,-0.0,3.4028234663852886e38,0.1,-Infinity,123456.7890625,1.5e-6]}],"outputs":[{"name":"logits","parameters":{"classification":5}},{"name":"label"}]}`
    const { status, body: answer } = await infer('labelled', body)
    expect(status).toBe(200)
    const expected = rows.flatMap((row) =>
      best(row.map(Math.fround), 5).map(([v, i]) => `${printf(v)}:${i}:${LABELS[i]}`),
    )
    expect(output(answer, 'logits')).toEqual({ name: 'logits', datatype: 'BYTES', shape: [2, 5], data: expected })
    expect(expected.slice(0, 5)).toEqual(['0.700000:1:b', '0.700000:2:c', '0.007812:0:a', '-0.000000:4:e', 'nan:3:d'])
    expect(output(answer, 'label')?.data).toEqual([1, 0]) // outputs not asked to classify are untouched
  })

  it('labels softmax scores and the logits they came from; a k of 1 answers the top class', async () => {
    const x = [1, 3, 2, -1, 0, -1]
    const { body } = await infer(
      'soft',
      JSON.stringify({
        inputs: [{ name: 'x', shape: [2, 3], datatype: 'FP32', data: x }],
        outputs: [
          { name: 'scores', parameters: { classification: 2 } },
          { name: 'logits', parameters: { classification: 1 } },
        ],
      }),
    )
    const scores = output(body, 'scores')
    expect(scores?.shape).toEqual([2, 2])
    const texts = (scores?.data ?? []) as string[]
    expect(texts.map((t) => t.split(':').slice(1).join(':'))).toEqual(['1:y', '2:z', '1:y', '0:x'])
    // Row 2 ties at -1 (indices 0 and 2 of [-1, 0, -1]): its best is index 1.
    expect(output(body, 'logits')?.data).toEqual(['3.000000:1:y', '0.000000:1:y'])
    const softmax = (r: number[]) => r.map((v) => Math.exp(v) / r.reduce((n, u) => n + Math.exp(u), 0))
    const p = softmax([1, 3, 2])
    expect(Number(texts[0]?.split(':')[0])).toBeCloseTo(p[1] as number, 6)
  })

  it('writes integers as plain decimals and ranks int64 exactly past 2^53', async () => {
    const big = 2n ** 60n
    const text = `{"inputs":[{"name":"x","shape":[2,4],"datatype":"INT64","data":[${big + 1n},${big},${big + 1n},-5,7,-9,7,8]}],"outputs":[{"name":"n","parameters":{"classification":3}}]}`
    const { status, body } = await infer('counts', text)
    expect(status).toBe(200)
    expect(output(body, 'n')?.data).toEqual([`${big + 1n}:0`, `${big + 1n}:2`, `${big}:1`, '8:3', '7:0', '7:2'])
  })

  it('answers a classification output as binary BYTES when asked, as tritonclient reads them', async () => {
    const res = await s.app.request('/v2/models/wide/infer', {
      method: 'POST',
      body: JSON.stringify({
        inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP64', data: [0.25, 2.5, -1.25] }],
        outputs: [{ name: 'v', parameters: { classification: 2, binary_data: true } }],
      }),
    })
    expect(res.status).toBe(200)
    const bytes = new Uint8Array(await res.arrayBuffer())
    const headerLength = Number(res.headers.get('inference-header-content-length'))
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(0, headerLength)))
    expect(header.outputs[0]).toMatchObject({ name: 'v', datatype: 'BYTES', shape: [1, 2] })
    // tritonclient's deserialize_bytes_tensor: each element a uint32 little-endian length, then its bytes.
    const view = new DataView(bytes.buffer, bytes.byteOffset + headerLength)
    const strings: string[] = []
    for (let at = 0; at < view.byteLength; ) {
      const n = view.getUint32(at, true)
      strings.push(new TextDecoder().decode(bytes.subarray(headerLength + at + 4, headerLength + at + 4 + n)))
      at += 4 + n
    }
    expect(strings).toEqual(['2.500000:1', '0.250000:0'])
  })

  const refused: Array<[string, string, unknown, RegExp]> = [
    ['k = 0', 'logits', 0, /parameters\.classification must be an integer of at least 1.*got 0/],
    ['k = 2.5', 'logits', 2.5, /must be an integer of at least 1/],
    ['k as a string', 'logits', '2', /must be an integer of at least 1/],
    ['k past the class count', 'logits', 6, /classification is 6 but the output has 5 classes per row/],
    ['a BYTES output', 'label_name', 1, /output 'label_name' is string: classification needs a numeric output/],
  ]
  for (const [what, name, k, message] of refused) {
    it(`refuses ${what} with a 400 in the OIP's error body`, async () => {
      const { status, body } = await infer(
        'labelled',
        JSON.stringify({
          inputs: [{ name: 'x', shape: [1, 5], datatype: 'FP32', data: [1, 2, 3, 4, 5] }],
          outputs: [{ name, parameters: { classification: k } }],
        }),
      )
      expect(status).toBe(400)
      expect(body.error).toMatch(message)
    })
  }

  it('advertises the extension in server metadata', async () => {
    const meta = (await (await s.app.request('/v2/')).json()) as { extensions: string[] }
    expect(meta.extensions).toContain('classification')
  })
})

describe("Triton's number text", () => {
  it("prints doubles as C's %f: exactly rounded, half to even, -0, nan and inf", () => {
    for (const [v, text] of PRINTF) expect(cFixed6(Math.fround(v)), String(v)).toBe(text)
    // Doubles beyond float32 (`TYPE_FP64` outputs), from Python's '%f' likewise.
    expect(cFixed6(1e22)).toBe('10000000000000000000000.000000')
    expect(cFixed6(5e-324)).toBe('0.000000')
    expect(cFixed6(-1e-9)).toBe('-0.000000')
    expect(cFixed6(0.0000015)).toBe('0.000002')
    expect(cFixed6(2.0000005)).toBe('2.000001') // the double is just above the half
    expect(cFixed6(Number.MAX_VALUE)).toMatch(/^17976931348623157081452742373170435679\d+\.000000$/)
  })

  it('ranks uint8 classes and refuses bool and float16 outputs', () => {
    const t = { dtype: 'uint8' as const, dims: [1, 4], data: Uint8Array.of(3, 200, 3, 7) }
    expect(classify('u', t, 4).data).toEqual(['200:1', '7:3', '3:0', '3:2'])
    expect(() => classify('b', { dtype: 'bool', dims: [1, 2], data: Uint8Array.of(1, 0) }, 1)).toThrow(/numeric/)
    expect(() => classify('h', { dtype: 'float16', dims: [1, 2], data: Uint16Array.of(0x3c00, 0) }, 1)).toThrow(
      /numeric/,
    )
  })
})
