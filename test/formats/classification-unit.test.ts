/**
 * Triton's classification extension (src/formats/classification.ts) unit by unit: the
 * `parameters.classification` count, `std::to_string`'s `%f` of a double, the `"value:index[:label]"`
 * strings of each row's k best classes, which outputs an answer classifies, and which outputs a
 * pipeline's post steps give class names. Expected `%f` texts are Python's `'%f' % v` (glibc's
 * correctly rounded printf), written down; rankings are worked out by hand (larger first, ties to
 * the lower index, NaN last).
 */
import { describe, expect, it } from 'vitest'
import type { AnyTensor, ColumnSpec, DType, HostTensor } from '../../src/engine/tensor.js'
import { InvalidInputError, InvalidRequestError } from '../../src/errors.js'
import {
  cFixed6,
  classificationCount,
  classify,
  classifyOutputs,
  outputLabels,
} from '../../src/formats/classification.js'
import type { PostSpec } from '../../src/pipeline/spec.js'
import type { Stage } from '../../src/pipeline/steps.js'
import { refusal } from '../helpers/refusal.js'

/** A double from its IEEE 754 bits (a NaN keeps its sign bit). */
const fromBits = (bits: bigint) => new Float64Array(new BigUint64Array([bits]).buffer)[0] as number

describe('classificationCount', () => {
  it('is undefined without parameters or without a classification parameter', () => {
    expect(classificationCount('probs', undefined)).toBeUndefined()
    expect(classificationCount('probs', {})).toBeUndefined()
    expect(classificationCount('probs', { binary_data: true })).toBeUndefined()
  })

  it('answers a whole number of at least 1', () => {
    expect(classificationCount('probs', { classification: 1 })).toBe(1)
    expect(classificationCount('probs', { classification: 3 })).toBe(3)
    expect(classificationCount('probs', { classification: 2 ** 53 - 1 })).toBe(2 ** 53 - 1)
  })

  it.each([
    [0, '0'],
    [-2, '-2'],
    [1.5, '1.5'],
    [0.5, '0.5'],
    [2 ** 53, '9007199254740992'],
    [Number.NaN, 'NaN'],
    [Number.POSITIVE_INFINITY, 'Infinity'],
    ['3', '"3"'],
    [true, 'true'],
    [null, 'null'],
    [[2], '[2]'],
  ])('refuses %s with a 400 naming the output and the value', (k, shown) => {
    const e = refusal(() => classificationCount('logits', { classification: k }))
    expect(e).toBeInstanceOf(InvalidRequestError)
    expect(e.message).toBe(
      `output 'logits': parameters.classification must be an integer of at least 1 (the number of classes to answer), got ${shown}`,
    )
  })
})

