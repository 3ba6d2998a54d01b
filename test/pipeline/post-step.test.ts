/**
 * The post step (src/pipeline/post.ts) as it composes the kernels: activation, then label (argmax
 * or threshold) and top-k over the activated scores, then class names. The same specs run on its
 * CPU path on every machine and on its GPU path (dispatches, one readback) where there is an
 * adapter, against expectations from the float64 references and written-out labels.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.js'
import { Engine } from '../../src/engine/engine.js'
import type { AnyTensor } from '../../src/engine/tensor.js'
import { GraphBuilder } from '../../src/onnx/builder.js'
import { resolvePost } from '../../src/pipeline/post.js'
import { postSpecSchema } from '../../src/pipeline/spec.js'
import { expectCloseSpecial } from '../helpers/compare.js'
import { gpuTitle, probeGpu } from '../helpers/gpu.js'
import { rankOrder, sigmoidRef, softmaxRowRef } from '../helpers/kernel-reference.js'
import { closeTestContext, testContext } from '../helpers/kernels.js'

const gpu = await probeGpu()
const { NaN: NAN, NEGATIVE_INFINITY: NEG_INF, POSITIVE_INFINITY: INF } = Number
const engine = new Engine(loadConfig({}, { backend: 'cpu' }))

/** A model whose float32 output `logits` [N, width] is its input: only its output spec matters here. */
async function postFor(spec: unknown, width: number) {
  const g = new GraphBuilder('identity')
  g.output(g.input('x', 'float32', ['N', width]), 'float32', ['N', width], 'logits')
  return resolvePost(postSpecSchema.parse(spec), await engine.load(g.toModel()))
}

type Run = (spec: unknown, x: number[], rows: number, cols: number) => Promise<Record<string, AnyTensor>>

const onCpu: Run = async (spec, x, rows, cols) =>
  (await postFor(spec, cols)).cpu({ dtype: 'float32', dims: [rows, cols], data: Float32Array.from(x) })

const onGpu: Run = async (spec, x, rows, cols) => {
  const post = await postFor(spec, cols)
  const batch = (await testContext()).batch('test post step')
  const src = { dtype: 'float32' as const, dims: [rows, cols], buffer: batch.upload(Float32Array.from(x), 'logits') }
  const { requests, assemble } = post.encode(batch, src)
  return assemble(await batch.read(requests))
}

const data = (t: AnyTensor | undefined) => Array.from((t?.data ?? []) as ArrayLike<unknown>)

/** Rows of 4 (a thread per row) and, padded with -inf, of 40 (a workgroup per row). */
const ROWS = [
  [2, 0.5, 2, -1],
  [NAN, 3, -INF, 1],
  [INF, 1, INF, 0],
  [-3, -2, -2.5, -2],
]
const WIDTHS = [4, 40]

function postCases(run: Run): void {
  for (const width of WIDTHS) {
    const rows = ROWS.map((r) => [...r, ...new Array(width - r.length).fill(NEG_INF)])
    const names = Array.from({ length: width }, (_, i) => `c${i}`)

    it(`softmax, then argmax and top-3 of the probabilities, named (width ${width})`, async () => {
      const spec = { activation: 'softmax', argmax: true, topk: 3, labels: names }
      const out = await run(spec, rows.flat(), rows.length, width)
      const probs = rows.map((r) => softmaxRowRef(Array.from(Float32Array.from(r))))
      expectCloseSpecial(out.scores?.data as Float32Array, probs.flat(), 'scores')
      // A row holding NaN is all NaN after softmax, so its label is column 0.
      const order = probs.map((p) => rankOrder(p))
      expect(data(out.label)).toEqual([0, 0, 0, 1])
      expect(data(out.label_name)).toEqual(['c0', 'c0', 'c0', 'c1'])
      expect(data(out.topk_index)).toEqual(order.flatMap((o) => o.slice(0, 3)))
      expect(data(out.topk_label)).toEqual(order.flatMap((o) => o.slice(0, 3).map((i) => `c${i}`)))
      expectCloseSpecial(
        out.topk_score?.data as Float32Array,
        order.flatMap((o, r) => o.slice(0, 3).map((i) => probs[r]?.[i] as number)),
        'topk_score',
      )
    })

    it(`threshold on the raw scores abstains below it with an empty name (width ${width})`, async () => {
      const out = await run({ threshold: 1.5, labels: names }, rows.flat(), rows.length, width)
      expect(out.scores).toBeUndefined()
      expect(data(out.label)).toEqual([0, 1, 0, -1])
      expect(data(out.label_name)).toEqual(['c0', 'c1', 'c0', ''])
    })
  }

  it('sigmoid over one column, threshold 0.5 and two names for 0 and 1', async () => {
    const x = [-2, 0, 0.1, NAN, INF, -INF]
    const out = await run({ activation: 'sigmoid', threshold: 0.5, labels: ['no', 'yes'] }, x, x.length, 1)
    expectCloseSpecial(out.scores?.data as Float32Array, x.map(sigmoidRef), 'scores')
    expect(data(out.label)).toEqual([0, 1, 1, 0, 1, 0])
    expect(data(out.label_name)).toEqual(['no', 'yes', 'yes', 'no', 'yes', 'no'])
  })
}

afterAll(async () => {
  await engine.close()
})

describe('post step on the CPU (no GPU needed)', () => {
  postCases(onCpu)
})

describe.runIf(gpu.ok)(gpuTitle('post step on the GPU, against the same expectations', gpu), () => {
  afterAll(closeTestContext)
  postCases(onGpu)
})
