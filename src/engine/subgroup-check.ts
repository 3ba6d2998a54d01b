/**
 * Whether the subgroup GEMM (shaders/gemm-subgroups.wgsl) computes what the plain one does on this
 * device. Subgroup sizes differ between adapters (4 to 128 lanes) and the shader shares values
 * differently for each; a size the test suites never ran must not give wrong answers, so the
 * kernels path uses the subgroup variant only where this check passed. Checked once per device
 * (GPU context), on shapes that reach the small-batch and the tiled layouts with ragged tiles.
 */
import type { GpuContext } from '../gpu/context.js'
import { gemmProgram } from '../kernels/gemm.js'
import { mulberry32, uniform } from '../random.js'

/** [m, n, k]: 5 rows take the small-batch layout, 130 rows the 64×64 tiles, none a whole tile. */
const SHAPES: ReadonlyArray<readonly [number, number, number]> = [
  [5, 70, 40],
  [130, 37, 70],
]

const checks = new WeakMap<GpuContext, Promise<boolean>>()

/** True when the device has subgroups and both GEMMs agree within 1e-4 (relative) on seeded data. */
export function subgroupGemmAgrees(ctx: GpuContext): Promise<boolean> {
  if (!ctx.device.features.has('subgroups')) return Promise.resolve(false)
  let check = checks.get(ctx)
  if (!check) {
    check = compare(ctx).catch(() => false)
    checks.set(ctx, check)
  }
  return check
}

async function compare(ctx: GpuContext): Promise<boolean> {
  const rand = mulberry32(11)
  for (const [m, n, k] of SHAPES) {
    const [a, b, bias] = [uniform(rand, m * k), uniform(rand, k * n), uniform(rand, n)]
    const run = async (subgroups: boolean) => {
      const batch = ctx.batch(`subgroup check ${m}×${n}×${k}`)
      const out = batch.scratch(m * n * 4, 'out')
      const [ua, ub, ubias] = [batch.upload(a, 'a'), batch.upload(b, 'b'), batch.upload(bias, 'bias')]
      batch.dispatch(gemmProgram({ m, n, k, a: ua, b: ub, bias: ubias, out, subgroups }))
      const [bytes] = await batch.read([{ buffer: out, bytes: m * n * 4 }])
      return new Float32Array(bytes as ArrayBuffer)
    }
    const plain = await run(false)
    const shared = await run(true)
    for (let i = 0; i < plain.length; i++) {
      const [x, y] = [plain[i] as number, shared[i] as number]
      if (!(Math.abs(x - y) <= 1e-4 * (1 + Math.abs(x)))) return false
    }
  }
  return true
}
