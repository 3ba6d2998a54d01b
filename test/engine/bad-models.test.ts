/**
 * Bad models and bad inputs give typed errors with clear messages on every backend — never a
 * crash or a hang (each case runs under the test timeout).
 */
import { afterAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.js'
import { Engine } from '../../src/engine/engine.js'
import { tensor, zeros } from '../../src/engine/tensor.js'
import type { BackendName } from '../../src/engine/types.js'
import { InvalidInputError, InvalidModelError, LastmileError, UnsupportedModelError } from '../../src/errors.js'
import { GraphBuilder } from '../../src/onnx/builder.js'
import { mlpClassifier, sklearnPipeline } from '../fixtures/models.js'
import { gpuTitle, probeGpu } from '../helpers/gpu.js'

const gpu = await probeGpu()
const mlp = mlpClassifier().bytes

function unknownOpModel(): Uint8Array {
  const g = new GraphBuilder('unknown_op')
  const x = g.input('x', 'float32', ['N', 4])
  g.output(g.node('FooBar', [x]), 'float32', ['N', 4], 'y')
  return g.toModel()
}

async function loadError(engine: Engine, bytes: Uint8Array): Promise<LastmileError> {
  try {
    await engine.load(bytes)
  } catch (e) {
    expect(e).toBeInstanceOf(LastmileError)
    return e as LastmileError
  }
  throw new Error('expected the load to fail')
}

function suite(backend: BackendName) {
  const engine = new Engine(loadConfig({}, { backend }))
  afterAll(() => engine.close())

  it('rejects empty bytes', async () => {
    const e = await loadError(engine, new Uint8Array(0))
    expect(e).toBeInstanceOf(InvalidModelError)
    expect(e.message).toMatch(/empty/)
  })
  it('rejects a truncated model with the parser’s reason', async () => {
    for (const len of [10, mlp.length >> 1, mlp.length - 3]) {
      const e = await loadError(engine, mlp.slice(0, len))
      expect(e).toBeInstanceOf(InvalidModelError)
      expect(e.message).toMatch(/protobuf parsing failed/i)
    }
  })
  it('rejects bytes that are not ONNX (text, random bytes)', async () => {
    const text = await loadError(engine, new TextEncoder().encode('{"model": "not really"}'))
    expect(text).toBeInstanceOf(InvalidModelError)
    const random = await loadError(engine, crypto.getRandomValues(new Uint8Array(4096)))
    expect(random).toBeInstanceOf(InvalidModelError)
    expect(random.message).toMatch(/^not a valid ONNX model/)
  })
  it('names the operator it cannot run', async () => {
    const e = await loadError(engine, unknownOpModel())
    expect(e).toBeInstanceOf(UnsupportedModelError)
    expect(e.message).toMatch(`the ${backend} backend cannot run operator FooBar`)
    expect(e.details).toMatchObject({ operator: 'FooBar', backend })
  })
  if (backend !== 'cpu') {
    it('names the ai.onnx.ml operator the web build lacks', async () => {
      const e = await loadError(engine, sklearnPipeline().bytes)
      expect(e).toBeInstanceOf(UnsupportedModelError)
      expect(e.message).toMatch(/cannot run operator Scaler/)
    })
  }
  it('rejects a wrong input dtype, shape or name, then keeps serving', async () => {
    const s = await engine.load(mlp)
    await expect(s.run({ x: zeros('int32', [2, 16]) })).rejects.toSatisfy(
      (e) => e instanceof InvalidInputError && e.message === "input 'x' has dtype int32, the model expects float32",
    )
    await expect(s.run({ x: zeros('float32', [2, 15]) })).rejects.toThrow(
      /has shape \[2,15\], the model expects \[N,16\]/,
    )
    await expect(s.run({ y: zeros('float32', [2, 16]) })).rejects.toThrow(/unknown input 'y'/)
    const out = await s.run({ x: tensor('float32', [1, 16], new Array(16).fill(0.5)) })
    expect(out.probs?.dims).toEqual([1, 3])
    await s.release()
  })
}

describe('cpu backend: bad models and inputs', () => suite('cpu'))
describe('wasm backend: bad models and inputs', () => suite('wasm'))
describe.runIf(gpu.ok)(gpuTitle('webgpu backend: bad models and inputs', gpu), () => suite('webgpu'))
