/**
 * The kernel planner on hostile models. An uploaded model is attacker input, and a webgpu
 * deployment plans it on the server's event loop while it measures its paths: the plan's memory
 * and work must stay linear in the model's bytes, whatever the graph reuses or repeats.
 */
import { describe, expect, it } from 'vitest'
import { GraphBuilder } from '../../src/onnx/builder.js'
import { ops, plan, reason, tiny } from '../helpers/kernel-plan.js'

/** A float32 initializer of `dims`, values not all equal. */
const w = (g: GraphBuilder, name: string, dims: number[]) =>
  g.constant(
    name,
    'float32',
    dims,
    Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => 0.5 - 0.01 * i),
  )

describe('planKernels on hostile models', () => {
  it('refuses a weight that two nodes share (each step would copy it: a small file, gigabytes of copies)', () => {
    // A chain of MatMuls on one [k, k] initializer: the file holds it once, the plan once per node.
    const chain = tiny(['N', 3], (g, x) => {
      const W = w(g, 'W', [3, 3])
      return g.node('MatMul', [g.node('MatMul', [g.node('MatMul', [x, W]), W]), W])
    })
    expect(reason(chain)).toMatch(/^MatMul weight 'W' is also the weight of an earlier node, at node MatMul_1$/)
    const convs = tiny(['N', 2, 4, 4], (g, x) => {
      const K = w(g, 'K', [2, 2, 1, 1])
      return g.node('Conv', [g.node('Conv', [x, K]), K])
    })
    expect(reason(convs)).toMatch(/^Conv weight 'K' is also the weight of an earlier node/)
    const mixed = tiny(['N', 2], (g, x) => {
      const W = w(g, 'W', [2, 2])
      return g.node('Gemm', [g.node('MatMul', [x, W]), W], { transB: 1 })
    })
    expect(reason(mixed)).toMatch(/^Gemm weight 'W' is also the weight of an earlier node/)
  })

  it('still shares biases and batch-norm parameters (copies of those are no larger than the weights)', () => {
    const bytes = tiny(['N', 2, 4, 4], (g, x) => {
      const b = w(g, 'b', [2])
      const bn = ['s', 'B', 'm', 'v'].map((n) => w(g, n, [2]))
      const c1 = g.node('BatchNormalization', [g.node('Conv', [x, w(g, 'K1', [2, 2, 1, 1]), b]), ...bn])
      return g.node('BatchNormalization', [g.node('Conv', [g.node('Relu', [c1]), w(g, 'K2', [2, 2, 1, 1]), b]), ...bn])
    })
    expect(ops(plan(bytes))).toEqual(['conv:relu', 'conv:none'])
  })

  it('folds one BatchNormalization into a conv, not a chain of them (each fold rewrites the whole weight)', () => {
    // N BatchNormalization nodes sharing four [C] parameters cost ~50 bytes each but would make N
    // passes over the conv's weight: quadratic in the file's size.
    const bytes = tiny(['N', 2, 4, 4], (g, x) => {
      const bn = ['s', 'B', 'm', 'v'].map((n) => w(g, n, [2]))
      const conv = g.node('Conv', [x, w(g, 'K', [2, 2, 3, 3])], { pads: [1, 1, 1, 1] })
      return g.node('BatchNormalization', [g.node('BatchNormalization', [conv, ...bn]), ...bn])
    })
    expect(reason(bytes)).toMatch(/^BatchNormalization not right after a Conv, at node BatchNormalization_2$/)
  })

  it('plans a long chain of residual blocks in dataflow order, each conv once', () => {
    // Each block: y = relu(conv_a(x) + conv_b(x)), conv_b written after conv_a, so the planner
    // moves conv_a after it. The move must stay linear in the steps (no filtering per block).
    const blocks = 40
    const bytes = tiny(['N', 2, 3, 3], (g, x) => {
      let h = x
      for (let i = 0; i < blocks; i++) {
        const a = g.node('Conv', [h, w(g, `A${i}`, [2, 2, 1, 1])])
        const b = g.node('Conv', [h, w(g, `B${i}`, [2, 2, 1, 1])])
        h = g.node('Relu', [g.node('Add', [a, b])])
      }
      return h
    })
    const p = plan(bytes) // checks every read comes after its write
    expect(p.steps).toHaveLength(2 * blocks)
    expect(new Set(p.steps).size).toBe(2 * blocks)
    expect(ops(p).filter((o) => o === 'conv:relu')).toHaveLength(blocks)
  })

  it('answers at once for a pool whose claimed window and pads are huge (no work per tap of each window)', () => {
    // 2^24 windows along W, each of 2^24 taps, the first tap inside the image at the window's
    // index from the end: checking tap by tap took ~2^47 steps on the event loop for ~100 bytes.
    const big = 2 ** 24
    const bytes = tiny(['N', 1, 1, 1], (g, x) =>
      g.node('MaxPool', [x], { kernel_shape: [1, big], pads: [0, big - 1, 0, big - 1] }),
    )
    expect(plan(bytes).steps).toMatchObject([{ op: 'pool', kW: big, outH: 1, outW: big }])
    // Dilated taps that step over a 1-wide image: still refused for the window that misses it.
    const over = tiny(['N', 1, 1, 2], (g, x) =>
      g.node('MaxPool', [x], { kernel_shape: [1, 2], pads: [0, 1, 0, 1], dilations: [1, 3] }),
    )
    expect(reason(over)).toMatch(/^pool2d: horizontal window 0 lies wholly in the padding/)
  })

  it('keeps values named __proto__ or constructor as plain names', () => {
    const g = new GraphBuilder('proto')
    const x = g.input('constructor', 'float32', ['N', 2])
    const h = g.node('Relu', [x], {}, { outputs: ['__proto__'] })
    g.output(h, 'float32', ['N', 2])
    g.output(g.node('Flatten', [h], {}, { outputs: ['toString'] }), 'float32', ['N', 2])
    const p = plan(g.toModel())
    expect(p.outputs.map((o) => o.name)).toEqual(['__proto__', 'toString'])
    expect(Object.keys(p.values).sort()).toEqual(['__proto__', 'constructor'])
    expect(Object.keys(p.aliases)).toEqual(['toString'])
  })

  it('refuses a graph output that is a graph input, a constant, or never computed', () => {
    const g = new GraphBuilder('passthrough')
    const x = g.input('x', 'float32', ['N', 2])
    g.output(g.node('Relu', [x]), 'float32', ['N', 2])
    g.output(x, 'float32', ['N', 2])
    expect(reason(g.toModel())).toBe("output 'x' is a graph input")
    const g2 = new GraphBuilder('dup')
    const x2 = g2.input('x', 'float32', ['N', 2])
    g2.node('Relu', [x2], {}, { outputs: ['y'] })
    g2.node('Sigmoid', [x2], {}, { outputs: ['y'] })
    g2.output('y', 'float32', ['N', 2])
    expect(reason(g2.toModel())).toBe("value 'y' is written twice, at node Sigmoid_1")
  })
})
