/**
 * Fuzzing the model check on its own (no onnxruntime, so thousands of cases): on byte-mutated
 * models and arbitrary bytes it either passes or throws `InvalidModelError` with a message, never
 * another error; its messages stay short whatever the model claims; and it answers fast.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { InvalidModelError } from '../../src/errors.js'
import { checkModel } from '../../src/onnx/model-check.js'
import { CASE_TIMEOUT_MS, fuzzParams } from './budget.js'
import { mutatedModel, opModel, seedModels } from './onnx-models.js'

/** Check `bytes`: pass, or refuse with a bounded message; anything else fails the case. */
function checked(bytes: Uint8Array): void {
  const t0 = performance.now()
  try {
    checkModel(bytes)
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidModelError)
    const message = (e as Error).message
    expect(message.length).toBeGreaterThan(10)
    expect(message.length).toBeLessThan(30_000) // names and shapes are cut, nesting is bounded
  }
  expect(performance.now() - t0).toBeLessThan(CASE_TIMEOUT_MS)
}

describe('model check fuzzing', () => {
  it('passes or refuses byte-mutated models with InvalidModelError', () => {
    fc.assert(fc.property(mutatedModel(seedModels()), checked), fuzzParams(2000))
  })

  it('passes or refuses arbitrary bytes with InvalidModelError', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 512 }), checked), fuzzParams(2000))
  })

  it('passes every one-operator graph the builder writes (they are well-formed protobuf)', () => {
    fc.assert(
      fc.property(opModel, (bytes) => {
        expect(() => checkModel(bytes)).not.toThrow()
      }),
      fuzzParams(300),
    )
  })
})
