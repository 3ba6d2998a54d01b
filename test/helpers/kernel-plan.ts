/**
 * Helpers of the kernel planner's tests: plan a model (checking the plan's dataflow), get the
 * reason a model is refused, and build one-input models node by node.
 */
import { expect } from 'vitest'
import { planKernels } from '../../src/engine/kernel-plan.js'
import type { KernelPlan } from '../../src/engine/kernel-plan-types.js'
import { GraphBuilder } from '../../src/onnx/builder.js'
import { readGraph } from '../../src/onnx/graph.js'

/** The plan of `bytes`, after checking its dataflow; throws if the planner refuses it. */
export function plan(bytes: Uint8Array): KernelPlan {
  const p = planKernels(readGraph(bytes))
  if ('unsupported' in p) throw new Error(`unexpectedly unsupported: ${p.unsupported}`)
  checkDataflow(p)
  return p
}

/** Why the planner refuses `bytes`; throws if it plans them. */
export function reason(bytes: Uint8Array): string {
  const p = planKernels(readGraph(bytes))
  if (!('unsupported' in p)) throw new Error(`unexpectedly planned: ${p.steps.map((s) => s.op).join(', ')}`)
  return p.unsupported
}

/** Every step reads values already written (inputs or earlier steps), aliases resolve, outputs exist. */
function checkDataflow(p: KernelPlan): void {
  const written = new Set(p.inputs.map((v) => v.name))
  for (const s of p.steps) {
    const reads =
      s.op === 'eltwise'
        ? [s.a, ...(s.b ? [s.b] : [])]
        : [s.input, ...(s.op === 'conv' && s.residual ? [s.residual] : [])]
    for (const r of reads) expect(written.has(r), `${s.op} reads ${r}`).toBe(true)
    expect(written.has(s.output), `${s.output} written twice`).toBe(false)
    written.add(s.output)
    expect(p.values[s.output]).toBeDefined()
  }
  for (const target of Object.values(p.aliases)) expect(written.has(target)).toBe(true)
  for (const o of p.outputs) expect(written.has(p.aliases[o.name] ?? o.name)).toBe(true)
}

/** The steps as 'op:activation' (gemm, conv, eltwise) or 'op'. */
export const ops = (p: KernelPlan) =>
  p.steps.map((s) => (s.op === 'gemm' || s.op === 'conv' || s.op === 'eltwise' ? `${s.op}:${s.activation}` : s.op))

/** A one-node-at-a-time model: `build` adds nodes to `g` reading `x` and returns the output value. */
export function tiny(
  shape: (number | string)[],
  build: (g: GraphBuilder, x: string) => string,
  opts: { opset?: number; outShape?: (number | string)[] } = {},
): Uint8Array {
  const g = new GraphBuilder('tiny')
  const x = g.input('x', 'float32', shape)
  g.output(build(g, x), 'float32', opts.outShape ?? [], 'y')
  return g.toModel(opts.opset === undefined ? {} : { opset: opts.opset })
}
