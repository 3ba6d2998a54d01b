/**
 * The model check that runs before onnxruntime sees uploaded bytes: self-contained models pass,
 * external data is refused wherever a tensor hides, claimed sizes must match the bytes present.
 */
import { describe, expect, it } from 'vitest'
import { InvalidModelError, type LastmileError } from '../../src/errors.js'
import { GraphBuilder } from '../../src/onnx/builder.js'
import { checkModel } from '../../src/onnx/model-check.js'
import { ProtoWriter } from '../../src/onnx/protobuf.js'
import { allFixtures, resnet18Shaped } from '../fixtures/models.js'
import {
  externalTensor,
  f32,
  identityModel,
  ifModel,
  model,
  nestedIfModel,
  sparseModel,
  writeIdentityGraph,
  writeTensor,
} from './crafted.js'

function refusal(bytes: Uint8Array): LastmileError {
  try {
    checkModel(bytes)
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidModelError)
    return e as LastmileError
  }
  throw new Error('the model was accepted')
}

describe('self-contained models', () => {
  it('accepts every fixture model, a ResNet-shaped CNN and ML-domain models', () => {
    for (const f of allFixtures()) expect(() => checkModel(f.bytes), f.name).not.toThrow()
    expect(() => checkModel(resnet18Shaped({ size: 32, classes: 5 }).bytes)).not.toThrow()
  })

  it.each([
    ['another workspace’s log', 'data/logs/acme/churn/seg-000001.arrow'],
    ['the database beside the working directory', '../lastmile.db'],
    ['package.json', 'package.json'],
    ['an absolute path', '/etc/passwd'],
  ])('refuses an initializer whose external data points at %s, naming tensor, place and file', (_, location) => {
    const e = refusal(identityModel(externalTensor(location, 64, 'weights_0')))
    expect(e.message).toContain("tensor 'weights_0' (model.graph.initializer[0])")
    expect(e.message).toContain(`('${location}')`)
    expect(e.details).toEqual({ tensor: 'weights_0', at: 'model.graph.initializer[0]', location })
  })

  it('refuses data_location = EXTERNAL without entries, and entries without data_location', () => {
    const flagOnly = refusal(identityModel({ name: 'w', dims: [4], dataType: 2, dataLocation: 1 }))
    expect(flagOnly.message).toContain("tensor 'w'")
    expect(flagOnly.details).toEqual({ tensor: 'w', at: 'model.graph.initializer[0]' })
    const entriesOnly = refusal(identityModel({ name: 'v', dims: [4], dataType: 2, external: { location: 'x.bin' } }))
    expect(entriesOnly.details).toMatchObject({ tensor: 'v', location: 'x.bin' })
  })

  it('refuses external data in an If branch, a Loop body, a function, training_info and attribute lists', () => {
    const ifCase = refusal(ifModel(externalTensor('secret.bin', 8, 'branch_w')))
    expect(ifCase.details).toMatchObject({
      tensor: 'branch_w',
      at: "model.graph.node[0](If).attribute 'then_branch'.g.initializer[0]",
      location: 'secret.bin',
    })

    const deep = refusal(nestedIfModel(5, externalTensor('deep.bin', 4, 'deep_w')))
    expect(deep.details?.at).toBe(`model.graph${".node[0](If).attribute 'then_branch'.g".repeat(5)}.initializer[0]`)

    const loop = model((g) => {
      g.message(1, (n) =>
        n.string(4, 'Loop').message(5, (a) =>
          a
            .string(1, 'body')
            .varint(20, 5)
            .message(6, (b) => writeIdentityGraph(b, externalTensor('loop.bin'))),
        ),
      )
    })
    expect(refusal(loop).details?.at).toBe("model.graph.node[0](Loop).attribute 'body'.g.initializer[0]")

    const fn = model(
      () => {},
      (m) =>
        m.message(25, (f) =>
          f.string(1, 'leaky').message(7, (n) =>
            n.string(4, 'Constant').message(5, (a) =>
              a
                .string(1, 'value')
                .varint(20, 4)
                .message(5, (t) => writeTensor(t, externalTensor('fn.bin', 4, 'c'))),
            ),
          ),
        ),
    )
    expect(refusal(fn).details?.at).toBe("model.functions 'leaky'.node[0](Constant).attribute 'value'.t")

    const training = model(
      () => {},
      (m) => m.message(20, (ti) => ti.message(2, (g) => writeIdentityGraph(g, externalTensor('train.bin')))),
    )
    expect(refusal(training).details?.at).toBe('model.training_info.algorithm.initializer[0]')

    const list = model((g) =>
      g.message(1, (n) =>
        n.string(4, 'Custom').message(5, (a) =>
          a
            .string(1, 'tables')
            .varint(20, 9)
            .message(10, (t) => writeTensor(t, { name: 'ok', dims: [1], dataType: 1, raw: f32([1]) }))
            .message(10, (t) => writeTensor(t, externalTensor('list.bin', 4, 'second'))),
        ),
      ),
    )
    expect(refusal(list).details).toMatchObject({
      tensor: 'second',
      at: "model.graph.node[0](Custom).attribute 'tables'.tensors[1]",
    })

    const sparse = refusal(sparseModel(externalTensor('sparse.bin', 2, 'sv'), [0, 3], [4]))
    expect(sparse.details).toMatchObject({ tensor: 'sv', at: 'model.graph.sparse_initializer[0].values' })
  })

  it('refuses an EPContext node (its context can be a file path)', () => {
    const m = model((g) => g.message(1, (n) => n.string(3, 'ctx').string(4, 'EPContext').string(7, 'com.microsoft')))
    expect(refusal(m).message).toContain('model.graph.node[0](EPContext) is an EPContext node')
  })
})

