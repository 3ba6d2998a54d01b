/**
 * The body codec (src/formats/body-codec.ts): the JSON value count, decoding and encoding by kind
 * (OIP v2 JSON and its binary extension, pandas-records, Arrow IPC), the answer size estimate,
 * which buffers move to a worker, and errors across the worker boundary. Expected values are
 * written out by hand from the formats' specifications.
 */
import { fixedSizeList, float32, tableFromArrays, tableToIPC } from '@uwdata/flechette'
import { describe, expect, it } from 'vitest'
import type { ColumnSpec, HostTensor } from '../../src/engine/tensor.js'
import {
  ConflictError,
  InvalidConfigError,
  InvalidInputError,
  InvalidRequestError,
  LastmileError,
  OutboundRefusedError,
  QueueFullError,
  TimeoutError,
} from '../../src/errors.js'
import {
  answerSize,
  decodeBody,
  type EncodeTask,
  encodeBody,
  fromWire,
  parseJson,
  toWire,
  transferList,
} from '../../src/formats/body-codec.js'
import type { RowMeta } from '../../src/formats/records.js'

const utf8 = (s: string) => new TextEncoder().encode(s)
const text = (b: Uint8Array) => new TextDecoder().decode(b)

/** What `f` throws, as class, message and details. */
function thrown(f: () => unknown): { error: unknown; message: string; details: unknown } {
  try {
    f()
  } catch (e) {
    return { error: e, message: (e as Error).message, details: (e as LastmileError).details }
  }
  throw new Error('nothing thrown')
}

describe('parseJson', () => {
  it('parses a body', () => {
    expect(parseJson(utf8('{"a":[1,-2.5,"x"],"b":null}'))).toEqual({ a: [1, -2.5, 'x'], b: null })
  })

  it('refuses an empty body', () => {
    const t = thrown(() => parseJson(new Uint8Array(0)))
    expect(t.error).toBeInstanceOf(InvalidRequestError)
    expect(t.message).toBe('the request body is empty; expected JSON')
  })

  it("refuses malformed JSON with the parser's reason", () => {
    for (const body of ['{"a":', '[1,2,]', 'nope']) {
      let reason = ''
      try {
        JSON.parse(body)
      } catch (e) {
        reason = (e as Error).message
      }
      expect(reason).not.toBe('')
      const t = thrown(() => parseJson(utf8(body)))
      expect(t.error).toBeInstanceOf(InvalidRequestError)
      expect(t.message).toBe(`malformed JSON: ${reason}`)
    }
  })

  // [1,[2,3],{"a":null},"s"]: the array, its 4 members, 2 in [2,3] and 1 in the object: 8 values.
  const EIGHT = utf8('[1,[2,3],{"a":null},"s"]')

  it('takes a body of exactly the limit of values', () => {
    expect(parseJson(EIGHT, 8, 'LIMIT')).toEqual([1, [2, 3], { a: null }, 's'])
    expect(parseJson(utf8('"lone"'), 1)).toBe('lone')
  })

  it('refuses one value past the limit, naming the setting and the limit', () => {
    const t = thrown(() => parseJson(EIGHT, 7, 'LASTMILE_JSON_VALUES'))
    expect(t.error).toBeInstanceOf(InvalidRequestError)
    expect(t.message).toBe(
      'the body holds more than 7 JSON values (LASTMILE_JSON_VALUES); send fewer rows or values per request',
    )
    expect(t.details).toEqual({ limit: 7 })
    expect(thrown(() => parseJson(utf8('0'), 0)).message).toBe(
      'the body holds more than 0 JSON values (); send fewer rows or values per request',
    )
  })

  it('refuses a body whose count reaches the limit midway and passes it later', () => {
    // After the outer array: 5 values; its nested members then make 8.
    expect(thrown(() => parseJson(EIGHT, 5)).message).toContain('more than 5 JSON values')
    expect(thrown(() => parseJson(EIGHT, 6)).message).toContain('more than 6 JSON values')
  })

  it('counts the members of nested objects, however deep', () => {
    // {"a":{"b":{"c":[true,false]}}}: 1 + 1 + 1 + 1 + 2 = 6 values.
    const body = utf8('{"a":{"b":{"c":[true,false]}}}')
    expect(parseJson(body, 6)).toEqual({ a: { b: { c: [true, false] } } })
    expect(thrown(() => parseJson(body, 5)).message).toContain('more than 5 JSON values')
  })
})

