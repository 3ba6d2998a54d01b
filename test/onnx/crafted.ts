/**
 * Hand-written ONNX models for the hostile cases the builder never makes: tensors whose data lives
 * in a file, tensors that claim more than they carry, sparse tensors, nested subgraphs. Written
 * field by field with the protobuf writer, following onnx.proto's field numbers.
 */
import { ProtoWriter } from '../../src/onnx/protobuf.js'

export interface TensorSpec {
  name: string
  dims: number[]
  /** TensorProto.DataType (1 = FLOAT, 2 = UINT8, 7 = INT64). */
  dataType: number
  raw?: Uint8Array
  /** float_data values (packed). */
  floats?: number[]
  /** external_data entries, e.g. {location: '../lastmile.db'}. */
  external?: Record<string, string>
  /** data_location (1 = EXTERNAL). */
  dataLocation?: number
}

/** Write a TensorProto's fields. */
export function writeTensor(w: ProtoWriter, t: TensorSpec): void {
  w.packedVarints(1, t.dims)
  w.varint(2, t.dataType)
  w.string(8, t.name)
  if (t.raw) w.bytes(9, t.raw)
  if (t.floats) w.packedFloats(4, t.floats)
  for (const [key, value] of Object.entries(t.external ?? {})) w.message(13, (e) => e.string(1, key).string(2, value))
  if (t.dataLocation !== undefined) w.varint(14, t.dataLocation)
}

/** A graph output `name` of type uint8 or float and rank 1. */
function writeOutput(w: ProtoWriter, name: string, elemType: number): void {
  w.string(1, name)
  w.message(2, (ty) =>
    ty.message(1, (tt) => tt.varint(1, elemType).message(2, (s) => s.message(1, (d) => d.string(2, 'n')))),
  )
}

/** A graph that returns the initializer `t` through Identity (written into field `graph`). */
export function writeIdentityGraph(g: ProtoWriter, t: TensorSpec, name = 'g'): void {
  g.message(1, (n) => n.string(1, t.name).string(2, 'out').string(3, 'read').string(4, 'Identity'))
  g.string(2, name)
  g.message(5, (w) => writeTensor(w, t))
  g.message(12, (w) => writeOutput(w, 'out', t.dataType))
}

/** Wrap a graph writer into ModelProto bytes (IR 8, opset 17). */
export function model(graph: (g: ProtoWriter) => void, extra?: (m: ProtoWriter) => void): Uint8Array {
  const w = new ProtoWriter()
  w.varint(1, 8).string(2, 'crafted')
  w.message(7, graph)
  w.message(8, (o) => o.string(1, '').varint(2, 17))
  extra?.(w)
  return w.finish()
}

/** A model that outputs its one initializer `t` unchanged. */
export function identityModel(t: TensorSpec): Uint8Array {
  return model((g) => writeIdentityGraph(g, t))
}

/** An initializer of `n` uint8 values whose bytes are in the file `location`. */
export function externalTensor(location: string, n = 16, name = 'stolen'): TensorSpec {
  return { name, dims: [n], dataType: 2, external: { location, offset: '0', length: String(n) }, dataLocation: 1 }
}

/**
 * A model with an If node on a bool input; its then_branch returns `inner` (e.g. an external
 * tensor), its else_branch a constant.
 */
export function ifModel(inner: TensorSpec): Uint8Array {
  return model((g) => {
    g.message(1, (n) => {
      n.string(1, 'cond').string(2, 'out').string(3, 'branch').string(4, 'If')
      n.message(5, (a) =>
        a
          .string(1, 'then_branch')
          .varint(20, 5)
          .message(6, (b) => writeIdentityGraph(b, inner, 'then')),
      )
      const other = {
        name: 'fallback',
        dims: [inner.dims[0] ?? 1],
        dataType: inner.dataType,
        raw: new Uint8Array(inner.dims[0] ?? 1),
      }
      n.message(5, (a) =>
        a
          .string(1, 'else_branch')
          .varint(20, 5)
          .message(6, (b) => writeIdentityGraph(b, other, 'else')),
      )
    })
    g.string(2, 'if')
    g.message(11, (v) =>
      v.string(1, 'cond').message(2, (ty) => ty.message(1, (tt) => tt.varint(1, 9).message(2, () => {}))),
    )
    g.message(12, (w) => writeOutput(w, 'out', inner.dataType))
  })
}

/** `depth` If nodes nested in each other's then_branch, the innermost holding `inner`. */
export function nestedIfModel(depth: number, inner: TensorSpec): Uint8Array {
  const branch = (b: ProtoWriter, level: number): void => {
    if (level === 0) {
      writeIdentityGraph(b, inner, 'leaf')
      return
    }
    b.message(1, (n) => {
      n.string(1, 'cond').string(2, 'out').string(4, 'If')
      n.message(5, (a) =>
        a
          .string(1, 'then_branch')
          .varint(20, 5)
          .message(6, (g) => branch(g, level - 1)),
      )
    })
    b.string(2, `level${level}`)
  }
  return model((g) => branch(g, depth))
}

/** A model whose graph holds one sparse initializer: `values` at linear `indices` of `denseDims`. */
export function sparseModel(values: TensorSpec, indices: number[], denseDims: number[]): Uint8Array {
  return model((g) => {
    g.message(1, (n) => n.string(1, values.name).string(2, 'out').string(4, 'Identity'))
    g.string(2, 'sparse')
    g.message(15, (s) => {
      s.message(1, (w) => writeTensor(w, values))
      s.message(2, (w) =>
        writeTensor(w, {
          name: '',
          dims: [indices.length],
          dataType: 7,
          raw: new Uint8Array(BigInt64Array.from(indices, BigInt).buffer),
        }),
      )
      s.packedVarints(3, denseDims)
    })
    g.message(12, (w) => writeOutput(w, 'out', values.dataType))
  })
}

/** Little-endian float32 bytes. */
export const f32 = (values: number[]): Uint8Array => new Uint8Array(Float32Array.from(values).buffer)
