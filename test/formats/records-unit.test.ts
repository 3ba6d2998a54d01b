/**
 * pandas-records in detail (`df.to_json(orient='records')`: a JSON array of row objects): how a
 * body is refused (what is wrong, and where), how each input's row shape is found (fixed dims from
 * the spec, the others from the first row), and the answer's columns and text for every dataset
 * field and metadata key, nested and flattened. Expected values are written out by hand.
 */
import { describe, expect, it } from 'vitest'
import { type ColumnSpec, type HostTensor, tensor } from '../../src/engine/tensor.js'
import { InvalidInputError, InvalidRequestError } from '../../src/errors.js'
import type { Dataset } from '../../src/formats/dataset.js'
import { answerColumns, decodeRecords, encodeRecords, type RowMeta } from '../../src/formats/records.js'
import { refusal as thrown } from '../helpers/refusal.js'

/** What `f` threw, with the code lastmile's errors carry. */
const refusal = (f: () => unknown) => thrown(f) as Error & { code?: string }

const x2: ColumnSpec[] = [{ name: 'x', dtype: 'float32', shape: ['N', 2] }]

describe('pandas-records bodies that are refused', () => {
  it('refuses a body that is not a non-empty array, as a malformed request', () => {
    const message = 'a pandas-records body must be a non-empty JSON array of objects, one per row'
    for (const body of [{ x: [1, 2] }, [], 'x', null, 3]) {
      const e = refusal(() => decodeRecords(body, x2))
      expect(e).toBeInstanceOf(InvalidRequestError)
      expect(e.code).toBe('invalid_request')
      expect(e.message).toBe(message)
    }
  })

  it('refuses a later record that is a number, null, a string or an array, naming it', () => {
    for (const bad of [7, null, 'row', [1, 2]]) {
      const e = refusal(() => decodeRecords([{ x: [1, 2] }, { x: [3, 4] }, bad], x2))
      expect(e).toBeInstanceOf(InvalidRequestError)
      expect(e.message).toBe('record 2 is not an object')
    }
  })

  it('refuses a record with a key that is no input, listing the inputs', () => {
    const specs: ColumnSpec[] = [
      { name: 'x', dtype: 'float32', shape: ['N', 2] },
      { name: 'flag', dtype: 'bool', shape: ['N'] },
    ]
    const e = refusal(() =>
      decodeRecords(
        [
          { x: [1, 2], flag: true },
          { x: [3, 4], flag: false, z: 1 },
        ],
        specs,
      ),
    )
    expect(e).toBeInstanceOf(InvalidInputError)
    expect(e.code).toBe('invalid_input')
    expect(e.message).toBe("record 1: unknown input 'z'; the inputs are x, flag")
  })

  it('checks every record is an object before any input is looked for', () => {
    // Record 1 lacks 'x' too, but record 2 not being an object is what the client hears first.
    const e = refusal(() => decodeRecords([{ x: [1, 2] }, {}, 5], x2))
    expect(e.message).toBe('record 2 is not an object')
  })

  it("refuses a later record lacking an input rather than taking another row's value", () => {
    const specs: ColumnSpec[] = [
      { name: 'a', dtype: 'int32', shape: ['N'] },
      { name: 'b', dtype: 'int32', shape: ['N'] },
    ]
    const e = refusal(() => decodeRecords([{ a: 1, b: 2 }, { a: 3, b: 4 }, { a: 5 }, { a: 7, b: 8 }], specs))
    expect(e).toBeInstanceOf(InvalidInputError)
    expect(e.message).toBe("record 2: missing input 'b'")
  })
})

