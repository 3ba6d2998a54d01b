/**
 * What the console computes itself, with answers written out by hand: the value an iopath picks
 * from a logged row, failed checks, CSV cells and quoting (RFC 4180), the try-it panel's first
 * row, quantiles (linear interpolation, NumPy's default), the arms of a split or shadow and their
 * figures, and the line diff between two versions.
 */
import { describe, expect, it } from 'vitest'
import { lineDiff } from '../../console/src/diff.js'
import { armStats, armsOf, cell, failedChecks, pick, quantile, templateRow, toCsv } from '../../console/src/rows.js'

describe('what the console computes from rows', () => {
  it('picks the value an iopath names, [0] implied, NaN when it is missing', () => {
    const row = { 'in.x': [[1.5, 2.5], [3.5]], 'out.y': 7, 'out.big': 9007199254740993n, 'out.s': 'a' }
    expect(pick(row, 'in.x[0][1]')).toBe(2.5)
    expect(pick(row, 'in.x[1]')).toBe(3.5)
    expect(pick(row, 'in.x')).toBe(1.5)
    expect(pick(row, 'out.y')).toBe(7)
    expect(pick(row, 'out.big')).toBe(9007199254740992) // the nearest double
    for (const missing of ['in.x[5]', 'out.z', 'out.s', 'x[0]', 'in.x[a]']) expect(pick(row, missing)).toBeNaN()
  })

  it('counts failed checks given as a count or as a list', () => {
    expect(failedChecks({ check_failures: 2 })).toBe(2)
    expect(failedChecks({ check_failures: [0, 3, 4] })).toBe(3)
    expect(failedChecks({ check_failures: 0 })).toBe(0)
    expect(failedChecks({})).toBe(0)
  })

  it('writes CSV with every column of every row, quoting what RFC 4180 says to quote', () => {
    expect(cell(undefined)).toBe('')
    expect(cell(12345678901234567890n)).toBe('12345678901234567890')
    expect(cell([1, 2n ** 60n])).toBe('[1,"1152921504606846976"]')
    const csv = toCsv([
      { a: 1, b: 'x,y' },
      { b: 'say "hi"', c: 'line\nbreak' },
      { a: null, c: [1.5, 2] },
    ])
    expect(csv).toBe('a,b,c\r\n1,"x,y",\r\n,"say ""hi""","line\nbreak"\r\n,,"[1.5,2]"')
  })

  it("starts the try-it panel from a row shaped like the pipeline's inputs", () => {
    expect(
      templateRow([
        { name: 'x', datatype: 'FP32', shape: [-1, 3] },
        { name: 'img', datatype: 'UINT8', shape: [-1, 2, -1] },
        { name: 'key', datatype: 'BYTES', shape: [-1] },
        { name: 'flag', datatype: 'BOOL', shape: [-1, 1] },
      ]),
    ).toEqual({ x: [0, 0, 0], img: [[0], [0]], key: '', flag: [false] })
  })

  it('interpolates quantiles between order statistics, ignoring what is not finite', () => {
    // NumPy: np.quantile([1, 2, 4, 10], [0.5, 0.9, 0.99]) = [3.0, 8.2, 9.82]
    const v = [10, 1, Number.NaN, 4, 2]
    expect(quantile(v, 0.5)).toBeCloseTo(3, 12)
    expect(quantile(v, 0.9)).toBeCloseTo(8.2, 12)
    expect(quantile(v, 0.99)).toBeCloseTo(9.82, 12)
    expect(quantile(v, 0)).toBe(1)
    expect(quantile(v, 1)).toBe(10)
    expect(quantile([], 0.5)).toBeNaN()
  })

  it("finds a split's arms heaviest first and a shadow's champion first", () => {
    expect(armsOf([{ model: 'a' }])).toBeUndefined()
    const split = [
      {
        random_split: {
          weights: [
            [10, 'b:1'],
            [85, 'a:2'],
            [5, 'c:1'],
          ],
          seed: 1,
        },
      },
    ]
    expect(armsOf(split)).toEqual({ kind: 'split', arms: ['a:2', 'b:1', 'c:1'] })
    expect(armsOf([{ shadow: { champion: 'a:1', challengers: ['b:1', 'c:2'] } }])).toEqual({
      kind: 'shadow',
      arms: ['a:1', 'b:1', 'c:2'],
    })
  })

  it("figures each arm from its own rows: a split's by model, a shadow's from the challengers' columns", () => {
    const rows = [
      { model: 'a:1', latency_ms: 4, 'out.y': [1], 'out_b.y': [10] },
      { model: 'b:1', latency_ms: 9, 'out.y': [3] },
      { model: 'a:1', latency_ms: 2, 'out.y': [2], 'out_b.y': [30] },
      { model: 'a:1', latency_ms: 6, 'out.y': [6], 'out_b.y': [Number.NaN] },
    ]
    const [a, b] = armStats(rows, 'split', ['a:1', 'b:1'], 'y')
    expect(a).toMatchObject({ model: 'a:1', rows: 3, p50: 4, mean: 3, values: [1, 2, 6] })
    expect(a?.p99).toBeCloseTo(5.96, 12) // 4 + 0.98 · (6 − 4)
    expect(b).toMatchObject({ model: 'b:1', rows: 1, p50: 9, p99: 9, mean: 3, values: [3] })
    const [champion, challenger] = armStats(rows, 'shadow', ['a:1', 'b:1'], 'y')
    expect(champion?.values).toEqual([1, 3, 2, 6])
    expect(challenger).toMatchObject({ rows: 4, values: [10, 30], mean: 20 })
  })

  it('diffs two texts line by line, keeping the longest common lines', () => {
    expect(lineDiff('a\nb\nc\nd', 'a\nc\nd\ne')).toEqual([
      { op: ' ', line: 'a' },
      { op: '-', line: 'b' },
      { op: ' ', line: 'c' },
      { op: ' ', line: 'd' },
      { op: '+', line: 'e' },
    ])
    expect(lineDiff('x', 'y')).toEqual([
      { op: '+', line: 'y' },
      { op: '-', line: 'x' },
    ])
    expect(lineDiff('same\nlines', 'same\nlines').every((l) => l.op === ' ')).toBe(true)
  })
})
