/**
 * Fuzzing OIP v2 inference through a real HTTP server: structure-aware requests (hostile shapes,
 * datatypes, nesting and parameters), binary-extension bodies whose sizes lie, and byte mutations
 * of valid bodies each answer a 2xx or a 4xx within the case bound — never a 5xx or a dropped
 * connection — and known-good requests still answer correctly after each property. The report's
 * crafted shapes are rebuilt as explicit cases.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fuzzParams } from './budget.js'
import { DEEP, deepText, serialize } from './deep.js'
import { type FuzzServer, fuzzServer, PIPELINES } from './inference-server.js'
import { mutated } from './mutate.js'

const JSON_TYPE = { 'content-type': 'application/json' }
const encoder = new TextEncoder()

const dim = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 4 }) },
  fc.constantFrom(-1, 1.5, 1e9, 1.4e9, 2 ** 31, 2 ** 53, 1e300, Number.NaN, '2', null),
)
const shape = fc.oneof(
  { weight: 5, arbitrary: fc.array(dim, { maxLength: 4 }) },
  fc.constant(Array(40).fill(1)),
  fc.string(),
)
const value = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.boolean(),
  fc.constantFrom(null, 0, 1, -1, 2 ** 63, 1e300, '1', 'x', [], {}, DEEP),
)
const data = fc.letrec((tie) => ({
  node: fc.oneof({ depthSize: 'small', withCrossShrink: true }, value, fc.array(tie('node'), { maxLength: 6 })),
})).node
const input = fc.record(
  {
    name: fc.constantFrom('x', 'a', 'b', 'c', 'y', '', '__proto__', 'toString', 7),
    datatype: fc.oneof(
      fc.constantFrom('FP32', 'FP64', 'FP16', 'INT64', 'INT8', 'UINT64', 'BOOL', 'BYTES', 'fp32', 'NOPE', 3),
      value,
    ),
    shape,
    data,
    parameters: fc.oneof(fc.constant(undefined), fc.record({ binary_data_size: fc.oneof(fc.nat(64), value) })),
  },
  { requiredKeys: ['name'] },
)
const request = fc.record(
  {
    id: fc.oneof(fc.string(), fc.integer()),
    inputs: fc.oneof({ weight: 5, arbitrary: fc.array(input, { maxLength: 4 }) }, value),
    outputs: fc.array(
      fc.record({
        name: fc.constantFrom('y', 'ya', 'yb', 'nope'),
        parameters: fc.record({ binary_data: fc.boolean() }),
      }),
    ),
    parameters: fc.record({ binary_data_output: fc.boolean() }),
  },
  { requiredKeys: ['inputs'] },
)
const pipeline = fc.constantFrom(...PIPELINES)

/** Each pipeline's inputs: name, datatype, row shape and a valid value. */
const INPUTS: Record<(typeof PIPELINES)[number], Array<[string, string, number[], fc.Arbitrary<unknown>]>> = {
  double: [['x', 'FP32', [2], fc.double({ min: -1e6, max: 1e6, noNaN: true })]],
  mixed: [
    ['a', 'FP32', [3], fc.double({ min: -1e6, max: 1e6, noNaN: true })],
    ['b', 'INT64', [], fc.integer()],
    ['c', 'BOOL', [2], fc.boolean()],
  ],
}

/** `flat` nested row-major as `dims` says. */
function nest(flat: unknown[], dims: number[]): unknown {
  if (dims.length <= 1) return flat
  const inner = flat.length / (dims[0] as number)
  return Array.from({ length: dims[0] as number }, (_, i) =>
    nest(flat.slice(i * inner, (i + 1) * inner), dims.slice(1)),
  )
}

/**
 * A request that is valid or one step from it: the pipeline's inputs with consistent shapes and
 * values (flat or nested), then maybe a hostile shape, a hostile value, a value too many or too
 * few, or an input left out.
 */