const LIMITS = { maxTensorBytes: 1024 }

describe('decodeBody', () => {
  const specs: ColumnSpec[] = [{ name: 'x', dtype: 'float32', shape: ['N', 2] }]

  it('oip: a JSON request', () => {
    const body = utf8('{"id":"r1","inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[[0.5,-3]]}]}')
    const r = decodeBody({ kind: 'oip', bytes: body, specs, limits: LIMITS })
    expect(r.id).toBe('r1')
    expect(r.binaryAll).toBe(false)
    expect(r.feeds.x?.dims).toEqual([1, 2])
    expect(Array.from(r.feeds.x?.data as Float32Array)).toEqual([0.5, -3])
  })

  it('oip: a JSON header and binary data, split at the header length', () => {
    const header = utf8(
      '{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","parameters":{"binary_data_size":8}}],"parameters":{"binary_data_output":true}}',
    )
    // 1.5 is 0x3fc00000 and -2 is 0xc0000000, little-endian.
    const body = new Uint8Array([...header, 0, 0, 0xc0, 0x3f, 0, 0, 0, 0xc0])
    const r = decodeBody({ kind: 'oip', bytes: body, specs, limits: LIMITS, headerLength: String(header.length) })
    expect(r.binaryAll).toBe(true)
    expect(r.feeds.x?.dims).toEqual([1, 2])
    expect(Array.from(r.feeds.x?.data as Float32Array)).toEqual([1.5, -2])
  })

  it('records: one object per row', () => {
    const cols = decodeBody({ kind: 'records', bytes: utf8('[{"x":[1,2]},{"x":[-3,4.25]}]'), specs, limits: LIMITS })
    expect(cols.x?.dims).toEqual([2, 2])
    expect(Array.from(cols.x?.data as Float32Array)).toEqual([1, 2, -3, 4.25])
  })

  it('arrow: an IPC stream, column by column', () => {
    const table = tableFromArrays(
      { x: [Float32Array.from([1, -2]), Float32Array.from([0.5, 8])] },
      { types: { x: fixedSizeList(float32(), 2) } },
    )
    const bytes = tableToIPC(table, { format: 'stream' }) as Uint8Array
    const cols = decodeBody({ kind: 'arrow', bytes, specs, limits: LIMITS })
    expect(cols.x?.dims).toEqual([2, 2])
    expect(Array.from(cols.x?.data as Float32Array)).toEqual([1, -2, 0.5, 8])
  })

  it('refuses a body past the limits with the decoder’s error', () => {
    const body = utf8('[{"x":[1,2]},{"x":[3,4]}]')
    const t = thrown(() => decodeBody({ kind: 'records', bytes: body, specs, limits: { maxTensorBytes: 15 } }))
    expect(t.error).toBeInstanceOf(InvalidInputError)
    expect(t.message).toBe(
      "input 'x' (records): 4 values of float32 need 16 bytes, more than the 15 bytes left of the request's limit of 15 (LASTMILE_TENSOR_LIMIT_BYTES)",
    )
  })
})