describe('cFixed6 (std::to_string of a double)', () => {
  it.each([
    [0.1, '0.100000'], // just above 0.1: the rest is under half, rounds down
    [0.7, '0.700000'], // just below 0.7: the rest is over half, rounds up
    [0.3, '0.300000'],
    [0.0078125, '0.007812'], // exactly halfway, even stays
    [0.0234375, '0.023438'], // exactly halfway, odd rounds up
    [123456.7890625, '123456.789062'], // exactly halfway, even stays
    [1.35e-5, '0.000013'], // odd, the rest under half: stays odd
    [1.25e-5, '0.000013'],
    [1e-6, '0.000001'],
    [5e-7, '0.000000'],
    [1.5e-6, '0.000002'],
    [2.5e-6, '0.000003'],
    [0.9999995, '1.000000'], // carries into the whole part
    [9.9999995, '9.999999'],
    [1234.5678, '1234.567800'],
    [2.5, '2.500000'],
    [7, '7.000000'],
    [0, '0.000000'],
  ])('%s → %s', (v, text) => {
    expect(cFixed6(v)).toBe(text)
  })

  it('writes negative values and negative zero with a minus sign', () => {
    expect(cFixed6(-1.25)).toBe('-1.250000')
    expect(cFixed6(-0.0234375)).toBe('-0.023438')
    expect(cFixed6(-1.5e-6)).toBe('-0.000002')
    expect(cFixed6(-5e-7)).toBe('-0.000000')
    expect(cFixed6(-0)).toBe('-0.000000')
    expect(cFixed6(-3)).toBe('-3.000000')
  })

  it('writes large doubles exactly, the power of two multiplied out', () => {
    expect(cFixed6(2 ** 52 + 1)).toBe('4503599627370497.000000') // exponent exactly 0
    expect(cFixed6(2 ** 53)).toBe('9007199254740992.000000')
    expect(cFixed6(2 ** 60)).toBe('1152921504606846976.000000')
    expect(cFixed6(-(2 ** 60))).toBe('-1152921504606846976.000000')
    expect(cFixed6(3.4028234663852886e38)).toBe('340282346638528859811704183484516925440.000000')
    expect(cFixed6(1e300)).toBe(
      '1000000000000000052504760255204420248704468581108159154915854115511802457988908195786371375080447864043704443832883878176942523235360430575644792184786706982848387200926575803737830233794788090059368953234970799945081119038967640880074652742780142494579258788820056842838115669472196386865459400540160.000000',
    )
  })

  it('writes subnormals and the smallest normal as zero', () => {
    expect(cFixed6(5e-324)).toBe('0.000000')
    expect(cFixed6(-5e-324)).toBe('-0.000000')
    expect(cFixed6(2.2250738585072014e-308)).toBe('0.000000')
  })

  it('writes NaN and infinities as glibc does, NaN with its sign bit', () => {
    expect(cFixed6(Number.NaN)).toBe('nan')
    expect(cFixed6(fromBits(0x7ff8000000000000n))).toBe('nan')
    expect(cFixed6(fromBits(0xfff8000000000000n))).toBe('-nan')
    expect(cFixed6(fromBits(0xfff0000000000001n))).toBe('-nan')
    expect(cFixed6(Number.POSITIVE_INFINITY)).toBe('inf')
    expect(cFixed6(Number.NEGATIVE_INFINITY)).toBe('-inf')
  })
})

const f32 = (dims: number[], values: number[]): HostTensor => ({
  dtype: 'float32',
  dims,
  data: Float32Array.from(values),
})

