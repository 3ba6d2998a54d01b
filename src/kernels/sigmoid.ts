/** Element-wise sigmoid (shaders/sigmoid.wgsl) and its CPU twin. */
import { grid, type Program } from '../gpu/program.js'
import { loadShader } from './shaders.js'

const WG = 256

export function sigmoidProgram(a: { count: number; values: GPUBuffer; result: GPUBuffer }): Program {
  return {
    shader: loadShader('sigmoid'),
    label: `sigmoid [${a.count}]`,
    constants: { WG },
    uniforms: { count: a.count },
    bindings: { values: a.values, result: a.result },
    workgroups: grid(Math.ceil(a.count / WG)),
  }
}

export function sigmoidCpu(values: Float32Array): Float32Array {
  // Stryker disable next-line ConditionalExpression,EqualityOperator: both forms are the same function, equal within float32 rounding on either side of 0, and NaN gives NaN through either
  return values.map((x) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : x < 0 ? Math.exp(x) / (1 + Math.exp(x)) : x))
}