const y: HostTensor = { dtype: 'float32', dims: [2], data: Float32Array.from([0.5, -1]) }
const z: HostTensor = { dtype: 'int8', dims: [2, 1], data: Int8Array.from([-3, 4]) }
const x: HostTensor = { dtype: 'int32', dims: [2, 2], data: Int32Array.from([1, 2, 3, 4]) }
const rows = { rowModels: ['m:2', 'm:2'], checkFailures: [0, 1] }
const meta: RowMeta = {
  time: 1700000000000,
  rowModels: ['m:2', 'm:2'],
  checkFailures: [0, 1],
  pipelineVersion: 3,
  elapsedNs: [10, 20],
  modelShas: {},
  dataset: { fields: [{ field: 'in', keys: ['x'] }, { field: 'out', keys: ['y'] }, { field: 'check_failures' }] },
}
const OIP_JSON =
  '{"model_name":"m","model_version":"2","id":"r","parameters":{"model":"m:2","check_failures":"[0,1]"},' +
  '"outputs":[{"name":"y","datatype":"FP32","shape":[2],"data":[0.5,-1]},{"name":"z","datatype":"INT8","shape":[2,1],"data":[-3,4]}]}'

describe('encodeBody', () => {
  const oipJson: EncodeTask = {
    kind: 'oip',
    model: { name: 'm', version: '2' },
    request: { id: 'r', binaryAll: false, nonFiniteAsNull: false },
    outputs: { y, z },
    rows,
  }

  it('oip: JSON text by default, JSON bytes when asked', () => {
    expect(encodeBody(oipJson)).toStrictEqual({ body: OIP_JSON, type: 'application/json' })
    const bytes = encodeBody(oipJson, true)
    expect(bytes.type).toBe('application/json')
    expect(bytes.headerLength).toBeUndefined()
    expect(bytes.body).toBeInstanceOf(Uint8Array)
    expect(text(bytes.body as Uint8Array)).toBe(OIP_JSON)
  })

  it('oip binary: the JSON header, then each output’s bytes in order, with the header’s length', () => {
    const header =
      '{"model_name":"m","parameters":{"model":"m:2","check_failures":"[0,1]"},"outputs":[' +
      '{"name":"y","datatype":"FP32","shape":[2],"parameters":{"binary_data_size":8}},' +
      '{"name":"z","datatype":"INT8","shape":[2,1],"parameters":{"binary_data_size":2}}]}'
    expect(header.length).toBe(244)
    const e = encodeBody({
      kind: 'oip',
      model: { name: 'm' },
      request: { binaryAll: true, nonFiniteAsNull: false },
      outputs: { y, z },
      rows,
    })
    expect(e.type).toBe('application/octet-stream')
    expect(e.headerLength).toBe(244)
    const body = e.body as Uint8Array
    expect(body).toBeInstanceOf(Uint8Array)
    expect(body.length).toBe(254)
    expect(text(body.subarray(0, 244))).toBe(header)
    // 0.5 is 0x3f000000, -1 is 0xbf800000 (little-endian); then the int8s -3 and 4.
    expect(Array.from(body.subarray(244))).toEqual([0, 0, 0, 0x3f, 0, 0, 0x80, 0xbf, 0xfd, 4])
  })

  it('records: one JSON object per row', () => {
    const expected =
      '[{"in":{"x":[1,2]},"out":{"y":0.5},"check_failures":[]},{"in":{"x":[3,4]},"out":{"y":-1},"check_failures":[true]}]'
    expect(encodeBody({ kind: 'records', feeds: { x }, outputs: { y }, meta })).toStrictEqual({
      body: expected,
      type: 'application/json',
    })
    const bytes = encodeBody({ kind: 'records', feeds: { x }, outputs: { y }, meta }, true)
    expect(text(bytes.body as Uint8Array)).toBe(expected)
  })

  it('arrow: an IPC file or stream with its media type', () => {
    const file = encodeBody({ kind: 'arrow', feeds: { x }, outputs: { y }, meta: { ...meta, format: 'file' } })
    expect(file.type).toBe('application/vnd.apache.arrow.file')
    expect(file.headerLength).toBeUndefined()
    const f = file.body as Uint8Array
    // A file starts and ends with the magic "ARROW1" (the start padded to 8 bytes).
    expect(Array.from(f.subarray(0, 8))).toEqual([65, 82, 82, 79, 87, 49, 0, 0])
    expect(text(f.subarray(f.length - 6))).toBe('ARROW1')
    const stream = encodeBody({ kind: 'arrow', feeds: { x }, outputs: { y }, meta: { ...meta, format: 'stream' } })
    expect(stream.type).toBe('application/vnd.apache.arrow.stream')
    // A stream starts with a message: the continuation marker 0xffffffff.
    expect(Array.from((stream.body as Uint8Array).subarray(0, 4))).toEqual([255, 255, 255, 255])
  })
})

