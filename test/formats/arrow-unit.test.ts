/**
 * src/formats/arrow.ts around its reader and writer: the checks decodeArrow makes itself (unknown
 * columns, a table without rows, which limit applies), and the answers encodeArrow writes, read
 * back with flechette's own reader: each column's Arrow type (scalars for [N] tensors, fixed-size
 * lists of the row-major values otherwise, int64 times, lists of flags), its values per row, and
 * the flat (with a separator) or nested (a struct per field) layout.
 */
import { fixedSizeList, float32, int16, tableFromArrays, tableFromIPC, tableToIPC } from '@uwdata/flechette'
import { describe, expect, it } from 'vitest'
import { type AnyTensor, type ColumnSpec, tensor } from '../../src/engine/tensor.js'
import type { Columns } from '../../src/engine/types.js'
import { InvalidInputError, InvalidRequestError } from '../../src/errors.js'
import { decodeArrow, encodeArrow } from '../../src/formats/arrow.js'
import type { Dataset } from '../../src/formats/dataset.js'
import type { RowMeta } from '../../src/formats/records.js'
import { claimingRows, type MessageAt, messagesOf } from '../fuzz/arrow-craft.js'
import { refusal } from '../helpers/refusal.js'

const ipc = (columns: Record<string, unknown>, types: Record<string, unknown>) =>
  tableToIPC(tableFromArrays(columns as never, { types: types as never }), { format: 'stream' }) as Uint8Array
const spec = (name: string, dtype: ColumnSpec['dtype'], shape: ColumnSpec['shape']): ColumnSpec => ({
  name,
  dtype,
  shape,
})

describe('decodeArrow', () => {
  it('refuses a column no input has, listing the inputs', () => {
    const bytes = ipc({ x: [1, 2], y: [3, 4] }, { x: float32(), y: float32() })
    const error = refusal(() => decodeArrow(bytes, [spec('x', 'float32', ['N']), spec('k', 'int16', ['N'])]))
    expect(error).toBeInstanceOf(InvalidInputError)
    expect(error.message).toBe("unknown column 'y'; the inputs are x, k")
  })

  it('refuses a table without rows', () => {
    const bytes = ipc({ x: [] }, { x: float32() })
    const error = refusal(() => decodeArrow(bytes, [spec('x', 'float32', ['N'])]))
    expect(error).toBeInstanceOf(InvalidRequestError)
    expect(error.message).toBe('the Arrow table has no rows')
  })

  it('refuses a table whose only batch has no rows', () => {
    const full = ipc({ k: [5, -6, 7] }, { k: int16() })
    const batch = messagesOf(full)[1] as MessageAt
    const empty = claimingRows(full, batch, 0)
    expect(messagesOf(empty).map((m) => m.type)).toEqual([1, 3])
    const error = refusal(() => decodeArrow(empty, [spec('k', 'int16', ['N'])]))
    expect(error).toBeInstanceOf(InvalidRequestError)
    expect(error.message).toBe('the Arrow table has no rows')
  })

  it('reads a table whose first batch is empty and whose second has rows', () => {
    // The schema, the batch claiming 0 rows (its length and node patched), the batch again.
    const full = ipc({ k: [5, -6, 7] }, { k: int16() })
    const [schema, batch] = messagesOf(full)
    expect([schema?.type, batch?.type]).toEqual([1, 3])
    const empty = claimingRows(full, batch as MessageAt, 0)
    const end = (batch?.bodyStart as number) + (batch?.bodyLength as number)
    const joined = new Uint8Array([
      ...empty.subarray(0, end),
      ...full.subarray(batch?.start as number, end),
      ...[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0],
    ])
    expect(messagesOf(joined).map((m) => m.type)).toEqual([1, 3, 3])
    const k = decodeArrow(joined, [spec('k', 'int16', ['N'])]).k
    expect(k?.dims).toEqual([3])
    expect(Array.from(k?.data as Int16Array)).toEqual([5, -6, 7])
  })

  it('names the configured limit when it is at most 8 × the body, else the multiple', () => {
    // 60 000 rows of zero values cost a row each: 240 000 bytes of float32, more than 8 × the body.
    const empty = ipc(
      { x: Array.from({ length: 60_000 }, () => new Float32Array(0)) },
      { x: fixedSizeList(float32(), 0) },
    )
    const specs = [spec('x', 'float32', ['N', 0])]
    const body = empty.length
    expect(8 * body).toBeLessThan(240_000)
    expect(refusal(() => decodeArrow(empty, specs, { maxTensorBytes: 8 * body })).message).toBe(
      `input 'x' (Arrow): 0 values of float32 need 240000 bytes, more than the ${8 * body} bytes left of the request's limit of ${8 * body} (LASTMILE_TENSOR_LIMIT_BYTES)`,
    )
    expect(refusal(() => decodeArrow(empty, specs, { maxTensorBytes: 8 * body + 1 })).message).toBe(
      `input 'x' (Arrow): 0 values of float32 need 240000 bytes, more than the ${8 * body} bytes left of the request's limit of ${8 * body} (8 × the body's ${body} bytes)`,
    )
  })
})

