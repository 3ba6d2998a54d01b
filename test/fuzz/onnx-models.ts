/**
 * Hostile ONNX models for the upload fuzzer, as fast-check arbitraries:
 * - byte mutations of valid seed models (flips, interesting bytes, cuts, inserted, deleted and
 *   repeated runs), which mostly exercise the protobuf reader and onnxruntime's parser;
 * - one-operator graphs built with the builder, with constant inputs of odd shapes and values
 *   (negative, zero, huge, out of range) and odd attributes, which reach onnxruntime's graph
 *   checks, shape inference and constant folding: the kernels that run at load.
 */
import fc from 'fast-check'
import type { DType } from '../../src/engine/tensor.js'
import { type AttrValue, GraphBuilder } from '../../src/onnx/builder.js'
import {
  linearRegression,
  logisticRegression,
  mlpClassifier,
  sklearnPipeline,
  smallCnn,
  torchTabular,
} from '../fixtures/models.js'
import { f32, identityModel, ifModel, sparseModel } from '../onnx/crafted.js'

/** Valid models, small enough that a case loads in milliseconds. */
export function seedModels(): Uint8Array[] {
  return [
    linearRegression().bytes,
    logisticRegression().bytes,
    mlpClassifier({ features: 4, hidden: [8], classes: 3 }).bytes,
    smallCnn().bytes,
    sklearnPipeline().bytes,
    torchTabular().bytes,
    identityModel({ name: 'w', dims: [2, 2], dataType: 1, raw: f32([1, 2, 3, 4]) }),
    ifModel({ name: 'w', dims: [3], dataType: 2, raw: Uint8Array.of(1, 2, 3) }),
    sparseModel({ name: 'sv', dims: [2], dataType: 1, raw: f32([5, 7]) }, [1, 6], [2, 4]),
  ]
}

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'cut'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete' | 'repeat'; at: number; length: number }

const position = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true })
/** Bytes that often mean something: varint ends and continuations, wire types, lengths. */
const interesting = fc.constantFrom(0x00, 0x01, 0x02, 0x07, 0x08, 0x0a, 0x12, 0x3a, 0x7f, 0x80, 0xfe, 0xff)

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: position, bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({
    kind: fc.constant('set' as const),
    at: position,
    value: fc.oneof(interesting, fc.integer({ min: 0, max: 255 })),
  }),
  fc.record({ kind: fc.constant('cut' as const), at: position }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: position,
    bytes: fc.uint8Array({ minLength: 1, maxLength: 12 }),
  }),
  fc.record({
    kind: fc.constantFrom('delete' as const, 'repeat' as const),
    at: position,
    length: fc.integer({ min: 1, max: 64 }),
  }),
)

function apply(bytes: Uint8Array, m: Mutation): Uint8Array {
  const at = Math.floor(m.at * bytes.length)
  switch (m.kind) {
    case 'flip': {
      const out = bytes.slice()
      out[at] = (out[at] as number) ^ (1 << m.bit)
      return out
    }
    case 'set': {
      const out = bytes.slice()
      out[at] = m.value
      return out
    }
    case 'cut':
      return bytes.slice(0, Math.max(1, at))
    case 'insert':
      return concat(bytes.subarray(0, at), m.bytes, bytes.subarray(at))
    case 'delete':
      return concat(bytes.subarray(0, at), bytes.subarray(Math.min(bytes.length, at + m.length)))
    case 'repeat':
      return concat(bytes.subarray(0, at + m.length), bytes.subarray(at))
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

/** A seed model with 1–6 byte-level mutations. */
export function mutatedModel(seeds: Uint8Array[]): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(fc.integer({ min: 0, max: seeds.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 6 }))
    .map(([i, ms]) => ms.reduce(apply, seeds[i] as Uint8Array))
}

/** Integers that break shape and index arithmetic. */
const oddInt = fc.oneof(
  fc.constantFrom(
    -(2n ** 63n),
    -(2n ** 31n),
    -2n,
    -1n,
    0n,
    1n,
    2n,
    3n,
    2n ** 31n - 1n,
    2n ** 31n,
    2n ** 40n,
    2n ** 62n,
  ),
  fc.bigInt({ min: -8n, max: 64n }),
)
const oddFloat = fc.oneof(
  fc.constantFrom(0, -0, 1, -1, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 3.4e38, 1e-45),
  fc.double({ min: -100, max: 100, noNaN: true }),
)
/** A small shape: rank 0–4, each dim 0–4 (at most 256 elements). */
const smallDims = fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 4 })