describe('answerSize', () => {
  const s: HostTensor = { dtype: 'uint8', dims: [3], data: Uint8Array.from([1, 2, 3]) }
  it('oip: 10 bytes per output value', () => {
    // y 2 + z 2 values.
    expect(
      answerSize({
        kind: 'oip',
        model: { name: 'm' },
        request: { binaryAll: false, nonFiniteAsNull: false },
        outputs: { y, z },
        rows,
      }),
    ).toBe(40)
  })

  it('records and arrow: the feeds count too', () => {
    // x 4 + y 2 + strings 3 values.
    const names = { dtype: 'string' as const, dims: [3], data: ['a', 'bb', 'c'] }
    expect(answerSize({ kind: 'records', feeds: { x }, outputs: { y, names }, meta })).toBe(90)
    expect(answerSize({ kind: 'arrow', feeds: { x, s }, outputs: { y }, meta: { ...meta, format: 'stream' } })).toBe(90)
  })
})

describe('transferList', () => {
  const KIB64 = 65536

  it('lists each buffer of 64 KiB or more once, and not one byte less', () => {
    const big = new Float32Array(KIB64 / 4)
    const view = new Uint8Array(big.buffer, 4, 8) // the same buffer again
    const small = new Uint8Array(KIB64 - 1)
    const found = transferList({ a: big, b: [{ c: view }, { d: small }] })
    expect(found).toHaveLength(1)
    expect(found[0]).toBe(big.buffer)
  })

  it('takes a smaller minimum, and skips null, numbers and strings on the way', () => {
    const a = new Uint8Array(10)
    const b = new Uint8Array(9)
    expect(transferList({ n: null, k: 3, s: 'text', a, b }, 10)).toEqual([a.buffer])
  })

  it('leaves buffers it cannot move: shared memory', () => {
    const shared = new Uint8Array(new SharedArrayBuffer(KIB64))
    expect(transferList({ shared })).toEqual([])
  })

  it('walks lists of objects, not lists of scalars', () => {
    const a = new Uint8Array(16)
    expect(transferList([{ a }], 16)).toEqual([a.buffer])
    expect(transferList([[a]], 16)).toEqual([a.buffer])
    expect(transferList(['x', a], 16)).toEqual([])
    expect(transferList([1, { a }], 16)).toEqual([])
  })

  it('looks 6 levels deep, objects and lists alike', () => {
    const a = new Uint8Array(16)
    const nest = (v: unknown, levels: number, list: boolean) => {
      let out = v
      for (let i = 0; i < levels; i++) out = list ? [out] : { k: out }
      return out
    }
    expect(transferList(nest(a, 6, false), 16)).toEqual([a.buffer])
    expect(transferList(nest(a, 7, false), 16)).toEqual([])
    expect(transferList(nest(a, 6, true), 16)).toEqual([a.buffer])
    expect(transferList(nest(a, 7, true), 16)).toEqual([])
  })

  it('does not walk into functions', () => {
    const a = new Uint8Array(16)
    const f = Object.assign(() => 0, { a })
    expect(transferList({ f }, 16)).toEqual([])
  })
})

