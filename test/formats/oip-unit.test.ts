/**
 * The OIP v2 request and answer codec, field by field: every refusal's class and message, the
 * datatype table, how routing key columns are read, `outputs` and the boolean parameters, and
 * answers written out byte for byte. Expected values are written out by hand from the spec
 * (https://kserve.github.io/website/docs/concepts/architecture/data-plane/v2-protocol) and
 * Triton's binary tensor data extension.
 */
import { describe, expect, it } from 'vitest'
import type { AnyTensor, ColumnSpec } from '../../src/engine/tensor.js'
import { InvalidInputError, InvalidRequestError } from '../../src/errors.js'
import {
  answerOptions,
  checkRequestedOutputs,
  decodeOipRequest,
  encodeOipResponse,
  OIP_DATATYPE,
  oipShape,
  oipTensorMetadata,
  splitBinaryBody,
} from '../../src/formats/oip.js'

const specs: ColumnSpec[] = [
  { name: 'x', dtype: 'float32', shape: ['N', 2] },
  { name: 'k', dtype: 'int64', shape: ['N'] },
  { name: 'key', dtype: 'string', shape: ['N'] },
]
const decode = (header: unknown, binary?: Uint8Array, maxTensorBytes = Number.POSITIVE_INFINITY) =>
  decodeOipRequest(header, binary, specs, { maxTensorBytes })

/** What `f` threw. */
function thrown(f: () => unknown): Error {
  try {
    f()
  } catch (error) {
    return error as Error
  }
  throw new Error('expected a refusal')
}

function expectRefusal(f: () => unknown, cls: typeof InvalidRequestError | typeof InvalidInputError, message: string) {
  const e = thrown(f)
  expect(e).toBeInstanceOf(cls)
  expect(e.message).toBe(message)
}

const x = (over: Record<string, unknown> = {}) => ({
  name: 'x',
  datatype: 'FP32',
  shape: [2, 2],
  data: [1.5, -2, 3, 4.25],
  ...over,
})

describe('the datatype table', () => {
  it('names every dtype as the spec does', () => {
    expect(OIP_DATATYPE).toStrictEqual({
      float32: 'FP32',
      float64: 'FP64',
      float16: 'FP16',
      int8: 'INT8',
      uint8: 'UINT8',
      int16: 'INT16',
      uint16: 'UINT16',
      int32: 'INT32',
      uint32: 'UINT32',
      int64: 'INT64',
      uint64: 'UINT64',
      bool: 'BOOL',
      string: 'BYTES',
    })
  })

  it.each([
    ['FP32', 'float32', [1.5], Float32Array.of(1.5)],
    ['FP64', 'float64', [-0.1], Float64Array.of(-0.1)],
    ['FP16', 'float16', [1], Uint16Array.of(0x3c00)],
    ['INT8', 'int8', [-7], Int8Array.of(-7)],
    ['UINT8', 'uint8', [250], Uint8Array.of(250)],
    ['INT16', 'int16', [-300], Int16Array.of(-300)],
    ['UINT16', 'uint16', [65535], Uint16Array.of(65535)],
    ['INT32', 'int32', [-70000], Int32Array.of(-70000)],
    ['UINT32', 'uint32', [4000000000], Uint32Array.of(4000000000)],
    ['INT64', 'int64', [-5], BigInt64Array.of(-5n)],
    ['UINT64', 'uint64', [6], BigUint64Array.of(6n)],
    ['BOOL', 'bool', [true], Uint8Array.of(1)],
  ])('reads datatype %s as %s when no spec names the input', (datatype, dtype, data, values) => {
    const { feeds } = decodeOipRequest({ inputs: [{ name: 'v', datatype, shape: [1], data }] }, undefined, [])
    expect(feeds.v).toStrictEqual({ dtype, dims: [1], data: values })
  })

  it('reads BYTES as strings when no spec names the input', () => {
    const { feeds } = decodeOipRequest(
      { inputs: [{ name: 'v', datatype: 'BYTES', shape: [2], data: ['é', 'b'] }] },
      undefined,
      [],
    )
    expect(feeds.v).toStrictEqual({ dtype: 'string', dims: [2], data: ['é', 'b'] })
  })

  it('refuses an unknown datatype, listing the known ones', () => {
    for (const [datatype, shown] of [
      ['fp32', '"fp32"'],
      ['float32', '"float32"'],
      [7, '7'],
    ]) {
      expectRefusal(
        () => decode({ inputs: [x({ datatype })] }),
        InvalidRequestError,
        `input 'x': unknown datatype ${shown}; expected one of FP32, FP64, FP16, INT8, UINT8, INT16, UINT16, INT32, UINT32, INT64, UINT64, BOOL, BYTES`,
      )
    }
  })
})

