/**
 * Log frames: random requests of every column kind (float, FP16, int64 and uint64 past 2^53, bool,
 * strings, scalar and row tensors, columns only some requests have) go through Arrow frames and come back as the rows a
 * plain per-row reading of the same requests gives; frames merge into one table; a torn tail is
 * cut at the last whole frame.
 */
import { describe, expect, it } from 'vitest'
import { type AnyTensor, tensor } from '../../src/engine/tensor.js'
import { decodeFrames, encodeFrames, mergeTables } from '../../src/logs/frames.js'
import type { InferenceRecord } from '../../src/logs/record.js'
import { tableRows } from '../../src/logs/segment.js'
import { mulberry32 } from '../../src/random.js'
import { freshSeed } from '../helpers/compare.js'

type Row = Record<string, unknown>

/** FP16 bit patterns and the values they stand for (1, -2, 65504, the half nearest 0.1, 2^-24, -0, ∞). */
const HALVES: Array<[number, number]> = [
  [0x3c00, 1],
  [0xc000, -2],
  [0x7bff, 65504],
  [0x2e66, 0.0999755859375],
  [0x0001, 2 ** -24],
  [0x8000, -0],
  [0x7c00, Number.POSITIVE_INFINITY],
]

/** 64-bit integers a float64 column would round: the extremes and 2^53 + 1. */
const I64 = [9223372036854775807n, -9223372036854775808n, 9007199254740993n, -9007199254740993n]
const U64 = [18446744073709551615n, 9007199254740993n, 0n]
const pick = <T>(rand: () => number, xs: readonly T[]) => xs[Math.floor(rand() * xs.length)] as T

function randomRecord(rand: () => number, time: number): InferenceRecord {
  const rows = 1 + Math.floor(rand() * 5)
  const x = Array.from({ length: rows * 3 }, () => Math.round((rand() - 0.5) * 1e4) / 100)
  const outputs: Record<string, AnyTensor> = {
    y: tensor(
      'float32',
      [rows],
      Float32Array.from({ length: rows }, () => rand()),
    ),
    n: tensor(
      'int64',
      [rows, 2],
      Array.from({ length: rows * 2 }, () => (rand() < 0.2 ? pick(rand, I64) : BigInt(Math.floor(rand() * 1e6) - 5e5))),
    ),
    u: tensor(
      'uint64',
      [rows],
      Array.from({ length: rows }, () => (rand() < 0.3 ? pick(rand, U64) : BigInt(Math.floor(rand() * 1e6)))),
    ),
    h: {
      dtype: 'float16',
      dims: [rows, 2],
      data: Uint16Array.from({ length: rows * 2 }, () => pick(rand, HALVES)[0]),
    },
    ok: tensor(
      'bool',
      [rows],
      Array.from({ length: rows }, () => rand() < 0.5),
    ),
  }
  // Strings (some non-ASCII), in some requests only: nulls in a utf8 column.
  if (rand() < 0.7)
    outputs.label = { dtype: 'string', dims: [rows], data: Array.from({ length: rows }, (_, i) => `c${i}é`) }
  const shadow: Record<string, AnyTensor> =
    rand() < 0.5
      ? {
          'out_b:1.y': tensor(
            'float64',
            [rows, 1],
            Float64Array.from({ length: rows }, () => rand()),
          ),
        }
      : {}
  return {
    time,
    workspace: 'w',
    pipeline: 'p',
    pipelineVersion: 3,
    model: 'a:1',
    rows,
    inputs: { x: tensor('float32', [rows, 3], x) },
    outputs,
    rowModels: Array.from({ length: rows }, () => (rand() < 0.5 ? 'a:1' : 'b:1')),
    checkFailures: Int32Array.from({ length: rows }, () => Math.floor(rand() * 3)),
    shadow,
    latencyMs: 1.25,
  }
}

