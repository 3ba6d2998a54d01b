/**
 * Read an ONNX model's main graph into plain data, for the kernel planner (src/engine/kernel-plan.ts):
 * the default-domain opset, the nodes with their attributes, the initializers' values (float32 and
 * integer tensors), and the inputs' and outputs' element types and dims. Constant nodes become
 * initializers. Subgraphs, functions and sparse initializers are not read (the planner supports no
 * op that has them). Field numbers follow https://github.com/onnx/onnx/blob/main/onnx/onnx.proto.
 *
 * The model has passed checkModel(), but the reader trusts no count: everything it allocates is
 * sized by the bytes present, and any mismatch is an `InvalidModelError` saying where.
 *
 * @example
 * const g = readGraph(bytes)
 * g.nodes.map((n) => n.op) // ['Gemm', 'Relu', 'Gemm', 'Softmax']
 */
import { InvalidModelError } from '../errors.js'
import { ProtoError, ProtoReader, Wire } from './reader.js'

/** An attribute: INT/FLOAT → number, INTS/FLOATS → number[], STRING → string, TENSOR (float) → Float32Array. */
export type OnnxAttr = number | string | number[] | Float32Array

/** A node of the main graph (Constant nodes excepted: they are read as initializers). */
export interface OnnxNode {
  op: string
  /** '' for the default domain. */
  domain: string
  name: string
  /** Input names, '' for an omitted optional input. */
  inputs: string[]
  outputs: string[]
  /** The attributes of the kinds {@link OnnxAttr} holds; others (graphs, strings lists, non-float tensors) are left out. */
  attrs: Record<string, OnnxAttr>
}

/** A constant tensor: `floats` for FLOAT, `ints` for INT64 and INT32, neither for other types. */
export interface OnnxInitializer {
  name: string
  /** TensorProto.DataType (1 FLOAT, 6 INT32, 7 INT64, …). */
  dataType: number
  dims: number[]
  floats?: Float32Array
  ints?: number[]
}

/** A graph input or output: its element type (0 when it is not a tensor) and dims. */
export interface OnnxValueInfo {
  name: string
  elemType: number
  /** A size (dim_value), a symbolic name (dim_param), or undefined (neither); [] when the shape is absent. */
  dims: (number | string | undefined)[]
}

/** The main graph of a model, as the kernel planner reads it. */
export interface OnnxGraph {
  /** The default domain's opset version (0 when the model imports none). */
  opset: number
  nodes: OnnxNode[]
  initializers: Map<string, OnnxInitializer>
  inputs: OnnxValueInfo[]
  outputs: OnnxValueInfo[]
}

const FLOAT = 1
const INT32 = 6
const INT64 = 7

/** AttributeProto.AttributeType values the reader keeps. */
const ATTR = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7 } as const

/**
 * Read `bytes` (an ONNX ModelProto that passed checkModel()) into an {@link OnnxGraph}. Throws
 * `InvalidModelError` naming the place of anything malformed. Work and memory are linear in
 * `bytes.length`.
 */
export function readGraph(bytes: Uint8Array): OnnxGraph {
  const path: string[] = ['model']
  try {
    return readModel(new ProtoReader(bytes), path)
  } catch (e) {
    if (e instanceof ProtoError) {
      throw new InvalidModelError(
        `not a valid ONNX model (protobuf parsing failed): ${e.message} (in ${path.join('.')})`,
        {
          cause: e,
        },
      )
    }
    throw e
  }
}

/** Malformed content the protobuf layer cannot see (a size that disagrees with the dims). */
function invalid(path: readonly string[], what: string): never {
  throw new InvalidModelError(`${path.join('.')}: ${what}`)
}