describe('metadata', () => {
  it('writes symbolic and negative dims as -1, and keeps 0 and positive dims', () => {
    expect(oipShape(['N', 3, 0, -2, '4', 1])).toStrictEqual([-1, 3, 0, -1, -1, 1])
    expect(oipShape([])).toStrictEqual([])
  })

  it('describes a tensor by name, OIP datatype and shape', () => {
    expect(oipTensorMetadata({ name: 'scores', dtype: 'uint16', shape: ['batch', 5] })).toStrictEqual({
      name: 'scores',
      datatype: 'UINT16',
      shape: [-1, 5],
    })
    expect(oipTensorMetadata({ name: 'label', dtype: 'string', shape: [0] })).toStrictEqual({
      name: 'label',
      datatype: 'BYTES',
      shape: [0],
    })
  })

  it('keeps of a request only what its answer depends on', () => {
    const r = decode({
      id: 'r9',
      inputs: [x()],
      outputs: [{ name: 'y', parameters: { binary_data: true } }],
      parameters: { non_finite_as_null: true },
    })
    expect(answerOptions(r)).toStrictEqual({
      id: 'r9',
      outputs: [{ name: 'y', binary: true }],
      binaryAll: false,
      nonFiniteAsNull: true,
    })
  })
})

describe('splitting a binary body', () => {
  const body = Uint8Array.of(123, 125, 9, 8, 7)

  it('cuts at the header length, trimming blanks around it', () => {
    for (const value of ['2', ' 2 ', '02']) {
      const { header, binary } = splitBinaryBody(body, value)
      expect([value, Array.from(header), Array.from(binary)]).toStrictEqual([value, [123, 125], [9, 8, 7]])
    }
    expect(Array.from(splitBinaryBody(body, '0').binary)).toStrictEqual([123, 125, 9, 8, 7])
  })

  it('refuses a count past the body, naming the value', () => {
    expectRefusal(
      () => splitBinaryBody(body, '6'),
      InvalidRequestError,
      `Inference-Header-Content-Length is "6"; expected a byte count from 0 to the body's 5 bytes`,
    )
  })
})