describe('classify', () => {
  it("answers each row's k best as value:index:label, [rows, k]", () => {
    const t = f32([1, 3], [0.1, 0.7, 0.2])
    expect(classify('probs', t, 2, ['a', 'b', 'c'])).toEqual({
      dtype: 'string',
      dims: [1, 2],
      data: ['0.700000:1:b', '0.200000:2:c'],
    })
  })

  // Three rows of four classes: ties (to the lower index), negatives, a NaN (last), a later row's best at its end.
  const rows = f32([3, 4], [0.5, -1.25, 2.125, 0.5, Number.NaN, -0.25, -3, 1.75, -1, -1, -1, -0.5])

  it('ranks each row on its own, best first, ties to the lower index, NaN last', () => {
    expect(classify('scores', rows, 3)).toEqual({
      dtype: 'string',
      dims: [3, 3],
      data: [
        '2.125000:2',
        '0.500000:0',
        '0.500000:3',
        '1.750000:3',
        '-0.250000:1',
        '-3.000000:2',
        '-0.500000:3',
        '-1.000000:0',
        '-1.000000:1',
      ],
    })
  })

  it('answers every class when k is the class count, NaN ones last in index order', () => {
    const t = f32([2, 4], [Number.NaN, 1, Number.NaN, 2, 4, 3, 2, 1])
    expect(classify('scores', t, 4, ['w', 'x', 'y', 'z']).data).toEqual([
      '2.000000:3:z',
      '1.000000:1:x',
      'nan:0:w',
      'nan:2:y',
      '4.000000:0:w',
      '3.000000:1:x',
      '2.000000:2:y',
      '1.000000:3:z',
    ])
  })

  it('names classes only with exactly one label per class', () => {
    const labelled = classify('scores', rows, 2, ['w', 'x', 'y', 'z'])
    expect(labelled.data).toEqual([
      '2.125000:2:y',
      '0.500000:0:w',
      '1.750000:3:z',
      '-0.250000:1:x',
      '-0.500000:3:z',
      '-1.000000:0:w',
    ])
    const plain = ['2.125000:2', '0.500000:0', '1.750000:3', '-0.250000:1', '-0.500000:3', '-1.000000:0']
    expect(classify('scores', rows, 2, ['w', 'x', 'y']).data).toEqual(plain) // one short
    expect(classify('scores', rows, 2, ['v', 'w', 'x', 'y', 'z']).data).toEqual(plain) // one over
    expect(classify('scores', rows, 2, []).data).toEqual(plain)
    expect(classify('scores', rows, 2).data).toEqual(plain)
  })

  it('takes the elements of a row past the first dimension as its classes', () => {
    const t = f32([2, 2, 3], [1, 6, 2, 5, 3, 4, -1, -6, -2, -5, -3, -4])
    expect(classify('grid', t, 2)).toEqual({
      dtype: 'string',
      dims: [2, 2],
      data: ['6.000000:1', '5.000000:3', '-1.000000:0', '-2.000000:2'],
    })
  })

  it('takes a scalar as one row of one class, and no rows as no rows', () => {
    const scalar: HostTensor = { dtype: 'float64', dims: [], data: Float64Array.of(0.25) }
    expect(classify('s', scalar, 1)).toEqual({ dtype: 'string', dims: [1, 1], data: ['0.250000:0'] })
    expect(classify('e', f32([0, 3], []), 2)).toEqual({ dtype: 'string', dims: [0, 2], data: [] })
  })

  it.each<[DType, HostTensor['data'], string[]]>([
    ['float32', Float32Array.of(0.1, -2.5, 0.0078125), ['0.100000:0:a', '0.007812:2:c']],
    ['float64', Float64Array.of(1e-7, 0.0234375, -0), ['0.023438:1:b', '0.000000:0:a']],
    ['int8', Int8Array.of(-128, 127, 5), ['127:1:b', '5:2:c']],
    ['uint8', Uint8Array.of(255, 0, 7), ['255:0:a', '7:2:c']],
    ['int16', Int16Array.of(-300, -2, -32768), ['-2:1:b', '-300:0:a']],
    ['uint16', Uint16Array.of(1, 65535, 1), ['65535:1:b', '1:0:a']],
    ['int32', Int32Array.of(-2147483648, 40, 41), ['41:2:c', '40:1:b']],
    ['uint32', Uint32Array.of(4294967295, 3, 4294967294), ['4294967295:0:a', '4294967294:2:c']],
    ['int64', BigInt64Array.of(-9007199254740993n, 12n, 9007199254740993n), ['9007199254740993:2:c', '12:1:b']],
    [
      'uint64',
      BigUint64Array.of(18446744073709551615n, 0n, 18446744073709551614n),
      ['18446744073709551615:0:a', '18446744073709551614:2:c'],
    ],
  ])('classifies %s, floats as %%f and integers as plain digits', (dtype, data, expected) => {
    const t = { dtype, dims: [1, 3], data } as HostTensor
    expect(classify('out', t, 2, ['a', 'b', 'c'])).toEqual({ dtype: 'string', dims: [1, 2], data: expected })
  })

  it.each<[AnyTensor, string]>([
    [{ dtype: 'float16', dims: [1, 2], data: Uint16Array.of(0x3c00, 0x4000) }, 'float16'],
    [{ dtype: 'bool', dims: [1, 2], data: Uint8Array.of(1, 0) }, 'bool'],
    [{ dtype: 'string', dims: [1, 2], data: ['x', 'y'] }, 'string'],
  ])('refuses a %s output with a 400', (t, dtype) => {
    const e = refusal(() => classify('flags', t, 1))
    expect(e).toBeInstanceOf(InvalidInputError)
    expect(e.message).toBe(
      `output 'flags' is ${dtype}: classification needs a numeric output (int, uint, float32 or float64)`,
    )
  })

  it('refuses k past the class count, naming both', () => {
    const three = f32([2, 3], [1, 2, 3, 4, 5, 6])
    expect(classify('probs', three, 3).data).toEqual([
      '3.000000:2',
      '2.000000:1',
      '1.000000:0',
      '6.000000:2',
      '5.000000:1',
      '4.000000:0',
    ])
    const e = refusal(() => classify('probs', three, 4))
    expect(e).toBeInstanceOf(InvalidInputError)
    expect(e.message).toBe("output 'probs': parameters.classification is 4 but the output has 3 classes per row")
    const one = refusal(() => classify('p1', f32([2, 1], [1, 2]), 2))
    expect(one).toBeInstanceOf(InvalidInputError)
    expect(one.message).toBe("output 'p1': parameters.classification is 2 but the output has 1 class per row")
    const scalar = refusal(() => classify('s', { dtype: 'int32', dims: [], data: Int32Array.of(3) }, 2))
    expect(scalar.message).toBe("output 's': parameters.classification is 2 but the output has 1 class per row")
  })
})

