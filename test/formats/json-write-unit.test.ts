/**
 * Tensor data written as JSON text the way Triton writes it: the 1e16 boundary of exponent form
 * on both signs, rows of string tensors (pandas-records cells), and a raw member appended to an
 * object. Expected texts are written out by hand.
 */
import { describe, expect, it } from 'vitest'
import type { AnyTensor } from '../../src/engine/tensor.js'
import { tensorDataJson, tensorRowJson, withRawMember } from '../../src/formats/json-write.js'

const opts = { nonFiniteAsNull: false }

describe('tensorDataJson: exponent form from 1e16', () => {
  it('writes ±1e16 in exponent form and magnitudes just below it as integers', () => {
    const t: AnyTensor = {
      dtype: 'float64',
      dims: [4],
      data: new Float64Array([-1e16, 1e16, -9999999999999998, 1e15]),
    }
    expect(tensorDataJson(t, opts)).toBe('[-1e+16,1e+16,-9999999999999998,1000000000000000]')
  })

  it('writes -0 as -0.0 and +0 as 0 beside it', () => {
    const t: AnyTensor = { dtype: 'float32', dims: [3], data: new Float32Array([0, -0, 2.5]) }
    expect(tensorDataJson(t, opts)).toBe('[0,-0.0,2.5]')
  })
})

describe('tensorRowJson', () => {
  it('writes one row of a string tensor as an array of its strings', () => {
    const t: AnyTensor = { dtype: 'string', dims: [3, 2], data: ['a', 'b', 'c"', 'd', 'e', 'f'] }
    expect(tensorRowJson(t, 1, opts)).toBe('["c\\"","d"]')
    expect(tensorRowJson(t, 2, opts)).toBe('["e","f"]')
  })

  it('writes a row of a rank-1 string tensor as the one string', () => {
    const t: AnyTensor = { dtype: 'string', dims: [3], data: ['x', 'y', 'z'] }
    expect(tensorRowJson(t, 0, opts)).toBe('"x"')
    expect(tensorRowJson(t, 2, opts)).toBe('"z"')
  })

  it('nests a row of a rank-3 string tensor by its dims', () => {
    const t: AnyTensor = {
      dtype: 'string',
      dims: [2, 2, 3],
      data: ['a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'b0', 'b1', 'b2', 'b3', 'b4', 'b5'],
    }
    expect(tensorRowJson(t, 1, opts)).toBe('[["b0","b1","b2"],["b3","b4","b5"]]')
  })

  it('nests a row of a numeric tensor, special values included', () => {
    const t: AnyTensor = {
      dtype: 'float64',
      dims: [2, 3, 2],
      data: new Float64Array([1, 2, 3, 4, 5, 6, -0, 7.5, Number.NaN, 2e16, -8, 9]),
    }
    expect(tensorRowJson(t, 1, opts)).toBe('[[-0.0,7.5],[NaN,2e+16],[-8,9]]')
    expect(tensorRowJson(t, 1, { nonFiniteAsNull: true })).toBe('[[-0.0,7.5],[null,2e+16],[-8,9]]')
  })
})

describe('withRawMember', () => {
  it('appends the raw text as the last member', () => {
    expect(withRawMember({ name: 'y', shape: [2] }, 'data', '[1.5,NaN]')).toBe(
      '{"name":"y","shape":[2],"data":[1.5,NaN]}',
    )
  })

  it('quotes the key as JSON', () => {
    expect(withRawMember({ a: 1 }, 'k"ey', 'true')).toBe('{"a":1,"k\\"ey":true}')
  })
})