describe('decoding the request envelope', () => {
  it.each([null, [], 'inputs', 3])('refuses a body that is not an object: %j', (body) => {
    expectRefusal(
      () => decode(body),
      InvalidRequestError,
      'the body must be an OIP v2 inference request: a JSON object with "inputs"',
    )
  })

  it('refuses an id that is not a string', () => {
    expectRefusal(() => decode({ id: 5, inputs: [x()] }), InvalidRequestError, '"id" must be a string')
  })

  it('keeps a string id, the empty one too, and adds none when absent', () => {
    expect(decode({ id: 'r1', inputs: [x()] }).id).toBe('r1')
    expect(decode({ id: '', inputs: [x()] })).toHaveProperty('id', '')
    const r = decode({ inputs: [x()] })
    expect(Object.keys(r)).toStrictEqual(['feeds', 'binaryAll', 'nonFiniteAsNull'])
  })

  it.each([undefined, {}, [], 'x'])('refuses inputs %j', (inputs) => {
    expectRefusal(() => decode({ inputs }), InvalidRequestError, '"inputs" must be a non-empty array of tensors')
  })

  it('refuses an input that is not an object, naming its index', () => {
    for (const bad of [5, null, ['x'], 'x']) {
      expectRefusal(
        () => decode({ inputs: [x(), bad] }),
        InvalidRequestError,
        'inputs[1] must be an object with name, shape, datatype and data',
      )
    }
  })

  it('refuses a missing, empty or non-string name, naming the index', () => {
    for (const name of [undefined, '', 3]) {
      expectRefusal(
        () => decode({ inputs: [x(), x({ name })] }),
        InvalidRequestError,
        'inputs[1].name must be a non-empty string',
      )
    }
  })

  it('refuses an input named twice', () => {
    expectRefusal(
      () => decode({ inputs: [x(), { name: 'k', datatype: 'INT64', shape: [1], data: [1] }, x()] }),
      InvalidRequestError,
      "input 'x' appears twice",
    )
  })

  it('takes shapes of up to 32 dims, and refuses 33', () => {
    const ones = (n: number) => Array<number>(n).fill(1)
    const r = decodeOipRequest({ inputs: [x({ shape: ones(32), data: [7] })] }, undefined, [])
    expect(r.feeds.x?.dims).toStrictEqual(ones(32))
    expectRefusal(
      () => decodeOipRequest({ inputs: [x({ shape: ones(33), data: [7] })] }, undefined, []),
      InvalidRequestError,
      `input 'x': "shape" must be an array of at most 32 non-negative integers, got [1,1,1,1,…]`,
    )
  })

  it('decodes several inputs in order, with all their values', () => {
    const r = decode({
      inputs: [x(), { name: 'k', datatype: 'INT64', shape: [3], data: [9, -1, 9007199254740993n] }],
    })
    expect(r).toStrictEqual({
      feeds: {
        x: { dtype: 'float32', dims: [2, 2], data: Float32Array.of(1.5, -2, 3, 4.25) },
        k: { dtype: 'int64', dims: [3], data: BigInt64Array.of(9n, -1n, 9007199254740993n) },
      },
      binaryAll: false,
      nonFiniteAsNull: false,
    })
  })

  it('refuses a numeric input without data or binary_data_size', () => {
    expectRefusal(
      () => decode({ inputs: [x({ data: undefined })] }),
      InvalidRequestError,
      `input 'x' has no "data" (nor binary_data_size)`,
    )
  })

  it('refuses a datatype other than the model input’s', () => {
    expectRefusal(
      () => decode({ inputs: [x({ datatype: 'FP64' })] }),
      InvalidInputError,
      "input 'x' has datatype FP64, the model expects FP32",
    )
    expectRefusal(
      () => decode({ inputs: [x({ datatype: 'BYTES', data: ['a', 'b', 'c', 'd'] })] }),
      InvalidInputError,
      "input 'x' has datatype BYTES, the model expects FP32",
    )
    expectRefusal(
      () => decode({ inputs: [{ name: 'k', datatype: 'INT32', shape: [1], data: [1] }] }),
      InvalidInputError,
      "input 'k' has datatype INT32, the model expects INT64",
    )
  })

  it('reads an input no spec names by its own datatype (the deployment refuses unknown names)', () => {
    const { feeds } = decode({ inputs: [x({ name: 'other', datatype: 'INT32', shape: [2], data: [3, -4] })] })
    expect(feeds.other).toStrictEqual({ dtype: 'int32', dims: [2], data: Int32Array.of(3, -4) })
  })
})