interface Operand {
  role: 'data' | 'int64' | 'float'
}

/** Operators and their operands: `data` is float32 (a graph input or a constant), the rest constants. */
const OPS: { op: string; operands: Operand['role'][]; attrs?: fc.Arbitrary<Record<string, AttrValue>> }[] = [
  { op: 'Reshape', operands: ['data', 'int64'] },
  { op: 'Expand', operands: ['data', 'int64'] },
  { op: 'Tile', operands: ['data', 'int64'] },
  { op: 'Gather', operands: ['data', 'int64'], attrs: fc.record({ axis: fc.integer({ min: -5, max: 5 }) }) },
  { op: 'GatherElements', operands: ['data', 'int64'], attrs: fc.record({ axis: fc.integer({ min: -5, max: 5 }) }) },
  { op: 'GatherND', operands: ['data', 'int64'], attrs: fc.record({ batch_dims: fc.integer({ min: -1, max: 3 }) }) },
  { op: 'ScatterND', operands: ['data', 'int64', 'float'] },
  {
    op: 'ScatterElements',
    operands: ['data', 'int64', 'float'],
    attrs: fc.record({ axis: fc.integer({ min: -5, max: 5 }) }),
  },
  { op: 'Slice', operands: ['data', 'int64', 'int64', 'int64', 'int64'] },
  {
    op: 'Pad',
    operands: ['data', 'int64'],
    attrs: fc.record({ mode: fc.constantFrom('constant', 'reflect', 'edge', 'wrap') }),
  },
  {
    op: 'Transpose',
    operands: ['data'],
    attrs: fc.record({ perm: fc.array(fc.integer({ min: -1, max: 5 }), { maxLength: 5 }) }),
  },
  { op: 'Squeeze', operands: ['data', 'int64'] },
  { op: 'Unsqueeze', operands: ['data', 'int64'] },
  { op: 'TopK', operands: ['data', 'int64'], attrs: fc.record({ axis: fc.integer({ min: -5, max: 5 }) }) },
  { op: 'CumSum', operands: ['data', 'int64'] },
  { op: 'ReduceSum', operands: ['data', 'int64'], attrs: fc.record({ keepdims: fc.integer({ min: 0, max: 1 }) }) },
  { op: 'Concat', operands: ['data', 'data'], attrs: fc.record({ axis: fc.integer({ min: -5, max: 5 }) }) },
  { op: 'MatMul', operands: ['data', 'data'] },
  {
    op: 'Einsum',
    operands: ['data', 'data'],
    attrs: fc.record({
      equation: fc.constantFrom('ij,jk->ik', 'i,i->', '...i,...i->...', 'ii->i', 'ab,ba->', 'ij->ji', ',->', 'a,b->ab'),
    }),
  },
  { op: 'Range', operands: ['float', 'float', 'float'] },
  { op: 'ConstantOfShape', operands: ['int64'] },
  { op: 'OneHot', operands: ['int64', 'int64', 'float'], attrs: fc.record({ axis: fc.integer({ min: -3, max: 3 }) }) },
  { op: 'Trilu', operands: ['data', 'int64'], attrs: fc.record({ upper: fc.integer({ min: 0, max: 1 }) }) },
  { op: 'DepthToSpace', operands: ['data'], attrs: fc.record({ blocksize: fc.integer({ min: -1, max: 4 }) }) },
  {
    op: 'Conv',
    operands: ['data', 'data'],
    attrs: fc.record({
      strides: fc.array(fc.integer({ min: -1, max: 3 }), { maxLength: 3 }),
      pads: fc.array(fc.integer({ min: -2, max: 3 }), { maxLength: 6 }),
      dilations: fc.array(fc.integer({ min: -1, max: 3 }), { maxLength: 3 }),
      group: fc.integer({ min: 0, max: 3 }),
    }),
  },
  {
    op: 'MaxPool',
    operands: ['data'],
    attrs: fc.record({
      kernel_shape: fc.array(fc.integer({ min: -1, max: 4 }), { minLength: 1, maxLength: 3 }),
      strides: fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 }),
    }),
  },
  {
    op: 'ReverseSequence',
    operands: ['data', 'int64'],
    attrs: fc.record({ batch_axis: fc.integer({ min: -1, max: 2 }), time_axis: fc.integer({ min: -1, max: 2 }) }),
  },
]

