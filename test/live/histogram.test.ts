/**
 * The live view's latency histogram: bucket edges at 10 µs · 2^(k/8), values at the geometric
 * middle, and quantiles against an exact nearest-rank quantile of the same samples (brute force).
 */
import { describe, expect, it } from 'vitest'
import { BUCKETS, bucketOf, bucketValue, quantile } from '../../src/live/histogram.js'
import { mulberry32 } from '../../src/random.js'

describe('log buckets', () => {
  it('puts each duration in the bucket whose edges hold it', () => {
    // Bucket k holds (0.01·2^((k−1)/8), 0.01·2^(k/8)] ms; bucket 0 everything up to 10 µs.
    expect(bucketOf(0)).toBe(0)
    expect(bucketOf(-3)).toBe(0)
    expect(bucketOf(Number.NaN)).toBe(0)
    expect(bucketOf(0.01)).toBe(0)
    expect(bucketOf(0.0100001)).toBe(1)
    expect(bucketOf(0.02)).toBe(8) // exactly one doubling: the upper edge of bucket 8
    expect(bucketOf(0.0201)).toBe(9)
    expect(bucketOf(0.03)).toBe(13) // log2(3)·8 = 12.68
    expect(bucketOf(1)).toBe(54) // log2(100)·8 = 53.15
    expect(bucketOf(170_000)).toBe(192) // log2(1.7e7)·8 = 192.1: one past the last, clamped
    expect(bucketOf(1e9)).toBe(192) // past ≈ 168 s: the last bucket
    expect(BUCKETS).toBe(193)
  })

  it('reads a bucket as its geometric middle', () => {
    expect(bucketValue(0)).toBe(0.01)
    expect(bucketValue(1)).toBeCloseTo(0.010442737824274137, 15)
    expect(bucketValue(8)).toBeCloseTo(0.019152065613971474, 15)
    expect(bucketValue(54)).toBeCloseTo(1.0307, 4)
  })
})

describe('quantiles', () => {
  it('are null without observations', () => {
    expect(quantile(new Uint32Array(BUCKETS), 0, 0, 0.5)).toBeNull()
  })

  it('read the bucket of the ⌈q·n⌉-th smallest sample, at an offset', () => {
    const h = new Uint32Array(2 * BUCKETS)
    // Second histogram: 3 samples in bucket 8, 1 in bucket 54 (an outlier).
    h[BUCKETS + 8] = 3
    h[BUCKETS + 54] = 1
    expect(quantile(h, BUCKETS, 4, 0.5)).toBeCloseTo(0.019152065613971474, 15) // rank 2: bucket 8
    expect(quantile(h, BUCKETS, 4, 0.75)).toBeCloseTo(0.019152065613971474, 15) // rank 3
    expect(quantile(h, BUCKETS, 4, 0.99)).toBeCloseTo(1.0307, 4) // rank 4: bucket 54
    expect(quantile(h, BUCKETS, 4, 0)).toBeCloseTo(0.019152065613971474, 15) // rank 1 at least
  })

  it('are within 4.5% of the exact quantile of skewed samples', () => {
    const rand = mulberry32(11)
    for (const sigma of [0.3, 1, 2]) {
      const samples = Array.from({ length: 5000 }, () => {
        // Log-normal around 2 ms (Box–Muller), the shape request latencies have.
        const z = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand())
        return 2 * Math.exp(sigma * z)
      })
      const h = new Uint32Array(BUCKETS)
      for (const s of samples) h[bucketOf(s)] = (h[bucketOf(s)] as number) + 1
      const sorted = [...samples].sort((a, b) => a - b)
      for (const q of [0.5, 0.9, 0.99]) {
        const exact = sorted[Math.ceil(q * sorted.length) - 1] as number
        const got = quantile(h, 0, samples.length, q) as number
        expect(Math.abs(got / exact - 1), `σ ${sigma}, q ${q}`).toBeLessThan(0.045)
      }
    }
  })
})