const validish = pipeline.chain((name) =>
  fc
    .tuple(
      fc.integer({ min: 1, max: 4 }),
      fc.constantFrom('none', 'shape', 'value', 'extra', 'missing', 'drop'),
      fc.boolean(),
      shape,
      value,
    )
    .chain(([rows, flaw, nested, badShape, badValue]) =>
      fc
        .tuple(
          ...INPUTS[name].map(([, , row, v]) =>
            fc.array(v, { minLength: rows * (row[0] ?? 1), maxLength: rows * (row[0] ?? 1) }),
          ),
        )
        .map((columns) => {
          const inputs: Array<Record<string, unknown>> = INPUTS[name].map(([input, datatype, row], k) => {
            const dims = [rows, ...row]
            const values = columns[k] as unknown[]
            if (k === 0 && flaw === 'value') values[values.length - 1] = badValue
            if (k === 0 && flaw === 'extra') values.push(1)
            if (k === 0 && flaw === 'drop') values.pop()
            return {
              name: input,
              datatype,
              shape: k === 0 && flaw === 'shape' ? badShape : dims,
              data: nested ? nest(values, dims) : values,
            }
          })
          if (flaw === 'missing') inputs.pop()
          return [name, { inputs }] as const
        }),
    ),
)

/** A valid request per pipeline, and its binary form: seeds for byte mutation. */
const seeds = {
  double: { inputs: [{ name: 'x', datatype: 'FP32', shape: [3, 2], data: [1, 2, 3, 4, 5, 6] }] },
  mixed: {
    inputs: [
      {
        name: 'a',
        datatype: 'FP32',
        shape: [2, 3],
        data: [
          [1, 2, 3],
          [4, 5, 6],
        ],
      },
      { name: 'b', datatype: 'INT64', shape: [2], data: [7, -8] },
      { name: 'c', datatype: 'BOOL', shape: [2, 2], data: [true, false, false, true] },
    ],
    outputs: [{ name: 'ya', parameters: { binary_data: true } }, { name: 'yb' }],
  },
}

/** A binary-extension body: a JSON header then the tensors' bytes; returns it with the header's length. */
function binaryBody(header: unknown, tensors: Uint8Array[]): { body: Uint8Array; headerLength: number } {
  const json = encoder.encode(JSON.stringify(header))
  const body = new Uint8Array(json.length + tensors.reduce((n, t) => n + t.length, 0))
  body.set(json)
  let at = json.length
  for (const t of tensors) {
    body.set(t, at)
    at += t.length
  }
  return { body, headerLength: json.length }
}
const f32 = (...v: number[]) => new Uint8Array(Float32Array.from(v).buffer)

