/**
 * IEEE 754 half precision (FP16) to and from JS numbers. Tensors hold halves as raw bits in a
 * Uint16Array; JSON carries them as ordinary numbers. Every half is exactly a double, so decoding
 * is exact, and encoding rounds a double straight to the nearest half (ties to even), never
 * through float32 (two roundings can land on the wrong half). It imports nothing and sits in the
 * lowest tier: the codecs, batch jobs and the inference log all convert halves.
 */

/** Bit layout: sign 0x8000, exponent 0x7c00 (bias 15), mantissa 0x03ff. */
const SIGN = 0x8000
const INF = 0x7c00
/** The quiet NaN numpy and onnxruntime write. */
const NAN = 0x7e00
/** Halfway between 65504 (the largest half) and 65536: this and above round to infinity. */
const OVERFLOW = 65520
/** 2^-14, the smallest normal half. */
const MIN_NORMAL = 2 ** -14

/** The number a half's bits stand for (exact). */
export function halfToNumber(bits: number): number {
  const exponent = (bits & INF) >> 10
  const mantissa = bits & 0x03ff
  const sign = bits & SIGN ? -1 : 1
  if (exponent === 0x1f) return mantissa === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN
  if (exponent === 0) return sign * mantissa * 2 ** -24 // zero and subnormals
  return sign * (1024 + mantissa) * 2 ** (exponent - 25)
}

/** `x` rounded to the nearest integer, ties to the even one (`x` ≥ 0 and below 2^52: `x - floor` is exact). */
function roundHalfEven(x: number): number {
  const floor = Math.floor(x)
  const rest = x - floor
  if (rest > 0.5) return floor + 1
  if (rest < 0.5) return floor
  return floor % 2 === 0 ? floor : floor + 1
}

/** The half nearest `x` (ties to even mantissa), as bits; beyond ±65504 by half an ulp or more, ±infinity. */
export function numberToHalf(x: number): number {
  if (Number.isNaN(x)) return NAN
  const sign = x < 0 || Object.is(x, -0) ? SIGN : 0
  const a = Math.abs(x)
  if (a >= OVERFLOW) return sign | INF
  // Subnormals are multiples of 2^-24; a rounding up to 1024 × 2^-24 is the smallest normal's bits.
  if (a < MIN_NORMAL) return sign | roundHalfEven(a * 2 ** 24)
  let e = Math.floor(Math.log2(a))
  // log2 may be off by one next to a power of two: settle 2^e ≤ a < 2^(e+1) exactly.
  if (2 ** e > a) e--
  else if (2 ** (e + 1) <= a) e++
  let m = roundHalfEven(a * 2 ** (10 - e)) // 1024..2048: scaling by a power of two is exact
  if (m === 2048) {
    m = 1024
    e++
  }
  return sign | ((e + 15) << 10) | (m - 1024)
}

/** A Uint16Array of halves as exact doubles. */
export function halvesToNumbers(bits: Uint16Array): Float64Array {
  const out = new Float64Array(bits.length)
  for (let i = 0; i < bits.length; i++) out[i] = halfToNumber(bits[i] as number)
  return out
}
