/**
 * Joining typed arrays, the one helper (concatTyped) and the three places that join through it:
 * batch rows (concatRows), job columns (concatValues) and the inference log's values. Expected
 * values are written out by hand.
 */
import { describe, expect, it } from 'vitest'
import { concatRows } from '../../src/engine/rows.js'
import { arrayKind, concatTyped, type HostTensor, type StringTensor } from '../../src/engine/tensor.js'
import { concatValues } from '../../src/jobs/io/columns.js'

describe('concatTyped', () => {
  it('joins parts of different lengths in order, into a new array of the kind asked for', () => {
    const a = new Float64Array([1.5, -2])
    const b = new Float64Array([])
    const c = new Float64Array([3, 4, 5e300])
    const out = concatTyped(Float64Array, [a, b, c])
    expect(out).toBeInstanceOf(Float64Array)
    expect([...out]).toEqual([1.5, -2, 3, 4, 5e300])
    out[0] = 99
    expect(a[0]).toBe(1.5) // a copy, not a view
  })

  it('joins bigint arrays, bytes, and nothing', () => {
    const big = concatTyped(BigInt64Array, [new BigInt64Array([-(2n ** 63n)]), new BigInt64Array([7n, 2n ** 62n])])
    expect([...big]).toEqual([-(2n ** 63n), 7n, 2n ** 62n])
    expect([...concatTyped(Uint8Array, [new Uint8Array([1, 2]), new Uint8Array([255])])]).toEqual([1, 2, 255])
    expect(concatTyped(Float32Array, [])).toEqual(new Float32Array(0))
  })

  it('names the class of each dtype (float16 as raw half bits, bool as bytes)', () => {
    expect(arrayKind('float16')).toBe(Uint16Array)
    expect(arrayKind('bool')).toBe(Uint8Array)
    expect(arrayKind('uint64')).toBe(BigUint64Array)
  })
})

describe('concatRows', () => {
  it('stacks host tensors along dim 0, keeping the row shape and dtype', () => {
    const a: HostTensor<'int32'> = { dtype: 'int32', dims: [1, 3], data: new Int32Array([1, 2, 3]) }
    const b: HostTensor<'int32'> = { dtype: 'int32', dims: [2, 3], data: new Int32Array([4, 5, 6, 7, 8, 9]) }
    const out = concatRows([a, b])
    expect(out.dims).toEqual([3, 3])
    expect(out.data).toBeInstanceOf(Int32Array)
    expect([...out.data]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9])
  })

  it('stacks a Buffer-backed bool tensor into a plain Uint8Array, and string tensors as lists', () => {
    const a: HostTensor<'bool'> = { dtype: 'bool', dims: [2], data: Buffer.from([1, 0]) }
    const b: HostTensor<'bool'> = { dtype: 'bool', dims: [1], data: new Uint8Array([1]) }
    const bools = concatRows([a, b])
    expect(bools.data.constructor).toBe(Uint8Array)
    expect([...bools.data]).toEqual([1, 0, 1])
    const s1: StringTensor = { dtype: 'string', dims: [1, 2], data: ['a', 'b'] }
    const s2: StringTensor = { dtype: 'string', dims: [1, 2], data: ['c', 'd'] }
    expect(concatRows([s1, s2])).toEqual({ dtype: 'string', dims: [2, 2], data: ['a', 'b', 'c', 'd'] })
  })

  it('hands back a single part as it is', () => {
    const a: HostTensor<'float32'> = { dtype: 'float32', dims: [1, 2], data: new Float32Array([1, 2]) }
    expect(concatRows([a])).toBe(a)
  })
})

describe('concatValues', () => {
  it('joins columns of one typed kind into that kind, and mixed ones into a list', () => {
    const typed = concatValues([new Float32Array([0.5]), new Float32Array([1.5, 2.5])])
    expect(typed).toBeInstanceOf(Float32Array)
    expect([...(typed as Float32Array)]).toEqual([0.5, 1.5, 2.5])
    expect(concatValues([new Float64Array([1]), new Int32Array([2]), ['x', null]])).toEqual([1, 2, 'x', null])
  })
})
