/**
 * The model as explanations call it: a matrix of perturbed feature rows in, one number per row
 * out, run through the deployed pipeline as bulk batches (on the GPU where the pipeline runs
 * there), counting rows for progress.
 */
import type { HostTensor } from '../engine/tensor.js'
import type { Columns } from '../engine/types.js'
import { InferenceError } from '../errors.js'
import { type FeatureLayout, matrixToFeeds } from './features.js'

/** Predictions for the rows of X ([rows, features], row-major). */
export type Predict = (X: Float64Array, rows: number) => Promise<Float64Array>

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
  const predict: Predict = async (X, rows) => {
    const out = new Float64Array(rows)
    for (let s = 0; s < rows; s += o.batchRows) {
      const n = Math.min(o.batchRows, rows - s)
      const r = await o.infer(matrixToFeeds(o.layout, X.subarray(s * F, (s + n) * F), n))
      const t = r.outputs[o.output.name] as HostTensor | undefined
      if (!t) throw new InferenceError(`the pipeline did not answer output '${o.output.name}'`)
      const width = t.data.length / n
      if (o.output.index >= width) {
        throw new InferenceError(
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
