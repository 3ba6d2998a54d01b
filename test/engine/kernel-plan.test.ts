/**
 * The kernel planner on the fixture models (checked structurally: steps in order, shapes, what
 * was fused), its aliases and fusion rules on small graphs, and the reasons it gives for graphs it
 * cannot plan. The weight folds: kernel-plan-folds.test.ts.
 */
import { describe, expect, it } from 'vitest'
import type { PlanStep } from '../../src/engine/kernel-plan-types.js'
import { type AttrValue, GraphBuilder } from '../../src/onnx/builder.js'
import {
  linearRegression,
  logisticRegression,
  mlpClassifier,
  resnet18Shaped,
  sklearnPipeline,
  smallCnn,
  torchTabular,
  wideMlp,
} from '../fixtures/models.js'
import { ops, plan, reason, tiny } from '../helpers/kernel-plan.js'

describe('planKernels on the fixtures', () => {
  it('plans the MLP classifier as three gemms (ReLU fused, weights transposed) and a softmax', () => {
    const f = mlpClassifier()
    const p = plan(f.bytes)
    expect(ops(p)).toEqual(['gemm:relu', 'gemm:relu', 'gemm:none', 'softmax'])
    expect(p.inputs).toEqual([{ name: 'x', shape: [16] }])
    expect(p.outputs).toEqual([{ name: 'probs', shape: [3] }])
    const gemms = p.steps.filter((s) => s.op === 'gemm')
    f.params.layers.forEach((layer, l) => {
      const s = gemms[l] as Extract<PlanStep, { op: 'gemm' }>
      expect([s.k, s.n]).toEqual([layer.in, layer.out])
      // transB: the plan's [k, n] weight is the layer's [out, in] matrix transposed.
      for (let i = 0; i < layer.in; i++)
        for (let j = 0; j < layer.out; j++) expect(s.weight[i * layer.out + j]).toBe(layer.w[j * layer.in + i])
      expect(s.bias).toEqual(layer.b)
    })
    expect(p.steps[3]).toMatchObject({ op: 'softmax', input: p.steps[2]?.output, cols: 3 })
    expect(p.aliases).toEqual({ probs: p.steps[3]?.output })
  })

  it('plans the wide MLP as five gemms and a softmax', () => {
    const p = plan(wideMlp().bytes)
    expect(ops(p)).toEqual(['gemm:relu', 'gemm:relu', 'gemm:relu', 'gemm:relu', 'gemm:none', 'softmax'])
    expect(p.steps.map((s) => (s.op === 'gemm' ? [s.k, s.n] : []))).toEqual([
      [256, 2048],
      [2048, 2048],
      [2048, 2048],
      [2048, 2048],
      [2048, 16],
      [],
    ])
  })

  it('plans logistic regression as one gemm with the sigmoid fused', () => {
    const f = logisticRegression()
    const p = plan(f.bytes)
    expect(p.steps).toEqual([
      {
        op: 'gemm',
        input: 'x',
        output: expect.any(String),
        k: 12,
        n: 1,
        weight: f.params.layer.w,
        bias: f.params.layer.b,
        activation: 'sigmoid',
      },
    ])
    expect(p.outputs).toEqual([{ name: 'prob', shape: [1] }])
  })

  it('plans linear regression (MatMul + Add of a [1] bias for one output) as one gemm', () => {
    const f = linearRegression()
    const p = plan(f.bytes)
    expect(p.steps).toMatchObject([
      { op: 'gemm', input: 'x', k: 8, n: 1, weight: f.params.w, bias: Float32Array.of(f.params.b), activation: 'none' },
    ])
  })

  it('plans the small CNN: conv with ReLU fused, max pool, flatten as an alias, gemm', () => {
    const f = smallCnn()
    const p = plan(f.bytes)
    expect(ops(p)).toEqual(['conv:relu', 'pool', 'gemm:none'])
    const [conv, pool, gemm] = p.steps as [
      Extract<PlanStep, { op: 'conv' }>,
      Extract<PlanStep, { op: 'pool' }>,
      Extract<PlanStep, { op: 'gemm' }>,
    ]
    expect(conv).toMatchObject({
      inC: 3,
      inH: 8,
      inW: 8,
      outC: 4,
      kH: 3,
      kW: 3,
      outH: 8,
      outW: 8,
      pads: [1, 1, 1, 1],
      strides: [1, 1],
      dilations: [1, 1],
      group: 1,
      weight: f.params.convW,
      bias: f.params.convB,
    })
    expect(conv.residual).toBeUndefined()
    expect(pool).toMatchObject({
      mode: 'max',
      input: conv.output,
      channels: 4,
      inH: 8,
      inW: 8,
      kH: 2,
      kW: 2,
      strides: [2, 2],
      outH: 4,
      outW: 4,
    })
    // The gemm reads the pool's buffer (the Flatten output is an alias of it).
    expect(gemm).toMatchObject({ input: pool.output, k: 64, n: 10 })
    expect(Object.values(p.aliases)).toEqual([pool.output, gemm.output])
    expect(p.values[pool.output]?.shape).toEqual([4, 4, 4])
  })

  it('plans ResNet-18: convs with residual + ReLU fused, no element-wise steps', () => {
    const p = plan(resnet18Shaped({ size: 32, classes: 10 }).bytes)
    const convs = p.steps.filter((s) => s.op === 'conv')
    expect(convs).toHaveLength(20) // stem + 8 blocks × 2 + 3 downsamples
    expect(p.steps.filter((s) => s.op === 'eltwise')).toHaveLength(0)
    const residual = convs.filter((s) => s.residual !== undefined)
    expect(residual).toHaveLength(8)
    for (const s of residual) expect(s.activation).toBe('relu')
    expect(convs.filter((s) => s.activation === 'none').map((s) => [s.kH, s.strides[0]])).toEqual([
      [1, 2],
      [1, 2],
      [1, 2],
    ])
    expect(ops(p).filter((o) => !o.startsWith('conv'))).toEqual(['pool', 'pool', 'gemm:none'])
    expect(p.values[convs[0]?.output as string]?.shape).toEqual([64, 16, 16])
    const [maxPool, gap] = p.steps.filter((s) => s.op === 'pool') as Extract<PlanStep, { op: 'pool' }>[]
    expect(maxPool).toMatchObject({ mode: 'max', kH: 3, strides: [2, 2], pads: [1, 1, 1, 1], outH: 8 })
    expect(gap).toMatchObject({ mode: 'avg', channels: 512, inH: 1, inW: 1, kH: 1, kW: 1, outH: 1 })
    expect(p.steps.at(-1)).toMatchObject({ op: 'gemm', input: gap?.output, k: 512, n: 10 })
  })

  it('gives the first reason for the models it cannot plan', () => {
    expect(reason(torchTabular().bytes)).toBe("input 'cat' is int64, not float32")
    expect(reason(sklearnPipeline().bytes)).toBe('Scaler (domain ai.onnx.ml), at node Scaler_0')
  })
})