/** A flechette type as text: int64, fixed_size_list<float32, 2>, struct<a: utf8>... */
function typeName(t: {
  typeId: number
  bitWidth?: number
  signed?: boolean
  precision?: number
  stride?: number
  children?: Array<{ name: string; type: never }>
}): string {
  const child = (i: number) => typeName(t.children?.[i]?.type as never)
  switch (t.typeId) {
    case 2:
      return `${t.signed ? '' : 'u'}int${t.bitWidth}`
    case 3:
      return ['float16', 'float32', 'float64'][t.precision as number] as string
    case 5:
      return 'utf8'
    case 6:
      return 'bool'
    case 12:
      return `list<${child(0)}>`
    case 16:
      return `fixed_size_list<${child(0)}, ${t.stride}>`
    case 13:
      return `struct<${(t.children ?? []).map((c, i) => `${c.name}: ${child(i)}`).join(', ')}>`
  }
  return `type ${t.typeId}`
}

/** Typed arrays and arrays as plain arrays, recursively. */
function plain(v: unknown): unknown {
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<unknown>)
  if (Array.isArray(v)) return v.map(plain)
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]))
  return v
}

/** The answer read back by flechette: each column's type, and the rows. */
function readBack(bytes: Uint8Array) {
  const table = tableFromIPC(bytes)
  return {
    types: Object.fromEntries(table.schema.fields.map((f) => [f.name, typeName(f.type as never)])),
    rows: plain(table.toArray()) as Array<Record<string, unknown>>,
  }
}

const ALL_FIELDS: Dataset['fields'] = [
  { field: 'time' },
  { field: 'in', keys: ['x', 'b'] },
  { field: 'out', keys: ['y', 's'] },
  { field: 'check_failures' },
  { field: 'anomaly', keys: ['count'] },
  { field: 'metadata', keys: ['last_model', 'pipeline_version', 'elapsed', 'model'] },
]
const strings = (dims: number[], data: string[]): AnyTensor => ({ dtype: 'string', dims, data })

/** Three rows: x [3, 2] float32, b [3] bool in; y [3] int64, s [3, 2] strings out. */
function answer(dataset: Dataset, format: 'stream' | 'file' = 'stream') {
  const feeds: Columns = {
    x: tensor('float32', [3, 2], [1.5, -2, 3, 4, 0.25, 6]),
    b: tensor('bool', [3], [1, 0, 1]),
  }
  const outputs = {
    y: tensor('int64', [3], [7, -8, 9]),
    s: strings([3, 2], ['a', 'b', 'c', 'd', 'e', 'f']),
  }
  const meta: RowMeta & { format: 'stream' | 'file' } = {
    time: 1700000000123,
    rowModels: ['m:1', 'm:2', 'n:1+m:1'],
    checkFailures: [0, 2, 1],
    pipelineVersion: 3,
    elapsedNs: [10, 20],
    modelShas: { 'm:1': 'abc' },
    dataset,
    format,
  }
  return encodeArrow(feeds, outputs, meta)
}