describe('classifyOutputs', () => {
  const probs = f32([2, 3], [0.25, 0.5, 0.125, 0.75, -1, 0.75])
  const ids: HostTensor = { dtype: 'int64', dims: [2, 2], data: BigInt64Array.of(4n, -9n, 3n, 8n) }
  const outputs = (): Record<string, AnyTensor> => ({ probs, ids })
  const noLabels = () => undefined

  it('answers the outputs themselves when nothing asks for classification', () => {
    const o = outputs()
    expect(classifyOutputs(o, undefined, noLabels)).toBe(o)
    expect(classifyOutputs(o, [], noLabels)).toBe(o)
    expect(classifyOutputs(o, [{ name: 'probs' }, { name: 'ids' }], noLabels)).toBe(o)
  })

  it('replaces only the outputs asked to be classified, with their labels, in a copy', () => {
    const o = outputs()
    const asked: string[] = []
    const labels = (name: string) => {
      asked.push(name)
      return name === 'probs' ? ['p', 'q', 'r'] : undefined
    }
    const out = classifyOutputs(o, [{ name: 'probs', classification: 2 }, { name: 'ids' }], labels)
    expect(out).not.toBe(o)
    expect(Object.keys(out)).toEqual(['probs', 'ids'])
    expect(out.probs).toEqual({
      dtype: 'string',
      dims: [2, 2],
      data: ['0.500000:1:q', '0.250000:0:p', '0.750000:0:p', '0.750000:2:r'],
    })
    expect(out.ids).toBe(ids)
    expect(asked).toEqual(['probs'])
    expect(o).toEqual({ probs, ids }) // the answer given is left as it was
  })

  it('classifies several outputs, each with its own k and labels', () => {
    const labels = (name: string) => (name === 'ids' ? ['lo', 'hi'] : undefined)
    const out = classifyOutputs(
      outputs(),
      [
        { name: 'ids', classification: 1 },
        { name: 'probs', classification: 3 },
      ],
      labels,
    )
    expect(out).toEqual({
      probs: {
        dtype: 'string',
        dims: [2, 3],
        data: ['0.500000:1', '0.250000:0', '0.125000:2', '0.750000:0', '0.750000:2', '-1.000000:1'],
      },
      ids: { dtype: 'string', dims: [2, 1], data: ['4:0:lo', '8:1:hi'] },
    })
  })

  it('leaves a requested output the answer lacks (or an inherited name) to the encoder', () => {
    const o = outputs()
    const out = classifyOutputs(
      o,
      [
        { name: 'missing', classification: 1 },
        { name: 'constructor', classification: 1 },
        { name: 'toString', classification: 2 },
      ],
      noLabels,
    )
    expect(out).not.toBe(o)
    expect(out).toEqual({ probs, ids })
    expect(Object.keys(out)).toEqual(['probs', 'ids'])
  })

  it('passes on what classify refuses', () => {
    const e = refusal(() => classifyOutputs(outputs(), [{ name: 'probs', classification: 4 }], noLabels))
    expect(e).toBeInstanceOf(InvalidInputError)
    expect(e.message).toBe("output 'probs': parameters.classification is 4 but the output has 3 classes per row")
  })
})