describe('routing key columns', () => {
  it('reads BYTES data as strings, and JSON numbers as their decimal text', () => {
    const { feeds } = decode({
      inputs: [{ name: 'key', datatype: 'BYTES', shape: [3], data: ['eu', 'us', 'été'] }],
    })
    expect(feeds.key).toStrictEqual({ dtype: 'string', dims: [3], data: ['eu', 'us', 'été'] })
    const numbers = decode({ inputs: [{ name: 'key', datatype: 'INT64', shape: [3], data: [12, -3, 1.5] }] })
    expect(numbers.feeds.key).toStrictEqual({ dtype: 'string', dims: [3], data: ['12', '-3', '1.5'] })
  })

  it('reads a binary BYTES key column, length-prefixed', () => {
    // 'eu' and 'ab': 4-byte little-endian lengths, then the UTF-8 bytes.
    const binary = Uint8Array.of(2, 0, 0, 0, 101, 117, 2, 0, 0, 0, 97, 98)
    const { feeds } = decode(
      { inputs: [{ name: 'key', datatype: 'BYTES', shape: [2], parameters: { binary_data_size: 12 } }] },
      binary,
    )
    expect(feeds.key).toStrictEqual({ dtype: 'string', dims: [2], data: ['eu', 'ab'] })
  })

  it('reads a binary BYTES input no spec names as strings', () => {
    const { feeds } = decodeOipRequest(
      { inputs: [{ name: 'tag', datatype: 'BYTES', shape: [1], parameters: { binary_data_size: 5 } }] },
      Uint8Array.of(1, 0, 0, 0, 122),
      [],
    )
    expect(feeds.tag).toStrictEqual({ dtype: 'string', dims: [1], data: ['z'] })
  })

  it('refuses a key column sent as binary numbers', () => {
    expectRefusal(
      () =>
        decode(
          { inputs: [{ name: 'key', datatype: 'INT64', shape: [1], parameters: { binary_data_size: 8 } }] },
          new Uint8Array(8),
        ),
      InvalidInputError,
      "input 'key' is a key column: send it as BYTES (or JSON numbers)",
    )
  })

  it('refuses a key column without data or binary_data_size', () => {
    expectRefusal(
      () => decode({ inputs: [{ name: 'key', datatype: 'BYTES', shape: [1] }] }),
      InvalidRequestError,
      `input 'key' has no "data" (nor binary_data_size)`,
    )
  })
})

describe('binary inputs', () => {
  it('refuses binary_data_size when the request has no binary part', () => {
    expectRefusal(
      () => decode({ inputs: [x({ data: undefined, parameters: { binary_data_size: 16 } })] }),
      InvalidRequestError,
      "input 'x' has binary_data_size but the request has no binary part",
    )
  })

  it('takes binary_data_size 0 for an empty tensor, beside JSON inputs', () => {
    const k = Uint8Array.of(5, 0, 0, 0, 0, 0, 0, 0)
    const { feeds } = decode(
      {
        inputs: [
          x({ shape: [0, 2], data: undefined, parameters: { binary_data_size: 0 } }),
          { name: 'k', datatype: 'INT64', shape: [1], parameters: { binary_data_size: 8 } },
          { name: 'key', datatype: 'BYTES', shape: [1], data: ['q'], parameters: {} },
        ],
      },
      k,
    )
    expect(feeds).toStrictEqual({
      x: { dtype: 'float32', dims: [0, 2], data: new Float32Array(0) },
      k: { dtype: 'int64', dims: [1], data: BigInt64Array.of(5n) },
      key: { dtype: 'string', dims: [1], data: ['q'] },
    })
  })

  it('refuses a negative or fractional binary_data_size', () => {
    for (const [size, shown] of [
      [-1, '-1'],
      [0.5, '0.5'],
      [null, 'null'],
      [true, 'true'],
    ]) {
      expectRefusal(
        () => decode({ inputs: [x({ parameters: { binary_data_size: size } })] }, new Uint8Array(16)),
        InvalidRequestError,
        `input 'x': parameters.binary_data_size must be a non-negative integer, got ${shown}`,
      )
    }
  })

  it('refuses binary bytes that no input declares', () => {
    expectRefusal(
      () => decode({ inputs: [x()] }, Uint8Array.of(1, 2, 3)),
      InvalidRequestError,
      'the binary part has 3 bytes but inputs declare 0',
    )
  })
})

