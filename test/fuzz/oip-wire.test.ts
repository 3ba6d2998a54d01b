/**
 * Fuzzing what OIP bodies carry beyond plain JSON. In process: the exact JSON parser reads every
 * text JSON.parse reads to the same value (and refuses the rest with a 400, never another
 * error), reads NaN/Infinity literals and long integers spliced anywhere within its bounds, and
 * reads back every tensor the answer writer writes, bit for bit; BYTES binary parts whose length
 * prefixes lie decode to the claimed strings or a 400 naming the input, never more than they
 * hold. Through a real server: tritonclient-shaped binary bodies with BYTES keys, FP16 and
 * 64-bit data, mutated byte by byte, answer a 2xx or a 4xx.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DTYPES, type DType, type HostTensor, type StringTensor, zeros } from '../../src/engine/tensor.js'
import { InvalidInputError, InvalidRequestError } from '../../src/errors.js'
import { MAX_JSON_DEPTH } from '../../src/exact-json.js'
import { parseWireJson } from '../../src/formats/json-parse.js'
import { tensorDataJson } from '../../src/formats/json-write.js'
import { decodeOipRequest } from '../../src/formats/oip.js'
import { halfToNumber } from '../../src/half.js'
import { GraphBuilder } from '../../src/onnx/builder.js'
import { type RunningServer, startServer } from '../../src/server/serve.js'
import { testConfig } from '../helpers/server.js'
import { CASE_TIMEOUT_MS, fuzzParams } from './budget.js'
import { mutated } from './mutate.js'

const encoder = new TextEncoder()
const parse = (text: string) => parseWireJson(encoder.encode(text))

/** What parsing `text` does: a value, or the error's class (any class but InvalidRequestError fails the case). */
function outcome(text: string): { value: unknown } | { refused: string } {
  try {
    return { value: parse(text) }
  } catch (e) {
    if (!(e instanceof InvalidRequestError)) throw e
    return { refused: e.message }
  }
}

/** Tokens JSON.parse lacks, spliced into texts. */
const extra = fc.constantFrom(
  'NaN',
  '-NaN',
  'Infinity',
  '-Infinity',
  'Inf',
  '-Inf',
  'Infin',
  '9223372036854775807',
  '-9223372036854775809',
  '18446744073709551616',
  '123456789012345678901234567890',
  '1234567890123456.5',
  `${'['.repeat(MAX_JSON_DEPTH + 1)}1${']'.repeat(MAX_JSON_DEPTH + 1)}`,
  `${'['.repeat(MAX_JSON_DEPTH)}1${']'.repeat(MAX_JSON_DEPTH)}`,
  '"\\ud800"',
  '"\\u12"',
  '{"__proto__":1}',
)

