/**
 * Explanations see a pipeline's numeric inputs as one flat feature vector per row: every element
 * of every input row, in input order (`x[0]`, `x[1]`, … or the names given). Rows come as
 * pandas-records (`{"x": [..]}`) or inference-log rows (`{"in.x": [..]}`); the model answers
 * one number per row, picked from its outputs by `out.<output>[i]`.
 */
import { type ColumnSpec, elementCount, formatShape, zeros } from '../engine/tensor.js'
import type { Columns } from '../engine/types.js'
import { InvalidRequestError } from '../errors.js'
import { parseIopath } from '../logs/inference-log.js'

export interface FeatureLayout {
  /** Feature names, one per element of the flattened inputs. */
  names: string[]
  inputs: Array<{ spec: ColumnSpec; offset: number; width: number; dims: number[] }>
}

/** The flat feature layout of a pipeline's inputs; `names` (optional) renames the features. */
export function featureLayout(inputs: readonly ColumnSpec[], names?: string[]): FeatureLayout {
  const out: FeatureLayout = { names: [], inputs: [] }
  for (const spec of inputs) {
    if (spec.dtype === 'string') {
      throw new InvalidRequestError(
        `input '${spec.name}' holds strings; explanations perturb numeric inputs only (fix the key in the rows)`,
      )
    }
    const dims = spec.shape.slice(1)
    if (!dims.every((d) => typeof d === 'number')) {
      throw new InvalidRequestError(
        `input '${spec.name}' has shape ${formatShape(spec.shape)}: explanations need a fixed row shape`,
      )
    }
    const width = elementCount(dims as number[])
    out.inputs.push({ spec, offset: out.names.length, width, dims: dims as number[] })
    for (let i = 0; i < width; i++) out.names.push(width === 1 && dims.length === 0 ? spec.name : `${spec.name}[${i}]`)
  }
  if (names) {
    if (names.length !== out.names.length) {
      throw new InvalidRequestError(
        `feature_names has ${names.length} names, the pipeline's inputs have ${out.names.length} features (${out.names.slice(0, 8).join(', ')}${out.names.length > 8 ? ', …' : ''})`,
      )
    }
    out.names = [...names]
  }
  return out
}

/**
 * Rows (records) as a row-major float64 matrix [rows, features]. A row's value of an input is its
 * elements, flat or nested by the row's dimensions, and may be wrapped in one more array (a batch of
 * one): nested deeper, it is a 400 before anything walks it, since `Array.flat` and
 * `JSON.stringify` recurse and overflow the stack on a value JSON.parse takes at any depth.
 */
export function rowsToMatrix(layout: FeatureLayout, rows: unknown[], what: string): Float64Array {
  const F = layout.names.length
  const X = new Float64Array(rows.length * F)
  rows.forEach((row, r) => {
    if (typeof row !== 'object' || row === null) throw new InvalidRequestError(`${what}[${r}] is not an object`)
    const rec = row as Record<string, unknown>
    for (const inp of layout.inputs) {
      const own = (key: string) => (Object.hasOwn(rec, key) ? rec[key] : undefined)
      const v = own(inp.spec.name) ?? own(`in.${inp.spec.name}`)
      const levels = inp.dims.length + 1
      const flat = elements(v, levels)
      if (!flat) {
        throw new InvalidRequestError(
          `${what}[${r}].${inp.spec.name} nests arrays more than ${levels} deep; input '${inp.spec.name}' ${formatShape(inp.spec.shape)} takes a row's ${inp.width} values, flat or nested by its dimensions`,
        )
      }
      if (flat.length !== inp.width) {
        throw new InvalidRequestError(
          `${what}[${r}].${inp.spec.name} has ${v === undefined ? 'no value' : `${flat.length} values`}; input '${inp.spec.name}' ${formatShape(inp.spec.shape)} needs ${inp.width}`,
        )
      }
      for (let i = 0; i < inp.width; i++) {
        // 64-bit integers past 2^53 come as bigints (exact JSON, the inference log): the matrix is float64.
        const x = typeof flat[i] === 'bigint' ? Number(flat[i]) : flat[i]
        if (typeof x !== 'number') {
          throw new InvalidRequestError(
            `${what}[${r}].${inp.spec.name}[${i}] is ${typeof x === 'object' && x !== null ? 'an object' : JSON.stringify(x)}; a number is expected`,
          )
        }
        X[r * F + inp.offset + i] = x
      }
    }
  })
  return X
}

/** The elements of `v` (a scalar is one), or `undefined` when it nests arrays more than `levels` deep. */
function elements(v: unknown, levels: number): unknown[] | undefined {
  const out: unknown[] = []
  // Recursion at most `levels` deep (an input's rank, plus one), whatever the value's depth.
  const walk = (x: unknown, left: number): boolean => {
    if (!Array.isArray(x)) {
      out.push(x)
      return true
    }
    return left > 0 && x.every((y) => walk(y, left - 1))
  }
  return walk(v, levels) ? out : undefined
}

/** Feeds for `rows` rows of a feature matrix. */
export function matrixToFeeds(layout: FeatureLayout, X: Float64Array, rows: number): Columns {
  const F = layout.names.length
  const feeds: Columns = {}
  const only = layout.inputs[0]
  if (layout.inputs.length === 1 && only && only.spec.dtype === 'float32') {
    // The common case, one float32 input holding every feature: one conversion, no index math.
    feeds[only.spec.name] = {
      dtype: 'float32',
      dims: [rows, ...only.dims],
      data: Float32Array.from(X.subarray(0, rows * F)),
    }
    return feeds
  }
  for (const inp of layout.inputs) {
    const t = zeros(inp.spec.dtype as Exclude<ColumnSpec['dtype'], 'string'>, [rows, ...inp.dims])
    const data = t.data as unknown as { [i: number]: number | bigint; length: number }
    const big = data instanceof BigInt64Array || data instanceof BigUint64Array
    for (let r = 0; r < rows; r++) {
      for (let i = 0; i < inp.width; i++) {
        const v = X[r * F + inp.offset + i] as number
        data[r * inp.width + i] = big ? BigInt(Math.round(v)) : v
      }
    }
    feeds[inp.spec.name] = t
  }
  return feeds
}

/** Which output value explanations explain: `out.<output>[i]` (default: the first output's first value). */
export function outputSelector(
  outputs: readonly ColumnSpec[],
  output?: string,
): { name: string; index: number; label: string } {
  if (output === undefined) {
    const first = outputs.find((o) => o.dtype !== 'string')
    if (!first) throw new InvalidRequestError('the pipeline has no numeric output to explain')
    return { name: first.name, index: 0, label: `out.${first.name}[0]` }
  }
  const { column, index } = parseIopath(output.startsWith('out.') ? output : `out.${output}`)
  const name = column.slice('out.'.length)
  const spec = outputs.find((o) => o.name === name)
  if (!spec || spec.dtype === 'string') {
    throw new InvalidRequestError(
      `output '${output}': the pipeline's numeric outputs are ${outputs
        .filter((o) => o.dtype !== 'string')
        .map((o) => `out.${o.name} ${formatShape(o.shape)}`)
        .join(', ')}`,
    )
  }
  // Where the row shape is fixed the index is checked now; otherwise on the first answer.
  const dims = spec.shape.slice(1)
  if (dims.every((d) => typeof d === 'number') && index >= elementCount(dims as number[])) {
    throw new InvalidRequestError(
      `output '${output}': out.${name} ${formatShape(spec.shape)} has ${elementCount(dims as number[])} values per row; index ${index} is past them`,
    )
  }
  return { name, index, label: `out.${name}[${index}]` }
}
