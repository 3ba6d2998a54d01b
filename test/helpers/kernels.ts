/**
 * Running single kernels in tests: one GPU runtime per test file, with validation error scopes
 * on, so any WebGPU validation error fails the batch that caused it.
 */
import { loadConfig } from '../../src/config.js'
import type { GpuContext } from '../../src/gpu/context.js'
import { GpuRuntime } from '../../src/gpu/index.js'

let runtime: Promise<GpuRuntime> | undefined

export async function testContext(): Promise<GpuContext> {
  runtime ??= GpuRuntime.open(loadConfig({}, { gpu: { validate: true } }).gpu)
  return (await runtime).context()
}

export async function closeTestContext(): Promise<void> {
  if (runtime) (await runtime).close()
  runtime = undefined
}

/** Random f32 values in [lo, hi). */
export function randomF32(rand: () => number, n: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * rand()
  return out
}