describe('request parameters', () => {
  it('reads binary_data_output and non_finite_as_null, false when absent', () => {
    const read = (parameters: unknown) => {
      const r = decode({ inputs: [x()], parameters })
      return [r.binaryAll, r.nonFiniteAsNull]
    }
    expect(read(undefined)).toStrictEqual([false, false])
    expect(read({})).toStrictEqual([false, false])
    expect(read({ binary_data_output: true })).toStrictEqual([true, false])
    expect(read({ non_finite_as_null: true, binary_data_output: false })).toStrictEqual([false, true])
    expect(read({ other: 'x' })).toStrictEqual([false, false])
  })

  it('refuses parameters that are not an object', () => {
    for (const parameters of [null, [], 'binary_data_output', 1]) {
      expectRefusal(() => decode({ inputs: [x()], parameters }), InvalidRequestError, '"parameters" must be an object')
    }
  })

  it('refuses a flag that is not a boolean, as Triton does', () => {
    expectRefusal(
      () => decode({ inputs: [x()], parameters: { binary_data_output: 'true' } }),
      InvalidRequestError,
      'parameters.binary_data_output must be true or false, got "true"',
    )
    expectRefusal(
      () => decode({ inputs: [x()], parameters: { non_finite_as_null: 1 } }),
      InvalidRequestError,
      'parameters.non_finite_as_null must be true or false, got 1',
    )
  })
})

describe('requested outputs', () => {
  const outputs = (o: unknown) => decode({ inputs: [x()], outputs: o }).outputs

  it('reads names, binary_data and classification, adding no key a request leaves out', () => {
    expect(
      outputs([
        { name: 'y' },
        { name: 'p', parameters: { binary_data: false, classification: 2 } },
        { name: 'z', parameters: { binary_data: true } },
        { name: 'w', parameters: {} },
      ]),
    ).toStrictEqual([
      { name: 'y' },
      { name: 'p', binary: false, classification: 2 },
      { name: 'z', binary: true },
      { name: 'w' },
    ])
    expect(outputs([])).toStrictEqual([])
  })

  it('refuses outputs that are not an array', () => {
    for (const o of [{}, 'y', null]) {
      expectRefusal(() => outputs(o), InvalidRequestError, '"outputs" must be an array')
    }
  })

  it('refuses an entry without a string name, naming its index', () => {
    for (const bad of ['y', null, [], { name: 3 }, {}]) {
      expectRefusal(
        () => outputs([{ name: 'y' }, bad]),
        InvalidRequestError,
        'outputs[1] must be an object with a name',
      )
    }
  })

  it('refuses an output named twice, naming both entries', () => {
    expectRefusal(
      () => outputs([{ name: 'y' }, { name: 'p' }, { name: 'y' }]),
      InvalidRequestError,
      "output 'y' already requested (outputs[0] and outputs[2]); name each output once",
    )
  })

  it('refuses parameters that are not an object', () => {
    for (const parameters of [null, [], 'binary_data', true]) {
      expectRefusal(
        () =>
          outputs([
            { name: 'y', parameters: {} },
            { name: 'p', parameters },
          ]),
        InvalidRequestError,
        'outputs[1].parameters must be an object',
      )
    }
  })

  it('refuses a binary_data that is not a boolean', () => {
    expectRefusal(
      () => outputs([{ name: 'p', parameters: { binary_data: 1 } }]),
      InvalidRequestError,
      "output 'p': parameters.binary_data must be true or false, got 1",
    )
    expectRefusal(
      () => outputs([{ name: 'p', parameters: { binary_data: null } }]),
      InvalidRequestError,
      "output 'p': parameters.binary_data must be true or false, got null",
    )
  })

  it('refuses a classification count below 1', () => {
    expectRefusal(
      () => outputs([{ name: 'p', parameters: { classification: 0 } }]),
      InvalidRequestError,
      "output 'p': parameters.classification must be an integer of at least 1 (the number of classes to answer), got 0",
    )
  })
})

