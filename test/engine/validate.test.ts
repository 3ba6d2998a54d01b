/** Input validation: every mismatch names the input, what was given and what was expected. */
import { describe, expect, it } from 'vitest'
import { type TensorSpec, tensor, zeros } from '../../src/engine/tensor.js'
import { validateFeeds } from '../../src/engine/validate.js'
import { InvalidInputError } from '../../src/errors.js'

const specs: TensorSpec[] = [
  { name: 'num', dtype: 'float32', shape: ['batch', 4] },
  { name: 'cat', dtype: 'int64', shape: ['batch'] },
]
const ok = () => ({ num: zeros('float32', [3, 4]), cat: zeros('int64', [3]) })

function message(feeds: Parameters<typeof validateFeeds>[1]): string {
  try {
    validateFeeds(specs, feeds)
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidInputError)
    return (e as Error).message
  }
  throw new Error('expected validation to fail')
}

describe('input validation', () => {
  it('accepts matching inputs', () => {
    expect(() => validateFeeds(specs, ok())).not.toThrow()
  })
  it('names a missing input and lists the expected ones', () => {
    expect(message({ num: zeros('float32', [3, 4]) })).toBe(
      "missing input 'cat'; the model's inputs are 'num' float32[batch,4], 'cat' int64[batch]",
    )
  })
  it('names an unknown input', () => {
    expect(message({ ...ok(), extra: zeros('float32', [1]) })).toMatch(/^unknown input 'extra'/)
  })
  it('reports a wrong dtype', () => {
    expect(message({ ...ok(), num: zeros('int32', [3, 4]) })).toBe(
      "input 'num' has dtype int32, the model expects float32",
    )
  })
  it('reports a wrong shape with given and expected shapes', () => {
    expect(message({ ...ok(), num: zeros('float32', [2, 15]) })).toBe(
      "input 'num' has shape [2,15], the model expects [batch,4] (dim 1 is 15, expected 4)",
    )
  })
  it('reports a wrong rank', () => {
    expect(message({ ...ok(), num: zeros('float32', [12]) })).toMatch(/shape \[12\].*\(rank 1, expected 2\)/)
  })
  it('binds a symbolic dim to one size across inputs', () => {
    expect(message({ num: zeros('float32', [3, 4]), cat: zeros('int64', [5]) })).toBe(
      "input 'cat' has shape [5], the model expects [batch] (dim 'batch' is 5 here but 3 in input 'num')",
    )
  })
  it('reports data whose length does not match the dims', () => {
    const bad = { dtype: 'float32' as const, dims: [3, 4], data: new Float32Array(11) }
    expect(message({ ...ok(), num: bad })).toBe("input 'num' has 11 values for shape [3,4], which needs 12")
  })
  it('rejects a typed array of the wrong kind for the dtype', () => {
    const bad = { dtype: 'int64' as const, dims: [3], data: new Float64Array(3) as unknown as BigInt64Array }
    expect(message({ ...ok(), cat: bad })).toBe("input 'cat' of dtype int64 must hold a BigInt64Array")
  })
  it('rejects negative or fractional dims', () => {
    const bad = { dtype: 'float32' as const, dims: [-1, 4], data: new Float32Array(0) }
    expect(message({ ...ok(), num: bad })).toMatch(/dims must be non-negative integers/)
  })
  it('builds tensors from plain numbers and refuses a wrong count', () => {
    expect(Array.from(tensor('int64', [2], [1, 2]).data)).toEqual([1n, 2n])
    expect(() => tensor('float32', [2, 2], [1, 2, 3])).toThrow(/needs 4 values, got 3/)
  })
})
