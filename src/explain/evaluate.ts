/**
 * The model as explanations call it: perturbed feature rows in, one number per row out, run
 * through the deployed pipeline as bulk batches (on the GPU where the pipeline runs there),
 * counting rows for progress. Rows are built a batch at a time from a description of the matrix.
 */
import type { HostTensor } from '../engine/tensor.js'
import type { Columns } from '../engine/types.js'
import { InferenceError, InvalidRequestError } from '../errors.js'
import { type FeatureLayout, matrixToFeeds } from './features.js'

/**
 * Writes rows `[first, first + n)` of a perturbed matrix into `into` ([n, features], row-major).
 * Explanations describe their matrices this way so that only one batch of rows is ever built.
 */
export type FillRows = (into: Float64Array, first: number, n: number) => void

/** Predictions for `rows` rows of the matrix `fill` describes. */
export type Predict = (rows: number, fill: FillRows) => Promise<Float64Array>

/** The rows of an existing matrix X ([rows, F]). */
export const rowsOf =
  (X: Float64Array, F: number): FillRows =>
  (into, first, n) =>
    into.set(X.subarray(first * F, (first + n) * F))

export interface EvaluatorOptions {
  infer(feeds: Columns): Promise<{ outputs: Record<string, { data: unknown; dims: readonly number[] }> }>
  layout: FeatureLayout
  output: { name: string; index: number }
  /** Rows per model batch. */
  batchRows: number
  /** Called with the rows evaluated so far; throwing stops the explanation (cancel). */
  onRows?: (rows: number) => void
}

export function evaluator(o: EvaluatorOptions): { predict: Predict; rows(): number } {
  let evaluated = 0
  const F = o.layout.names.length
  const predict: Predict = async (rows, fill) => {
    const out = new Float64Array(rows)
    // One batch of perturbed rows at a time: memory is batchRows × F, whatever the explanation's cost.
    const batch = new Float64Array(Math.min(rows, o.batchRows) * F)
    for (let s = 0; s < rows; s += o.batchRows) {
      const n = Math.min(o.batchRows, rows - s)
      fill(batch, s, n)
      const r = await o.infer(matrixToFeeds(o.layout, batch, n))
      const t = r.outputs[o.output.name] as HostTensor | undefined
      if (!t) throw new InferenceError(`the pipeline did not answer output '${o.output.name}'`)
      const width = t.data.length / n
      if (o.output.index >= width) {
        throw new InvalidRequestError(
          `output '${o.output.name}' has ${width} values per row; index ${o.output.index} is past them`,
        )
      }
      const data = t.data
      if (typeof data[0] === 'bigint') for (let i = 0; i < n; i++) out[s + i] = Number(data[i * width + o.output.index])
      else {
        const values = data as Float32Array
        for (let i = 0; i < n; i++) out[s + i] = values[i * width + o.output.index] as number
      }
      evaluated += n
      o.onRows?.(evaluated)
    }
    return out
  }
  return { predict, rows: () => evaluated }
}
