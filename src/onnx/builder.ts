/**
 * Build ONNX models in TypeScript: enough of `onnx.proto` (ModelProto, GraphProto, NodeProto,
 * TensorProto, ValueInfoProto, AttributeProto) to express the fixture and demo models.
 * Field numbers follow https://github.com/onnx/onnx/blob/main/onnx/onnx.proto.
 *
 * @example
 * const g = new GraphBuilder('linear')
 * const x = g.input('x', 'float32', ['N', 3])
 * const w = g.constant('w', 'float32', [3, 1], [0.5, -1, 2])
 * g.output(g.node('MatMul', [x, w]), 'float32', ['N', 1], 'y')
 * const bytes = g.toModel()
 */
import { ProtoWriter } from './protobuf.js'

/**
 * TensorProto.DataType of each element type the builder writes, by the engine's dtype names (kept
 * here, not imported, so src/onnx stays below src/engine; test/onnx/builder.test.ts holds the two
 * lists equal).
 */
const ONNX_ELEM_TYPE = {
  float32: 1,
  uint8: 2,
  int8: 3,
  uint16: 4,
  int16: 5,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  float64: 11,
  uint32: 12,
  uint64: 13,
} as const

/** The engine's name of ONNX element type `t` (e.g. 7 → int64), or `element type <t>` for the others. */
export function elemTypeName(t: number): string {
  return Object.entries(ONNX_ELEM_TYPE).find(([, v]) => v === t)?.[0] ?? `element type ${t}`
}

/** An element type the builder writes: one of the engine's dtypes (src/engine/tensor.ts). */
export type ElemType = keyof typeof ONNX_ELEM_TYPE
/** A dimension: a size, or a symbolic name such as 'N'. */
type Dim = number | string

/** Attribute values: numbers are INT when integral; `{ float: 1 }` makes one FLOAT. */
export type AttrValue =
  | number
  | string
  | number[]
  | { float: number }
  | { floats: number[] }
  | { ints: number[] }
  | { strings: string[] }

/** Mark an attribute as FLOATS even when its values are integral. */
export const floats = (v: number[]): { floats: number[] } => ({ floats: v })

interface NodeDef {
  op: string
  inputs: string[]
  outputs: string[]
  name: string
  domain: string
  attrs: Record<string, AttrValue>
}
interface ValueDef {
  name: string
  dtype: ElemType
  shape: readonly Dim[]
}
interface InitDef {
  name: string
  dtype: ElemType
  dims: readonly number[]
  values: ArrayLike<number | bigint>
}

export interface ModelOptions {
  /** Default-domain opset (17 covers every op our fixtures use). */
  opset?: number
  /** Add the `ai.onnx.ml` domain at this version (sklearn-style ops). */
  mlOpset?: number
  producer?: string
  /** Overrides the IR version (8 pairs with opset 17). */
  irVersion?: number
}

/** Accumulates a graph; `toModel()` serialises it to ONNX bytes. */
export class GraphBuilder {
  private readonly nodes: NodeDef[] = []
  private readonly inputs: ValueDef[] = []
  private readonly outputs: ValueDef[] = []
  private readonly inits: InitDef[] = []
  private counter = 0

  constructor(readonly name: string) {}

  /** Declare a graph input; returns its name for use in nodes. */
  input(name: string, dtype: ElemType, shape: readonly Dim[]): string {
    this.inputs.push({ name, dtype, shape })
    return name
  }

  /** Declare a graph output produced by `value` (renamed through Identity when `name` differs). */
  output(value: string, dtype: ElemType, shape: readonly Dim[], name = value): string {
    const out = name === value ? value : this.node('Identity', [value], {}, { outputs: [name] })
    this.outputs.push({ name: out, dtype, shape })
    return out
  }

  /** Add an initializer (a weight); returns its name. */
  constant(name: string, dtype: ElemType, dims: readonly number[], values: ArrayLike<number | bigint>): string {
    const n = dims.reduce((a, b) => a * b, 1)
    if (values.length !== n) throw new RangeError(`initializer ${name}: ${values.length} values for dims [${dims}]`)
    this.inits.push({ name, dtype, dims, values })
    return name
  }

  /**
   * Add a node; returns its first output's name (a fresh name unless `outputs` is given).
   * Use `nodeMulti` for nodes whose several outputs you need.
   */
  node(
    op: string,
    inputs: string[],
    attrs: Record<string, AttrValue> = {},
    opts: { outputs?: string[]; domain?: string } = {},
  ): string {
    return this.nodeMulti(op, inputs, attrs, opts.outputs ?? 1, opts.domain)[0] as string
  }

