/**
 * The kernels' CPU twins at their edges, on every machine: each refuses a matrix whose dims are not
 * positive integers or do not match its data, naming itself and the dims; softmax answers NaN for a
 * row holding both NaN and +inf (NaN wins, as the README documents); a score exactly at the
 * threshold keeps its class. Expected values are written out, not computed by the twins.
 */
import { describe, expect, it } from 'vitest'
import { argmaxCpu } from '../../src/kernels/argmax.js'
import { softmaxCpu } from '../../src/kernels/softmax.js'
import { compileTabular, tabularCpu } from '../../src/kernels/tabular-preprocess.js'
import { topkCpu } from '../../src/kernels/topk.js'

const NAN = Number.NaN
const INF = Number.POSITIVE_INFINITY

/** Each twin as (data, rows, cols) → result, with the name its errors carry. */
const TWINS: Array<[string, (x: Float32Array, rows: number, cols: number) => unknown]> = [
  ['softmax', (x, r, c) => softmaxCpu(x, r, c)],
  ['argmax', (x, r, c) => argmaxCpu(x, r, c)],
  ['top-k', (x, r, c) => topkCpu(x, r, c, 1)],
  [
    'tabular pre-processing',
    (x, r, c) => tabularCpu(x, r, compileTabular({ features: Array.from({ length: Math.max(1, c) }, () => ({})) })),
  ],
]

describe('the kernels’ CPU twins refuse malformed matrices, naming themselves', () => {
  for (const [name, run] of TWINS) {
    it(`${name}: rows and cols must be integers >= 1, each checked on its own`, () => {
      const bad: Array<[number, number]> = [
        [0, 3],
        [-1, 3],
        [1.5, 2],
      ]
      // Tabular's columns are its plan's feature count, always a whole number.
      if (name !== 'tabular pre-processing') bad.push([2, 1.5])
      for (const [rows, cols] of bad) {
        expect(() => run(new Float32Array(6), rows, cols), `[${rows}, ${cols}]`).toThrow(
          `${name}: expected a [rows, cols] matrix with rows, cols >= 1, got [${rows}, ${cols}]`,
        )
      }
    })

    it(`${name}: the data must hold rows × cols values`, () => {
      expect(() => run(new Float32Array(5), 2, 3)).toThrow(`${name}: 5 values for [2, 3]`)
      expect(() => run(new Float32Array(7), 2, 3)).toThrow(`${name}: 7 values for [2, 3]`)
      expect(() => run(new Float32Array(6), 2, 3)).not.toThrow()
    })
  }

  it('softmax, argmax and top-k refuse zero columns', () => {
    for (const [name, run] of TWINS.slice(0, 3)) {
      expect(
        () => (run as (x: Float32Array, r: number, c: number) => unknown)(new Float32Array(0), 2, 0),
        name,
      ).toThrow(`${name}: expected a [rows, cols] matrix with rows, cols >= 1, got [2, 0]`)
    }
  })
})

describe('the kernels’ CPU twins at special values', () => {
  it('softmax: NaN beside +inf makes the row NaN; +inf alone shares the mass', () => {
    const out = Array.from(softmaxCpu(Float32Array.from([NAN, INF, 1, 0, INF, 1, 0, 2]), 2, 4))
    expect(out.slice(0, 4).every(Number.isNaN)).toBe(true)
    expect(out.slice(4)).toEqual([1, 0, 0, 0])
  })

  it('argmax: a best score exactly at the threshold keeps its class; just below abstains', () => {
    // 0.5 and 0.25 are exact in float32; 0.49999997 is the float32 just below 0.5.
    const scores = Float32Array.from([0.25, 0.5, 0.25, 0.25, 0.49999997, 0.25])
    expect(Array.from(argmaxCpu(scores, 2, 3, 0.5))).toEqual([1, -1])
  })
})
