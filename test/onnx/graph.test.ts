/**
 * The graph reader against models whose content the test knows: written with the GraphBuilder
 * (raw_data initializers, typed attributes) or field by field with the protobuf writer (float_data,
 * int64_data, Constant nodes, unknown dims, unpacked repeated fields), and malformed variants.
 */
import { describe, expect, it } from 'vitest'
import { InvalidModelError } from '../../src/errors.js'
import { floats, GraphBuilder } from '../../src/onnx/builder.js'
import { readGraph } from '../../src/onnx/graph.js'
import { ProtoWriter } from '../../src/onnx/protobuf.js'
import { f32, model, writeTensor } from './crafted.js'

/** A ValueInfoProto of a float tensor with the given dims (a number, a name, or null: neither). */
function valueInfo(w: ProtoWriter, name: string, dims: (number | string | null)[] | undefined, elemType = 1): void {
  w.string(1, name)
  w.message(2, (ty) =>
    ty.message(1, (tt) => {
      tt.varint(1, elemType)
      if (dims === undefined) return
      tt.message(2, (s) => {
        for (const d of dims) {
          s.message(1, (dim) => {
            if (typeof d === 'number') dim.varint(1, d)
            else if (typeof d === 'string') dim.string(2, d)
          })
        }
      })
    }),
  )
}

function refusal(bytes: Uint8Array): string {
  try {
    readGraph(bytes)
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidModelError)
    return (e as Error).message
  }
  throw new Error('readGraph accepted the model')
}

