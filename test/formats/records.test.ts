/**
 * pandas-records decoding: every record must carry every input with the first record's nesting,
 * later records included; counts are bounded by the records present and the configured limit.
 */
import { describe, expect, it } from 'vitest'
import type { ColumnSpec } from '../../src/engine/tensor.js'
import { InvalidInputError } from '../../src/errors.js'
import { decodeRecords } from '../../src/formats/records.js'
import { refusal } from '../helpers/refusal.js'

const specs: ColumnSpec[] = [
  { name: 'x', dtype: 'float32', shape: ['N', 'F'] },
  { name: 'flag', dtype: 'bool', shape: ['N'] },
]

describe('pandas-records', () => {
  it('decodes rows in order, each input batch-major', () => {
    const feeds = decodeRecords(
      [
        { x: [1, 2], flag: true },
        { x: [3, 4.5], flag: false },
        { x: [-6, 7], flag: true },
      ],
      specs,
    )
    expect(feeds.x?.dims).toEqual([3, 2])
    expect(Array.from(feeds.x?.data as Float32Array)).toEqual([1, 2, 3, 4.5, -6, 7])
    expect(Array.from(feeds.flag?.data as Uint8Array)).toEqual([1, 0, 1])
  })

  it('refuses a later record that lacks an input (record 2 of 3)', () => {
    const e = refusal(() =>
      decodeRecords([{ x: [1, 2], flag: true }, { x: [3, 4], flag: false }, { x: [5, 6] }], specs),
    )
    expect(e).toBeInstanceOf(InvalidInputError)
    expect(e.message).toBe("record 2: missing input 'flag'")
  })

  it('refuses a later record whose nesting differs from the first', () => {
    const rows = (third: unknown) => [
      { x: [1, 2], flag: true },
      { x: [3, 4], flag: false },
      { x: third, flag: true },
    ]
    expect(refusal(() => decodeRecords(rows([5, 6, 7]), specs)).message).toMatch(
      /input 'x' \(records\): ragged data at \[2\]: 3 items, expected 2 for shape \[3,2\]/,
    )
    expect(refusal(() => decodeRecords(rows([[5], [6]]), specs)).message).toMatch(
      /input 'x' \(records\): \[2\]\[0\] nests deeper than the shape \[3,2\]/,
    )
    expect(refusal(() => decodeRecords(rows(5), specs)).message).toMatch(/ragged data at \[2\]: a scalar, expected 2/)
  })

  it('reads only own keys: an input named like an Object method is missing when absent', () => {
    const e = refusal(() => decodeRecords([{ x: [1] }], [{ name: 'toString', dtype: 'float32', shape: ['N'] }]))
    expect(e.message).toMatch(/unknown input 'x'|missing input 'toString'/)
    const missing = refusal(() => decodeRecords([{}], [{ name: 'toString', dtype: 'float32', shape: ['N'] }]))
    expect(missing.message).toBe("record 0: missing input 'toString'")
  })

  it('counts rows against the configured limit before allocating', () => {
    const body = Array.from({ length: 5 }, () => ({ x: [1, 2], flag: true }))
    // x: 10 float32 = 40 bytes, flag: 5 bytes.
    expect(() => decodeRecords(body, specs, { maxTensorBytes: 45 })).not.toThrow()
    expect(refusal(() => decodeRecords(body, specs, { maxTensorBytes: 44 })).message).toMatch(
      /input 'flag' \(records\): 5 values of bool need 5 bytes, more than the 4 bytes left/,
    )
  })
})
