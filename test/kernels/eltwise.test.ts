/**
 * The element-wise kernel (out = act(a + b), or act(a) without b): counts around the workgroup
 * size, every activation, with and without b, NaN and ±inf, checked against float64 references
 * (test/helpers/kernel-reference.ts) for the CPU twin everywhere and the WGSL kernel where there
 * is an adapter. Tolerance: relative 1e-4 (test/helpers/compare.ts); NaN and ±inf exact.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { InvalidInputError } from '../../src/errors.js'
import type { GpuContext } from '../../src/gpu/context.js'
import { ACTIVATIONS, type Activation } from '../../src/kernels/activation.js'
import { eltwiseCpu, eltwiseProgram } from '../../src/kernels/eltwise.js'
import { mulberry32 } from '../../src/random.js'
import { expectCloseSpecial, freshSeed } from '../helpers/compare.js'
import { gpuTitle, probeGpu } from '../helpers/gpu.js'
import { activationRef } from '../helpers/kernel-reference.js'
import { closeTestContext, randomF32, testContext } from '../helpers/kernels.js'

const gpu = await probeGpu()
const { POSITIVE_INFINITY: INF, NEGATIVE_INFINITY: NEG_INF, NaN: NAN } = Number

type Eltwise = (a: Float32Array, b: Float32Array | undefined, activation: Activation) => Promise<Float32Array>

const cpuEltwise: Eltwise = async (a, b, activation) => eltwiseCpu(a, b, activation)

function gpuEltwise(ctx: GpuContext): Eltwise {
  return async (a, b, activation) => {
    const batch = ctx.batch('test eltwise')
    const out = batch.scratch(a.byteLength, 'out')
    const program = eltwiseProgram({
      count: a.length,
      a: batch.upload(a, 'a'),
      ...(b ? { b: batch.upload(b, 'b') } : {}),
      out,
      activation,
    })
    batch.dispatch(program)
    const [bytes] = await batch.read([{ buffer: out, bytes: a.byteLength }])
    return new Float32Array(bytes as ArrayBuffer)
  }
}

const ref = (a: Float32Array, b: Float32Array | undefined, activation: Activation) =>
  Array.from(a, (x, i) => activationRef(b ? x + (b[i] as number) : x, activation))

/** Counts: 1, around one 256-thread workgroup, several workgroups with a ragged last one. */
const COUNTS = [1, 255, 256, 257, 5000]
const seeds = COUNTS.map(() => freshSeed())

function eltwiseCases(eltwise: () => Promise<Eltwise>): void {
  COUNTS.forEach((count, i) => {
    const seed = seeds[i] as number
    for (const activation of ACTIVATIONS) {
      for (const withB of [true, false]) {
        it(`[${count}] ${withB ? 'a + b' : 'a'}, ${activation}, matches the reference (seed ${seed})`, async () => {
          const rand = mulberry32(seed)
          const a = randomF32(rand, count, -8, 6)
          const b = withB ? randomF32(rand, count, -3, 5) : undefined
          expectCloseSpecial(await (await eltwise())(a, b, activation), ref(a, b, activation), 'eltwise')
        })
      }
    }
  })

  for (const activation of ACTIVATIONS) {
    it(`propagates NaN and ±inf (${activation})`, async () => {
      const a = Float32Array.of(INF, INF, NEG_INF, NAN, 1, -2, NEG_INF, 0.5, INF)
      const b = Float32Array.of(1, NEG_INF, -5, 1, NAN, INF, NEG_INF, -0.75, INF)
      const k = await eltwise()
      expectCloseSpecial(await k(a, b, activation), ref(a, b, activation), 'eltwise a + b')
      expectCloseSpecial(await k(a, undefined, activation), ref(a, undefined, activation), 'eltwise a')
    })
  }

  it('adds b element by element, in order (no reversal or broadcast)', async () => {
    const a = Float32Array.of(1, 2, 3, 4, 5)
    const b = Float32Array.of(10, 20, 30, 40, 50)
    expect(Array.from(await (await eltwise())(a, b, 'none'))).toEqual([11, 22, 33, 44, 55])
  })
}

describe('eltwise CPU twin, against float64 references (no GPU needed)', () => {
  eltwiseCases(async () => cpuEltwise)

  it('refuses b of another length', () => {
    expect(() => eltwiseCpu(new Float32Array(3), new Float32Array(4))).toThrow(InvalidInputError)
  })
})

describe.runIf(gpu.ok)(gpuTitle('eltwise WGSL kernel, against the same references', gpu), () => {
  afterAll(closeTestContext)
  eltwiseCases(async () => gpuEltwise(await testContext()))

  it('refuses a bad count and buffers smaller than it, before any dispatch', async () => {
    const ctx = await testContext()
    const usage = GPUBufferUsage.STORAGE
    const small = ctx.device.createBuffer({ label: 'test eltwise small', size: 9 * 4, usage })
    const big = ctx.device.createBuffer({ label: 'test eltwise big', size: 10 * 4, usage })
    const out = ctx.device.createBuffer({ label: 'test eltwise out', size: 10 * 4, usage })
    try {
      for (const count of [0, -1, 2.5, Number.NaN]) {
        expect(() => eltwiseProgram({ count, a: big, out })).toThrow(InvalidInputError)
      }
      expect(() => eltwiseProgram({ count: 10, a: small, b: big, out })).toThrow(/a holds 9/)
      expect(() => eltwiseProgram({ count: 10, a: big, b: small, out })).toThrow(/b holds 9/)
      expect(() => eltwiseProgram({ count: 10, a: big, out: small })).toThrow(/out holds 9/)
      expect(() => eltwiseProgram({ count: 10, a: big, b: out, out })).toThrow(/out is also an input/)
      const plain = eltwiseProgram({ count: 10, a: big, out })
      expect(plain.bindings.b).toBe(big) // a stands in for the missing b
      expect(plain.constants?.HAS_B).toBe(0)
    } finally {
      for (const buffer of [small, big, out]) buffer.destroy()
    }
  })
})