describe('readGraph', () => {
  it('reads what the GraphBuilder writes: nodes, every attribute kind, raw_data initializers, dims', () => {
    const g = new GraphBuilder('round_trip')
    const x = g.input('x', 'float32', ['N', 3, 4])
    const w = g.constant('w', 'float32', [4, 2], [0.5, -1.25, 3, 1e-3, -7, 2.5, 0, 1e6])
    const shape = g.constant('shape', 'int64', [3], [0, -1, 2 ** 40])
    const small = g.constant('small', 'int32', [2], [-5, 2 ** 31 - 1])
    const mm = g.node('MatMul', [x, w])
    const soft = g.node('Softmax', [mm], {
      axis: -1,
      alpha: { float: 0.75 },
      pads: [1, -2, 3],
      scales: floats([0.25, -1.5]),
      mode: 'SOFTMAX',
    })
    g.node('Custom', [soft, '', shape, small], {}, { outputs: ['a', 'b'], domain: 'com.example' })
    g.output('a', 'float32', ['N', 2])
    const graph = readGraph(g.toModel({ opset: 13, mlOpset: 3 }))

    expect(graph.opset).toBe(13)
    expect(graph.inputs).toEqual([{ name: 'x', elemType: 1, dims: ['N', 3, 4] }])
    expect(graph.outputs).toEqual([{ name: 'a', elemType: 1, dims: ['N', 2] }])
    expect(graph.nodes.map((n) => [n.op, n.domain, n.name, n.inputs, n.outputs])).toEqual([
      ['MatMul', '', 'MatMul_0', ['x', 'w'], [mm]],
      ['Softmax', '', 'Softmax_1', [mm], [soft]],
      ['Custom', 'com.example', 'Custom_2', [soft, '', 'shape', 'small'], ['a', 'b']],
    ])
    expect(graph.nodes[1]?.attrs).toEqual({
      axis: -1,
      alpha: 0.75,
      pads: [1, -2, 3],
      scales: [0.25, -1.5],
      mode: 'SOFTMAX',
    })
    expect(graph.initializers.get('w')).toEqual({
      name: 'w',
      dataType: 1,
      dims: [4, 2],
      floats: Float32Array.from([0.5, -1.25, 3, 1e-3, -7, 2.5, 0, 1e6]),
    })
    expect(graph.initializers.get('shape')).toEqual({ name: 'shape', dataType: 7, dims: [3], ints: [0, -1, 2 ** 40] })
    expect(graph.initializers.get('small')).toEqual({ name: 'small', dataType: 6, dims: [2], ints: [-5, 2 ** 31 - 1] })
  })

  it('reads float_data, int64_data and int32_data, packed or not, and keeps other types without values', () => {
    const bytes = model((g) => {
      g.message(5, (t) => writeTensor(t, { name: 'packed', dims: [3], dataType: 1, floats: [1.5, -2, 0.125] }))
      g.message(5, (t) => t.varint(2, 1).string(8, 'unpacked').float(4, -3.5).packedVarints(1, [2]).float(4, 8))
      // int64_data written unpacked, one value a negative int64 (ten bytes of two's complement).
      g.message(5, (t) =>
        t
          .packedVarints(1, [3])
          .varint(2, 7)
          .string(8, 'i64')
          .varint(7, -9)
          .varint(7, 2 ** 40)
          .varint(7, 0),
      )
      g.message(5, (t) => t.packedVarints(1, [2]).varint(2, 6).string(8, 'i32').packedVarints(5, [-1, 77]))
      g.message(5, (t) => writeTensor(t, { name: 'bytes', dims: [2], dataType: 2, raw: Uint8Array.of(1, 2) }))
    })
    const inits = readGraph(bytes).initializers
    expect(inits.get('packed')?.floats).toEqual(Float32Array.from([1.5, -2, 0.125]))
    expect(inits.get('unpacked')).toEqual({
      name: 'unpacked',
      dataType: 1,
      dims: [2],
      floats: Float32Array.from([-3.5, 8]),
    })
    expect(inits.get('i64')?.ints).toEqual([-9, 2 ** 40, 0])
    expect(inits.get('i32')?.ints).toEqual([-1, 77])
    expect(inits.get('bytes')).toEqual({ name: 'bytes', dataType: 2, dims: [2] })
  })

  it('turns Constant nodes into initializers (value tensor, value_float(s), value_int(s)) and drops them', () => {
    const bytes = model((g) => {
      const constant = (out: string, attr: (a: ProtoWriter) => void) =>
        g.message(1, (n) => n.string(2, out).string(3, `make_${out}`).string(4, 'Constant').message(5, attr))
      constant('t', (a) =>
        a
          .string(1, 'value')
          .varint(20, 4)
          .message(5, (t) => writeTensor(t, { name: 'ignored', dims: [2, 1], dataType: 1, raw: f32([4, -0.5]) })),
      )
      constant('shape', (a) =>
        a
          .string(1, 'value')
          .varint(20, 4)
          .message(5, (t) => t.packedVarints(1, [2]).varint(2, 7).packedVarints(7, [-1, 6])),
      )
      constant('f', (a) => a.string(1, 'value_float').float(2, 2.25).varint(20, 1))
      constant('fs', (a) => a.string(1, 'value_floats').packedFloats(7, [1, -1]).varint(20, 6))
      constant('i', (a) => a.string(1, 'value_int').varint(3, -4).varint(20, 2))
      constant('is', (a) => a.string(1, 'value_ints').packedVarints(8, [5, -6]).varint(20, 7))
      // A TENSOR attribute on another node stays an attribute (float values).
      g.message(1, (n) =>
        n
          .string(1, 't')
          .string(2, 'y')
          .string(4, 'Fancy')
          .message(5, (a) =>
            a
              .string(1, 'table')
              .varint(20, 4)
              .message(5, (t) => writeTensor(t, { name: '', dims: [2], dataType: 1, floats: [9, 10] })),
          ),
      )
    })
    const graph = readGraph(bytes)
    expect(graph.nodes.map((n) => n.op)).toEqual(['Fancy'])
    expect(graph.nodes[0]?.attrs).toEqual({ table: Float32Array.from([9, 10]) })
    expect(graph.initializers.get('t')).toEqual({
      name: 't',
      dataType: 1,
      dims: [2, 1],
      floats: Float32Array.from([4, -0.5]),
    })
    expect(graph.initializers.get('shape')).toEqual({ name: 'shape', dataType: 7, dims: [2], ints: [-1, 6] })
    expect(graph.initializers.get('f')).toEqual({ name: 'f', dataType: 1, dims: [], floats: Float32Array.of(2.25) })
    expect(graph.initializers.get('fs')).toEqual({ name: 'fs', dataType: 1, dims: [2], floats: Float32Array.of(1, -1) })
    expect(graph.initializers.get('i')).toEqual({ name: 'i', dataType: 7, dims: [], ints: [-4] })
    expect(graph.initializers.get('is')).toEqual({ name: 'is', dataType: 7, dims: [2], ints: [5, -6] })
  })

  it('reads dims as values, params or unknown, an absent shape as [], and non-tensor types as elemType 0', () => {
    const bytes = model((g) => {
      g.message(11, (v) => valueInfo(v, 'x', ['batch', 3, null, 0]))
      g.message(11, (v) => valueInfo(v, 'scalar', []))
      g.message(11, (v) => valueInfo(v, 'unranked', undefined, 7))
      g.message(12, (v) => v.string(1, 'seq').message(2, (ty) => ty.message(4, () => {})))
    })
    const graph = readGraph(bytes)
    expect(graph.inputs).toEqual([
      { name: 'x', elemType: 1, dims: ['batch', 3, undefined, 0] },
      { name: 'scalar', elemType: 1, dims: [] },
      { name: 'unranked', elemType: 7, dims: [] },
    ])
    expect(graph.outputs).toEqual([{ name: 'seq', elemType: 0, dims: [] }])
    expect(graph.opset).toBe(17)
  })

  it('reports opset 0 when the model imports no default-domain opset', () => {
    const w = new ProtoWriter()
    w.varint(1, 8).message(7, (g) => g.string(2, 'empty'))
    w.message(8, (o) => o.string(1, 'ai.onnx.ml').varint(2, 3))
    expect(readGraph(w.finish()).opset).toBe(0)
  })

  it('refuses tensors whose data disagrees with their dims, saying where', () => {
    const raw = model((g) =>
      g.message(5, (t) => writeTensor(t, { name: 'w', dims: [3], dataType: 1, raw: f32([1, 2]) })),
    )
    expect(refusal(raw)).toMatch(/graph\.initializer\[0\].*'w' needs 12 bytes of raw_data, has 8/)
    const typed = model((g) => {
      g.message(1, (n) =>
        n
          .string(2, 'c')
          .string(4, 'Constant')
          .message(5, (a) =>
            a
              .string(1, 'value')
              .varint(20, 4)
              .message(5, (t) => writeTensor(t, { name: 'v', dims: [2, 2], dataType: 1, floats: [1] })),
          ),
      )
    })
    expect(refusal(typed)).toMatch(/graph\.node\[0\].*'v' needs 4 values, carries 1/)
    const negative = model((g) => g.message(5, (t) => t.packedVarints(1, [-2]).varint(2, 1).string(8, 'neg')))
    expect(refusal(negative)).toMatch(/'neg' has dimension -2/)
    const huge = model((g) =>
      g.message(5, (t) =>
        t
          .packedVarints(1, [2 ** 30, 2 ** 30, 2 ** 30])
          .varint(2, 7)
          .string(8, 'h'),
      ),
    )
    expect(refusal(huge)).toMatch(/'h' has dims whose product exceeds 2\^53/)
  })

  it('refuses malformed protobuf and a model without a graph with InvalidModelError', () => {
    const good = new GraphBuilder('g')
    good.output(good.node('Relu', [good.input('x', 'float32', ['N', 2])]), 'float32', ['N', 2])
    const bytes = good.toModel()
    expect(refusal(bytes.subarray(0, bytes.length - 3))).toMatch(/protobuf parsing failed/)
    expect(refusal(new ProtoWriter().varint(1, 8).finish())).toMatch(/no graph/)
    expect(refusal(Uint8Array.of(0x3a, 0x02, 0x0a, 0x05))).toMatch(/protobuf parsing failed.*model\.graph/)
  })
})
