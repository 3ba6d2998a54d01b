/** The ONNX graph builder names element types as the engine does, without importing the engine. */
import { describe, expect, expectTypeOf, it } from 'vitest'
import { DTYPES, type DType } from '../../src/engine/tensor.js'
import { type ElemType, GraphBuilder } from '../../src/onnx/builder.js'
import { checkModel } from '../../src/onnx/model-check.js'

describe('ONNX graph builder', () => {
  it('writes exactly the dtypes the engine has (the compiler holds the two lists equal)', () => {
    expectTypeOf<ElemType>().toEqualTypeOf<DType>()
  })

  it('declares an input and output of every engine dtype in a model the model check accepts', () => {
    for (const dtype of DTYPES) {
      const g = new GraphBuilder(`identity_${dtype}`)
      g.output(g.node('Identity', [g.input('x', dtype, ['N', 2])]), dtype, ['N', 2], 'y')
      expect(() => checkModel(g.toModel()), dtype).not.toThrow()
    }
  })
})
