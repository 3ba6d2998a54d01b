/**
 * Wallaroo's `dataset` query (`dataset[]`, `dataset.exclude[]`, `dataset.separator`,
 * `dataset.flatten`): which answer fields and keys are selected, in the engine's order, and the
 * refusals that name what was wrong. Expected layouts are written out by hand.
 */
import { describe, expect, it } from 'vitest'
import { InvalidRequestError } from '../../src/errors.js'
import { columnName, type DatasetQuery, selectDataset } from '../../src/formats/dataset.js'
import { refusal } from '../helpers/refusal.js'

/** A pipeline with a dotted input name and outputs listed out of alphabetical order. */
const names = { inputs: ['x', 'y.z'], outputs: ['q', 'p', 'r'] }

function query(q: Partial<DatasetQuery>): DatasetQuery {
  return { include: [], exclude: [], ...q }
}

function refusedWith(q: Partial<DatasetQuery>, message: string): void {
  const e = refusal(() => selectDataset(query(q), names))
  expect(e).toBeInstanceOf(InvalidRequestError)
  expect(e.message).toBe(message)
}

const EVERY_META = ['last_model', 'pipeline_version', 'elapsed', 'model']

describe('selectDataset: what is selected', () => {
  it('selects time, in, out, check_failures and metadata (not anomaly) with no dataset[]', () => {
    expect(selectDataset(query({}), names)).toStrictEqual({
      fields: [
        { field: 'time' },
        { field: 'in', keys: ['x', 'y.z'] },
        { field: 'out', keys: ['q', 'p', 'r'] },
        { field: 'check_failures' },
        { field: 'metadata', keys: EVERY_META },
      ],
    })
  })

  it("answers the SDK's own query (* less metadata, separator '.') flat", () => {
    expect(selectDataset(query({ include: ['*'], exclude: ['metadata'], separator: '.' }), names)).toStrictEqual({
      fields: [
        { field: 'time' },
        { field: 'in', keys: ['x', 'y.z'] },
        { field: 'out', keys: ['q', 'p', 'r'] },
        { field: 'check_failures' },
      ],
      separator: '.',
    })
  })

  it('selects anomaly only when asked, with its one key', () => {
    expect(selectDataset(query({ include: ['anomaly'] }), names)).toStrictEqual({
      fields: [{ field: 'anomaly', keys: ['count'] }],
    })
    expect(selectDataset(query({ include: ['anomaly.count', 'time'] }), names)).toStrictEqual({
      fields: [{ field: 'time' }, { field: 'anomaly', keys: ['count'] }],
    })
  })

  it('selects * plus anomaly in the engine order whatever the order asked', () => {
    expect(selectDataset(query({ include: ['anomaly', '*'] }), names).fields.map((f) => f.field)).toEqual([
      'time',
      'in',
      'out',
      'check_failures',
      'anomaly',
      'metadata',
    ])
  })

  it('selects each leaf field alone', () => {
    expect(selectDataset(query({ include: ['time'] }), names)).toStrictEqual({ fields: [{ field: 'time' }] })
    expect(selectDataset(query({ include: ['check_failures'] }), names)).toStrictEqual({
      fields: [{ field: 'check_failures' }],
    })
  })

  it('selects keys in the pipeline order, a dotted input name included', () => {
    expect(selectDataset(query({ include: ['out.p', 'in.y.z', 'out.q'] }), names)).toStrictEqual({
      fields: [
        { field: 'in', keys: ['y.z'] },
        { field: 'out', keys: ['q', 'p'] },
      ],
    })
    expect(selectDataset(query({ include: ['metadata.elapsed', 'metadata.last_model'] }), names)).toStrictEqual({
      fields: [{ field: 'metadata', keys: ['last_model', 'elapsed'] }],
    })
  })

  it('a whole field wins over one of its keys, before or after it', () => {
    const all = { fields: [{ field: 'out', keys: ['q', 'p', 'r'] }] }
    expect(selectDataset(query({ include: ['out.p', 'out'] }), names)).toStrictEqual(all)
    expect(selectDataset(query({ include: ['out', 'out.p'] }), names)).toStrictEqual(all)
    expect(selectDataset(query({ include: ['out', 'out.r', 'out.q'] }), names)).toStrictEqual(all)
  })

  it('excludes keys from a selected field', () => {
    expect(selectDataset(query({ exclude: ['out.p', 'metadata.elapsed', 'in.x', 'out.q'] }), names)).toStrictEqual({
      fields: [
        { field: 'time' },
        { field: 'in', keys: ['y.z'] },
        { field: 'out', keys: ['r'] },
        { field: 'check_failures' },
        { field: 'metadata', keys: ['last_model', 'pipeline_version', 'model'] },
      ],
    })
  })

  it('excludes a whole field, before or after one of its keys', () => {
    const rest = [{ field: 'time' }, { field: 'out', keys: ['p'] }]
    expect(
      selectDataset(query({ include: ['time', 'in', 'out.p'], exclude: ['in', 'in.x'] }), names).fields,
    ).toStrictEqual(rest)
    expect(
      selectDataset(query({ include: ['time', 'in', 'out.p'], exclude: ['in.x', 'in'] }), names).fields,
    ).toStrictEqual(rest)
    expect(selectDataset(query({ exclude: ['time', 'check_failures', 'in', 'metadata'] }), names)).toStrictEqual({
      fields: [{ field: 'out', keys: ['q', 'p', 'r'] }],
    })
  })

  it('drops a field all of whose selected keys are excluded', () => {
    expect(selectDataset(query({ include: ['time', 'out.p', 'in'], exclude: ['out.p'] }), names)).toStrictEqual({
      fields: [{ field: 'time' }, { field: 'in', keys: ['x', 'y.z'] }],
    })
  })

  it('ignores an exclusion of a field that is not selected', () => {
    expect(selectDataset(query({ include: ['in.x'], exclude: ['out', 'anomaly.count'] }), names)).toStrictEqual({
      fields: [{ field: 'in', keys: ['x'] }],
    })
  })

  it('refuses a query that selects nothing, quoting both lists', () => {
    refusedWith(
      { include: ['out.p', 'time'], exclude: ['out', 'time'] },
      'the dataset query selects nothing: dataset[] ["out.p","time"] less dataset.exclude[] ["out","time"]',
    )
    refusedWith(
      { exclude: ['time', 'in', 'out', 'check_failures', 'metadata'] },
      'the dataset query selects nothing: dataset[] [] less dataset.exclude[] ["time","in","out","check_failures","metadata"]',
    )
  })

  it('refuses a key of a pipeline with no inputs as absent', () => {
    const e = refusal(() => selectDataset(query({ include: ['in'] }), { inputs: [], outputs: ['p'] }))
    expect(e).toBeInstanceOf(InvalidRequestError)
    expect(e.message).toBe('the dataset query selects nothing: dataset[] ["in"] less dataset.exclude[] []')
  })
})