describe('encodeArrow', () => {
  it('writes a struct column per nested field, as Wallaroo answers', () => {
    const { types, rows } = readBack(answer({ fields: ALL_FIELDS }))
    expect(types).toEqual({
      time: 'int64',
      in: 'struct<x: fixed_size_list<float32, 2>, b: bool>',
      out: 'struct<y: int64, s: list<utf8>>',
      check_failures: 'list<bool>',
      anomaly: 'struct<count: int64>',
      metadata: 'struct<last_model: utf8, pipeline_version: utf8, elapsed: list<int64>, model: utf8>',
    })
    expect(rows).toEqual([
      {
        time: 1700000000123,
        in: { x: [1.5, -2], b: true },
        out: { y: 7, s: ['a', 'b'] },
        check_failures: [],
        anomaly: { count: 0 },
        metadata: {
          last_model: '{"model_name":"m","model_sha":"abc"}',
          pipeline_version: '3',
          elapsed: [10, 20],
          model: 'm:1',
        },
      },
      {
        time: 1700000000123,
        in: { x: [3, 4], b: false },
        out: { y: -8, s: ['c', 'd'] },
        check_failures: [true, true],
        anomaly: { count: 2 },
        metadata: { last_model: '{"model_name":"m"}', pipeline_version: '3', elapsed: [10, 20], model: 'm:2' },
      },
      {
        time: 1700000000123,
        in: { x: [0.25, 6], b: true },
        out: { y: 9, s: ['e', 'f'] },
        check_failures: [true],
        anomaly: { count: 1 },
        metadata: {
          last_model: '{"model_name":"n+m"}',
          pipeline_version: '3',
          elapsed: [10, 20],
          model: 'n:1+m:1',
        },
      },
    ])
  })

  it('writes flat columns joined by the separator', () => {
    const dataset: Dataset = {
      fields: [
        { field: 'time' },
        { field: 'out', keys: ['s', 'y'] },
        { field: 'check_failures' },
        { field: 'metadata', keys: ['elapsed'] },
      ],
      separator: '/',
    }
    const { types, rows } = readBack(answer(dataset))
    expect(types).toEqual({
      time: 'int64',
      'out/s': 'list<utf8>',
      'out/y': 'int64',
      check_failures: 'list<bool>',
      'metadata/elapsed': 'list<int64>',
    })
    expect(rows).toEqual([
      { time: 1700000000123, 'out/s': ['a', 'b'], 'out/y': 7, check_failures: [], 'metadata/elapsed': [10, 20] },
      {
        time: 1700000000123,
        'out/s': ['c', 'd'],
        'out/y': -8,
        check_failures: [true, true],
        'metadata/elapsed': [10, 20],
      },
      { time: 1700000000123, 'out/s': ['e', 'f'], 'out/y': 9, check_failures: [true], 'metadata/elapsed': [10, 20] },
    ])
  })

  it('writes the file format when asked', () => {
    const bytes = answer({ fields: [{ field: 'in', keys: ['b'] }], separator: '.' }, 'file')
    expect(new TextDecoder().decode(bytes.subarray(0, 6))).toBe('ARROW1')
    expect(new TextDecoder().decode(bytes.subarray(bytes.length - 6))).toBe('ARROW1')
    expect(readBack(bytes).rows).toEqual([{ 'in.b': true }, { 'in.b': false }, { 'in.b': true }])
    const stream = answer({ fields: [{ field: 'in', keys: ['b'] }], separator: '.' })
    expect(new TextDecoder().decode(stream.subarray(0, 6))).not.toBe('ARROW1')
  })
})

