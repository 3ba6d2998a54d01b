/**
 * Plans run end to end: each step of the plan executed by the kernels' CPU twins (gemmCpu,
 * conv2dCpu, pool2dCpu, eltwiseCpu, softmaxCpu) in plan order, through its aliases, against
 * onnxruntime (the `cpu` backend) running the original model on the same random rows. This checks
 * what the structural tests cannot: that the folds, fusions, step order and aliases keep the
 * model's meaning.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.js'
import { Engine } from '../../src/engine/engine.js'
import { planKernels } from '../../src/engine/kernel-plan.js'
import type { KernelPlan } from '../../src/engine/kernel-plan-types.js'
import type { HostTensor } from '../../src/engine/tensor.js'
import { conv2dCpu } from '../../src/kernels/conv2d.js'
import { eltwiseCpu } from '../../src/kernels/eltwise.js'
import { gemmCpu } from '../../src/kernels/gemm.js'
import { pool2dCpu } from '../../src/kernels/pool2d.js'
import { softmaxCpu } from '../../src/kernels/softmax.js'
import { GraphBuilder } from '../../src/onnx/builder.js'
import { readGraph } from '../../src/onnx/graph.js'
import { mulberry32, uniform } from '../../src/random.js'
import { linearRegression, logisticRegression, mlpClassifier, resnet18Shaped, smallCnn } from '../fixtures/models.js'
import { expectClose } from '../helpers/compare.js'

const engine = new Engine(loadConfig({}, { backend: 'cpu', logLevel: 'warn' }))
afterAll(() => engine.close())

/** Execute `plan` on `rows` rows with the CPU twins; the graph outputs by name. */
function runPlan(plan: KernelPlan, feeds: Record<string, Float32Array>, rows: number): Record<string, Float32Array> {
  const live = new Map(Object.entries(feeds))
  const get = (name: string): Float32Array => {
    const v = live.get(name)
    if (!v) throw new Error(`plan reads '${name}' before it is written`)
    return v
  }
  for (const s of plan.steps) {
    if (s.op === 'gemm') live.set(s.output, gemmCpu(get(s.input), s.weight, s.bias, rows, s.n, s.k, s.activation))
    else if (s.op === 'conv') {
      const { op: _, input, output, outH: _h, outW: _w, weight, bias, residual, activation, ...shape } = s
      const res = residual === undefined ? undefined : get(residual)
      live.set(output, conv2dCpu(get(input), weight, bias, { ...shape, batch: rows }, res, activation))
    } else if (s.op === 'pool') {
      const { op: _, input, output, outH: _h, outW: _w, ...shape } = s
      live.set(output, pool2dCpu(get(input), { ...shape, batch: rows }))
    } else if (s.op === 'eltwise') {
      live.set(s.output, eltwiseCpu(get(s.a), s.b === undefined ? undefined : get(s.b), s.activation))
    } else {
      const x = get(s.input)
      live.set(s.output, softmaxCpu(x, x.length / s.cols, s.cols))
    }
  }
  return Object.fromEntries(plan.outputs.map((o) => [o.name, get(plan.aliases[o.name] ?? o.name)]))
}

/** Plan `bytes`, run the plan and onnxruntime on `rows` random rows, compare every output. */
async function compare(bytes: Uint8Array, rows: number, seed: number): Promise<KernelPlan> {
  const plan = planKernels(readGraph(bytes))
  if ('unsupported' in plan) throw new Error(plan.unsupported)
  const rand = mulberry32(seed)
  const feeds = Object.fromEntries(
    plan.inputs.map((v) => [v.name, uniform(rand, rows * v.shape.reduce((a, b) => a * b, 1), -2, 2)]),
  )
  const session = await engine.load(bytes)
  try {
    const inputs = Object.fromEntries(
      plan.inputs.map((v) => [
        v.name,
        { dtype: 'float32', dims: [rows, ...v.shape], data: feeds[v.name] } as HostTensor,
      ]),
    )
    const expected = await session.run(inputs)
    const actual = runPlan(plan, feeds, rows)
    for (const o of plan.outputs) {
      const ref = expected[o.name] as HostTensor
      expect([...ref.dims]).toEqual([rows, ...o.shape])
      expectClose(actual[o.name] as Float32Array, ref.data as Float32Array, `${o.name} (seed ${seed})`)
    }
  } finally {
    await session.release()
  }
  return plan
}

describe('kernel plans run by the CPU twins agree with onnxruntime', () => {
  it('on the MLP classifier, logistic and linear regression', async () => {
    await compare(mlpClassifier().bytes, 5, 1)
    await compare(logisticRegression().bytes, 3, 2)
    await compare(linearRegression().bytes, 4, 3)
  })

  it('on the small CNN', async () => {
    await compare(smallCnn().bytes, 3, 4)
  })

  it('on ResNet-18 at 32×32 (residual convs moved after their shortcut)', async () => {
    const plan = await compare(resnet18Shaped({ size: 32, classes: 10 }).bytes, 2, 5)
    expect(plan.steps.filter((s) => s.op === 'conv' && s.residual !== undefined)).toHaveLength(8)
  })

  it('on a graph of every fold: Conv+BN+Add+Relu, pools, Reshape, Gemm alpha/beta/transB, MatMul+Add, Tanh, Softmax', async () => {
    const rand = mulberry32(9)
    const g = new GraphBuilder('folds')
    const x = g.input('x', 'float32', ['N', 2, 6, 5])
    const c = (name: string, dims: number[], lo = -1, hi = 1) =>
      g.constant(
        name,
        'float32',
        dims,
        uniform(
          rand,
          dims.reduce((a, b) => a * b, 1),
          lo,
          hi,
        ),
      )
    const conv = g.node('Conv', [x, c('w1', [3, 2, 3, 3]), c('b1', [3])], { pads: [1, 1, 0, 1], strides: [1, 1] })
    const bn = g.node('BatchNormalization', [conv, c('s', [3]), c('sh', [3]), c('m', [3]), c('v', [3], 0.2, 2)], {
      epsilon: { float: 1e-3 },
    })
    const side = g.node('Conv', [x, c('w2', [3, 2, 1, 1])], { pads: [0, 0, 0, 0], strides: [1, 1], dilations: [1, 1] })
    const sideCut = g.node('MaxPool', [side], { kernel_shape: [2, 1], strides: [1, 1] })
    const block = g.node('Relu', [g.node('Add', [sideCut, bn])])
    const pooled = g.node('AveragePool', [block], {
      kernel_shape: [2, 2],
      strides: [2, 2],
      pads: [1, 0, 0, 1],
      count_include_pad: 1,
    })
    const flat = g.node('Reshape', [pooled, g.constant('shape', 'int64', [2], [0, -1])])
    const h = g.node('Tanh', [
      g.node('Gemm', [flat, c('W', [4, 27]), c('C', [4])], { transB: 1, alpha: { float: 0.5 }, beta: { float: -1.5 } }),
    ])
    const logits = g.node('Add', [g.node('MatMul', [h, c('M', [4, 3])]), c('bias', [1, 3])])
    g.output(g.node('Softmax', [logits], { axis: 1 }), 'float32', ['N', 3], 'probs')
    g.output(g.node('GlobalAveragePool', [block]), 'float32', ['N', 3, 1, 1], 'gap')
    const plan = await compare(g.toModel({ opset: 13 }), 3, 10)
    expect(plan.steps.map((s) => s.op)).toEqual(['conv', 'pool', 'conv', 'pool', 'gemm', 'gemm', 'softmax', 'pool'])
  })
})
