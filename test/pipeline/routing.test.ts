/**
 * The key-split hash against FNV-1a's published 32-bit test vectors (Landon Curt Noll's FNV test
 * suite), and the unkeyed split's shares against unequal weights with a seeded generator.
 */
import { describe, expect, it } from 'vitest'
import { fnv1a, routeRows } from '../../src/pipeline/routing.js'
import { mulberry32 } from '../../src/random.js'

describe('split routing', () => {
  it('hashes keys with FNV-1a 32-bit as published', () => {
    // Published vectors: fnv1a_32("") = 0x811c9dc5 (the offset basis), "a" = 0xe40c292c,
    // "foobar" = 0xbf9cf968.
    expect(fnv1a('')).toBe(0x811c9dc5)
    expect(fnv1a('a')).toBe(0xe40c292c)
    expect(fnv1a('foobar')).toBe(0xbf9cf968)
    // UTF-8 bytes, not UTF-16 code units: "é" is C3 A9 (Python 3 over 'é'.encode(): 0x1e9de8c1).
    expect(fnv1a('é')).toBe(0x1e9de8c1)
  })

  it('splits unkeyed rows in proportion to unequal weights, each weight with its own model', () => {
    const rows = 10_000
    const models = routeRows(
      {
        kind: 'random',
        weights: [
          [70, 'a'],
          [20, 'b'],
          [10, 'c'],
        ],
      },
      rows,
      undefined,
      mulberry32(5),
    )
    const share = (m: string) => models.filter((x) => x === m).length / rows
    // Binomial sd at 10,000 rows is at most 0.5%: ±4% is eight of them.
    expect(share('a')).toBeGreaterThan(0.66)
    expect(share('a')).toBeLessThan(0.74)
    expect(share('b')).toBeGreaterThan(0.16)
    expect(share('b')).toBeLessThan(0.24)
    expect(share('c')).toBeGreaterThan(0.06)
    expect(share('c')).toBeLessThan(0.14)
  })
})