describe('pandas-records row shapes', () => {
  it('takes a fixed dim from the spec: a first row of another length is ragged', () => {
    const specs: ColumnSpec[] = [{ name: 'x', dtype: 'float32', shape: ['N', 3] }]
    const e = refusal(() => decodeRecords([{ x: [1, 2] }, { x: [3, 4] }], specs))
    expect(e).toBeInstanceOf(InvalidInputError)
    expect(e.message).toMatch(/^input 'x' \(records\): ragged data at \[0\]: 2 items, expected 3 for shape \[2,3\]/)
  })

  it('takes a dim of -1 or a name from the first row', () => {
    for (const d of [-1, 'F']) {
      const specs: ColumnSpec[] = [{ name: 'x', dtype: 'int16', shape: ['N', d] }]
      const feeds = decodeRecords([{ x: [5, -6, 7] }, { x: [-8, 9, 10] }], specs)
      expect(feeds.x?.dtype).toBe('int16')
      expect(feeds.x?.dims).toEqual([2, 3])
      expect(Array.from(feeds.x?.data as Int16Array)).toEqual([5, -6, 7, -8, 9, 10])
    }
  })

  it('takes a named dim that reads as a number ("2") from the first row, not as a size', () => {
    const specs: ColumnSpec[] = [{ name: 'x', dtype: 'int32', shape: ['N', '2'] }]
    const feeds = decodeRecords([{ x: [1, -2, 3] }, { x: [4, 5, -6] }], specs)
    expect(feeds.x?.dims).toEqual([2, 3])
    expect(Array.from(feeds.x?.data as Int32Array)).toEqual([1, -2, 3, 4, 5, -6])
  })

  it('takes a fixed dim of 0 from the spec, whatever the first row holds', () => {
    const specs: ColumnSpec[] = [{ name: 'x', dtype: 'float32', shape: ['N', 0] }]
    const feeds = decodeRecords([{ x: [] }, { x: [] }, { x: [] }], specs)
    expect(feeds.x?.dims).toEqual([3, 0])
    expect(feeds.x?.data).toHaveLength(0)
    // A scalar where an empty row belongs is checked against the spec's [1,0], not refused as "not nested".
    const e = refusal(() => decodeRecords([{ x: 4 }], specs))
    expect(e.message).toBe("input 'x' (records): shape [1,0] needs 0 values, data has 1")
  })

  it('nests fixed and free dims: [N, 2, F] reads F from the first row', () => {
    const specs: ColumnSpec[] = [{ name: 'x', dtype: 'float64', shape: ['N', 2, 'F'] }]
    const feeds = decodeRecords(
      [
        {
          x: [
            [1, 2, 3],
            [4, 5, 6],
          ],
        },
        {
          x: [
            [-1, -2, -3],
            [-4, -5, -6.5],
          ],
        },
      ],
      specs,
    )
    expect(feeds.x?.dims).toEqual([2, 2, 3])
    expect(Array.from(feeds.x?.data as Float64Array)).toEqual([1, 2, 3, 4, 5, 6, -1, -2, -3, -4, -5, -6.5])
  })

  it('refuses a first row nested less deeply than the free dims need, saying how deep', () => {
    const one: ColumnSpec[] = [{ name: 'v', dtype: 'float32', shape: ['N', 'F'] }]
    const e1 = refusal(() => decodeRecords([{ v: 2.5 }, { v: [1] }], one))
    expect(e1).toBeInstanceOf(InvalidInputError)
    expect(e1.message).toBe("input 'v': row 0 is not nested 1 deep")
    const two: ColumnSpec[] = [{ name: 'v', dtype: 'float32', shape: ['N', 'A', 'B'] }]
    const e2 = refusal(() => decodeRecords([{ v: [1, 2] }], two))
    expect(e2.message).toBe("input 'v': row 0 is not nested 2 deep")
  })

  it('decodes each input in the order of the specs, whatever the key order in a record', () => {
    const specs: ColumnSpec[] = [
      { name: 'a', dtype: 'uint8', shape: ['N'] },
      { name: 'b', dtype: 'float32', shape: ['N', 2] },
    ]
    const feeds = decodeRecords(
      [
        { b: [0.5, -1], a: 3 },
        { a: 200, b: [2, 4] },
      ],
      specs,
    )
    expect(Object.keys(feeds)).toEqual(['a', 'b'])
    expect(Array.from(feeds.a?.data as Uint8Array)).toEqual([3, 200])
    expect(Array.from(feeds.b?.data as Float32Array)).toEqual([0.5, -1, 2, 4])
  })
})

/** Two rows: x float32 [2,2], y int32 [2]. */
const feeds = { x: tensor('float32', [2, 2], [1.5, -2, 3, 0.25]) }
const outputs = { y: tensor('int32', [2], [7, -8]) }

function meta(dataset: Dataset, over: Partial<RowMeta> = {}): RowMeta {
  return {
    time: 1_700_000_000_123,
    rowModels: ['clf:2', 'a:1+b:3'],
    checkFailures: Int32Array.from([0, 2]),
    pipelineVersion: 4,
    elapsedNs: [150, 2600],
    modelShas: { 'clf:2': 'abc', 'a:1': 's1' },
    dataset,
    ...over,
  }
}

const EVERYTHING: Dataset = {
  fields: [
    { field: 'time' },
    { field: 'in', keys: ['x'] },
    { field: 'out', keys: ['y'] },
    { field: 'check_failures' },
    { field: 'anomaly', keys: ['count'] },
    { field: 'metadata', keys: ['last_model', 'pipeline_version', 'elapsed', 'model'] },
  ],
}

