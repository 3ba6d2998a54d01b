/**
 * Which model serves each row of a split: weighted random (optionally by a stable hash of a key
 * column, so a key always lands on the same model, across restarts and replicas), or by key value.
 */
import type { AnyTensor } from '../engine/tensor.js'
import { InvalidInputError } from '../errors.js'
import type { Routing } from './steps.js'

/** 32-bit FNV-1a of the UTF-8 bytes of `s`: stable everywhere, cheap, well spread for bucketing. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5
  for (const byte of new TextEncoder().encode(s)) {
    h ^= byte
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h >>> 0
}

/** A key column's value for row `r`, as the string that is hashed or matched. */
function keyOf(t: AnyTensor, r: number): string {
  // String() writes a bigint in decimal (12345n → "12345"), as it writes a number.
  return String((t.data as ArrayLike<unknown>)[r])
}

function pickWeighted(weights: Array<[number, string]>, point: number): string {
  let acc = 0
  for (const [w, m] of weights) {
    acc += w
    if (point < acc) return m
  }
  return (weights[weights.length - 1] as [number, string])[1]
}

/**
 * The model for each of `rows` rows. `key` is the routing column (hash_key or key_split's key);
 * `random` draws in [0, 1) for rows routed by weight alone.
 */
export function routeRows(routing: Routing, rows: number, key: AnyTensor | undefined, random: () => number): string[] {
  const out: string[] = []
  if (routing.kind === 'random') {
    const total = routing.weights.reduce((s, [w]) => s + w, 0)
    for (let r = 0; r < rows; r++) {
      // The hash spreads keys uniformly over [0, 2^32); scale it onto the weights.
      const point = key ? (fnv1a(keyOf(key, r)) / 2 ** 32) * total : random() * total
      out[r] = pickWeighted(routing.weights, point)
    }
    return out
  }
  if (routing.kind === 'key') {
    if (!key) throw new InvalidInputError(`key_split needs the request column '${routing.key}'`)
    for (let r = 0; r < rows; r++) {
      const value = keyOf(key, r)
      // Own keys only: a value such as "constructor" is no option, not Object.prototype's member.
      out[r] = Object.hasOwn(routing.options, value) ? (routing.options[value] as string) : routing.fallback
    }
    return out
  }
  throw new Error(`routeRows: ${routing.kind} is not a split`)
}