describe('selectDataset: refused paths', () => {
  const FIELDS = 'expected *, time, in, out, check_failures, anomaly, metadata, or one of their keys'

  it('refuses an unknown field, naming the parameter and the fields', () => {
    refusedWith(
      { include: ['time', 'input'] },
      `dataset[] 'input' is not a field of the answer; ${FIELDS} (e.g. out.<output>, metadata.elapsed)`,
    )
    refusedWith(
      { exclude: ['outs.p'] },
      `dataset.exclude[] 'outs.p' is not a field of the answer; ${FIELDS} (e.g. out.<output>, metadata.elapsed)`,
    )
    refusedWith(
      { include: ['.x'] },
      `dataset[] '.x' is not a field of the answer; ${FIELDS} (e.g. out.<output>, metadata.elapsed)`,
    )
    refusedWith(
      { include: [''] },
      `dataset[] '' is not a field of the answer; ${FIELDS} (e.g. out.<output>, metadata.elapsed)`,
    )
    // The field is the text before the first dot, so a prefix of a field name is not one.
    refusedWith(
      { include: ['o.ut'] },
      `dataset[] 'o.ut' is not a field of the answer; ${FIELDS} (e.g. out.<output>, metadata.elapsed)`,
    )
  })

  it('quotes at most 80 characters of an entry', () => {
    const long = `zz${'a'.repeat(100)}`
    refusedWith(
      { include: [long] },
      `dataset[] 'zz${'a'.repeat(78)}' is not a field of the answer; ${FIELDS} (e.g. out.<output>, metadata.elapsed)`,
    )
  })

  it('refuses a key of time or check_failures', () => {
    refusedWith({ include: ['time.ms'] }, "dataset[] 'time.ms': time has no keys")
    refusedWith(
      { exclude: ['check_failures.len'] },
      "dataset.exclude[] 'check_failures.len': check_failures has no keys",
    )
    const long = `time.${'b'.repeat(90)}`
    refusedWith({ include: [long] }, `dataset[] 'time.${'b'.repeat(75)}': time has no keys`)
  })

  it('refuses an unknown key, listing the keys of the field', () => {
    refusedWith({ include: ['out.s'] }, "dataset[] 'out.s': out has no key 's'; its keys are q, p, r")
    refusedWith({ exclude: ['in.y'] }, "dataset.exclude[] 'in.y': in has no key 'y'; its keys are x, y.z")
    refusedWith({ include: ['in.'] }, "dataset[] 'in.': in has no key ''; its keys are x, y.z")
    refusedWith(
      { include: ['anomaly.counts'] },
      "dataset[] 'anomaly.counts': anomaly has no key 'counts'; its keys are count",
    )
    refusedWith(
      { include: ['metadata.time'] },
      "dataset[] 'metadata.time': metadata has no key 'time'; its keys are last_model, pipeline_version, elapsed, model",
    )
  })

  it('quotes at most 80 characters of the entry and 60 of the key', () => {
    const key = `k${'c'.repeat(99)}`
    refusedWith(
      { include: [`out.${key}`] },
      `dataset[] 'out.k${'c'.repeat(75)}': out has no key 'k${'c'.repeat(59)}'; its keys are q, p, r`,
    )
  })
})

