/** Element-wise add with a fused activation (shaders/eltwise.wgsl), and its CPU twin. */
import { InvalidInputError } from '../errors.js'
import { grid, type Program } from '../gpu/program.js'
import { type Activation, activate, activationCode } from './activation.js'
import { loadShader } from './shaders.js'

const WG = 256

export interface EltwiseArgs {
  count: number
  a: GPUBuffer
  /** Added to `a` when given (same length). */
  b?: GPUBuffer
  /** Must not be `a` or `b`. */
  out: GPUBuffer
  /** Applied after the add; default 'none'. */
  activation?: Activation
}

function checkCount(count: number): void {
  if (!Number.isInteger(count) || count < 1 || count > 2 ** 32 - 1) {
    throw new InvalidInputError(`eltwise: count must be an integer in [1, 2^32 - 1], got ${count}`)
  }
}

/**
 * out = act(a + b), or act(a) without `b` (then `a` is bound in b's place and the HAS_B override
 * skips it): two pipelines per activation, whatever the count. Throws InvalidInputError on a bad
 * count, buffers smaller than it, or `out` bound as an input too.
 */
export function eltwiseProgram(a: EltwiseArgs): Program {
  checkCount(a.count)
  const buffers = { a: a.a, ...(a.b ? { b: a.b } : {}), out: a.out }
  for (const [name, buffer] of Object.entries(buffers)) {
    if (buffer.size < a.count * 4) {
      throw new InvalidInputError(`eltwise: ${name} holds ${Math.floor(buffer.size / 4)} values, count is ${a.count}`)
    }
  }
  if (a.out === a.a || a.out === a.b) throw new InvalidInputError('eltwise: out is also an input')
  const activation = a.activation ?? 'none'
  return {
    shader: loadShader('eltwise'),
    label: `eltwise [${a.count}] ${a.b ? 'a + b' : 'a'} ${activation}`,
    constants: { WG, ACT: activationCode(activation), HAS_B: a.b ? 1 : 0 },
    uniforms: { count: a.count },
    bindings: { a: a.a, b: a.b ?? a.a, out: a.out },
    workgroups: grid(Math.ceil(a.count / WG)),
  }
}

/** The same computation on the CPU: the add in float64, float32 results. */
export function eltwiseCpu(
  a: Float32Array,
  b: Float32Array | undefined,
  activation: Activation = 'none',
): Float32Array {
  if (b && b.length !== a.length) {
    throw new InvalidInputError(`eltwise: a holds ${a.length} values, b ${b.length}`)
  }
  const out = new Float32Array(a.length)
  for (let i = 0; i < a.length; i++)
    out[i] = activate(b ? (a[i] as number) + (b[i] as number) : (a[i] as number), activation)
  return out
}