describe('toWire and fromWire', () => {
  it('sends what is not an Error as its text', () => {
    expect(toWire('boom')).toStrictEqual({ name: 'Error', message: 'boom' })
    expect(toWire(42)).toStrictEqual({ name: 'Error', message: '42' })
    expect(toWire(undefined)).toStrictEqual({ name: 'Error', message: 'undefined' })
  })

  it('sends a plain error as its name, message and stack', () => {
    const e = new RangeError('out of range')
    expect(toWire(e)).toStrictEqual({ name: 'RangeError', message: 'out of range', stack: e.stack })
    const bare = new Error('no stack')
    bare.stack = ''
    expect(toWire(bare)).toStrictEqual({ name: 'Error', message: 'no stack' })
  })

  it('sends a typed error with its code, and details and fields only where it has them', () => {
    const plain = new InvalidInputError('bad value')
    plain.stack = ''
    expect(toWire(plain)).toStrictEqual({ name: 'InvalidInputError', message: 'bad value', code: 'invalid_input' })
    const detailed = new ConflictError('taken', { name: 'm' })
    expect(toWire(detailed)).toStrictEqual({
      name: 'ConflictError',
      message: 'taken',
      stack: detailed.stack,
      code: 'conflict',
      details: { name: 'm' },
    })
    const full = new QueueFullError('queue full', 7)
    full.stack = ''
    expect(toWire(full)).toStrictEqual({
      name: 'QueueFullError',
      message: 'queue full',
      code: 'queue_full',
      details: { retryAfterSeconds: 7 },
      fields: { retryAfterSeconds: 7 },
    })
  })

  it('revives a typed error as its class, with code, message, details, fields and stack', () => {
    const e = fromWire({
      name: 'QueueFullError',
      message: 'queue full',
      stack: 'QueueFullError: queue full\n    at somewhere',
      code: 'queue_full',
      details: { retryAfterSeconds: 7 },
      fields: { retryAfterSeconds: 7 },
    })
    expect(e).toBeInstanceOf(QueueFullError)
    expect(e).toBeInstanceOf(LastmileError)
    const q = e as QueueFullError
    expect(q.name).toBe('QueueFullError')
    expect(q.code).toBe('queue_full')
    expect(q.message).toBe('queue full')
    expect(q.details).toEqual({ retryAfterSeconds: 7 })
    expect(q.retryAfterSeconds).toBe(7)
    expect(q.stack).toBe('QueueFullError: queue full\n    at somewhere')
  })

  it('round-trips a subclass of a typed error', () => {
    const e = fromWire(toWire(new OutboundRefusedError('http://10.0.0.1/', 'a private address')))
    expect(e).toBeInstanceOf(OutboundRefusedError)
    expect(e).toBeInstanceOf(InvalidConfigError)
    const o = e as OutboundRefusedError
    expect(o.message).toBe("outbound call to 'http://10.0.0.1/' refused: a private address")
    expect(o.code).toBe('invalid_config')
    expect(o.url).toBe('http://10.0.0.1/')
    expect(o.reason).toBe('a private address')
    expect(o.details).toEqual({ url: 'http://10.0.0.1/', reason: 'a private address' })
  })

  it('keeps its own stack when the wire has none', () => {
    const e = fromWire({ name: 'TimeoutError', message: 'late', code: 'timeout' })
    expect(e).toBeInstanceOf(TimeoutError)
    expect(typeof e.stack).toBe('string')
    expect(e.stack).toContain('late')
  })

  it('revives anything else as a plain Error with the same name and message', () => {
    const cases = [
      { name: 'InvalidInputError', message: 'no code' }, // a typed name without a code
      { name: 'Nope', message: 'unknown class', code: 'invalid_input' },
      { name: 'errorMessage', message: 'a function, not a class', code: 'invalid_input' },
      { name: 'LastmileError', message: 'the base class', code: 'invalid_input' },
      { name: 'TypeError', message: 'not ours', stack: 'TypeError: not ours' },
    ]
    for (const wire of cases) {
      const e = fromWire(wire)
      expect(Object.getPrototypeOf(e)).toBe(Error.prototype)
      expect(e.name).toBe(wire.name)
      expect(e.message).toBe(wire.message)
      expect((e as { code?: unknown }).code).toBeUndefined()
    }
    expect(fromWire(cases[4] as (typeof cases)[4]).stack).toBe('TypeError: not ours')
  })
})
