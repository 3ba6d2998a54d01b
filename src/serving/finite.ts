/**
 * What a deployment does with NaN and ±Infinity in float inputs (`non_finite_inputs`). A model
 * given them answers with NaN scores beside a confident-looking label, so by default they are
 * refused with a 400 naming the row and column. JSON `null` (KServe's client, pandas) arrives as
 * NaN, and a number past float32's range (3.5e38) as Infinity, so both are refused too. NaN in a
 * column that a tabular pre step imputes is what that step is for: it always passes.
 */
import { rowWidth } from '../engine/rows.js'
import type { AnyTensor, ColumnSpec } from '../engine/tensor.js'
import type { Columns } from '../engine/types.js'
import { InvalidInputError } from '../errors.js'

/** A float16 whose exponent bits are all ones: Infinity (mantissa 0) or NaN. */
const HALF_EXPONENT = 0x7c00

/** Where a non-finite value sits: its flat index in the tensor and what it is. */
interface Found {
  index: number
  value: 'NaN' | 'Infinity' | '-Infinity'
}

/**
 * The first non-finite value of a float tensor at or after `from`, skipping NaN in the row columns
 * `imputed` marks (a row holds `width` values); undefined when none.
 */
function nextNonFinite(t: AnyTensor, from: number, width: number, imputed?: readonly boolean[]): Found | undefined {
  if (t.dtype === 'float16') {
    const bits = t.data as Uint16Array
    for (let i = from; i < bits.length; i++) {
      const b = bits[i] as number
      if ((b & HALF_EXPONENT) !== HALF_EXPONENT) continue
      if (b & 0x03ff) {
        if (!imputed?.[i % width]) return { index: i, value: 'NaN' }
      } else return { index: i, value: b & 0x8000 ? '-Infinity' : 'Infinity' }
    }
    return undefined
  }
  if (t.dtype !== 'float32' && t.dtype !== 'float64') return undefined
  const a = t.data as Float32Array | Float64Array
  for (let i = from; i < a.length; i++) {
    const x = a[i] as number
    if (x - x === 0) continue // finite: NaN and ±Infinity give NaN
    if (Number.isNaN(x)) {
      if (!imputed?.[i % width]) return { index: i, value: 'NaN' }
    } else return { index: i, value: x > 0 ? 'Infinity' : '-Infinity' }
  }
  return undefined
}

/** Where in its row a value sits: `column 1` (rank 2), `element [1][0]` (higher ranks), nothing (rank 1). */
function inRow(t: AnyTensor, index: number): string | undefined {
  const inner = t.dims.slice(1)
  let rest = index % rowWidth(t)
  if (inner.length === 0) return undefined
  if (inner.length === 1) return `column ${rest}`
  const at: number[] = []
  for (let d = inner.length - 1; d >= 0; d--) {
    const n = inner[d] as number
    at.unshift(rest % n)
    rest = Math.floor(rest / n)
  }
  return `element ${at.map((j) => `[${j}]`).join('')}`
}

/** Why a value is refused; `row` names the request's row (a job names its file row itself). */
function message(name: string, t: AnyTensor, found: Found, row: boolean): string {
  const where = [row ? `row ${Math.floor(found.index / rowWidth(t))}` : undefined, inRow(t, found.index)]
    .filter(Boolean)
    .join(', ')
  const why =
    found.value === 'NaN'
      ? 'NaN (JSON null or NaN)'
      : `${found.value}${t.dtype === 'float64' ? '' : ` (a number beyond ${t.dtype}'s range becomes ${found.value})`}`
  return `input '${name}'${where ? ` ${where}` : ''} is ${why}; this pipeline refuses non-finite inputs (non_finite_inputs "refuse"): send finite numbers, or deploy it with non_finite_inputs "pass"`
}

/**
 * Refuse `feeds` holding a non-finite float value, naming the first one's input, row and column;
 * NaN in the columns `imputed` lists per input passes.
 */
export function refuseNonFinite(
  specs: readonly ColumnSpec[],
  feeds: Columns,
  imputed: ReadonlyMap<string, readonly boolean[]>,
): void {
  for (const { name } of specs) {
    const t = feeds[name]
    if (!t) continue
    const found = nextNonFinite(t, 0, rowWidth(t), imputed.get(name))
    if (found) throw new InvalidInputError(message(name, t, found, true), { input: name })
  }
}

/**
 * Every row of `feeds` holding a non-finite float value (NaN in imputed columns aside), with the
 * reason for its first one: for batch jobs, which report such rows rather than fail.
 */
export function nonFiniteRows(
  specs: readonly ColumnSpec[],
  feeds: Columns,
  imputed: ReadonlyMap<string, readonly boolean[]>,
): Map<number, string> {
  const rows = new Map<number, string>()
  for (const { name } of specs) {
    const t = feeds[name]
    if (!t) continue
    const width = rowWidth(t)
    const mask = imputed.get(name)
    for (let found = nextNonFinite(t, 0, width, mask); found; ) {
      const row = Math.floor(found.index / width)
      if (!rows.has(row)) rows.set(row, message(name, t, found, false))
      found = nextNonFinite(t, (row + 1) * width, width, mask) // the next row: one reason a row
    }
  }
  return rows
}
