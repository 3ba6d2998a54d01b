/**
 * The parts of a point's measure that do not need a model: Perf Analyzer's stability rule (the
 * last three windows' rows/s and mean latency each within 10%, max/min), the nearest-rank
 * quantile, rows synthesized from an input schema (seeded, in range, the schema's shapes) and cut
 * into requests.
 */
import { describe, expect, it } from 'vitest'
import type { AnyTensor, HostTensor, StringTensor } from '../../src/engine/tensor.js'
import { halfToNumber } from '../../src/half.js'
import { isStable, quantile } from '../../src/optimize/measure.js'
import { requestsOf, SAMPLE_ROWS, synthesizeRows } from '../../src/optimize/rows.js'

const w = (rows_per_s: number, mean_ms: number) => ({ rows_per_s, mean_ms })

describe('the stability rule', () => {
  it('needs three windows', () => {
    expect(isStable([])).toBe(false)
    expect(isStable([w(100, 5), w(100, 5)])).toBe(false)
    expect(isStable([w(100, 5), w(100, 5), w(100, 5)])).toBe(true)
  })

  it('takes the last three windows within 10% (max/min ≤ 1.1) on rows/s and on mean latency', () => {
    // 110/100 is exactly 1.1: stable; 110.2/100 is not.
    expect(isStable([w(100, 5), w(105, 5.2), w(110, 5.4)])).toBe(true)
    expect(isStable([w(100, 5), w(105, 5.2), w(110.2, 5.4)])).toBe(false)
    // Rows/s agree, latency does not (5 → 5.6 is 12%).
    expect(isStable([w(100, 5), w(101, 5.3), w(100, 5.6)])).toBe(false)
    // An early window far off does not count once three later ones agree.
    expect(isStable([w(10, 50), w(100, 5), w(98, 5.1), w(102, 4.9)])).toBe(true)
    // A different tolerance.
    expect(isStable([w(100, 5), w(104, 5), w(100, 5)], 0.03)).toBe(false)
  })

  it('is never stable on a window that answered nothing', () => {
    expect(
      isStable([w(0, Number.POSITIVE_INFINITY), w(0, Number.POSITIVE_INFINITY), w(0, Number.POSITIVE_INFINITY)]),
    ).toBe(false)
    expect(isStable([w(100, 5), w(0, Number.POSITIVE_INFINITY), w(100, 5)])).toBe(false)
  })
})

describe('quantiles', () => {
  it('are nearest-rank: the smallest value with at least q of them at or below it', () => {
    const xs = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    expect(quantile(xs, 0.5)).toBe(5)
    expect(quantile(xs, 0.99)).toBe(10)
    expect(quantile(xs, 0.1)).toBe(1)
    expect(quantile([7], 0.99)).toBe(7)
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1)
    expect(quantile(hundred, 0.99)).toBe(99)
    expect(quantile(hundred, 0.5)).toBe(50)
  })
})

describe('synthesized rows', () => {
  const specs = [
    { name: 'x', dtype: 'float32' as const, shape: ['N', 3] },
    { name: 'h', dtype: 'float16' as const, shape: ['N', 2] },
    { name: 'id', dtype: 'int64' as const, shape: [-1] },
    { name: 'img', dtype: 'uint8' as const, shape: ['N', 'C', 2] },
    { name: 'region', dtype: 'string' as const, shape: ['N'] },
  ]

  it("have the schema's shapes (a dimension of any size taken as 1), values in range, the same for a seed", () => {
    const a = synthesizeRows(specs, 7)
    expect(Object.keys(a)).toEqual(['x', 'h', 'id', 'img', 'region'])
    expect(a.x?.dims).toEqual([SAMPLE_ROWS, 3])
    expect(a.h?.dims).toEqual([SAMPLE_ROWS, 2])
    expect(a.id?.dims).toEqual([SAMPLE_ROWS])
    expect(a.img?.dims).toEqual([SAMPLE_ROWS, 1, 2])
    const x = (a.x as HostTensor<'float32'>).data
    expect(Math.min(...x)).toBeGreaterThanOrEqual(-1)
    expect(Math.max(...x)).toBeLessThan(1)
    expect(new Set(x).size).toBeGreaterThan(SAMPLE_ROWS) // not a constant
    const halves = [...(a.h as HostTensor<'float16'>).data].map(halfToNumber)
    expect(halves.every((v) => v >= -1 && v <= 1)).toBe(true)
    expect(new Set((a.id as HostTensor<'int64'>).data)).toEqual(new Set([0n, 1n]))
    expect(new Set((a.region as StringTensor).data)).toEqual(new Set(['a', 'b']))
    expect(synthesizeRows(specs, 7)).toEqual(a)
    expect((synthesizeRows(specs, 8).x as HostTensor<'float32'>).data).not.toEqual(x)
  })

  it('hold fewer rows when a row is wide, and refuse a row too wide to send', () => {
    const wide = synthesizeRows([{ name: 'x', dtype: 'float32', shape: ['N', 100_000] }], 1)
    expect(wide.x?.dims).toEqual([41, 100_000]) // 2^22 values at most
    expect(() => synthesizeRows([{ name: 'x', dtype: 'float32', shape: ['N', 5_000_000] }], 1)).toThrow(
      /more than a tuning run sends/,
    )
  })

  it('are cut into requests of rows_per_request rows, in order', () => {
    const cols = synthesizeRows([{ name: 'x', dtype: 'float32', shape: ['N', 2] }], 3)
    const reqs = requestsOf(cols, 100)
    expect(reqs).toHaveLength(2) // 256 rows: two whole requests, 56 rows left out
    const x = (cols.x as HostTensor<'float32'>).data
    const second = (reqs[1] as Record<string, AnyTensor>).x as HostTensor<'float32'>
    expect(second.dims).toEqual([100, 2])
    expect([...second.data]).toEqual([...x.slice(200, 400)])
    expect(() => requestsOf(cols, 300)).toThrow(/only 256 rows/)
  })
})