/** The rows of a request, read element by element (the reference). */
function expectedRows(r: InferenceRecord): Row[] {
  const cols: Array<[string, AnyTensor]> = [
    ...Object.entries(r.inputs).map(([n, t]): [string, AnyTensor] => [`in.${n}`, t]),
    ...Object.entries(r.outputs).map(([n, t]): [string, AnyTensor] => [`out.${n}`, t]),
    ...Object.entries(r.shadow),
  ]
  return Array.from({ length: r.rows }, (_, i) => {
    const row: Row = {
      time: r.time,
      pipeline_version: r.pipelineVersion,
      model: r.rowModels[i],
      check_failures: r.checkFailures[i],
      latency_ms: r.latencyMs,
    }
    for (const [name, t] of cols) {
      const w = t.dims.slice(1).reduce((a, b) => a * b, 1)
      const at = (k: number) => {
        const v = (t.data as ArrayLike<unknown>)[k]
        // A safe integer (|v| < 2^53) as a number, anything wider as the bigint itself.
        if (typeof v === 'bigint') return v > -(2n ** 53n) && v < 2n ** 53n ? Number(v) : v
        if (t.dtype === 'float16') return HALVES.find(([bits]) => bits === v)?.[1]
        if (t.dtype === 'bool') return t.dims.length <= 1 ? v !== 0 : Number(v)
        return v
      }
      row[name] = t.dims.length <= 1 ? at(i) : Array.from({ length: w }, (_, k) => at(i * w + k))
    }
    return row
  })
}

describe('inference log frames', () => {
  const seed = freshSeed()
  it(`round-trip random requests of every column kind through frames and one merged table (seed ${seed})`, () => {
    const rand = mulberry32(seed)
    const records = Array.from({ length: 300 }, (_, i) => randomRecord(rand, 1_700_000_000_000 + i))
    const frames = encodeFrames(records)
    expect(frames).toHaveLength(1)
    const expected = records.flatMap(expectedRows)
    const { tables, end } = decodeFrames((frames[0] as { bytes: Uint8Array }).bytes)
    expect(end).toBe((frames[0] as { bytes: Uint8Array }).bytes.length)
    expect(tables.flatMap(tableRows)).toEqual(expected)
    // In several frames, some without the shadow column, merged into one table.
    const parts = [records.slice(0, 7), records.slice(7, 8), records.slice(8)].map(
      (rs) => encodeFrames(rs)[0] as { bytes: Uint8Array },
    )
    const joined = new Uint8Array(parts.reduce((a, p) => a + p.bytes.length, 0))
    let at = 0
    for (const p of parts) {
      joined.set(p.bytes, at)
      at += p.bytes.length
    }
    const decoded = decodeFrames(joined)
    expect(decoded.tables).toHaveLength(3)
    expect(tableRows(mergeTables(decoded.tables))).toEqual(expected)
    // A torn tail: every cut inside the last frame keeps exactly the whole frames before it.
    const lastStart = joined.length - (parts[2] as { bytes: Uint8Array }).bytes.length
    for (const cut of [lastStart + 1, lastStart + 8, joined.length - 1]) {
      const torn = decodeFrames(joined.subarray(0, cut))
      expect(torn.end).toBe(lastStart)
      expect(torn.tables).toHaveLength(2)
    }
  })

  it('splits requests into frames where a column changes kind, and keeps NaN and ±inf', () => {
    const r = (time: number, y: AnyTensor): InferenceRecord => ({
      ...randomRecord(mulberry32(1), time),
      rows: 1,
      inputs: {},
      outputs: { y },
      shadow: {},
      rowModels: ['a:1'],
      checkFailures: Int32Array.from([0]),
    })
    const frames = encodeFrames([
      r(1, tensor('float32', [1], [Number.NaN])),
      r(2, tensor('float32', [1, 2], [Number.POSITIVE_INFINITY, -1])),
      r(3, tensor('float32', [1, 2], [2, Number.NEGATIVE_INFINITY])),
    ])
    expect(frames).toHaveLength(2)
    const rows = frames.flatMap((f) => decodeFrames(f.bytes).tables.flatMap(tableRows))
    expect(rows.map((x) => x['out.y'])).toEqual([
      Number.NaN,
      [Number.POSITIVE_INFINITY, -1],
      [2, Number.NEGATIVE_INFINITY],
    ])
  })
})
