/**
 * How many cases each fuzzer runs and from which seed. `npm test` runs a bounded, reproducible
 * pass (a fixed seed); `npm run fuzz -- --minutes N` repeats the fuzz suite with fresh seeds and a
 * larger scale until N minutes have passed, printing the seed of any failure. Replay one with
 * `FUZZ_SEED=<seed> FUZZ_SCALE=<scale> npx vitest run test/fuzz`.
 */

/** The seed `npm test` uses when FUZZ_SEED is not set. */
const DEFAULT_SEED = 20261130

/** fast-check parameters for a property that runs `ciRuns` cases in `npm test`. */
export function fuzzParams(ciRuns: number): { seed: number; numRuns: number; endOnFailure: true } {
  const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : DEFAULT_SEED
  const scale = process.env.FUZZ_SCALE ? Number(process.env.FUZZ_SCALE) : 1
  if (!Number.isInteger(seed)) throw new Error(`FUZZ_SEED must be an integer, got '${process.env.FUZZ_SEED}'`)
  if (!(scale > 0)) throw new Error(`FUZZ_SCALE must be a positive number, got '${process.env.FUZZ_SCALE}'`)
  return { seed, numRuns: Math.max(1, Math.round(ciRuns * scale)), endOnFailure: true }
}

/**
 * Generous bound on one fuzz case's answer time: a hostile body must be refused in milliseconds,
 * but a loaded 2-core CI machine can stall any process for seconds, so only a hang fails it.
 */
export const CASE_TIMEOUT_MS = 15_000
