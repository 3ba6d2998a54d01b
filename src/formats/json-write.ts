/**
 * Tensor data as JSON text, written as Triton's server writes it (rapidjson with
 * kWriteNanAndInfFlag), so tritonclient reads back exactly what the model produced:
 *
 * - INT64/UINT64 as exact decimal integers (JSON.stringify cannot write a bigint, and a number
 *   would round past 2^53);
 * - NaN, Infinity and -Infinity as those bare literals, -0 as `-0.0`, magnitudes from 1e16 in
 *   exponent form (`1.7e+19`: 20 digits would read as an integer, past 64 bits for orjson); with
 *   `nonFiniteAsNull` every non-finite value is `null` instead, which strict parsers (orjson, so
 *   KServe's client) accept, at the cost of telling ±Infinity from NaN;
 * - float32 widened to double in its shortest form (0.1f is 0.10000000149011612), float16 as its
 *   exact value (every half is a double);
 * - BOOL as true/false, BYTES as strings.
 */
import type { AnyTensor } from '../engine/tensor.js'
import { halvesToNumbers } from '../half.js'

/** How an answer writes NaN and ±Infinity in JSON. */
export interface JsonNumbers {
  /** `null` for every non-finite value, rather than `NaN`, `Infinity`, `-Infinity`. */
  nonFiniteAsNull: boolean
}

/**
 * Whether `x` needs more than its ToString: NaN, ±Infinity (`x - x` is NaN only for those), -0,
 * and magnitudes from 1e16, which ToString writes as 17 to 21 digits with no point: strict
 * parsers read those as integers, and orjson refuses integers past 64 bits.
 */
const special = (x: number) => x - x !== 0 || (x === 0 && 1 / x < 0) || x >= 1e16 || x <= -1e16

/** Floats as a JSON array: the typed array's own join when no value is special (the usual case). */
function floatsJson(a: Float32Array | Float64Array, opts: JsonNumbers): string {
  let k = 0
  while (k < a.length && !special(a[k] as number)) k++
  if (k === a.length) return `[${a.join(',')}]`
  const parts = new Array<string>(a.length)
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number
    // ToString writes NaN, Infinity and -Infinity as those literals already; -0 keeps its sign as a float.
    if (!special(x)) parts[i] = String(x)
    else if (x === 0) parts[i] = '-0.0'
    else if (Number.isFinite(x))
      parts[i] = x.toExponential() // shortest digits, always a float literal
    else parts[i] = opts.nonFiniteAsNull ? 'null' : String(x)
  }
  return `[${parts.join(',')}]`
}

/** A tensor's data, row-major and flat, as a JSON array (the `data` of an OIP output). */
export function tensorDataJson(t: AnyTensor, opts: JsonNumbers): string {
  switch (t.dtype) {
    case 'string':
      return JSON.stringify(t.data)
    case 'bool':
      return `[${Array.from(t.data as Uint8Array, (v) => (v !== 0 ? 'true' : 'false')).join(',')}]`
    case 'float32':
    case 'float64':
      return floatsJson(t.data as Float32Array | Float64Array, opts)
    case 'float16':
      return floatsJson(halvesToNumbers(t.data as Uint16Array), opts)
    default:
      // Integers, the 64-bit ones included: a typed array's join writes each exactly.
      return `[${t.data.join(',')}]`
  }
}

/** Values `start..end` of a tensor's flat data as a rank-1 tensor (a view: no copy of numbers). */
function span(t: AnyTensor, start: number, end: number): AnyTensor {
  const data = t.dtype === 'string' ? t.data.slice(start, end) : t.data.subarray(start, end)
  return { dtype: t.dtype, dims: [end - start], data } as AnyTensor
}

/**
 * Row `r` of a batch-major tensor as JSON, written as {@link tensorDataJson} writes data: nested
 * arrays of the row's dims, or one value for a rank-1 tensor (the pandas-records cell of a row).
 */
export function tensorRowJson(t: AnyTensor, r: number, opts: JsonNumbers): string {
  const dims = t.dims.slice(1)
  const width = dims.reduce((a, b) => a * b, 1)
  if (dims.length === 0) return tensorDataJson(span(t, r, r + 1), opts).slice(1, -1)
  // Innermost runs through the writer, outer dims as brackets; recursion depth is the rank.
  const nested = (at: number, level: number, size: number): string => {
    const n = dims[level] as number
    if (level === dims.length - 1) return tensorDataJson(span(t, at, at + n), opts)
    const inner = size / n
    const parts = new Array<string>(n)
    for (let i = 0; i < n; i++) parts[i] = nested(at + i * inner, level + 1, inner)
    return `[${parts.join(',')}]`
  }
  return nested(r * width, 0, width)
}

/** `object` (non-empty) as JSON with `"key": <raw JSON text>` added last, without parsing the text. */
export function withRawMember(object: Record<string, unknown>, key: string, raw: string): string {
  return `${JSON.stringify(object).slice(0, -1)},${JSON.stringify(key)}:${raw}}`
}
