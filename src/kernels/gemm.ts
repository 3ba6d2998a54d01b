/**
 * Tiled f32 GEMM with bias and a fused activation (shaders/gemm.wgsl, or shaders/gemm-subgroups.wgsl
 * on devices with the 'subgroups' feature), and its CPU twin.
 */
import { InvalidInputError } from '../errors.js'
import { grid, type Program } from '../gpu/program.js'
import { type Activation, activate, activationCode } from './activation.js'
import { loadShader } from './shaders.js'

/** Rows and columns of `out` each workgroup computes on the tiled path (the shader's TILE). */
export const GEMM_TILE = 64
/**
 * Up to this many rows take the small-m path (4 rows × 32 columns per workgroup, k split across
 * its threads), where a 64-row tile would be mostly padding: batch-1 and few-row requests.
 */
export const GEMM_SMALL_M = 8
const SMALL_ROWS = 4
const SMALL_COLS = 32

/** Largest element count a matrix may have: the shader indexes with u32. */
const MAX_ELEMENTS = 2 ** 32 - 1

export interface GemmArgs {
  m: number
  n: number
  k: number
  /** [m, k] */
  a: GPUBuffer
  /** [k, n] (weights already transposed by the planner when transB) */
  b: GPUBuffer
  /** [n] (zeros when the model has none) */
  bias: GPUBuffer
  /** [m, n]; must not be `a`, `b` or `bias` */
  out: GPUBuffer
  /** Applied to each output after the bias; default 'none'. */
  activation?: Activation
  /** Use the subgroup variant: only when the device has the 'subgroups' feature (its shader needs it). */
  subgroups?: boolean
}

/** How `out`'s tiles map to workgroups: n-tiles fastest, spread over x and y by `grid()`. */
export interface GemmPlan {
  /** The small-m path (tiles of 4 × 32) rather than 64 × 64 tiles. */
  small: boolean
  tilesN: number
  tiles: number
  workgroups: [number, number, number]
}

/** The dispatch plan for an [m, n] output (a pure function of the shape). */
export function gemmPlan(m: number, n: number): GemmPlan {
  const small = m <= GEMM_SMALL_M
  const rows = small ? SMALL_ROWS : GEMM_TILE
  const tilesN = Math.ceil(n / (small ? SMALL_COLS : GEMM_TILE))
  const tiles = Math.ceil(m / rows) * tilesN
  return { small, tilesN, tiles, workgroups: grid(tiles) }
}

/** Check m, n, k: positive integers whose matrices u32 indices reach. */
export function checkGemmShape(m: number, n: number, k: number): void {
  for (const [name, v] of [
    ['m', m],
    ['n', n],
    ['k', k],
  ] as const) {
    if (!Number.isInteger(v) || v < 1) throw new InvalidInputError(`gemm: ${name} must be an integer >= 1, got ${v}`)
  }
  if (m * k > MAX_ELEMENTS || k * n > MAX_ELEMENTS || m * n > MAX_ELEMENTS) {
    throw new InvalidInputError(`gemm: [${m}, ${k}] × [${k}, ${n}] has a matrix of more than 2^32 - 1 values`)
  }
}

/**
 * Check that each operand holds the values the shape needs: exactly (`exact`, host arrays) or at
 * least (GPU buffers, which pools round up).
 */
function checkLengths(m: number, n: number, k: number, have: Record<string, number>, exact: boolean): void {
  const need: Record<string, number> = { a: m * k, b: k * n, bias: n, out: m * n }
  for (const [key, got] of Object.entries(have)) {
    const want = need[key] as number
    if (exact ? got !== want : got < want) {
      throw new InvalidInputError(`gemm: ${key} holds ${got} values, [${m}, ${k}] × [${k}, ${n}] needs ${want}`)
    }
  }
}

/** The GEMM program: one pipeline per activation and variant, whatever the shape (the small-m path is a uniform). Throws InvalidInputError on bad shapes, buffers too small for them, or `out` bound as an input too. */
export function gemmProgram(a: GemmArgs): Program {
  const f32s = (b: GPUBuffer) => Math.floor(b.size / 4)
  checkGemmShape(a.m, a.n, a.k)
  checkLengths(a.m, a.n, a.k, { a: f32s(a.a), b: f32s(a.b), bias: f32s(a.bias), out: f32s(a.out) }, false)
  if ([a.a, a.b, a.bias].includes(a.out)) throw new InvalidInputError('gemm: out is also an input')
  const activation = a.activation ?? 'none'
  const plan = gemmPlan(a.m, a.n)
  return {
    shader: loadShader(a.subgroups ? 'gemm-subgroups' : 'gemm'),
    label: `gemm${a.subgroups ? ' (subgroups)' : ''} [${a.m},${a.k}]×[${a.k},${a.n}] ${activation}`,
    constants: { ACT: activationCode(activation) },
    uniforms: { m: a.m, n: a.n, k: a.k, tiles_n: plan.tilesN, tiles: plan.tiles, small: plan.small ? 1 : 0 },
    bindings: { a: a.a, b: a.b, bias: a.bias, out: a.out },
    workgroups: plan.workgroups,
  }
}

/** The same computation on the CPU: float64 sums over k in order, float32 results. */
export function gemmCpu(
  a: Float32Array,
  b: Float32Array,
  bias: Float32Array,
  m: number,
  n: number,
  k: number,
  activation: Activation = 'none',
): Float32Array {
  checkGemmShape(m, n, k)
  checkLengths(m, n, k, { a: a.length, b: b.length, bias: bias.length }, true)
  const out = new Float32Array(m * n)
  const row = new Float64Array(n)
  for (let r = 0; r < m; r++) {
    row.fill(0)
    for (let p = 0; p < k; p++) {
      const x = a[r * k + p] as number
      const bRow = p * n
      for (let c = 0; c < n; c++) row[c] = (row[c] as number) + x * (b[bRow + c] as number)
    }
    for (let c = 0; c < n; c++) out[r * n + c] = activate((row[c] as number) + (bias[c] as number), activation)
  }
  return out
}
