/** Row-wise top-k with indices (shaders/topk.wgsl) and its CPU twin. */
import { InvalidInputError } from '../errors.js'
import type { Program } from '../gpu/program.js'
import { checkMatrix, rankRow, rowPlan } from './row-kernels.js'
import { loadShader } from './shaders.js'

/** The largest k the kernel serves. */
export const MAX_TOPK = 32

export interface TopkArgs {
  rows: number
  cols: number
  k: number
  scores: GPUBuffer
  /** i32 [rows, k] */
  indices: GPUBuffer
  /** f32 [rows, k] */
  values: GPUBuffer
}

export function checkK(k: number, cols: number): void {
  if (!Number.isInteger(k) || k < 1 || k > MAX_TOPK || k > cols) {
    throw new InvalidInputError(
      `top-k: k must be an integer in 1..${Math.min(MAX_TOPK, cols)} for ${cols} columns, got ${k}`,
    )
  }
}

export function topkProgram(a: TopkArgs): Program {
  checkMatrix('top-k', a.rows, a.cols)
  checkK(a.k, a.cols)
  return {
    shader: loadShader('topk'),
    label: `topk k=${a.k} [${a.rows},${a.cols}]`,
    ...rowPlan(a.rows, a.cols),
    uniforms: { rows: a.rows, cols: a.cols, k: a.k },
    bindings: { scores: a.scores, top_indices: a.indices, top_values: a.values },
  }
}

export function topkCpu(
  scores: Float32Array,
  rows: number,
  cols: number,
  k: number,
): { indices: Int32Array; values: Float32Array } {
  checkMatrix('top-k', rows, cols, scores.length)
  checkK(k, cols)
  const indices = new Int32Array(rows * k)
  const values = new Float32Array(rows * k)
  // Stryker disable next-line ArrayDeclaration: rankRow sets the length and every element before reading
  const order: number[] = []
  // Stryker disable next-line EqualityOperator: one row past the end reads an empty subarray or undefined and writes out of range, which typed arrays drop
  for (let r = 0; r < rows; r++) {
    const row = scores.subarray(r * cols, (r + 1) * cols)
    rankRow(row, order)
    // Stryker disable next-line EqualityOperator: slot k is the next row's first, which that row overwrites (past the last row: dropped)
    for (let j = 0; j < k; j++) {
      indices[r * k + j] = order[j] as number
      values[r * k + j] = row[order[j] as number] as number
    }
  }
  return { indices, values }
}