describe('checking requested outputs against the pipeline', () => {
  it('accepts none, all, and some of the outputs', () => {
    expect(() => checkRequestedOutputs(undefined, ['y', 'p'])).not.toThrow()
    expect(() => checkRequestedOutputs([], ['y', 'p'])).not.toThrow()
    expect(() => checkRequestedOutputs([{ name: 'p' }, { name: 'y' }], ['y', 'p'])).not.toThrow()
  })

  it('refuses the first unknown output, listing the outputs', () => {
    expectRefusal(
      () => checkRequestedOutputs([{ name: 'y' }, { name: 'q' }, { name: 'r' }], ['y', 'p']),
      InvalidRequestError,
      "unknown output 'q'; the outputs are y, p",
    )
  })
})

const f32 = (dims: number[], ...v: number[]): AnyTensor => ({ dtype: 'float32', dims, data: Float32Array.from(v) })
const answer = {
  y: f32([2], 0.5, Number.NaN),
  label: { dtype: 'string', dims: [2], data: ['lo', 'é'] } as AnyTensor,
  n: { dtype: 'int16', dims: [1, 2], data: Int16Array.of(-2, 258) } as AnyTensor,
}
const plain = { binaryAll: false, nonFiniteAsNull: false }
const text = (b: Uint8Array[] | undefined) => b?.map((u) => Array.from(u))