describe('fuzz: OIP v2 inference through the HTTP server', () => {
  let s: FuzzServer
  beforeAll(async () => {
    s = await fuzzServer()
  })
  afterAll(() => s?.close())

  const infer = (name: string, body: Uint8Array | string, headers: Record<string, string> = JSON_TYPE) =>
    s.send(`/v2/models/${name}/infer`, body, headers)

  it('answers crafted shapes [1.4e9,4] and [1e9,4] with a 400 naming the input and shape, and keeps serving', async () => {
    for (const [rows, width] of [
      [1.4e9, 4],
      [1e9, 4],
    ] as const) {
      const dims = [rows, width]
      const res = await fetch(`${s.url}/v2/models/double/infer`, {
        method: 'POST',
        headers: JSON_TYPE,
        body: JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: dims, data: [1, 2, 3, 4] }] }),
      })
      expect(res.status).toBe(400)
      expect(((await res.json()) as { error: string }).error).toMatch(
        new RegExp(`input 'x': shape \\[${rows},${width}\\] needs ${rows * width} values, data has 4`),
      )
      const binary = binaryBody(
        { inputs: [{ name: 'x', datatype: 'FP32', shape: dims, parameters: { binary_data_size: 16 } }] },
        [f32(1, 2, 3, 4)],
      )
      const { status } = await infer('double', binary.body, {
        'content-type': 'application/octet-stream',
        'inference-header-content-length': String(binary.headerLength),
      })
      expect(status).toBe(400)
    }
    await s.expectCorrect()
  })

  it('answers values nested 20 000 deep in any field with a 400 (deeper than JSON.stringify can go)', async () => {
    const deep = deepText
    const bodies = [
      `{"inputs":[{"name":"x","datatype":${deep},"shape":[1,2],"data":[1,2]}]}`,
      `{"inputs":[{"name":"x","datatype":"FP32","shape":${deep},"data":[1,2]}]}`,
      `{"inputs":[{"name":"x","datatype":"FP32","shape":[2],"data":[1,${deep}]}]}`,
      `{"inputs":[{"name":"x","datatype":"FP32","shape":[1,2],"data":${deep}}]}`,
      `{"inputs":[{"name":${deep},"datatype":"FP32","shape":[1,2],"data":[1,2]}]}`,
      `{"inputs":[{"name":"x","datatype":"FP32","shape":[1,2],"parameters":{"binary_data_size":${deep}}}]}`,
      `{"inputs":[{"name":"key","datatype":"BYTES","shape":[2],"data":["a",${deep}]}]}`,
      `{"id":${deep},"inputs":[]}`,
      `{"inputs":[{"name":"x","datatype":"FP32","shape":[1,2],"data":[1,2]}],"outputs":${deep}}`,
      deep,
    ]
    for (const body of bodies) expect((await infer('double', body)).status).toBe(400)
    await s.expectCorrect()
  })

  it('answers an input named __proto__ beside a valid one with a 400 naming it', async () => {
    const x = { name: 'x', datatype: 'FP32', shape: [1, 2], data: [1, 2] }
    const body = `{"inputs":[${JSON.stringify(x)},{"name":"__proto__","datatype":"FP32","shape":[1,2],"data":[1,2]}]}`
    const res = await fetch(`${s.url}/v2/models/double/infer`, { method: 'POST', headers: JSON_TYPE, body })
    expect(res.status).toBe(400)
    expect(((await res.json()) as { error: string }).error).toMatch(/unknown input '__proto__'/)
  })

  it('answers structure-aware requests with 2xx or 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(validish, fc.tuple(pipeline, request)), async ([name, body]) => {
        await infer(name, serialize(body))
      }),
      fuzzParams(150),
    )
    await s.expectCorrect()
  })

  it('answers binary bodies whose sizes and header length lie with 2xx or 4xx', async () => {
    const rowsOf = fc.integer({ min: 0, max: 4 })
    const tensor = fc.tuple(
      rowsOf,
      fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, shape),
      fc.oneof(
        { weight: 3, arbitrary: fc.constant('exact') },
        fc.nat(64),
        fc.constantFrom(-1, 1.5, 2 ** 40, '24', null),
      ),
    )
    const headerLength = fc.oneof(
      { weight: 3, arbitrary: fc.constant('exact') },
      fc.nat(400).map(String),
      fc.constantFrom('-1', '1e2', 'x', '', '99999999999'),
    )
    await fc.assert(
      fc.asyncProperty(
        fc.array(tensor, { minLength: 1, maxLength: 2 }),
        fc.oneof(fc.constant(0), fc.integer({ min: -8, max: 8 })),
        headerLength,
        async (inputs, slack, length) => {
          // Each tensor: a valid [rows, 2] shape and exact size unless the case lies about either.
          const header = {
            inputs: inputs.map(([rows, dims, size], i) => ({
              name: i === 0 ? 'x' : `x${i}`,
              datatype: 'FP32',
              shape: dims ?? [rows, 2],
              parameters: { binary_data_size: size === 'exact' ? rows * 8 : size },
            })),
          }
          const bytes = inputs.reduce((n, [rows]) => n + rows * 8, 0) + slack
          const { body, headerLength: exact } = binaryBody(header, [new Uint8Array(Math.max(0, bytes)).fill(0x3f)])
          await infer('double', body, {
            'content-type': 'application/octet-stream',
            'inference-header-content-length': length === 'exact' ? String(exact) : length,
          })
        },
      ),
      fuzzParams(100),
    )
    await s.expectCorrect()
  })

  it('answers byte mutations of valid JSON and binary bodies with 2xx or 4xx', async () => {
    const binary = binaryBody(
      { inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 2], parameters: { binary_data_size: 16 } }] },
      [f32(1, 2, 3, 4)],
    )
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          mutated([encoder.encode(JSON.stringify(seeds.double))]).map((b) => ['double', b, JSON_TYPE] as const),
          mutated([encoder.encode(JSON.stringify(seeds.mixed))]).map((b) => ['mixed', b, JSON_TYPE] as const),
          mutated([binary.body]).map(
            (b) =>
              [
                'double',
                b,
                {
                  'content-type': 'application/octet-stream',
                  'inference-header-content-length': String(binary.headerLength),
                },
              ] as const,
          ),
        ),
        async ([name, body, headers]) => {
          await infer(name, body, headers)
        },
      ),
      fuzzParams(150),
    )
    await s.expectCorrect()
  })
})
