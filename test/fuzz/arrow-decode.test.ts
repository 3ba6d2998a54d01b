/**
 * The Arrow decoder in process, where thousands of cases take a second: byte mutations and lying
 * counts (several at once) of tables with every column kind lastmile reads or refuses (lists,
 * large lists, fixed-size lists, dictionaries, utf8, bools, float16, uint64, structs, timestamps)
 * must decode or throw one of lastmile's typed errors (a 4xx), never anything else (a 500).
 */
import {
  bool,
  dictionary,
  fixedSizeList,
  float16,
  float32,
  float64,
  int8,
  int32,
  largeList,
  largeUtf8,
  list,
  struct,
  tableFromArrays,
  tableToIPC,
  timestamp,
  uint64,
  utf8,
} from '@uwdata/flechette'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { ColumnSpec } from '../../src/engine/tensor.js'
import { LastmileError } from '../../src/errors.js'
import { decodeArrow } from '../../src/formats/arrow.js'
import { withLies } from './arrow-craft.js'
import { fuzzParams } from './budget.js'
import { mutated } from './mutate.js'

/** Seed tables and the inputs each feeds. */
const SEEDS: Array<[Uint8Array, ColumnSpec[]]> = [
  [
    tableToIPC(
      tableFromArrays(
        { x: [Float32Array.of(1, 2), Float32Array.of(3, 4), Float32Array.of(5, 6)] },
        { types: { x: fixedSizeList(float32(), 2) } },
      ),
      { format: 'stream' },
    ) as Uint8Array,
    [{ name: 'x', dtype: 'float32', shape: ['N', 2] }],
  ],
  [
    tableToIPC(
      tableFromArrays(
        {
          x: [
            [1, 2],
            [3, 4],
            [5, 6],
          ],
          k: ['a', 'b', 'a'],
          s: ['x', 'yy', ''],
        },
        { types: { x: list(int8()), k: dictionary(utf8()), s: utf8() }, maxBatchRows: 2 },
      ),
      { format: 'file' },
    ) as Uint8Array,
    [
      { name: 'x', dtype: 'float64', shape: ['N', 2] },
      { name: 'k', dtype: 'string', shape: ['N'] },
      { name: 's', dtype: 'string', shape: ['N'] },
    ],
  ],
  [
    tableToIPC(
      tableFromArrays(
        { x: [[[1, 2]], [[3, 4]]], b: [true, false], h: [1, 2], u: [1n, 2n] },
        { types: { x: largeList(list(float64())), b: bool(), h: float16(), u: uint64() } },
      ),
      { format: 'stream' },
    ) as Uint8Array,
    [
      { name: 'x', dtype: 'float32', shape: ['N', 1, 2] },
      { name: 'b', dtype: 'bool', shape: ['N'] },
      { name: 'h', dtype: 'float32', shape: ['N'] },
      { name: 'u', dtype: 'int64', shape: ['N'] },
    ],
  ],
  [
    tableToIPC(
      tableFromArrays(
        { st: [{ a: 1, b: 'x' }], l: ['a'], t: [new Date(0)] },
        { types: { st: struct({ a: int32(), b: utf8() }), l: largeUtf8(), t: timestamp() } },
      ),
      { format: 'stream' },
    ) as Uint8Array,
    [
      { name: 'l', dtype: 'string', shape: ['N'] },
      { name: 'st', dtype: 'float32', shape: ['N'] },
    ],
  ],
]

const LIES = [0, 1, 2, 3, 7, 8, 255, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2e7, 1e9, 2 ** 53 - 1, -1, -(2 ** 31)]

/** A seed with up to three counts (lengths, null counts, buffer ranges, body lengths, ids) replaced by lies. */
const lying = fc
  .tuple(
    fc.nat(SEEDS.length - 1),
    fc.array(fc.tuple(fc.nat(), fc.nat(), fc.constantFrom(...LIES)), { minLength: 1, maxLength: 3 }),
  )
  .map(([k, lies]) => [withLies((SEEDS[k] as [Uint8Array, ColumnSpec[]])[0], lies), k] as const)
const mutation = fc
  .nat(SEEDS.length - 1)
  .chain((k) => mutated([(SEEDS[k] as [Uint8Array, ColumnSpec[]])[0]], 6).map((bytes) => [bytes, k] as const))

describe('fuzz: the Arrow decoder in process', () => {
  it('decodes every seed', () => {
    for (const [bytes, specs] of SEEDS.slice(0, 3))
      expect(Object.keys(decodeArrow(bytes, specs))).toEqual(specs.map((s) => s.name))
  })

  it('decodes or throws a typed error for lying and mutated tables', () => {
    fc.assert(
      fc.property(fc.oneof(lying, mutation), ([bytes, k]) => {
        try {
          decodeArrow(bytes, (SEEDS[k] as [Uint8Array, ColumnSpec[]])[1])
        } catch (e) {
          if (!(e instanceof LastmileError)) throw e
        }
      }),
      fuzzParams(2000),
    )
  })
})