describe('fuzz: the exact JSON parser', () => {
  it('reads whatever JSON.parse reads to the same value', () => {
    fc.assert(
      fc.property(fc.json({ maxDepth: 6 }), (text) => {
        if (/(?<![\d.])\d{16}/.test(text)) return // long integers are read exactly here, rounded there
        expect(parse(text)).toEqual(JSON.parse(text))
      }),
      fuzzParams(500),
    )
  })

  it('reads mutated and spliced texts to a value or a 400, agreeing with JSON.parse where it reads them', () => {
    fc.assert(
      fc.property(
        fc.json({ maxDepth: 4 }),
        fc.array(fc.tuple(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), extra), { maxLength: 3 }),
        fc.array(fc.tuple(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), fc.string({ maxLength: 3 })), {
          maxLength: 2,
        }),
        (json, splices, noise) => {
          let text = json
          for (const [at, token] of [...splices, ...noise]) {
            const i = Math.floor(at * (text.length + 1))
            text = text.slice(0, i) + token + text.slice(i)
          }
          const t0 = performance.now()
          const got = outcome(text)
          expect(performance.now() - t0).toBeLessThan(CASE_TIMEOUT_MS)
          let plain: unknown
          try {
            plain = JSON.parse(text)
          } catch {
            return // JSON.parse refuses it: the parser may read the extensions, or refuse with a 400
          }
          if (!/(?<![\d.])\d{16}/.test(text)) expect(got).toEqual({ value: plain })
        },
      ),
      fuzzParams(800),
    )
  })

  it('reads back every tensor the answer writer writes, value for value, for every dtype', () => {
    const tensor = fc.constantFrom(...DTYPES).chain((dtype) =>
      fc.array(fc.nat(2 ** 32 - 1), { maxLength: 12 }).chain((words) =>
        fc.array(fc.nat(2 ** 32 - 1), { minLength: words.length * 2, maxLength: words.length * 2 }).map((bits) => {
          const t = zeros(dtype, [words.length]) as HostTensor
          // Random bit patterns: every float, NaN payloads, subnormals, ±0, the integer extremes.
          const bytes = new Uint8Array(t.data.buffer)
          const source = new Uint8Array(Uint32Array.from(bits).buffer)
          bytes.set(source.subarray(0, bytes.length))
          if (dtype === 'bool') for (let i = 0; i < bytes.length; i++) bytes[i] = (bytes[i] as number) & 1
          return t
        }),
      ),
    )
    fc.assert(
      fc.property(tensor, fc.boolean(), (t, asNull) => {
        const text = tensorDataJson(t, { nonFiniteAsNull: asNull })
        const back = parse(text) as unknown[]
        const want = Array.from(t.data as ArrayLike<number | bigint>, (v) => expectedValue(t.dtype, v, asNull))
        expect(
          back.map((v) => (typeof v === 'number' && Number.isInteger(v) && /int/.test(t.dtype) ? BigInt(v) : v)),
        ).toEqual(want)
        if (asNull || !/NaN|Infinity/.test(text)) expect(JSON.parse(text)).toHaveLength(t.data.length) // strict JSON
      }),
      fuzzParams(400),
    )
  })
})

/** The value a dtype's element must read back as (64-bit and other ints as bigints; -0 kept). */
function expectedValue(dtype: DType, v: number | bigint, asNull: boolean): unknown {
  if (dtype === 'bool') return v !== 0
  if (/int/.test(dtype)) return BigInt(v)
  const x = dtype === 'float16' ? halfToNumber(v as number) : (v as number)
  if (asNull && !Number.isFinite(x)) return null
  return x
}

const bytesOf = (s: string) => encoder.encode(s)
function lengthPrefixed(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + 4 + p.length, 0))
  const view = new DataView(out.buffer)
  let at = 0
  for (const p of parts) {
    view.setUint32(at, p.length, true)
    out.set(p, at + 4)
    at += 4 + p.length
  }
  return out
}

describe('fuzz: BYTES in the binary extension', () => {
  const specs = [{ name: 'key', dtype: 'string' as const, shape: ['N'] }]

  it('decodes lying length prefixes to exactly the claimed strings, or a 400 naming the input', () => {
    const lengths = fc.oneof(fc.nat(8), fc.constantFrom(2 ** 32 - 1, 2 ** 31, 1e9, 65536))
    fc.assert(
      fc.property(
        fc.array(fc.string({ maxLength: 6 }), { maxLength: 5 }),
        fc.array(fc.tuple(fc.nat(), lengths), { maxLength: 3 }),
        fc.oneof(
          fc.constant(undefined),
          fc.array(fc.oneof(fc.nat(6), fc.constantFrom(1e9, 2 ** 40)), { maxLength: 3 }),
        ),
        fc.integer({ min: -3, max: 3 }),
        (strings, lies, shape, slack) => {
          const blob = lengthPrefixed(strings.map(bytesOf))
          const view = new DataView(blob.buffer)
          for (const [at, n] of lies) if (blob.length >= 4) view.setUint32((at % (blob.length - 3)) & ~0, n, true)
          const size = Math.max(0, blob.length + slack)
          const binary = new Uint8Array(size)
          binary.set(blob.subarray(0, size))
          const dims = shape ?? [strings.length]
          try {
            const r = decodeOipRequest(
              { inputs: [{ name: 'key', datatype: 'BYTES', shape: dims, parameters: { binary_data_size: size } }] },
              binary,
              specs,
            )
            const key = r.feeds.key as StringTensor
            expect(key.data.length).toBe(dims.reduce((a, b) => a * b, 1))
            expect(key.data.reduce((n, s) => n + 4 + bytesOf(s).length, 0)).toBe(size)
          } catch (e) {
            if (!(e instanceof InvalidInputError || e instanceof InvalidRequestError)) throw e
            expect(e.message).toMatch(/input 'key'|binary part/)
          }
        },
      ),
      fuzzParams(600),
    )
  })
})