describe('selectDataset: separator and flatten', () => {
  const only = (q: Partial<DatasetQuery>) => selectDataset(query({ include: ['time'], ...q }), names)

  it('nests with no separator and no flatten', () => {
    expect(only({})).toStrictEqual({ fields: [{ field: 'time' }] })
    expect('separator' in only({})).toBe(false)
  })

  it('takes a separator of 1 to 16 characters', () => {
    expect(only({ separator: '/' }).separator).toBe('/')
    expect(only({ separator: '0123456789abcdef' }).separator).toBe('0123456789abcdef')
  })

  it('refuses an empty separator or one of 17 characters', () => {
    refusedWith({ include: ['time'], separator: '' }, 'dataset.separator must be 1 to 16 characters (e.g. "."), not 0')
    refusedWith(
      { include: ['time'], separator: '0123456789abcdefg' },
      'dataset.separator must be 1 to 16 characters (e.g. "."), not 17',
    )
  })

  it('flattens with "." for flatten=true, nests for flatten=false', () => {
    expect(only({ flatten: 'true' })).toStrictEqual({ fields: [{ field: 'time' }], separator: '.' })
    expect(only({ flatten: 'false' })).toStrictEqual({ fields: [{ field: 'time' }] })
  })

  it('lets a separator win over flatten, whatever flatten says', () => {
    expect(only({ separator: '__', flatten: 'false' }).separator).toBe('__')
    expect(only({ separator: '-', flatten: 'maybe' }).separator).toBe('-')
  })

  it('refuses any other flatten value, quoting 20 characters of it', () => {
    refusedWith({ include: ['time'], flatten: 'TRUE' }, "dataset.flatten is 'TRUE'; expected true or false")
    refusedWith({ include: ['time'], flatten: '' }, "dataset.flatten is ''; expected true or false")
    refusedWith(
      { include: ['time'], flatten: 'yes-please-flatten-it-all' },
      "dataset.flatten is 'yes-please-flatten-i'; expected true or false",
    )
  })

  it('checks the paths before the separator', () => {
    refusedWith(
      { include: ['nope'], separator: '' },
      `dataset[] 'nope' is not a field of the answer; expected *, time, in, out, check_failures, anomaly, metadata, or one of their keys (e.g. out.<output>, metadata.elapsed)`,
    )
  })
})

describe('columnName', () => {
  it('names a field alone, or field, separator and key', () => {
    expect(columnName({ fields: [], separator: '/' }, 'time')).toBe('time')
    expect(columnName({ fields: [], separator: '/' }, 'in', 'y.z')).toBe('in/y.z')
    expect(columnName({ fields: [], separator: '__' }, 'out', 'p')).toBe('out__p')
  })

  it('joins with "." when the answer nests', () => {
    expect(columnName({ fields: [] }, 'metadata', 'elapsed')).toBe('metadata.elapsed')
    expect(columnName({ fields: [] }, 'check_failures')).toBe('check_failures')
  })
})
