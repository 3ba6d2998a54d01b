/** vec4 copy (shaders/copy.wgsl): the memory-bandwidth ceiling for the kernel benches. */
import { grid, type Program } from '../gpu/program.js'
import { loadShader } from './shaders.js'

const WG = 256

/** Copy `bytes` (a multiple of 16) from `src` to `dst`. */
export function copyProgram(a: { bytes: number; src: GPUBuffer; dst: GPUBuffer }): Program {
  const count = Math.floor(a.bytes / 16)
  return {
    shader: loadShader('copy'),
    label: `copy ${a.bytes} B`,
    constants: { WG },
    uniforms: { count },
    bindings: { src: a.src, dst: a.dst },
    workgroups: grid(Math.ceil(count / WG)),
  }
}
