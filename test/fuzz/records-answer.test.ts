/**
 * Fuzzing the pandas-records answer writer: tensors of every dtype with random bit patterns (the
 * 64-bit extremes, NaN payloads, subnormals, ±0) and random row shapes, in nested and flat
 * layouts, are written as strict JSON (JSON.parse reads it) whose every cell reads back, with the
 * exact parser, as the row's values: 64-bit integers exact, float16 as its value, NaN and
 * ±Infinity as null, nested as the row's dims.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DTYPES, type DType, type HostTensor, zeros } from '../../src/engine/tensor.js'
import { parseExactJson } from '../../src/exact-json.js'
import type { Dataset } from '../../src/formats/dataset.js'
import { encodeRecords, type RowMeta } from '../../src/formats/records.js'
import { halfToNumber } from '../../src/half.js'
import { fuzzParams } from './budget.js'

/** A tensor [rows, ...dims] of `dtype` holding random bits. */
const tensor = fc
  .record({
    dtype: fc.constantFrom(...DTYPES),
    rows: fc.integer({ min: 1, max: 4 }),
    dims: fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 }),
  })
  .chain(({ dtype, rows, dims }) => {
    const t = zeros(dtype, [rows, ...dims]) as HostTensor
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)
    return fc.uint8Array({ minLength: bytes.length, maxLength: bytes.length }).map((random) => {
      bytes.set(random)
      if (dtype === 'bool') for (let i = 0; i < bytes.length; i++) bytes[i] = (bytes[i] as number) & 1
      return t
    })
  })

/** The value an element must read back as: integers as bigints (compared so), NaN and ±Infinity as null. */
function expected(dtype: DType, v: number | bigint): unknown {
  if (dtype === 'bool') return v !== 0
  if (/int/.test(dtype)) return BigInt(v)
  const x = dtype === 'float16' ? halfToNumber(v as number) : (v as number)
  return Number.isFinite(x) ? x : null
}

/** Row `r` of `t`'s expected values, nested as its row dims (one value for a rank-1 tensor). */
function expectedRow(t: HostTensor, r: number): unknown {
  const dims = t.dims.slice(1)
  const width = dims.reduce((a, b) => a * b, 1)
  const flat = Array.from(t.data as ArrayLike<number | bigint>)
    .slice(r * width, (r + 1) * width)
    .map((v) => expected(t.dtype, v))
  if (dims.length === 0) return flat[0]
  const nest = (values: unknown[], level: number): unknown[] => {
    if (level === dims.length - 1) return values
    const n = dims[level] as number
    const inner = values.length / Math.max(1, n)
    return Array.from({ length: n }, (_, i) => nest(values.slice(i * inner, (i + 1) * inner), level + 1))
  }
  return nest(flat, 0)
}

/** Integers read back as numbers (small) or bigints (past 2^53): compared as bigints. */
const asBig = (v: unknown, ints: boolean): unknown =>
  Array.isArray(v) ? v.map((x) => asBig(x, ints)) : ints && typeof v === 'number' ? BigInt(v) : v

describe('fuzz: pandas-records answers', () => {
  it('write every dtype and row shape as strict JSON that reads back value for value', () => {
    fc.assert(
      fc.property(tensor, tensor, fc.boolean(), (x, y0, flat) => {
        // The output has the input's rows (a batch answers every row).
        const y = zeros(y0.dtype, [x.dims[0] as number, ...y0.dims.slice(1)]) as HostTensor
        new Uint8Array(y.data.buffer).set(
          new Uint8Array(y0.data.buffer).subarray(0, Math.min(y0.data.byteLength, y.data.byteLength)),
        )
        const rows = x.dims[0] as number
        const dataset: Dataset = {
          fields: [
            { field: 'time' },
            { field: 'in', keys: ['x'] },
            { field: 'out', keys: ['y'] },
            { field: 'check_failures' },
            { field: 'metadata', keys: ['model', 'elapsed'] },
          ],
          ...(flat ? { separator: '.' } : {}),
        }
        const meta: RowMeta = {
          time: 1_700_000_000_123,
          rowModels: new Array(rows).fill('m:1'),
          checkFailures: Int32Array.from({ length: rows }, (_, r) => r % 2),
          pipelineVersion: 3,
          elapsedNs: [10, 20],
          modelShas: {},
          dataset,
        }
        const text = encodeRecords({ x }, { y }, meta)
        expect(JSON.parse(text)).toHaveLength(rows) // strict JSON
        const records = parseExactJson(text) as Array<Record<string, unknown>>
        const ints = (t: HostTensor) => /int/.test(t.dtype)
        records.forEach((rec, r) => {
          const cell = (field: 'in' | 'out', key: string) =>
            flat ? rec[`${field}.${key}`] : (rec[field] as Record<string, unknown>)[key]
          expect(asBig(cell('in', 'x'), ints(x))).toEqual(expectedRow(x, r))
          expect(asBig(cell('out', 'y'), ints(y))).toEqual(expectedRow(y, r))
          expect(rec.time).toBe(1_700_000_000_123)
          expect(rec.check_failures).toEqual(r % 2 ? [true] : [])
          const model = flat ? rec['metadata.model'] : (rec.metadata as Record<string, unknown>).model
          expect(model).toBe('m:1')
        })
      }),
      fuzzParams(400),
    )
  })
})