describe('fuzz: tritonclient-shaped bodies through the HTTP server', () => {
  let server: RunningServer
  beforeAll(async () => {
    server = await startServer(testConfig())
    // x int64 [N], h float16 [N] → y = Cast(h to float32) routed by a BYTES key.
    const model = (name: string) => {
      const g = new GraphBuilder(name)
      g.input('x', 'int64', ['N'])
      const h = g.input('h', 'float16', ['N'])
      g.output(g.node('Cast', [h], { to: 1 }), 'float32', ['N'], 'y')
      return g.toModel()
    }
    await server.deps.manager.deploy({
      workspace: 'default',
      pipeline: 'keyed',
      pipelineVersion: 1,
      steps: [{ key_split: { key: 'key', options: { a: 'a:1' }, default: 'b:1' } }],
      models: { 'a:1': model('a'), 'b:1': model('b') },
    })
  })
  afterAll(() => server?.close())

  it('answers mutated binary bodies (BYTES keys, FP16, INT64) and their JSON forms with 2xx or 4xx', async () => {
    const keys = lengthPrefixed([bytesOf('a'), bytesOf('zz')])
    const x = new Uint8Array(BigInt64Array.of(2n ** 63n - 1n, -5n).buffer)
    const h = new Uint8Array(Uint16Array.of(0x3c00, 0x7e00).buffer)
    const header = bytesOf(
      JSON.stringify({
        inputs: [
          { name: 'key', shape: [2], datatype: 'BYTES', parameters: { binary_data_size: keys.length } },
          { name: 'x', shape: [2], datatype: 'INT64', parameters: { binary_data_size: 16 } },
          { name: 'h', shape: [2], datatype: 'FP16', parameters: { binary_data_size: 4 } },
        ],
        parameters: { binary_data_output: true },
      }),
    )
    const seed = new Uint8Array([...header, ...keys, ...x, ...h])
    const json = bytesOf(
      '{"inputs":[{"name":"key","shape":[2],"datatype":"BYTES","data":["a","zz"]},' +
        '{"name":"x","shape":[2],"datatype":"INT64","data":[9223372036854775807,-5]},' +
        '{"name":"h","shape":[2],"datatype":"FP16","data":[1.0,NaN]}],' +
        '"outputs":[{"name":"y","parameters":{"binary_data":false}}],"parameters":{"non_finite_as_null":true}}',
    )
    const send = async (body: Uint8Array, headers: Record<string, string>) => {
      const res = await fetch(`${server.url}/v2/models/keyed/infer`, {
        method: 'POST',
        body,
        headers,
        signal: AbortSignal.timeout(CASE_TIMEOUT_MS),
      })
      const text = await res.text()
      if (res.status >= 500) throw new Error(`answered ${res.status}: ${text.slice(0, 300)}`)
      return res.status
    }
    // The seeds answer 400: NaN is refused by default (non_finite_inputs); mutations explore from there.
    expect(await send(seed, { 'inference-header-content-length': String(header.length) })).toBe(400)
    expect(await send(json, {})).toBe(400)
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          mutated([seed]).map((b) => [b, { 'inference-header-content-length': String(header.length) }] as const),
          mutated([json]).map((b) => [b, {}] as const),
        ),
        async ([body, headers]) => {
          await send(body, headers)
        },
      ),
      fuzzParams(200),
    )
    const ok = new Uint8Array([...header, ...keys, ...x, ...new Uint8Array(Uint16Array.of(0x3c00, 0xc000).buffer)])
    expect(await send(ok, { 'inference-header-content-length': String(header.length) })).toBe(200)
  })
})