describe('encoding the answer', () => {
  it('writes every output as JSON data, in the order of the outputs, without binary parts', () => {
    const r = encodeOipResponse({ name: 'm' }, plain, answer)
    expect(r).toStrictEqual({
      header:
        '{"model_name":"m","outputs":[' +
        '{"name":"y","datatype":"FP32","shape":[2],"data":[0.5,NaN]},' +
        '{"name":"label","datatype":"BYTES","shape":[2],"data":["lo","é"]},' +
        '{"name":"n","datatype":"INT16","shape":[1,2],"data":[-2,258]}]}',
    })
  })

  it('writes the model version and the id when there are, the empty id too', () => {
    expect(encodeOipResponse({ name: 'm', version: '3' }, { ...plain, id: 'r1' }, { n: answer.n }).header).toBe(
      '{"model_name":"m","model_version":"3","id":"r1","outputs":[{"name":"n","datatype":"INT16","shape":[1,2],"data":[-2,258]}]}',
    )
    expect(encodeOipResponse({ name: 'm', version: '' }, { ...plain, id: '' }, { n: answer.n }).header).toBe(
      '{"model_name":"m","id":"","outputs":[{"name":"n","datatype":"INT16","shape":[1,2],"data":[-2,258]}]}',
    )
  })

  it('writes non-finite values as null when the request asks', () => {
    const r = encodeOipResponse({ name: 'm' }, { ...plain, nonFiniteAsNull: true }, { y: answer.y })
    expect(r.header).toBe('{"model_name":"m","outputs":[{"name":"y","datatype":"FP32","shape":[2],"data":[0.5,null]}]}')
  })

  it('answers only the outputs asked for, in the order asked', () => {
    const r = encodeOipResponse({ name: 'm' }, { ...plain, outputs: [{ name: 'n' }, { name: 'y' }] }, answer)
    expect(r).toStrictEqual({
      header:
        '{"model_name":"m","outputs":[' +
        '{"name":"n","datatype":"INT16","shape":[1,2],"data":[-2,258]},' +
        '{"name":"y","datatype":"FP32","shape":[2],"data":[0.5,NaN]}]}',
    })
  })

  it('writes outputs binary with binary_data_output, BYTES length-prefixed, in the order of the header', () => {
    const r = encodeOipResponse({ name: 'm' }, { ...plain, binaryAll: true }, { label: answer.label, n: answer.n })
    expect(r.header).toBe(
      '{"model_name":"m","outputs":[' +
        '{"name":"label","datatype":"BYTES","shape":[2],"parameters":{"binary_data_size":12}},' +
        '{"name":"n","datatype":"INT16","shape":[1,2],"parameters":{"binary_data_size":4}}]}',
    )
    // 'lo' (2 bytes) and 'é' (0xc3 0xa9); then -2 = 0xfffe and 258 = 0x0102, little-endian.
    expect(text(r.binary)).toStrictEqual([
      [2, 0, 0, 0, 108, 111, 2, 0, 0, 0, 0xc3, 0xa9],
      [0xfe, 0xff, 0x02, 0x01],
    ])
  })

  it("gives an output's own binary_data precedence over binary_data_output, either way", () => {
    const all = encodeOipResponse(
      { name: 'm' },
      { binaryAll: true, nonFiniteAsNull: false, outputs: [{ name: 'n', binary: false }, { name: 'y' }] },
      answer,
    )
    expect(all.header).toBe(
      '{"model_name":"m","outputs":[' +
        '{"name":"n","datatype":"INT16","shape":[1,2],"data":[-2,258]},' +
        '{"name":"y","datatype":"FP32","shape":[2],"parameters":{"binary_data_size":8}}]}',
    )
    // 0.5 = 0x3f000000, NaN = 0x7fc00000, little-endian.
    expect(text(all.binary)).toStrictEqual([[0, 0, 0, 0x3f, 0, 0, 0xc0, 0x7f]])
    const one = encodeOipResponse(
      { name: 'm' },
      { ...plain, outputs: [{ name: 'y' }, { name: 'n', binary: true }] },
      answer,
    )
    expect(one.header).toBe(
      '{"model_name":"m","outputs":[' +
        '{"name":"y","datatype":"FP32","shape":[2],"data":[0.5,NaN]},' +
        '{"name":"n","datatype":"INT16","shape":[1,2],"parameters":{"binary_data_size":4}}]}',
    )
    expect(text(one.binary)).toStrictEqual([[0xfe, 0xff, 0x02, 0x01]])
  })

  it('refuses an output the answer lacks, an inherited name too, listing the outputs', () => {
    for (const name of ['q', 'constructor', 'toString']) {
      expectRefusal(
        () => encodeOipResponse({ name: 'm' }, { ...plain, outputs: [{ name: 'y' }, { name }] }, answer),
        InvalidRequestError,
        `unknown output '${name}'; the outputs are y, label, n`,
      )
    }
  })

  it('writes which model answered each row and the failed checks as string parameters', () => {
    const same = encodeOipResponse(
      { name: 'p' },
      plain,
      { n: answer.n },
      {
        rowModels: ['a:1', 'a:1', 'a:1'],
        checkFailures: Uint32Array.of(0, 2, 1),
      },
    )
    expect(same.header).toBe(
      '{"model_name":"p","parameters":{"model":"a:1","check_failures":"[0,2,1]"},"outputs":[{"name":"n","datatype":"INT16","shape":[1,2],"data":[-2,258]}]}',
    )
    const mixed = encodeOipResponse(
      { name: 'p' },
      { ...plain, id: 'q' },
      { n: answer.n },
      {
        rowModels: ['a:1', 'b:2', 'a:1'],
        checkFailures: [3, 0, 0],
      },
    )
    expect(mixed.header).toBe(
      '{"model_name":"p","id":"q","parameters":{"models":"[\\"a:1\\",\\"b:2\\",\\"a:1\\"]","check_failures":"[3,0,0]"},"outputs":[{"name":"n","datatype":"INT16","shape":[1,2],"data":[-2,258]}]}',
    )
    const lastDiffers = encodeOipResponse(
      { name: 'p' },
      plain,
      { n: answer.n },
      {
        rowModels: ['a:1', 'a:1', 'b:1'],
        checkFailures: [0, 0, 0],
      },
    )
    expect(lastDiffers.header).toContain(
      '"parameters":{"models":"[\\"a:1\\",\\"a:1\\",\\"b:1\\"]","check_failures":"[0,0,0]"}',
    )
    const empty = encodeOipResponse({ name: 'p' }, plain, { n: f32([0]) }, { rowModels: [], checkFailures: [] })
    expect(empty.header).toBe(
      '{"model_name":"p","parameters":{"model":"","check_failures":"[]"},"outputs":[{"name":"n","datatype":"FP32","shape":[0],"data":[]}]}',
    )
  })
})
