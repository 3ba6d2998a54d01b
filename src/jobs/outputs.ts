/**
 * A pipeline's outputs as result columns: `out.<name>` holding a number (or string) per row for
 * outputs of one value per row, the row's values as a list otherwise; null for rows that did not
 * reach the model. Types are fixed by the pipeline's output specs so every chunk of a job agrees:
 * FP16 outputs as float32 columns of their values (every half is a float32), INT64/UINT64 as int64
 * and uint64 columns of their exact values.
 */
import {
  bool,
  type DataType,
  float32,
  float64,
  int8,
  int16,
  int32,
  int64,
  list,
  uint8,
  uint16,
  uint32,
  uint64,
  utf8,
} from '@uwdata/flechette'
import type { AnyTensor, ColumnSpec } from '../engine/tensor.js'
import { InferenceError } from '../errors.js'
import { halvesToNumbers } from '../half.js'

export interface OutputColumn {
  name: string
  type: DataType
  /** Source output and its values per row. */
  output: string
  width: number
}

const ELEMENT: Record<ColumnSpec['dtype'], () => DataType> = {
  float32: float32,
  float64: float64,
  float16: float32,
  int8: int8,
  uint8: uint8,
  int16: int16,
  uint16: uint16,
  int32: int32,
  uint32: uint32,
  int64: int64,
  uint64: uint64,
  bool: bool,
  string: utf8,
}

/** Result columns for the pipeline's outputs; `first` (a first batch's outputs) fills in symbolic widths. */
export function planOutputs(
  outputs: readonly ColumnSpec[],
  first: Record<string, AnyTensor> | undefined,
  rows: number,
): OutputColumn[] {
  return outputs.map((o) => {
    const rest = o.shape.slice(1)
    let width = rest.every((d) => typeof d === 'number') ? rest.reduce<number>((a, d) => a * (d as number), 1) : 0
    const t = first?.[o.name]
    if (width === 0 && t && rows > 0) width = t.data.length / rows
    if (width === 0) width = 1
    const element = ELEMENT[o.dtype]()
    return { name: `out.${o.name}`, type: width === 1 ? element : list(element), output: o.name, width }
  })
}

/**
 * Scatter a batch's outputs (rows `kept` of the chunk, in order) into result columns of `rows`
 * rows, leaving null where a row did not reach the model.
 */
export function fillOutputs(
  cols: OutputColumn[],
  outputs: Record<string, AnyTensor>,
  kept: Int32Array,
  into: Record<string, ArrayLike<unknown>>,
  rows: number,
): void {
  for (const c of cols) {
    const t = outputs[c.output]
    if (!t) throw new InferenceError(`the pipeline no longer answers '${c.output}' (was it replaced mid-job?)`)
    if (t.data.length !== kept.length * c.width) {
      throw new InferenceError(
        `output '${c.output}' has ${t.data.length / Math.max(1, kept.length)} values per row, the job's first rows had ${c.width}`,
      )
    }
    // Halves as their values; every other dtype's typed array as it is (64-bit integers as bigints).
    const data = (
      t.dtype === 'float16' ? Float32Array.from(halvesToNumbers(t.data as Uint16Array)) : t.data
    ) as ArrayLike<unknown>
    if (kept.length === rows && ArrayBuffer.isView(data)) {
      // Every row reached the model: the output's typed array is the column (views per row for lists).
      const typed = data as unknown as Float32Array
      into[c.name] =
        c.width === 1
          ? (typed as unknown as unknown[])
          : Array.from({ length: rows }, (_, i) => typed.subarray(i * c.width, (i + 1) * c.width))
      continue
    }
    into[c.name] ??= new Array(rows).fill(null)
    const col = into[c.name] as unknown[]
    for (let i = 0; i < kept.length; i++) {
      const r = kept[i] as number
      if (c.width === 1) col[r] = data[i]
      else {
        const row: unknown[] = new Array(c.width)
        for (let j = 0; j < c.width; j++) row[j] = data[i * c.width + j]
        col[r] = row
      }
    }
  }
}
