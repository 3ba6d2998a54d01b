/** Row-wise softmax (shaders/softmax.wgsl) and its CPU twin. */
import type { Program } from '../gpu/program.js'
import { checkMatrix, rowPlan } from './row-kernels.js'
import { loadShader } from './shaders.js'

export interface SoftmaxArgs {
  rows: number
  cols: number
  logits: GPUBuffer
  probs: GPUBuffer
}

export function softmaxProgram(a: SoftmaxArgs): Program {
  checkMatrix('softmax', a.rows, a.cols)
  return {
    shader: loadShader('softmax'),
    label: `softmax [${a.rows},${a.cols}]`,
    ...rowPlan(a.rows, a.cols),
    uniforms: { rows: a.rows, cols: a.cols },
    bindings: { logits: a.logits, probs: a.probs },
  }
}

/** The same computation on the CPU (float64 math, float32 results), edge cases included. */
export function softmaxCpu(logits: Float32Array, rows: number, cols: number): Float32Array {
  checkMatrix('softmax', rows, cols, logits.length)
  const out = new Float32Array(logits.length)
  // Stryker disable next-line EqualityOperator: one row past the end reads an empty subarray or undefined and writes out of range, which typed arrays drop
  for (let r = 0; r < rows; r++) {
    const row = logits.subarray(r * cols, (r + 1) * cols)
    let max = Number.NEGATIVE_INFINITY
    let nan = false
    for (const x of row) {
      if (Number.isNaN(x)) nan = true
      else max = Math.max(max, x)
    }
    const dst = out.subarray(r * cols, (r + 1) * cols)
    // Stryker disable next-line ConditionalExpression: a row of -inf only gives exp(-inf - -inf) = NaN below too; the test says why it is NaN
    if (nan || max === Number.NEGATIVE_INFINITY) {
      dst.fill(Number.NaN)
    } else if (max === Number.POSITIVE_INFINITY) {
      const n = row.reduce((c, x) => c + (x === Number.POSITIVE_INFINITY ? 1 : 0), 0)
      row.forEach((x, i) => {
        dst[i] = x === Number.POSITIVE_INFINITY ? 1 / n : 0
      })
    } else {
      let sum = 0
      for (const x of row) sum += Math.exp(x - max)
      row.forEach((x, i) => {
        dst[i] = Math.exp(x - max) / sum
      })
    }
  }
  return out
}