describe('outputLabels', () => {
  const model = (step: number, post?: PostSpec): Stage => ({
    kind: 'models',
    routing: { kind: 'single', model: `m${step}` },
    ...(post ? { post } : {}),
    step,
  })
  const post = (p: Partial<PostSpec>): PostSpec => ({ activation: 'none', argmax: false, ...p })
  const col = (name: string, dtype: ColumnSpec['dtype'] = 'float32'): ColumnSpec => ({ name, dtype, shape: ['N', 3] })
  // Every post step output comes first, float32 like a model's, then an int64 output, then the model's float32 ones.
  const outputs: ColumnSpec[] = [
    col('scores'),
    col('label'),
    col('label_name'),
    col('topk_index'),
    col('topk_score'),
    col('topk_label'),
    col('ids', 'int64'),
    col('logits'),
    col('probs'),
  ]
  const L = ['cat', 'dog', 'eel']
  const entries = (stages: Stage[], cols = outputs) => [...outputLabels(stages, cols)]

  it("names a one-model pipeline's first float32 model output by default, and scores when there is an activation", () => {
    expect(entries([model(0, post({ labels: L }))])).toEqual([['logits', L]])
    expect(entries([model(0, post({ labels: L, activation: 'softmax' }))])).toEqual([
      ['logits', L],
      ['scores', L],
    ])
    expect(entries([model(0, post({ labels: L, activation: 'sigmoid', argmax: true }))])).toEqual([
      ['logits', L],
      ['scores', L],
    ])
  })

  it("names the post step's input when it has one", () => {
    expect(entries([model(0, post({ labels: L, input: 'probs', activation: 'sigmoid' }))])).toEqual([
      ['probs', L],
      ['scores', L],
    ])
    expect(entries([model(0, post({ labels: L, input: 'ids' }))])).toEqual([['ids', L]])
  })

  it('names no model output by default in a one-model pipeline without a float32 model output', () => {
    const cols = [col('scores'), col('label'), col('n', 'int32'), col('v', 'float64')]
    expect(entries([model(0, post({ labels: L }))], cols)).toEqual([])
    expect(entries([model(0, post({ labels: L, activation: 'softmax' }))], cols)).toEqual([['scores', L]])
    expect(entries([model(0, post({ labels: L }))], [])).toEqual([])
  })

  it('names no default output when the pipeline has several model steps; validations are no model step', () => {
    const A = ['a0', 'a1']
    const B = ['b0', 'b1', 'b2']
    expect(
      entries([model(0, post({ labels: A, input: 'probs' })), model(1, post({ labels: B, activation: 'softmax' }))]),
    ).toEqual([
      ['probs', A],
      ['scores', B],
    ])
    expect(entries([model(0), model(1, post({ labels: B }))])).toEqual([])
    const checks: Stage = { kind: 'validations', validations: [], step: 1 }
    expect(entries([model(0, post({ labels: B })), checks])).toEqual([['logits', B]])
    expect(entries([checks])).toEqual([])
  })

  it('skips model steps without a post step or without labels', () => {
    const stages = [
      model(0),
      model(1, post({ activation: 'softmax', input: 'logits' })),
      model(2, post({ labels: L, input: 'probs' })),
    ]
    expect(entries(stages)).toEqual([['probs', L]])
    expect(entries([model(0, post({ activation: 'softmax' }))])).toEqual([])
    expect(entries([model(0)])).toEqual([])
  })

  it('lets a later post step name scores again', () => {
    const A = ['a0', 'a1']
    const B = ['b0', 'b1']
    expect(
      entries([
        model(0, post({ labels: A, input: 'logits', activation: 'softmax' })),
        model(1, post({ labels: B, input: 'probs', activation: 'sigmoid' })),
      ]),
    ).toEqual([
      ['logits', A],
      ['scores', B],
      ['probs', B],
    ])
  })
})