function readModel(r: ProtoReader, path: string[]): OnnxGraph {
  const graph: OnnxGraph = { opset: 0, nodes: [], initializers: new Map(), inputs: [], outputs: [] }
  let graphs = 0
  let opsets = 0
  while (r.next()) {
    if (r.wire !== Wire.Bytes) continue
    if (r.field === 7) {
      if (graphs++ > 0) invalid(path, 'the model has two graphs')
      path.push('graph')
      readGraphProto(r.sub(), graph, path)
      path.pop()
    } else if (r.field === 8) {
      path.push(`opset_import[${opsets++}]`)
      const o = r.sub()
      let domain = ''
      let version = 0
      while (o.next()) {
        if (o.field === 1 && o.wire === Wire.Bytes) domain = o.text()
        else if (o.field === 2 && o.wire === Wire.Varint) version = o.int64()
      }
      if (domain === '' || domain === 'ai.onnx') graph.opset = version
      path.pop()
    }
  }
  if (graphs === 0) invalid(path, 'the model has no graph')
  return graph
}

function readGraphProto(r: ProtoReader, graph: OnnxGraph, path: string[]): void {
  let node = 0
  let init = 0
  while (r.next()) {
    if (r.wire !== Wire.Bytes) continue
    if (r.field === 1) {
      path.push(`node[${node++}]`)
      const n = readNode(r.sub(), path)
      const constant = n.op === 'Constant' && n.domain === '' ? constantTensor(r.sub(), n, path) : undefined
      if (constant) graph.initializers.set(constant.name, constant)
      else graph.nodes.push(n)
      path.pop()
    } else if (r.field === 5) {
      path.push(`initializer[${init++}]`)
      const t = readTensor(r.sub(), path)
      graph.initializers.set(t.name, t)
      path.pop()
    } else if (r.field === 11) graph.inputs.push(readValueInfo(r.sub()))
    else if (r.field === 12) graph.outputs.push(readValueInfo(r.sub()))
  }
}

function readNode(r: ProtoReader, path: string[]): OnnxNode {
  // attrs has no prototype: an attribute named '__proto__' or 'constructor' is just a name.
  const n: OnnxNode = { op: '', domain: '', name: '', inputs: [], outputs: [], attrs: Object.create(null) }
  let attrs = 0
  while (r.next()) {
    if (r.wire !== Wire.Bytes) continue
    if (r.field === 1) n.inputs.push(r.text(Number.POSITIVE_INFINITY))
    else if (r.field === 2) n.outputs.push(r.text(Number.POSITIVE_INFINITY))
    else if (r.field === 3) n.name = r.text(Number.POSITIVE_INFINITY)
    else if (r.field === 4) n.op = r.text()
    else if (r.field === 7) n.domain = r.text()
    else if (r.field === 5) {
      path.push(`attribute[${attrs++}]`)
      const a = readAttribute(r.sub(), path)
      if (a.value !== undefined) n.attrs[a.name] = a.value
      path.pop()
    }
  }
  return n
}

/** One AttributeProto: its name, and its value when of a kind {@link OnnxAttr} holds. */
function readAttribute(r: ProtoReader, path: string[]): { name: string; value?: OnnxAttr } {
  let name = ''
  let type = 0
  let f: number | undefined
  let i: number | undefined
  let s: string | undefined
  let t: OnnxInitializer | undefined
  let floats: number[] | undefined
  let ints: number[] | undefined
  while (r.next()) {
    const { field, wire } = r
    if (field === 1 && wire === Wire.Bytes) name = r.text()
    else if (field === 20 && wire === Wire.Varint) type = r.value
    else if (field === 2 && wire === Wire.Fixed32) f = floatAt(r.bytes, r.start)
    else if (field === 3 && wire === Wire.Varint) i = r.int64()
    else if (field === 4 && wire === Wire.Bytes) s = r.text(Number.POSITIVE_INFINITY)
    else if (field === 5 && wire === Wire.Bytes) t = readTensor(r.sub(), path)
    else if (field === 7) {
      floats ??= []
      const count = r.count(Wire.Fixed32) // also checks a packed run is whole 4-byte values
      for (let k = 0; k < count; k++) floats.push(floatAt(r.bytes, r.start + 4 * k))
    } else if (field === 8) {
      const list = ints ?? []
      r.int64s((v) => list.push(v))
      ints = list
    }
  }
  // Writers set `type`; without it, the field present says which kind the attribute is.
  if (type === 0) {
    type = f !== undefined ? ATTR.FLOAT : i !== undefined ? ATTR.INT : s !== undefined ? ATTR.STRING : 0
    if (type === 0) type = t ? ATTR.TENSOR : floats ? ATTR.FLOATS : ints ? ATTR.INTS : 0
  }
  switch (type) {
    case ATTR.FLOAT:
      return { name, value: f ?? 0 }
    case ATTR.INT:
      return { name, value: i ?? 0 }
    case ATTR.STRING:
      return { name, value: s ?? '' }
    case ATTR.FLOATS:
      return { name, value: floats ?? [] }
    case ATTR.INTS:
      return { name, value: ints ?? [] }
    case ATTR.TENSOR:
      return t?.floats ? { name, value: t.floats } : { name }
    default:
      return { name }
  }
}

