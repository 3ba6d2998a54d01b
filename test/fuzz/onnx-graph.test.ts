/**
 * Fuzzing the graph reader and the kernel planner behind it: on byte-mutated fixture models and
 * arbitrary bytes, readGraph returns a graph or throws `InvalidModelError`, never another error;
 * what it returns holds no more values than the bytes could carry (each value takes at least one
 * byte); planKernels on that graph returns a plan or a reason, never throws; both answer fast.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { planKernels } from '../../src/engine/kernel-plan.js'
import { InvalidModelError } from '../../src/errors.js'
import { type OnnxGraph, readGraph } from '../../src/onnx/graph.js'
import { mlpClassifier, smallCnn } from '../fixtures/models.js'
import { model, writeTensor } from '../onnx/crafted.js'
import { CASE_TIMEOUT_MS, fuzzParams } from './budget.js'
import { mutatedModel, seedModels } from './onnx-models.js'

/** Seeds that reach every reader path: float_data, int64_data, Constant nodes, the planner's ops. */
function seeds(): Uint8Array[] {
  const typed = model((g) => {
    g.message(1, (n) =>
      n
        .string(2, 'shape')
        .string(4, 'Constant')
        .message(5, (a) =>
          a
            .string(1, 'value')
            .varint(20, 4)
            .message(5, (t) => t.packedVarints(1, [2]).varint(2, 7).varint(7, 0).varint(7, -1)),
        ),
    )
    g.message(1, (n) => n.string(1, 'x').string(1, 'shape').string(2, 'y').string(4, 'Reshape'))
    g.message(5, (t) => writeTensor(t, { name: 'w', dims: [2, 2], dataType: 1, floats: [1, -2, 3, 0.5] }))
    g.message(11, (v) =>
      v
        .string(1, 'x')
        .message(2, (ty) =>
          ty.message(1, (tt) =>
            tt.varint(1, 1).message(2, (s) => s.message(1, (d) => d.string(2, 'N')).message(1, (d) => d.varint(1, 4))),
          ),
        ),
    )
  })
  return [...seedModels(), mlpClassifier({ features: 3, hidden: [4], classes: 2 }).bytes, smallCnn().bytes, typed]
}

/** Values the graph holds (initializers and attribute lists): each took at least one byte. */
function valueCount(g: OnnxGraph): number {
  let n = 0
  for (const t of g.initializers.values()) n += (t.floats?.length ?? 0) + (t.ints?.length ?? 0)
  for (const node of g.nodes) {
    for (const a of Object.values(node.attrs)) if (typeof a !== 'number' && typeof a !== 'string') n += a.length
  }
  return n
}

function checked(bytes: Uint8Array): void {
  const t0 = performance.now()
  let graph: OnnxGraph | undefined
  try {
    graph = readGraph(bytes)
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidModelError)
    expect((e as Error).message.length).toBeLessThan(30_000)
  }
  if (graph) {
    expect(valueCount(graph)).toBeLessThanOrEqual(bytes.length)
    const plan = planKernels(graph)
    if ('unsupported' in plan) expect(plan.unsupported.length).toBeLessThan(1000)
    else expect(plan.steps.length).toBeGreaterThan(0) // every output is a step's
  }
  expect(performance.now() - t0).toBeLessThan(CASE_TIMEOUT_MS)
}

describe('graph reader fuzzing', () => {
  it('reads or refuses byte-mutated fixture models with InvalidModelError, and plans what it reads', () => {
    fc.assert(fc.property(mutatedModel(seeds()), checked), fuzzParams(2000))
  })

  it('reads or refuses arbitrary bytes with InvalidModelError', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 512 }), checked), fuzzParams(2000))
  })
})