describe('planKernels structure and refusals', () => {
  const w = (g: GraphBuilder, name: string, dims: number[]) =>
    g.constant(name, 'float32', dims, new Array(dims.reduce((a, b) => a * b, 1)).fill(0.5))

  it('fuses an activation only into a value nobody else reads and that is not a graph output', () => {
    const g = new GraphBuilder('shared')
    const x = g.input('x', 'float32', ['N', 2])
    const h = g.node('Gemm', [x, w(g, 'W', [2, 2])])
    g.output(g.node('Relu', [h]), 'float32', ['N', 2], 'y')
    g.output(h, 'float32', ['N', 2])
    expect(ops(plan(g.toModel()))).toEqual(['gemm:none', 'eltwise:relu'])
    // Add of two computed values: an eltwise with b, the ReLU after it fused.
    const two = tiny(['N', 2], (b, x) => b.node('Relu', [b.node('Add', [b.node('Sigmoid', [x]), x])]))
    expect(plan(two).steps).toMatchObject([
      { op: 'eltwise', a: 'x', activation: 'sigmoid', count: 2 },
      { op: 'eltwise', b: 'x', activation: 'relu', count: 2 },
    ])
  })

  it('makes Reshape to [0, -1] or [-1, static], Identity and Dropout aliases', () => {
    const bytes = tiny(
      ['N', 2, 3],
      (g, x) => {
        const flat = g.node('Reshape', [x, g.constant('s1', 'int64', [2], [0, -1])])
        const back = g.node('Reshape', [
          g.node('Dropout', [g.node('Identity', [flat])]),
          g.constant('s2', 'int64', [3], [-1, 3, 2]),
        ])
        return g.node('Softmax', [back], { axis: 2 })
      },
      { outShape: ['N', 3, 2] },
    )
    const p = plan(bytes)
    expect(p.steps).toMatchObject([{ op: 'softmax', input: 'x', cols: 2 }])
    expect(Object.values(p.aliases).slice(0, 4)).toEqual(['x', 'x', 'x', 'x'])
    expect(p.outputs).toEqual([{ name: 'y', shape: [3, 2] }])
    expect(reason(tiny(['N', 6], (g, x) => g.node('Reshape', [x, g.constant('s', 'int64', [2], [2, -1])])))).toMatch(
      /^Reshape to \[2, -1\].*at node Reshape_0$/,
    )
    expect(reason(tiny(['N', 6], (g, x) => g.node('Reshape', [x, g.constant('s', 'int64', [2], [-1, 4])])))).toMatch(
      /rows would change/,
    )
  })

  it('accepts Softmax on the last axis only (before opset 13, the default axis 1 of a 2-D input)', () => {
    expect(ops(plan(tiny(['N', 4], (g, x) => g.node('Softmax', [x]), { opset: 11 })))).toEqual(['softmax'])
    expect(reason(tiny(['N', 2, 4], (g, x) => g.node('Softmax', [x]), { opset: 11 }))).toMatch(
      /^Softmax on axis 1 of a rank-3 tensor/,
    )
    expect(reason(tiny(['N', 2, 4], (g, x) => g.node('Softmax', [x], { axis: 1 })))).toMatch(/^Softmax on axis 1/)
  })

  it('plans pools and refuses ceil_mode and SAME padding', () => {
    const pool = (op: string, attrs: Record<string, AttrValue>) =>
      tiny(['N', 2, 5, 5], (g, x) => g.node(op, [x], attrs))
    expect(
      plan(pool('AveragePool', { kernel_shape: [2, 3], strides: [2, 1], pads: [1, 0, 0, 1], count_include_pad: 1 }))
        .steps[0],
    ).toMatchObject({ mode: 'avg', kH: 2, kW: 3, outH: 3, outW: 4, countIncludePad: true })
    expect(plan(pool('MaxPool', { kernel_shape: [2, 2], auto_pad: 'VALID' })).steps[0]).toMatchObject({
      pads: [0, 0, 0, 0],
      outH: 4,
    })
    expect(reason(pool('MaxPool', { kernel_shape: [2, 2], ceil_mode: 1 }))).toBe(
      'MaxPool with ceil_mode = 1, at node MaxPool_0',
    )
    expect(reason(pool('MaxPool', { kernel_shape: [2, 2], auto_pad: 'SAME_UPPER' }))).toBe(
      'MaxPool with auto_pad SAME_UPPER, at node MaxPool_0',
    )
    const same = tiny(['N', 2, 5, 5], (g, x) =>
      g.node('Conv', [x, w(g, 'k', [1, 2, 3, 3])], { auto_pad: 'SAME_LOWER' }),
    )
    expect(reason(same)).toBe('Conv with auto_pad SAME_LOWER, at node Conv_0')
  })

  it('refuses what the kernels do not cover, saying what and where', () => {
    expect(reason(tiny(['N', 2], (g, x) => g.node('Gemm', [x, w(g, 'W', [2, 2])], { transA: 1 })))).toBe(
      'Gemm with transA = 1, at node Gemm_0',
    )
    const g1 = new GraphBuilder('ints')
    g1.output(g1.node('Relu', [g1.input('x', 'int64', ['N', 2])]), 'int64', ['N', 2])
    expect(reason(g1.toModel())).toBe("input 'x' is int64, not float32")
    expect(reason(tiny(['N', 4], (g, x) => g.node('Add', [x, w(g, 'b', [1])])))).toMatch(
      /^Add of the constant 'b'.*broadcasting Add/,
    )
    const g2 = new GraphBuilder('two')
    const sum = g2.node('Add', [g2.input('a', 'float32', ['N', 4]), g2.input('b', 'float32', ['N', 1])])
    g2.output(sum, 'float32', ['N', 4])
    expect(reason(g2.toModel())).toBe('broadcasting Add: [4] + [1], at node Add_0')
    const g3 = new GraphBuilder('weight_input')
    g3.output(g3.node('MatMul', [g3.input('x', 'float32', ['N', 2]), g3.input('w', 'float32', [2, 2])]), 'float32', [
      'N',
      2,
    ])
    expect(reason(g3.toModel())).toBe("MatMul weight 'w' is not an initializer, at node MatMul_0")
    expect(reason(tiny(['N', 3], (g, x) => g.node('MatMul', [x, w(g, 'W', [4, 2])])))).toBe(
      'MatMul K mismatch: the input has 3 columns, the weight 4 rows, at node MatMul_0',
    )
    expect(reason(tiny(['N', 'M'], (g, x) => g.node('Relu', [x])))).toBe(
      "input 'x' has dimension 1 'M' (only the first may be dynamic)",
    )
    expect(
      reason(tiny(['N', 2], (g, x) => g.node('Gather', [x, g.constant('i', 'int64', [1], [0])], { axis: 1 }))),
    ).toBe('Gather, at node Gather_0')
    expect(
      reason(
        tiny(['N', 2], (g, x) =>
          g.node('Relu', [
            g.node('BatchNormalization', [x, w(g, 's', [2]), w(g, 'b', [2]), w(g, 'm', [2]), w(g, 'v', [2])]),
          ]),
        ),
      ),
    ).toMatch(/^BatchNormalization not right after a Conv/)
    expect(reason(tiny(['N', 2], (g, x) => g.node('Relu', [x]), { outShape: ['N', 3] }))).toMatch(
      /^output 'y' is declared \[N, 3\] but computes \[batch, 2\]/,
    )
  })
})