describe('claimed sizes', () => {
  it('accepts data that matches the shape in raw_data, float_data, int4 packing and strings', () => {
    expect(() =>
      checkModel(identityModel({ name: 'a', dims: [2, 3], dataType: 1, raw: f32([1, 2, 3, 4, 5, 6]) })),
    ).not.toThrow()
    expect(() => checkModel(identityModel({ name: 'b', dims: [3], dataType: 1, floats: [1, 2, 3] }))).not.toThrow()
    // Three int4 values take two bytes; an empty tensor takes none.
    expect(() =>
      checkModel(identityModel({ name: 'c', dims: [3], dataType: 22, raw: new Uint8Array(2) })),
    ).not.toThrow()
    expect(() =>
      checkModel(identityModel({ name: 'd', dims: [0, 5], dataType: 1, raw: new Uint8Array(0) })),
    ).not.toThrow()
    const strings = model((g) =>
      g.message(5, (t) => t.packedVarints(1, [2]).varint(2, 8).string(8, 's').string(6, 'ab').string(6, '')),
    )
    expect(() => checkModel(strings)).not.toThrow()
  })

  it('refuses raw_data shorter or longer than dims × element size', () => {
    const short = refusal(identityModel({ name: 'big', dims: [1000, 1000], dataType: 1, raw: f32([1, 2]) }))
    expect(short.message).toContain(
      "tensor 'big' (model.graph.initializer[0]) of shape [1000, 1000] needs 4000000 bytes of raw_data, has 8",
    )
    const long = refusal(identityModel({ name: 'l', dims: [1], dataType: 7, raw: new Uint8Array(9) }))
    expect(long.message).toContain('needs 8 bytes of raw_data, has 9')
  })

  it('refuses typed data that does not match the shape, and a tensor with no data at all', () => {
    expect(refusal(identityModel({ name: 'f', dims: [4], dataType: 1, floats: [1, 2, 3] })).message).toContain(
      'needs 4 values, carries 3',
    )
    expect(refusal(identityModel({ name: 'none', dims: [1e9], dataType: 1 })).message).toContain(
      'needs 1000000000 values, carries 0',
    )
  })

  it('refuses negative dims and dims whose product passes 2^53', () => {
    expect(refusal(identityModel({ name: 'neg', dims: [-1], dataType: 1, raw: f32([1]) })).message).toContain(
      'negative dimension',
    )
    expect(
      refusal(identityModel({ name: 'huge', dims: [2 ** 30, 2 ** 30, 2 ** 30], dataType: 2, raw: new Uint8Array(1) }))
        .message,
    ).toContain('exceeds 2^53')
  })

  it('bounds what sparse tensors expand to, by a multiple of the model size', () => {
    const values = { name: 'sv', dims: [2], dataType: 1, raw: f32([5, 7]) }
    expect(() => checkModel(sparseModel(values, [0, 3], [8]))).not.toThrow()
    const e = refusal(sparseModel(values, [0, 3], [1e6, 1e3]))
    expect(e.message).toMatch(/sparse tensor 'sv' .* dense shape \[1000000, 1000\]: .* 4000000000 bytes once expanded/)
  })
})

