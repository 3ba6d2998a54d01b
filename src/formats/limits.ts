/**
 * What one request may decode to. Two bounds hold for every inference body:
 *
 * - structural (no setting): a decoder allocates only for values present in the body, so a
 *   request's tensors are at most k × its body bytes: k = 4 for OIP and pandas-records JSON (a
 *   value takes ≥ 2 characters and ≤ 8 bytes decoded), 1 for the OIP binary extension (the bytes
 *   are copied), 8 for Arrow (a value takes ≥ 1 bit or byte and ≤ 8 bytes decoded);
 * - configured: {@link DecodeLimits.maxTensorBytes}, checked input by input before allocating.
 *
 * String elements count 8 bytes (a reference); their characters come from the body.
 */
import { bytesPerElement, type DType } from '../engine/tensor.js'
import { InvalidInputError } from '../errors.js'

/** The configured limits a decoder checks before it allocates. */
export interface DecodeLimits {
  /** Largest total size in bytes of one request's decoded input tensors (LASTMILE_TENSOR_LIMIT_BYTES). */
  maxTensorBytes: number
}

/** Decoded tensor bytes per body byte that Arrow bodies may reach (see the module comment). */
export const ARROW_BYTES_PER_BODY_BYTE = 8

/** Most dims a tensor may have: deeper shapes are refused before any walk over the data. */
export const MAX_RANK = 32

/** Bytes one element of `dtype` takes once decoded (a reference for strings). */
function decodedBytes(dtype: DType | 'string'): number {
  return dtype === 'string' ? 8 : bytesPerElement(dtype)
}

/**
 * Elements of a shape, or Infinity once the product passes `max`: never a float overflow or a
 * rounded product, and a zero dim anywhere makes 0 whatever comes before it.
 */
export function shapeElements(dims: readonly number[], max: number): number {
  if (dims.includes(0)) return 0
  let n = 1
  for (const d of dims) {
    n *= d
    if (n > max) return Number.POSITIVE_INFINITY
  }
  return n
}

/** A request's tensor bytes, reserved input by input against {@link DecodeLimits.maxTensorBytes}. */
export class TensorBudget {
  #used = 0

  /**
   * @param limit bytes the request may decode to
   * @param why what the limit is, for the message (the setting, or a multiple of the body)
   */
  constructor(
    readonly limit: number,
    readonly why = 'LASTMILE_TENSOR_LIMIT_BYTES',
  ) {}

  /**
   * Reserve `elements` values of `dtype` (and at least one per row: a tensor with empty rows still
   * costs its rows downstream), or throw naming `what`.
   */
  take(what: string, elements: number, rows: number, dtype: DType | 'string'): void {
    const bytes = Math.max(elements, rows) * decodedBytes(dtype)
    if (this.#used + bytes > this.limit) {
      throw new InvalidInputError(
        `${what}: ${elements} values of ${dtype} need ${bytes} bytes, more than the ${this.limit - this.#used} bytes left of the request's limit of ${this.limit} (${this.why})`,
      )
    }
    this.#used += bytes
  }
}

/** No configured cap: only the structural bounds apply. */
export const UNLIMITED: DecodeLimits = { maxTensorBytes: Number.POSITIVE_INFINITY }

/**
 * A JSON value for an error message, cut to about `max` characters. Never stringifies a whole
 * array or object: a value can be megabytes, or nested deeper than JSON.stringify's stack.
 */
export function preview(value: unknown, max = 60): string {
  const text = Array.isArray(value)
    ? `[${value
        .slice(0, 4)
        .map((v) => (typeof v === 'object' && v !== null ? (Array.isArray(v) ? '[…]' : '{…}') : scalar(v, max)))
        .join(',')}${value.length > 4 ? ',…' : ''}]`
    : typeof value === 'object' && value !== null
      ? '{…}'
      : scalar(value, max)
  return text.length > max ? `${text.slice(0, max)}…` : text
}

function scalar(value: unknown, max: number): string {
  if (typeof value === 'string') return JSON.stringify(value.slice(0, max))
  // NaN and ±Infinity as clients write them (JSON.stringify says null); bigints (exact integers) as digits.
  if (typeof value === 'number' || typeof value === 'bigint') return String(value)
  return JSON.stringify(value) ?? String(value)
}
