/**
 * The kernel planner's weight folds on small graphs built here, checked against float64
 * arithmetic written in the test: Gemm alpha/beta/transB, MatMul + Add, Conv + BatchNormalization.
 */
import { describe, expect, it } from 'vitest'
import type { PlanStep } from '../../src/engine/kernel-plan-types.js'
import { mulberry32, uniform } from '../../src/random.js'
import { ops, plan, tiny } from '../helpers/kernel-plan.js'
import { conv2dRef } from '../helpers/kernel-reference.js'

describe('planKernels folds weights', () => {
  const rand = mulberry32(41)

  it('folds Gemm alpha, beta and transB into the weight and bias (float64, then float32)', () => {
    const [k, n] = [3, 2]
    const B = uniform(rand, n * k, -2, 2) // [n, k]: transB
    const C = uniform(rand, n, -1, 1)
    const bytes = tiny(['N', k], (g, x) =>
      g.node('Gemm', [x, g.constant('B', 'float32', [n, k], B), g.constant('C', 'float32', [1, n], C)], {
        transB: 1,
        alpha: { float: 0.75 },
        beta: { float: -2.5 },
      }),
    )
    const s = plan(bytes).steps[0] as Extract<PlanStep, { op: 'gemm' }>
    const expected: number[] = []
    for (let i = 0; i < k; i++) for (let j = 0; j < n; j++) expected.push(Math.fround(0.75 * (B[j * k + i] as number)))
    expect([...s.weight]).toEqual(expected)
    expect([...s.bias]).toEqual([...C].map((c) => Math.fround(-2.5 * c)))
  })

  it('broadcasts a one-value Gemm C, and reads no C when beta is 0', () => {
    const W = Float32Array.of(1, 2, 3, 4)
    const model = (beta: number) =>
      tiny(['N', 2], (g, x) =>
        g.node(
          'Gemm',
          [x, g.constant('W', 'float32', [2, 2], W), g.constant('C', 'float32', [1], [Number.POSITIVE_INFINITY])],
          { beta: { float: beta } },
        ),
      )
    expect([...(plan(model(0.5)).steps[0] as Extract<PlanStep, { op: 'gemm' }>).bias]).toEqual([
      Number.POSITIVE_INFINITY,
      Number.POSITIVE_INFINITY,
    ])
    expect([...(plan(model(0)).steps[0] as Extract<PlanStep, { op: 'gemm' }>).bias]).toEqual([0, 0])
  })

  it('folds MatMul + Add of an [n] or [1, n] bias, in either operand order, into one gemm', () => {
    const W = uniform(rand, 6, -1, 1)
    const bias = Float32Array.of(0.5, -0.25)
    for (const [dims, biasFirst] of [
      [[2], false],
      [[1, 2], true],
    ] as const) {
      const bytes = tiny(['N', 3], (g, x) => {
        const mm = g.node('MatMul', [x, g.constant('W', 'float32', [3, 2], W)])
        const b = g.constant('b', 'float32', dims, bias)
        return g.node('Tanh', [g.node('Add', biasFirst ? [b, mm] : [mm, b])])
      })
      expect(plan(bytes).steps).toEqual([
        { op: 'gemm', input: 'x', output: expect.any(String), k: 3, n: 2, weight: W, bias, activation: 'tanh' },
      ])
    }
  })

  it('folds BatchNormalization into the conv before it: the folded conv equals conv then BN in float64', () => {
    const [inC, outC, H, W] = [2, 3, 5, 4]
    const weight = uniform(rand, outC * inC * 3 * 3, -1, 1)
    const bias = uniform(rand, outC, -0.5, 0.5)
    const scale = Float32Array.of(1.5, -0.5, 2)
    const shift = Float32Array.of(0.1, 0.2, -0.3)
    const mean = Float32Array.of(0.05, -0.4, 0.3)
    const variance = Float32Array.of(0.5, 2, 0.01)
    const model = (epsilon?: number) =>
      tiny(['N', inC, H, W], (g, x) => {
        const conv = g.node(
          'Conv',
          [x, g.constant('w', 'float32', [outC, inC, 3, 3], weight), g.constant('b', 'float32', [outC], bias)],
          { pads: [1, 0, 1, 2], strides: [1, 2] },
        )
        const params = [
          g.constant('s', 'float32', [outC], scale),
          g.constant('sh', 'float32', [outC], shift),
          g.constant('m', 'float32', [outC], mean),
          g.constant('v', 'float32', [outC], variance),
        ]
        return g.node(
          'BatchNormalization',
          [conv, ...params],
          epsilon === undefined ? {} : { epsilon: { float: epsilon } },
        )
      })
    const x = uniform(rand, inC * H * W, -2, 2)
    const shape = {
      batch: 1,
      inC,
      inH: H,
      inW: W,
      outC,
      kH: 3,
      kW: 3,
      strides: [1, 2] as [number, number],
      pads: [1, 0, 1, 2] as [number, number, number, number],
      dilations: [1, 1] as [number, number],
      group: 1,
    }
    const conv = conv2dRef(x, weight, bias, shape)
    const per = conv.length / outC
    for (const epsilon of [1e-3, undefined]) {
      const eps = epsilon === undefined ? 1e-5 : Math.fround(epsilon)
      const bn = conv.map((v, i) => {
        const c = Math.floor(i / per)
        return (
          ((scale[c] as number) * (v - (mean[c] as number))) / Math.sqrt((variance[c] as number) + eps) +
          (shift[c] as number)
        )
      })
      const p = plan(model(epsilon))
      expect(ops(p)).toEqual(['conv:none'])
      const s = p.steps[0] as Extract<PlanStep, { op: 'conv' }>
      expect([s.outH, s.outW]).toEqual([5, 2])
      const folded = conv2dRef(x, s.weight, s.bias, shape)
      // Folded weights are rounded to float32 once: agreement to ~1e-7 relative of the terms.
      for (const [i, v] of folded.entries()) {
        const ref = bn[i] as number
        expect(Math.abs(v - ref), `output ${i}`).toBeLessThan(1e-5 * (1 + Math.abs(ref)))
      }
    }
  })

  it('takes a Conv kernel_shape from its weight, and VALID auto_pad as no padding', () => {
    const bytes = tiny(['N', 1, 4, 4], (g, x) =>
      g.node('Conv', [x, g.constant('w', 'float32', [2, 1, 2, 3], uniform(rand, 12))], { auto_pad: 'VALID' }),
    )
    expect(plan(bytes).steps[0]).toMatchObject({
      op: 'conv',
      kH: 2,
      kW: 3,
      pads: [0, 0, 0, 0],
      outH: 3,
      outW: 2,
      bias: new Float32Array(2),
    })
  })
})