describe('malformed protobuf', () => {
  const good = identityModel({ name: 'w', dims: [4], dataType: 1, raw: f32([1, 2, 3, 4]) })

  it('refuses every truncation of a valid model with a message, never a crash', () => {
    for (let cut = 1; cut < good.length; cut++) {
      const bytes = good.subarray(0, cut)
      try {
        checkModel(bytes)
      } catch (e) {
        expect(e, `cut at ${cut}`).toBeInstanceOf(InvalidModelError)
      }
    }
    // A length that claims more than remains names the field and the byte counts.
    const lie = new ProtoWriter().varint(1, 8).finish()
    const claim = Uint8Array.from([...lie, 0x3a, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2])
    expect(refusal(claim).message).toContain('field 7 at byte 2 claims 4294967295 bytes but only 2 remain')
  })

  it('refuses over-long varints and group wire types', () => {
    expect(refusal(Uint8Array.from([0x08, ...new Array(11).fill(0xff), 0x01])).message).toContain(
      'longer than 10 bytes',
    )
    expect(refusal(Uint8Array.from([0x0b, 0x0c])).message).toContain('wire type 3')
  })

  it('refuses nesting beyond 100 levels quickly, without exhausting the stack', () => {
    const inner = { name: 'w', dims: [1], dataType: 1, raw: f32([1]) }
    expect(() => checkModel(nestedIfModel(20, inner))).not.toThrow()
    const t0 = performance.now()
    expect(refusal(nestedIfModel(400, inner)).message).toContain('nests deeper than 100 levels')
    expect(performance.now() - t0).toBeLessThan(5_000)
  })

  it('refuses a singular tensor field written twice (protobuf would merge the two)', () => {
    const m = model((g) =>
      g.message(1, (n) =>
        n.string(4, 'Constant').message(5, (a) =>
          a
            .string(1, 'value')
            .message(5, (t) => writeTensor(t, { name: 'x', dims: [1000], dataType: 2, raw: new Uint8Array(1000) }))
            .message(5, (t) => writeTensor(t, { name: 'x', dims: [1000], dataType: 2, raw: new Uint8Array(1000) })),
        ),
      ),
    )
    expect(refusal(m).message).toContain('attribute field 5 appears twice')
  })

  it('accepts a model the builder writes with subgraph-free ops and unpacked dims', () => {
    const g = new GraphBuilder('plain')
    const x = g.input('x', 'float32', ['N', 2])
    g.output(g.node('Add', [x, g.constant('b', 'float32', [2], [1, -1])]), 'float32', ['N', 2], 'y')
    expect(() => checkModel(g.toModel())).not.toThrow()
    const unpacked = model((gr) =>
      gr.message(5, (t) =>
        t
          .varint(1, 2)
          .varint(1, 2)
          .varint(2, 1)
          .string(8, 'u')
          .bytes(9, f32([1, 2, 3, 4])),
      ),
    )
    expect(() => checkModel(unpacked)).not.toThrow()
  })
})
