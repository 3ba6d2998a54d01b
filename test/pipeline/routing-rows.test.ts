/**
 * routeRows row by row: draws placed exactly on the cumulative weights (a draw on a boundary goes to
 * the next model), hashed keys of every dtype placed by FNV-1a (hashes computed in Python 3 from the
 * published algorithm), key_split by value with its default, and the errors.
 */
import { describe, expect, it } from 'vitest'
import { tensor } from '../../src/engine/tensor.js'
import { InvalidInputError } from '../../src/errors.js'
import { routeRows } from '../../src/pipeline/routing.js'
import type { Routing } from '../../src/pipeline/steps.js'

/** A "random" source that returns the given draws in order, and fails if asked for more. */
function draws(...values: number[]): () => number {
  let i = 0
  return () => {
    if (i >= values.length) throw new Error('asked for more draws than rows')
    return values[i++] as number
  }
}
const noDraws = draws()

describe('routeRows: random_split', () => {
  const r31: Routing = {
    kind: 'random',
    weights: [
      [3, 'a'],
      [1, 'b'],
    ],
  }

  it('places each draw × total against the cumulative weights; a draw on a boundary goes to the next model', () => {
    // Total 4: a covers [0, 3), b [3, 4). 0.75 · 4 = 3 exactly: b.
    expect(routeRows(r31, 6, undefined, draws(0, 0.5, 0.74, 0.75, 0.76, 0.999))).toEqual(['a', 'a', 'a', 'b', 'b', 'b'])
    // Three models 1/2/1: a [0, 1), b [1, 3), c [3, 4).
    const r121: Routing = {
      kind: 'random',
      weights: [
        [1, 'a'],
        [2, 'b'],
        [1, 'c'],
      ],
    }
    expect(routeRows(r121, 6, undefined, draws(0.2, 0.25, 0.5, 0.7, 0.75, 0.9))).toEqual(['a', 'b', 'b', 'b', 'c', 'c'])
  })

  it('draws once per row and returns exactly that many models', () => {
    expect(routeRows(r31, 0, undefined, noDraws)).toEqual([])
    expect(routeRows(r31, 1, undefined, draws(0.9))).toEqual(['b'])
  })

  it('gives a draw at or past the total (a source returning 1) to the last model, never to none', () => {
    expect(routeRows(r31, 2, undefined, draws(1, 0))).toEqual(['b', 'a'])
  })

  it('places hashed keys by FNV-1a / 2^32 · total, whatever the key dtype, without drawing', () => {
    // 25/75: a covers [0, 0.25) of the hash range. FNV-1a 32-bit of the key's decimal text (Python 3):
    // "12345" 0x43c2c0d8 → 0.2647 → b; "-7" 0x1acd139d → 0.1047 → a; "1.5" 0xe8421739 → 0.9073 → b;
    // "eu" 0x481a708f → 0.2817 → b; "5" 0x300ca0d0 → 0.1877 → a.
    const r2575: Routing = {
      kind: 'random',
      weights: [
        [25, 'a'],
        [75, 'b'],
      ],
      hashKey: 'k',
    }
    expect(routeRows(r2575, 2, tensor('int64', [2], [12345n, -7n]), noDraws)).toEqual(['b', 'a'])
    expect(routeRows(r2575, 3, tensor('float32', [3], [1.5, 5, -7]), noDraws)).toEqual(['b', 'a', 'a'])
    expect(routeRows(r2575, 2, { dtype: 'string', dims: [2], data: ['eu', '5'] }, noDraws)).toEqual(['b', 'a'])
  })
})

describe('routeRows: key_split', () => {
  const byRegion: Routing = {
    kind: 'key',
    key: 'region',
    options: { eu: 'm_eu', us: 'm_us', '7': 'm_7' },
    fallback: 'm',
  }

  it('routes by the key value, unknown values to the default', () => {
    const region = { dtype: 'string' as const, dims: [4], data: ['us', 'eu', 'apac', 'EU'] }
    expect(routeRows(byRegion, 4, region, noDraws)).toEqual(['m_us', 'm_eu', 'm', 'm'])
  })

  it('sends values named like Object.prototype members to the default', () => {
    const odd = { dtype: 'string' as const, dims: [4], data: ['constructor', 'toString', '__proto__', 'eu'] }
    expect(routeRows(byRegion, 4, odd, noDraws)).toEqual(['m', 'm', 'm', 'm_eu'])
  })

  it('matches numeric keys on their decimal text', () => {
    expect(routeRows(byRegion, 3, tensor('int64', [3], [7n, 8n, -7n]), noDraws)).toEqual(['m_7', 'm', 'm'])
    expect(routeRows(byRegion, 2, tensor('int32', [2], [8, 7]), noDraws)).toEqual(['m', 'm_7'])
  })

  it('is an invalid input naming the column when the request lacks the key', () => {
    expect(() => routeRows(byRegion, 1, undefined, noDraws)).toThrow(InvalidInputError)
    expect(() => routeRows(byRegion, 1, undefined, noDraws)).toThrow("key_split needs the request column 'region'")
  })
})

it('routeRows refuses a routing that is not a split', () => {
  expect(() => routeRows({ kind: 'single', model: 'm' }, 1, undefined, noDraws)).toThrow(
    'routeRows: single is not a split',
  )
  expect(() => routeRows({ kind: 'shadow', champion: 'a', challengers: ['b'] }, 1, undefined, noDraws)).toThrow(
    'routeRows: shadow is not a split',
  )
})
