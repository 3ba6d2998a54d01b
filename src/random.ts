/**
 * Small seeded PRNG (mulberry32) for reproducible fixture weights; tests use their own seeds
 * (fresh per run) for inputs.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** `n` uniform values in [lo, hi). */
export function uniform(rand: () => number, n: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * rand()
  return out
}

/** `n` approximately standard-normal values (Box–Muller). */
export function normal(rand: () => number, n: number, mean = 0, std = 1): Float32Array {
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) {
    const u = 1 - rand()
    const v = rand()
    out[i] = mean + std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
  }
  return out
}