describe('pandas-records answers', () => {
  it('writes every field nested, one record per row', () => {
    const text = encodeRecords(feeds, outputs, meta(EVERYTHING))
    expect(text).toBe(
      '[' +
        '{"time":1700000000123,"in":{"x":[1.5,-2]},"out":{"y":7},"check_failures":[],"anomaly":{"count":0},' +
        '"metadata":{"last_model":"{\\"model_name\\":\\"clf\\",\\"model_sha\\":\\"abc\\"}","pipeline_version":"4","elapsed":[150,2600],"model":"clf:2"}},' +
        '{"time":1700000000123,"in":{"x":[3,0.25]},"out":{"y":-8},"check_failures":[true,true],"anomaly":{"count":2},' +
        '"metadata":{"last_model":"{\\"model_name\\":\\"a+b\\"}","pipeline_version":"4","elapsed":[150,2600],"model":"a:1+b:3"}}' +
        ']',
    )
  })

  it('writes every field flattened with the separator', () => {
    const text = encodeRecords(feeds, outputs, meta({ ...EVERYTHING, separator: '/' }))
    expect(JSON.parse(text)).toEqual([
      {
        time: 1700000000123,
        'in/x': [1.5, -2],
        'out/y': 7,
        check_failures: [],
        'anomaly/count': 0,
        'metadata/last_model': '{"model_name":"clf","model_sha":"abc"}',
        'metadata/pipeline_version': '4',
        'metadata/elapsed': [150, 2600],
        'metadata/model': 'clf:2',
      },
      {
        time: 1700000000123,
        'in/x': [3, 0.25],
        'out/y': -8,
        check_failures: [true, true],
        'anomaly/count': 2,
        'metadata/last_model': '{"model_name":"a+b"}',
        'metadata/pipeline_version': '4',
        'metadata/elapsed': [150, 2600],
        'metadata/model': 'a:1+b:3',
      },
    ])
  })

  it("names last_model's model without its version, an ensemble's joined with +, with every sha known", () => {
    const dataset: Dataset = { fields: [{ field: 'metadata', keys: ['last_model'] }] }
    const rowModels = ['ns:m:3', 'plain', ':7', 'a:1+c:2', 'a:1+b:3', 'a:1+c:2']
    const rows = { x: tensor('float32', [6], [1, 2, 3, 4, 5, 6]) }
    const shas = { 'ns:m:3': 'f00d', 'a:1': 's1', 'c:2': 's3' }
    const text = encodeRecords(rows, {}, meta(dataset, { rowModels, modelShas: shas }))
    const lastModels = (JSON.parse(text) as Array<{ metadata: { last_model: string } }>).map((r) =>
      JSON.parse(r.metadata.last_model),
    )
    expect(lastModels).toEqual([
      { model_name: 'ns:m', model_sha: 'f00d' },
      { model_name: 'plain' },
      { model_name: ':7' },
      { model_name: 'a+c', model_sha: 's1+s3' },
      { model_name: 'a+b' },
      { model_name: 'a+c', model_sha: 's1+s3' },
    ])
  })

  it('writes NaN and ±Infinity as null, as pandas does', () => {
    const dataset: Dataset = { fields: [{ field: 'out', keys: ['z'] }] }
    const z = tensor('float32', [2, 2], [Number.NaN, 1.25, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY])
    expect(encodeRecords(feeds, { z }, meta(dataset))).toBe('[{"out":{"z":[null,1.25]}},{"out":{"z":[null,null]}}]')
  })

  it('writes null for a row that has no model reference', () => {
    const dataset: Dataset = { fields: [{ field: 'metadata', keys: ['model'] }] }
    const text = encodeRecords(feeds, outputs, meta(dataset, { rowModels: ['m:1'] }))
    expect(text).toBe('[{"metadata":{"model":"m:1"}},{"metadata":{"model":null}}]')
  })

  it('lists the columns with their kinds, in the order of the dataset', () => {
    const columns = answerColumns(feeds, outputs, meta(EVERYTHING))
    expect(columns.map((c) => [c.field, c.key, c.kind])).toEqual([
      ['time', undefined, 'int'],
      ['in', 'x', 'tensor'],
      ['out', 'y', 'tensor'],
      ['check_failures', undefined, 'flags'],
      ['anomaly', 'count', 'int'],
      ['metadata', 'last_model', 'string'],
      ['metadata', 'pipeline_version', 'string'],
      ['metadata', 'elapsed', 'ints'],
      ['metadata', 'model', 'string'],
    ])
    expect(columns[0]).toMatchObject({ values: [1700000000123, 1700000000123] })
    expect(columns[1]).toMatchObject({ tensor: feeds.x })
    expect(columns[2]).toMatchObject({ tensor: outputs.y })
    expect(columns[4]).toMatchObject({ values: Int32Array.from([0, 2]) })
    expect(columns[6]).toMatchObject({ values: ['4', '4'] })
    expect(columns[7]).toMatchObject({
      values: [
        [150, 2600],
        [150, 2600],
      ],
    })
    expect(columns[8]).toMatchObject({ values: ['clf:2', 'a:1+b:3'] })
  })

  it('lists no column for a keyed field whose keys are not given', () => {
    const dataset: Dataset = { fields: [{ field: 'in' }, { field: 'out' }, { field: 'metadata' }, { field: 'time' }] }
    const columns = answerColumns(feeds, outputs, meta(dataset))
    expect(columns).toEqual([{ field: 'time', kind: 'int', values: [1700000000123, 1700000000123] }])
  })

  it('answers no rows for no feeds', () => {
    const dataset: Dataset = { fields: [{ field: 'time' }] }
    expect(encodeRecords({}, {}, meta(dataset))).toBe('[]')
    const y = outputs.y as HostTensor
    expect(encodeRecords({ y }, {}, meta({ fields: [{ field: 'in', keys: ['y'] }] }))).toBe(
      '[{"in":{"y":7}},{"in":{"y":-8}}]',
    )
  })
})
