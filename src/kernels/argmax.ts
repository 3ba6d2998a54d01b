/** Row-wise label: argmax, or a threshold (shaders/argmax.wgsl), and its CPU twin. */
import type { Program } from '../gpu/program.js'
import { checkMatrix, ranksBefore, rowPlan } from './row-kernels.js'
import { loadShader } from './shaders.js'

export interface ArgmaxArgs {
  rows: number
  cols: number
  scores: GPUBuffer
  /** i32 [rows] */
  labels: GPUBuffer
  /**
   * With one column: label 1 when the score is >= threshold, else 0. With several: the argmax
   * when its score is >= threshold, else -1 (abstain).
   */
  threshold?: number
}

export function argmaxProgram(a: ArgmaxArgs): Program {
  checkMatrix('argmax', a.rows, a.cols)
  return {
    shader: loadShader('argmax'),
    label: `argmax [${a.rows},${a.cols}]`,
    ...rowPlan(a.rows, a.cols),
    uniforms: {
      rows: a.rows,
      cols: a.cols,
      threshold: a.threshold ?? 0,
      use_threshold: a.threshold === undefined ? 0 : 1,
    },
    bindings: { scores: a.scores, labels: a.labels },
  }
}

export function argmaxCpu(scores: Float32Array, rows: number, cols: number, threshold?: number): Int32Array {
  checkMatrix('argmax', rows, cols, scores.length)
  const out = new Int32Array(rows)
  // Stryker disable next-line EqualityOperator: one row past the end reads an empty subarray or undefined and writes out of range, which typed arrays drop
  for (let r = 0; r < rows; r++) {
    let bi = 0
    for (let c = 1; c < cols; c++) {
      if (ranksBefore(scores[r * cols + c] as number, c, scores[r * cols + bi] as number, bi)) bi = c
    }
    const v = scores[r * cols + bi] as number
    let label = bi
    if (threshold !== undefined) {
      if (cols === 1) label = v >= threshold ? 1 : 0
      else if (!(v >= threshold)) label = -1
    }
    out[r] = label
  }
  return out
}