/** Whether this machine stores floats little-endian, as raw_data does (then a copy of the bytes is the array). */
const LITTLE_ENDIAN = new Uint8Array(Float32Array.of(1).buffer)[3] === 0x3f

/** `n` float32s from raw_data at `bytes[start]`: a byte copy on little-endian machines. */
function littleEndianFloats(bytes: Uint8Array, start: number, n: number, view: DataView): Float32Array {
  if (LITTLE_ENDIAN) return new Float32Array(bytes.slice(start, start + 4 * n).buffer)
  return Float32Array.from({ length: n }, (_, k) => view.getFloat32(4 * k, true))
}

function floatAt(bytes: Uint8Array, at: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset + at, 4).getFloat32(0, true)
}

/** A Constant node's value as an initializer named by its output, or undefined if kept as a node. */
function constantTensor(r: ProtoReader, n: OnnxNode, path: string[]): OnnxInitializer | undefined {
  const out = n.outputs[0]
  if (out === undefined || out === '') return undefined
  let tensor: OnnxInitializer | undefined
  while (r.next()) {
    if (r.field !== 5 || r.wire !== Wire.Bytes) continue
    const a = r.sub()
    let name = ''
    while (a.next()) if (a.field === 1 && a.wire === Wire.Bytes) name = a.text()
    if (name !== 'value') continue
    const again = r.sub()
    while (again.next()) if (again.field === 5 && again.wire === Wire.Bytes) tensor = readTensor(again.sub(), path)
  }
  if (tensor) return { ...tensor, name: out }
  // The scalar and list forms (opset 12+): value_float(s), value_int(s).
  const v = n.attrs
  if (typeof v.value_float === 'number')
    return { name: out, dataType: FLOAT, dims: [], floats: Float32Array.of(v.value_float) }
  if (Array.isArray(v.value_floats))
    return { name: out, dataType: FLOAT, dims: [v.value_floats.length], floats: Float32Array.from(v.value_floats) }
  if (typeof v.value_int === 'number') return { name: out, dataType: INT64, dims: [], ints: [v.value_int] }
  if (Array.isArray(v.value_ints))
    return { name: out, dataType: INT64, dims: [v.value_ints.length], ints: v.value_ints }
  return undefined
}