  /** Add a node with `outputs` named outputs (or that many fresh names). */
  nodeMulti(
    op: string,
    inputs: string[],
    attrs: Record<string, AttrValue>,
    outputs: string[] | number,
    domain = '',
  ): string[] {
    const id = this.counter++
    const outs =
      typeof outputs === 'number'
        ? Array.from({ length: outputs }, (_, i) => `${op.toLowerCase()}_${id}_${i}`)
        : outputs
    this.nodes.push({ op, inputs, outputs: outs, name: `${op}_${id}`, domain, attrs })
    return outs
  }

  /** Serialise to ONNX ModelProto bytes. */
  toModel(opts: ModelOptions = {}): Uint8Array {
    const opset = opts.opset ?? 17
    const w = new ProtoWriter()
    w.varint(1, opts.irVersion ?? 8) // ir_version
    w.string(2, opts.producer ?? 'lastmile')
    w.message(7, (g) => this.writeGraph(g))
    w.message(8, (o) => o.string(1, '').varint(2, opset)) // opset_import
    if (opts.mlOpset !== undefined) w.message(8, (o) => o.string(1, 'ai.onnx.ml').varint(2, opts.mlOpset as number))
    return w.finish()
  }

  private writeGraph(g: ProtoWriter): void {
    for (const n of this.nodes) g.message(1, (w) => writeNode(w, n))
    g.string(2, this.name)
    for (const t of this.inits) g.message(5, (w) => writeTensor(w, t))
    for (const v of this.inputs) g.message(11, (w) => writeValueInfo(w, v))
    for (const v of this.outputs) g.message(12, (w) => writeValueInfo(w, v))
  }
}

function writeNode(w: ProtoWriter, n: NodeDef): void {
  for (const i of n.inputs) w.string(1, i)
  for (const o of n.outputs) w.string(2, o)
  w.string(3, n.name)
  w.string(4, n.op)
  for (const [name, value] of Object.entries(n.attrs)) w.message(5, (a) => writeAttr(a, name, value))
  if (n.domain) w.string(7, n.domain)
}

/** AttributeProto: name=1, f=2, i=3, s=4, floats=7, ints=8, strings=9, type=20. */
function writeAttr(w: ProtoWriter, name: string, v: AttrValue): void {
  w.string(1, name)
  if (typeof v === 'number') {
    if (Number.isInteger(v)) w.varint(3, v).varint(20, 2)
    else w.float(2, v).varint(20, 1)
  } else if (typeof v === 'string') {
    w.string(4, v).varint(20, 3)
  } else if (Array.isArray(v)) {
    if (v.every(Number.isInteger)) w.packedVarints(8, v).varint(20, 7)
    else w.packedFloats(7, v).varint(20, 6)
  } else if ('float' in v) {
    w.float(2, v.float).varint(20, 1)
  } else if ('floats' in v) {
    w.packedFloats(7, v.floats).varint(20, 6)
  } else if ('ints' in v) {
    w.packedVarints(8, v.ints).varint(20, 7)
  } else {
    for (const s of v.strings) w.string(9, s)
    w.varint(20, 8)
  }
}

/** TensorProto: dims=1, data_type=2, name=8, raw_data=9 (little-endian element bytes). */
function writeTensor(w: ProtoWriter, t: InitDef): void {
  w.packedVarints(1, t.dims)
  w.varint(2, ONNX_ELEM_TYPE[t.dtype])
  w.string(8, t.name)
  w.bytes(9, rawBytes(t.dtype, t.values))
}

function rawBytes(dtype: ElemType, values: ArrayLike<number | bigint>): Uint8Array {
  const n = values.length
  let arr: ArrayBufferView
  switch (dtype) {
    case 'float32':
      arr = Float32Array.from(values as ArrayLike<number>)
      break
    case 'float64':
      arr = Float64Array.from(values as ArrayLike<number>)
      break
    case 'int32':
      arr = Int32Array.from(values as ArrayLike<number>)
      break
    case 'int64':
      arr = BigInt64Array.from({ length: n }, (_, i) => BigInt(values[i] as number | bigint))
      break
    case 'uint8':
    case 'bool':
      arr = Uint8Array.from(values as ArrayLike<number>)
      break
    case 'int8':
      arr = Int8Array.from(values as ArrayLike<number>)
      break
    default:
      throw new TypeError(`initializers of dtype ${dtype} are not supported by the builder`)
  }
  return new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength)
}

/** ValueInfoProto{name=1, type=2 → TypeProto{tensor_type=1 → {elem_type=1, shape=2}}}. */
function writeValueInfo(w: ProtoWriter, v: ValueDef): void {
  w.string(1, v.name)
  w.message(2, (type) =>
    type.message(1, (tt) => {
      tt.varint(1, ONNX_ELEM_TYPE[v.dtype])
      tt.message(2, (shape) => {
        for (const d of v.shape) {
          shape.message(1, (dim) => (typeof d === 'number' ? dim.varint(1, d) : dim.string(2, d)))
        }
      })
    }),
  )
}