const operandArb = (role: Operand['role'], asInput: boolean) =>
  fc
    .tuple(
      smallDims,
      fc.array<number | bigint>(role === 'int64' ? oddInt : oddFloat, { minLength: 256, maxLength: 256 }),
    )
    .map(([dims, pool]) => ({
      role,
      dims,
      values: pool.slice(
        0,
        dims.reduce((a, b) => a * b, 1),
      ),
      asInput,
    }))

/** One operator on odd operands: every operand a constant (folded at load) or the data a graph input. */
export const opModel: fc.Arbitrary<Uint8Array> = fc
  .tuple(fc.integer({ min: 0, max: OPS.length - 1 }), fc.boolean())
  .chain(([i, dataAsInput]) => {
    const spec = OPS[i] as (typeof OPS)[number]
    return fc.tuple(
      fc.constant(spec.op),
      fc.tuple(...spec.operands.map((role, k) => operandArb(role, dataAsInput && k === 0 && role === 'data'))),
      spec.attrs ?? fc.constant({}),
    )
  })
  .map(([op, operands, attrs]) => {
    const g = new GraphBuilder(`fuzz_${op}`)
    const names = operands.map((o, k) => {
      const dtype: DType = o.role === 'int64' ? 'int64' : 'float32'
      if (o.asInput)
        return g.input(
          `in${k}`,
          dtype,
          o.dims.map((_, d) => `d${d}`),
        )
      return g.constant(`c${k}`, dtype, o.dims, o.values)
    })
    const out = g.node(op, names, attrs)
    // Cast to float32 makes the declared output type right whatever the operator returns.
    g.output(g.node('Cast', [out], { to: 1 }), 'float32', [], 'y')
    return g.toModel()
  })

/**
 * Models the operator fuzzer found that kill onnxruntime 1.30 at load, before any inference:
 * native bugs in its shape inference and kernels, reached by a few hundred bytes.
 */
export function knownCrashers(): { name: string; signal: NodeJS.Signals; bytes: Uint8Array }[] {
  const crasher = (name: string, signal: NodeJS.Signals, build: (g: GraphBuilder) => string) => {
    const g = new GraphBuilder(name)
    g.output(g.node('Cast', [build(g)], { to: 1 }), 'float32', [], 'y')
    return { name, signal, bytes: g.toModel() }
  }
  return [
    // OneHot whose depth is an empty tensor: shape inference reads depth[0] (a libstdc++ assertion).
    crasher('OneHot with an empty depth', 'SIGABRT', (g) =>
      g.node('OneHot', [
        g.constant('indices', 'int64', [2], [0, 1]),
        g.constant('depth', 'int64', [0], []),
        g.constant('values', 'float32', [2], [0, 1]),
      ]),
    ),
    crasher('Einsum broadcasting an empty operand', 'SIGSEGV', (g) =>
      g.node(
        'Einsum',
        [g.constant('a', 'float32', [4, 1, 4], new Array(16).fill(1)), g.constant('b', 'float32', [2, 0, 1, 1], [])],
        { equation: '...i,...i->...' },
      ),
    ),
    crasher('GatherND with batch_dims -1 and empty indices', 'SIGSEGV', (g) =>
      g.node('GatherND', [g.constant('data', 'float32', [0, 3], []), g.constant('indices', 'int64', [1, 1, 0], [])], {
        batch_dims: -1,
      }),
    ),
  ]
}
