/**
 * Triton's classification extension for OIP answers: a requested output with
 * `"parameters": {"classification": k}` is answered, instead of its values, as the k best classes
 * of each row: BYTES strings `"<value>:<index>"`, or `"<value>:<index>:<label>"` when the class has
 * a label, shape [rows, k], best first. Values are written as Triton's server writes them (C++
 * `std::to_string`: `%f` for floats, plain decimals for integers); ties rank the lower index first,
 * NaN last (the top-k kernels' order; Triton's `std::sort` leaves ties unspecified).
 *
 * @example
 * // probs [[0.1, 0.7, 0.2]], k = 2, labels a, b, c → [["0.700000:1:b", "0.200000:2:c"]]
 */
import type { AnyTensor, ColumnSpec, DType, HostTensor, StringTensor } from '../engine/tensor.js'
import { InvalidInputError, InvalidRequestError } from '../errors.js'
import { rankRow } from '../kernels/row-kernels.js'
import type { Stage } from '../pipeline/steps.js'
import { preview } from './limits.js'

/** What Triton classifies (`classification.cc`); FP16, BOOL and BYTES it refuses, as here. */
const CLASSIFIABLE = new Set<DType | 'string'>([
  'float32',
  'float64',
  'int8',
  'int16',
  'int32',
  'int64',
  'uint8',
  'uint16',
  'uint32',
  'uint64',
])

/**
 * A requested output's `parameters.classification`: undefined when absent, else the number of
 * classes to answer, an integer of at least 1.
 */
export function classificationCount(
  output: string,
  parameters: Record<string, unknown> | undefined,
): number | undefined {
  const k = parameters?.classification
  if (k === undefined) return undefined
  if (typeof k !== 'number' || !Number.isSafeInteger(k) || k < 1) {
    throw new InvalidRequestError(
      `output '${output}': parameters.classification must be an integer of at least 1 (the number of classes to answer), got ${preview(k)}`,
    )
  }
  return k
}

/** `std::to_string` of a double: `%f`, exactly rounded (half to even), as glibc prints it. */
export function cFixed6(v: number): string {
  if (Number.isNaN(v)) return signBit(v) ? '-nan' : 'nan'
  if (!Number.isFinite(v)) return v < 0 ? '-inf' : 'inf'
  const negative = v < 0 || Object.is(v, -0)
  const [m, e] = exactBinary(Math.abs(v)) // |v| = m · 2^e exactly
  let micros: bigint // |v| · 10^6, rounded half to even
  if (e >= 0) micros = (m << BigInt(e)) * 1_000_000n
  else {
    const d = 1n << BigInt(-e)
    const n = m * 1_000_000n
    micros = n / d
    const twice = (n % d) * 2n
    if (twice > d || (twice === d && micros % 2n === 1n)) micros += 1n
  }
  const whole = micros / 1_000_000n
  const frac = (micros % 1_000_000n).toString().padStart(6, '0')
  return `${negative ? '-' : ''}${whole}.${frac}`
}

/** Whether a NaN has its sign bit set (glibc prints `-nan` then). */
function signBit(v: number): boolean {
  return new DataView(new Float64Array([v]).buffer).getUint8(7) >= 0x80
}

/** A finite positive double as an integer mantissa and a power of two. */
function exactBinary(v: number): [bigint, number] {
  const bits = new DataView(new Float64Array([v]).buffer).getBigUint64(0, true)
  const exponent = Number((bits >> 52n) & 0x7ffn)
  const fraction = bits & ((1n << 52n) - 1n)
  return exponent === 0 ? [fraction, -1074] : [fraction | (1n << 52n), exponent - 1075]
}

/** One value as Triton's classification writes it. */
function valueText(dtype: DType, v: number | bigint): string {
  return dtype === 'float32' || dtype === 'float64' ? cFixed6(v as number) : String(v)
}

/**
 * The k best classes of each row of `t` (an output [rows, ...], its classes the elements of a row)
 * as Triton's BYTES strings, [rows, k]. A 400 for an output that is not numeric or a k beyond the
 * class count.
 */
export function classify(name: string, t: AnyTensor, k: number, labels?: readonly string[]): StringTensor {
  if (!CLASSIFIABLE.has(t.dtype)) {
    throw new InvalidInputError(
      `output '${name}' is ${t.dtype}: classification needs a numeric output (int, uint, float32 or float64)`,
    )
  }
  const tensor = t as HostTensor
  const rows = tensor.dims[0] ?? 1
  const classes = tensor.dims.slice(1).reduce((n, d) => n * d, 1)
  if (k > classes) {
    throw new InvalidInputError(
      `output '${name}': parameters.classification is ${k} but the output has ${classes} class${classes === 1 ? '' : 'es'} per row`,
    )
  }
  const named = labels && labels.length === classes ? labels : undefined // a label per class, or none
  // Stryker disable next-line ArrayDeclaration: every one of the rows * k slots is written below, so a preallocated and a grown array hold the same strings
  const data: string[] = new Array(rows * k)
  // Stryker disable next-line ArrayDeclaration: rankRow sets the length and writes every slot before it is read
  const order: number[] = []
  for (let r = 0; r < rows; r++) {
    const row = tensor.data.subarray(r * classes, (r + 1) * classes) as ArrayLike<number | bigint>
    rankRow(row, order)
    for (let j = 0; j < k; j++) {
      const c = order[j] as number
      const text = `${valueText(tensor.dtype, row[c] as number | bigint)}:${c}`
      data[r * k + j] = named ? `${text}:${named[c]}` : text
    }
  }
  return { dtype: 'string', dims: [rows, k], data }
}

/**
 * The outputs of an answer with each requested output that asks for classification replaced by
 * its classes. `labels` gives an output's class names, if it has them.
 */
export function classifyOutputs(
  outputs: Record<string, AnyTensor>,
  requested: ReadonlyArray<{ name: string; classification?: number }> | undefined,
  labels: (output: string) => readonly string[] | undefined,
): Record<string, AnyTensor> {
  const asked = requested?.filter((o) => o.classification !== undefined) ?? []
  if (asked.length === 0) return outputs
  const out = { ...outputs }
  for (const { name, classification } of asked) {
    // Own properties only (an output named `constructor` is unknown, answered so when encoding).
    const t = Object.hasOwn(outputs, name) ? outputs[name] : undefined
    if (t) out[name] = classify(name, t, classification as number, labels(name))
  }
  return out
}

/** The outputs a post step adds (src/pipeline/post.ts): never the model output it reads. */
const POST_OUTPUTS = new Set(['scores', 'label', 'label_name', 'topk_index', 'topk_score', 'topk_label'])

/**
 * Class names of a pipeline's outputs, from its post steps' `labels` (`stages` as compiled from
 * its steps): they name the classes of the step's `scores` (when it has an activation) and of the
 * model output it reads: its `input`, or in a one-model pipeline the step's default, the first
 * float32 output that is not a post step's.
 */
export function outputLabels(stages: readonly Stage[], outputs: readonly ColumnSpec[]): Map<string, readonly string[]> {
  const labels = new Map<string, readonly string[]>()
  const models = stages.filter((s) => s.kind === 'models')
  for (const { post } of models) {
    if (!post?.labels) continue
    const source =
      post.input ??
      (models.length === 1 ? outputs.find((o) => o.dtype === 'float32' && !POST_OUTPUTS.has(o.name))?.name : undefined)
    if (source) labels.set(source, post.labels)
    if (post.activation !== 'none') labels.set('scores', post.labels)
  }
  return labels
}
