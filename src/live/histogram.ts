/**
 * Latency histograms with logarithmic buckets, eight per doubling from 10 µs (each bucket's upper
 * edge is 2^(1/8) ≈ 1.09 times its lower), up to 10 µs · 2^24 ≈ 168 s: a quantile read from one
 * is within 4.5% of the true sample's value. Counting is a log and an increment: no allocation
 * per observation, so the request path can afford it.
 */

/** Buckets per doubling. */
const PER_OCTAVE = 8
/** The first bucket's upper edge, in ms: everything at or below it counts there. */
const FLOOR_MS = 0.01
/** Bucket count: bucket 0 holds ≤ 10 µs, the last everything from ≈ 168 s. */
export const BUCKETS = PER_OCTAVE * 24 + 1

/** The bucket of a duration in ms (NaN and negatives count as the smallest). */
export function bucketOf(ms: number): number {
  if (!(ms > FLOOR_MS)) return 0
  const b = Math.ceil(Math.log2(ms / FLOOR_MS) * PER_OCTAVE)
  return b >= BUCKETS ? BUCKETS - 1 : b
}

/** A bucket's representative value: the geometric middle of its edges (the floor for bucket 0). */
export function bucketValue(b: number): number {
  return b === 0 ? FLOOR_MS : FLOOR_MS * 2 ** ((b - 0.5) / PER_OCTAVE)
}

/**
 * The `q` quantile (0..1) of the counts in `h[from, from + BUCKETS)`, `total` of them: the value of
 * the bucket holding the ⌈q·total⌉-th smallest observation; null without observations.
 */
export function quantile(h: Uint32Array, from: number, total: number, q: number): number | null {
  if (total === 0) return null
  const rank = Math.max(1, Math.ceil(q * total))
  let seen = 0
  for (let b = 0; b < BUCKETS; b++) {
    seen += h[from + b] as number
    if (seen >= rank) return bucketValue(b)
  }
  return bucketValue(BUCKETS - 1)
}
