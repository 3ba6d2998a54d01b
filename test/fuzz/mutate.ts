/**
 * Byte mutations of valid seed bodies, as a fast-check arbitrary: bit flips, overwritten bytes,
 * interesting 32- and 64-bit integers (0, -1, 2^31-1, 1e9...) written over counts and offsets,
 * inserted, deleted and repeated runs, and cuts. Positions are drawn as fractions of the body so
 * they shrink towards its start and stay valid whatever earlier mutations did to its length.
 */
import fc from 'fast-check'

const INTERESTING = [0, -1, 1, 2, 7, 8, 255, 256, 65535, 2 ** 31 - 1, -(2 ** 31), 2e7, 1e9, 2 ** 32 - 1]

type Op =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'byte'; at: number; value: number }
  | { kind: 'int'; at: number; value: number; wide: boolean }
  | { kind: 'insert'; at: number; bytes: number[] }
  | { kind: 'delete'; at: number; count: number }
  | { kind: 'repeat'; at: number; count: number }
  | { kind: 'cut'; at: number }

const at = fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true })
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at, bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('byte' as const), at, value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('int' as const), at, value: fc.constantFrom(...INTERESTING), wide: fc.boolean() }),
  fc.record({
    kind: fc.constant('insert' as const),
    at,
    bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 16 }),
  }),
  fc.record({ kind: fc.constant('delete' as const), at, count: fc.integer({ min: 1, max: 32 }) }),
  fc.record({ kind: fc.constant('repeat' as const), at, count: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ kind: fc.constant('cut' as const), at }),
)

function apply(bytes: Uint8Array, o: Op): Uint8Array {
  const i = Math.floor(o.at * bytes.length)
  switch (o.kind) {
    case 'flip': {
      const out = bytes.slice()
      if (out.length) out[i] = (out[i] as number) ^ (1 << o.bit)
      return out
    }
    case 'byte': {
      const out = bytes.slice()
      if (out.length) out[i] = o.value
      return out
    }
    case 'int': {
      const width = o.wide ? 8 : 4
      if (bytes.length < width) return bytes
      const out = bytes.slice()
      const view = new DataView(out.buffer)
      const where = Math.min(i, out.length - width)
      if (o.wide) view.setBigInt64(where, BigInt(o.value), true)
      else view.setInt32(where, o.value | 0, true)
      return out
    }
    case 'insert':
      return Uint8Array.from([...bytes.subarray(0, i), ...o.bytes, ...bytes.subarray(i)])
    case 'delete':
      return Uint8Array.from([...bytes.subarray(0, i), ...bytes.subarray(i + o.count)])
    case 'repeat':
      return Uint8Array.from([...bytes.subarray(0, i + o.count), ...bytes.subarray(i)])
    case 'cut':
      return bytes.subarray(0, i)
  }
}

/** One of `seeds` with 1 to `maxOps` mutations. */
export function mutated(seeds: readonly Uint8Array[], maxOps = 4): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(fc.constantFrom(...seeds), fc.array(op, { minLength: 1, maxLength: maxOps }))
    .map(([seed, ops]) => ops.reduce(apply, seed))
}

/** `seed` with exactly `n` bytes overwritten at random positions (the report's 3-byte mutations). */
export function overwritten(seed: Uint8Array, n: number): fc.Arbitrary<Uint8Array> {
  return fc
    .array(fc.tuple(fc.nat({ max: seed.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: n, maxLength: n })
    .map((writes) => {
      const out = seed.slice()
      for (const [i, v] of writes) out[i] = v
      return out
    })
}