/** A TensorProto: name, type, dims, and the values of FLOAT, INT32 and INT64 tensors. */
function readTensor(r: ProtoReader, path: string[]): OnnxInitializer {
  const t: OnnxInitializer = { name: '', dataType: 0, dims: [] }
  let raw: { start: number; stop: number } | undefined
  // float_data as byte ranges of whole fixed32 values; int32_data and int64_data as read (each
  // value took at least one byte, so these grow with the bytes present, not with a claim).
  const floatRuns: { start: number; stop: number }[] = []
  const int32s: number[] = []
  const int64s: number[] = []
  while (r.next()) {
    const { field, wire } = r
    if (field === 1) r.int64s((d) => t.dims.push(d))
    else if (field === 2 && wire === Wire.Varint) t.dataType = r.value
    else if (field === 8 && wire === Wire.Bytes) t.name = r.text(Number.POSITIVE_INFINITY)
    else if (field === 9 && wire === Wire.Bytes) raw = { start: r.start, stop: r.stop }
    else if (field === 4 && r.count(Wire.Fixed32) > 0) floatRuns.push({ start: r.start, stop: r.stop })
    else if (field === 5) r.int64s((v) => int32s.push(v | 0))
    else if (field === 7) r.int64s((v) => int64s.push(v))
  }
  if (t.dataType !== FLOAT && t.dataType !== INT32 && t.dataType !== INT64) return t
  const where = `tensor '${cut(t.name)}'`
  let n = 1
  for (const d of t.dims) {
    if (!Number.isSafeInteger(d) || d < 0) invalid(path, `${where} has dimension ${d}`)
    n *= d
    if (n > Number.MAX_SAFE_INTEGER) invalid(path, `${where} has dims whose product exceeds 2^53`)
  }
  const width = t.dataType === INT64 ? 8 : 4
  if (raw) {
    const length = raw.stop - raw.start
    if (length !== n * width) invalid(path, `${where} needs ${n * width} bytes of raw_data, has ${length}`)
    const view = new DataView(r.bytes.buffer, r.bytes.byteOffset + raw.start, length)
    if (t.dataType === FLOAT) t.floats = littleEndianFloats(r.bytes, raw.start, n, view)
    else if (t.dataType === INT32) t.ints = Array.from({ length: n }, (_, k) => view.getInt32(4 * k, true))
    else t.ints = Array.from({ length: n }, (_, k) => Number(view.getBigInt64(8 * k, true)))
    return t
  }
  const count = t.dataType === FLOAT ? floatRuns.reduce((c, run) => c + (run.stop - run.start) / 4, 0) : -1
  const ints = t.dataType === INT32 ? int32s : int64s
  const have = count >= 0 ? count : ints.length
  if (have !== n) invalid(path, `${where} needs ${n} values, carries ${have}`)
  if (t.dataType !== FLOAT) {
    t.ints = ints
    return t
  }
  const floats = new Float32Array(n)
  let k = 0
  for (const run of floatRuns) for (let at = run.start; at < run.stop; at += 4) floats[k++] = floatAt(r.bytes, at)
  t.floats = floats
  return t
}

/** A ValueInfoProto of a tensor: its element type and dims (elemType 0 and no dims otherwise). */
function readValueInfo(r: ProtoReader): OnnxValueInfo {
  const v: OnnxValueInfo = { name: '', elemType: 0, dims: [] }
  while (r.next()) {
    if (r.wire !== Wire.Bytes) continue
    if (r.field === 1) v.name = r.text(Number.POSITIVE_INFINITY)
    else if (r.field === 2) {
      const type = r.sub()
      while (type.next()) {
        if (type.field !== 1 || type.wire !== Wire.Bytes) continue // only tensor_type
        const tt = type.sub()
        while (tt.next()) {
          if (tt.field === 1 && tt.wire === Wire.Varint) v.elemType = tt.value
          else if (tt.field === 2 && tt.wire === Wire.Bytes) v.dims = readShape(tt.sub())
        }
      }
    }
  }
  return v
}

function readShape(r: ProtoReader): (number | string | undefined)[] {
  const dims: (number | string | undefined)[] = []
  while (r.next()) {
    if (r.field !== 1 || r.wire !== Wire.Bytes) continue
    const d = r.sub()
    let dim: number | string | undefined
    while (d.next()) {
      if (d.field === 1 && d.wire === Wire.Varint) dim = d.int64()
      else if (d.field === 2 && d.wire === Wire.Bytes) dim = d.text()
    }
    dims.push(dim)
  }
  return dims
}

/** A name cut for a message (a hostile model may have megabyte names). */
function cut(name: string): string {
  return name.length > 80 ? `${name.slice(0, 80)}…` : name
}
