/**
 * Fuzzing the inference log's frames (src/logs/frames.ts): requests with tensors of every dtype
 * holding random bits (64-bit extremes, NaN payloads, subnormal halves) go through frames and read
 * back value for value, FP16 as its value and 64-bit integers exactly; and the frame decoder, which
 * recovery runs over whatever a crash or a bad disk left in an open segment, never throws on
 * mutated or cut bytes and keeps exactly the whole frames before a cut.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type AnyTensor, DTYPES, type HostTensor, zeros } from '../../src/engine/tensor.js'
import { halfToNumber } from '../../src/half.js'
import { decodeFrames, encodeFrames } from '../../src/logs/frames.js'
import type { InferenceRecord } from '../../src/logs/record.js'
import { tableRows } from '../../src/logs/segment.js'
import { fuzzParams } from './budget.js'
import { mutated } from './mutate.js'

/** A tensor [rows] or [rows, width] of `dtype` holding random bits (strings: random text). */
const tensorOf = (rows: number) =>
  fc
    .record({
      dtype: fc.constantFrom(...DTYPES, 'string' as const),
      width: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
    })
    .chain(({ dtype, width }) => {
      const dims = width === undefined ? [rows] : [rows, width]
      if (dtype === 'string')
        return fc
          .array(fc.string({ maxLength: 6 }), { minLength: rows * (width ?? 1), maxLength: rows * (width ?? 1) })
          .map((data): AnyTensor => ({ dtype, dims, data }))
      const t = zeros(dtype, dims) as HostTensor
      const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)
      return fc.uint8Array({ minLength: bytes.length, maxLength: bytes.length }).map((random) => {
        bytes.set(random)
        if (dtype === 'bool') for (let i = 0; i < bytes.length; i++) bytes[i] = (bytes[i] as number) & 1
        return t
      })
    })

/** The value an element reads back as: 64-bit integers as numbers when safe, else bigints; FP16 as its value. */
function expected(dtype: AnyTensor['dtype'], v: unknown, list: boolean): unknown {
  if (typeof v === 'bigint') return v > -(2n ** 53n) && v < 2n ** 53n ? Number(v) : v
  if (dtype === 'float16') return halfToNumber(v as number)
  if (dtype === 'bool') return list ? v : v !== 0
  return v
}

/** Row `r` of `t` as a log row holds it: a scalar for [N], a flat list for [N, w]. */
function expectedCell(t: AnyTensor, r: number): unknown {
  const width = t.dims[1]
  const data = t.data as ArrayLike<unknown>
  if (width === undefined) return expected(t.dtype, data[r], false)
  return Array.from({ length: width }, (_, k) => expected(t.dtype, data[r * width + k], true))
}

const record = fc.integer({ min: 1, max: 4 }).chain((rows) =>
  fc.record({ x: tensorOf(rows), y: tensorOf(rows) }).map(
    ({ x, y }): InferenceRecord => ({
      time: 1_700_000_000_000 + rows,
      workspace: 'w',
      pipeline: 'p',
      pipelineVersion: 1,
      model: 'm:1',
      rows,
      inputs: { x },
      outputs: { y },
      rowModels: new Array(rows).fill('m:1'),
      checkFailures: new Int32Array(rows),
      shadow: {},
      latencyMs: 1,
    }),
  ),
)

describe('fuzz: inference log frames', () => {
  it('read back every dtype value for value', () => {
    fc.assert(
      fc.property(fc.array(record, { minLength: 1, maxLength: 4 }), (records) => {
        const bytes = encodeFrames(records).map((f) => f.bytes)
        const rows = bytes.flatMap((b) => decodeFrames(b).tables.flatMap(tableRows))
        const want = records.flatMap((rec) =>
          Array.from({ length: rec.rows }, (_, r) => ({
            'in.x': expectedCell(rec.inputs.x as AnyTensor, r),
            'out.y': expectedCell(rec.outputs.y as AnyTensor, r),
          })),
        )
        expect(rows.map((row) => ({ 'in.x': row['in.x'], 'out.y': row['out.y'] }))).toEqual(want)
      }),
      fuzzParams(300),
    )
  })

  it('decode mutated bytes without throwing, and cut bytes to their whole frames', () => {
    const frames = fc.sample(record, { seed: 7, numRuns: 3 }).flatMap((r) => encodeFrames([r]).map((f) => f.bytes))
    const joined = new Uint8Array(frames.reduce((a, f) => a + f.length, 0))
    const ends: number[] = []
    for (const f of frames) {
      joined.set(f, ends.at(-1) ?? 0)
      ends.push((ends.at(-1) ?? 0) + f.length)
    }
    fc.assert(
      fc.property(mutated([joined]), (bytes) => {
        const { tables, end } = decodeFrames(bytes)
        expect(end).toBeLessThanOrEqual(bytes.length)
        expect(tables.length).toBeLessThanOrEqual(bytes.length / 8)
      }),
      fuzzParams(300),
    )
    fc.assert(
      fc.property(fc.integer({ min: 0, max: joined.length }), (cut) => {
        const { tables, end } = decodeFrames(joined.subarray(0, cut))
        const whole = ends.filter((e) => e <= cut)
        expect({ frames: tables.length, end }).toEqual({ frames: whole.length, end: whole.at(-1) ?? 0 })
      }),
      fuzzParams(200),
    )
  })
})