describe('encodeArrow column types', () => {
  /** The flat `in.<name>` columns of these two-row feeds. */
  const inputs = (feeds: Columns) =>
    readBack(
      encodeArrow(
        feeds,
        {},
        {
          time: 5,
          rowModels: ['m:1', 'm:1'],
          checkFailures: [0, 0],
          pipelineVersion: 1,
          elapsedNs: [0, 0],
          modelShas: {},
          dataset: { fields: [{ field: 'in', keys: Object.keys(feeds) }], separator: '.' },
          format: 'stream',
        },
      ),
    )

  it('writes each dtype of a rank-1 tensor as its Arrow type (float16 as float32 values)', () => {
    const { types, rows } = inputs({
      f32: tensor('float32', [2], [1.5, -2.5]),
      f64: tensor('float64', [2], [0.1, -1e300]),
      // 1.5 and -2 as IEEE half bits.
      f16: { dtype: 'float16', dims: [2], data: Uint16Array.of(0x3e00, 0xc000) },
      i8: tensor('int8', [2], [-128, 127]),
      u8: tensor('uint8', [2], [0, 255]),
      i16: tensor('int16', [2], [-300, 301]),
      u16: tensor('uint16', [2], [65535, 2]),
      i32: tensor('int32', [2], [-70000, 70001]),
      u32: tensor('uint32', [2], [4294967295, 3]),
      i64: tensor('int64', [2], [-5, 2 ** 40]),
      u64: tensor('uint64', [2], [6, 2 ** 41]),
      b: tensor('bool', [2], [0, 1]),
      s: strings([2], ['p', 'qé']),
    })
    expect(types).toEqual({
      'in.f32': 'float32',
      'in.f64': 'float64',
      'in.f16': 'float32',
      'in.i8': 'int8',
      'in.u8': 'uint8',
      'in.i16': 'int16',
      'in.u16': 'uint16',
      'in.i32': 'int32',
      'in.u32': 'uint32',
      'in.i64': 'int64',
      'in.u64': 'uint64',
      'in.b': 'bool',
      'in.s': 'utf8',
    })
    expect(rows).toEqual([
      {
        'in.f32': 1.5,
        'in.f64': 0.1,
        'in.f16': 1.5,
        'in.i8': -128,
        'in.u8': 0,
        'in.i16': -300,
        'in.u16': 65535,
        'in.i32': -70000,
        'in.u32': 4294967295,
        'in.i64': -5,
        'in.u64': 6,
        'in.b': false,
        'in.s': 'p',
      },
      {
        'in.f32': -2.5,
        'in.f64': -1e300,
        'in.f16': -2,
        'in.i8': 127,
        'in.u8': 255,
        'in.i16': 301,
        'in.u16': 2,
        'in.i32': 70001,
        'in.u32': 3,
        'in.i64': 2 ** 40,
        'in.u64': 2 ** 41,
        'in.b': true,
        'in.s': 'qé',
      },
    ])
  })

  it('writes the rows of rank ≥ 2 tensors as fixed-size lists of their row-major values', () => {
    const { types, rows } = inputs({
      m: tensor('int16', [2, 2, 3], [1, 2, 3, 4, 5, 6, -7, -8, -9, -10, -11, -12]),
      one: tensor('float64', [2, 1], [0.5, -0.5]),
      b: tensor('bool', [2, 2], [1, 0, 0, 1]),
      // 1, -0.5, 4 and 0 as IEEE half bits.
      h: { dtype: 'float16', dims: [2, 2], data: Uint16Array.of(0x3c00, 0xb800, 0x4400, 0) },
      s: strings([2, 3], ['a', 'b', 'c', 'd', 'e', 'f']),
    })
    expect(types).toEqual({
      'in.m': 'fixed_size_list<int16, 6>',
      'in.one': 'fixed_size_list<float64, 1>',
      'in.b': 'fixed_size_list<bool, 2>',
      'in.h': 'fixed_size_list<float32, 2>',
      'in.s': 'list<utf8>',
    })
    expect(rows).toEqual([
      {
        'in.m': [1, 2, 3, 4, 5, 6],
        'in.one': [0.5],
        'in.b': [true, false],
        'in.h': [1, -0.5],
        'in.s': ['a', 'b', 'c'],
      },
      {
        'in.m': [-7, -8, -9, -10, -11, -12],
        'in.one': [-0.5],
        'in.b': [false, true],
        'in.h': [4, 0],
        'in.s': ['d', 'e', 'f'],
      },
    ])
  })

  it('writes a flag per check failure, none for a row past the counts', () => {
    const bytes = encodeArrow(
      { x: tensor('float32', [3], [1, 2, 3]) },
      {},
      {
        time: 5,
        rowModels: ['m:1', 'm:1', 'm:1'],
        checkFailures: [3],
        pipelineVersion: 1,
        elapsedNs: [0, 0],
        modelShas: {},
        dataset: { fields: [{ field: 'check_failures' }] },
        format: 'stream',
      },
    )
    expect(readBack(bytes).rows).toEqual([
      { check_failures: [true, true, true] },
      { check_failures: [] },
      { check_failures: [] },
    ])
  })
})
