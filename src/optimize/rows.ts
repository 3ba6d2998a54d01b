/**
 * The rows a tuning run sends: synthesized from the pipeline's input schema (seeded, so two runs
 * send the same), or a sample of the pipeline's inference log (its last hour first); then cut into
 * the requests the closed loop's clients send in turn.
 */
import { sliceRows } from '../engine/rows.js'
import { type AnyTensor, type ColumnSpec, type DType, elementCount, tensor } from '../engine/tensor.js'
import type { Columns } from '../engine/types.js'
import { InvalidRequestError } from '../errors.js'
import { decodeRecords } from '../formats/records.js'
import { numberToHalf } from '../half.js'
import type { InferenceLog } from '../logs/inference-log.js'
import { mulberry32 } from '../random.js'

/** Rows a run sends at most (they are sent again and again). */
export const SAMPLE_ROWS = 256
/** Values one synthesized or logged sample may hold at most, over all its rows and inputs. */
const SAMPLE_VALUES = 1 << 22
/** Input values one batch of a tuning run may hold at most (64 MB of float32): the run makes its batches itself. */
export const BATCH_VALUES = 1 << 24

/** A row's shape: dims after the batch, a dimension of any size taken as 1. */
function rowDims(spec: ColumnSpec): number[] {
  return spec.shape.slice(1).map((d) => (typeof d === 'number' && d >= 0 ? d : 1))
}

/** Input values of one row: every column's, a dimension of any size taken as 1. */
export function rowValues(specs: readonly ColumnSpec[]): number {
  return specs.reduce((n, s) => n + elementCount(rowDims(s)), 0)
}

/** How many rows fit {@link SAMPLE_VALUES}, at most {@link SAMPLE_ROWS}; a 400 when not even one does. */
function sampleRows(specs: readonly ColumnSpec[]): number {
  const perRow = rowValues(specs)
  const rows = Math.min(SAMPLE_ROWS, Math.floor(SAMPLE_VALUES / Math.max(1, perRow)))
  if (rows < 1) {
    throw new InvalidRequestError(
      `one row of this pipeline's inputs holds ${perRow} values, more than a tuning run sends (${SAMPLE_VALUES})`,
    )
  }
  return rows
}

/** A value of `dtype` in its range: floats in [-1, 1), integers 0 or 1, booleans. */
function value(dtype: DType, rand: () => number): number {
  if (dtype === 'float32' || dtype === 'float64') return 2 * rand() - 1
  if (dtype === 'float16') return numberToHalf(2 * rand() - 1)
  return rand() < 0.5 ? 0 : 1
}

/** Rows for `specs` from a seeded generator: every request column, with a row shape its schema fixes. */
export function synthesizeRows(specs: readonly ColumnSpec[], seed: number): Columns {
  const rows = sampleRows(specs)
  const rand = mulberry32(seed)
  const out: Columns = {}
  for (const spec of specs) {
    const dims = [rows, ...rowDims(spec)]
    const n = elementCount(dims)
    if (spec.dtype === 'string') {
      out[spec.name] = { dtype: 'string', dims, data: Array.from({ length: n }, () => (rand() < 0.5 ? 'a' : 'b')) }
      continue
    }
    const dtype = spec.dtype
    out[spec.name] = tensor(
      dtype,
      dims,
      Array.from({ length: n }, () => value(dtype, rand)),
    )
  }
  return out
}

/** How far back the log sample reaches first. */
const RECENT_MS = 3_600_000

/**
 * Rows of the pipeline's inference log (their inputs), at most what {@link sampleRows} allows: the
 * first of its last hour, or of the whole log when the last hour has none.
 */
export async function loggedRows(
  log: InferenceLog,
  workspace: string,
  pipeline: string,
  specs: readonly ColumnSpec[],
  now = Date.now(),
): Promise<Columns> {
  const limit = sampleRows(specs)
  const columns = specs.map((s) => `in.${s.name}`)
  let rows = await log.query(workspace, pipeline, { start: now - RECENT_MS, limit, columns })
  if (rows.length === 0) rows = await log.query(workspace, pipeline, { limit, columns })
  const records = rows
    .filter((r) => specs.every((s) => r[`in.${s.name}`] !== undefined))
    .map((r) => Object.fromEntries(specs.map((s) => [s.name, r[`in.${s.name}`]])))
  if (records.length === 0) {
    throw new InvalidRequestError(
      `the inference log of '${pipeline}' has no rows with every input (${specs.map((s) => s.name).join(', ')}); send "rows": "synthetic"`,
    )
  }
  return decodeRecords(records, specs)
}

/** `columns` cut into requests of `rowsPerRequest` rows (the last rows that do not fill one are left out). */
export function requestsOf(columns: Columns, rowsPerRequest: number): Columns[] {
  const rows = (Object.values(columns)[0] as AnyTensor).dims[0] as number
  if (rows < rowsPerRequest) {
    throw new InvalidRequestError(`rows_per_request is ${rowsPerRequest}, but the sample has only ${rows} rows`)
  }
  const out: Columns[] = []
  for (let start = 0; start + rowsPerRequest <= rows; start += rowsPerRequest) {
    out.push(
      Object.fromEntries(Object.entries(columns).map(([k, t]) => [k, sliceRows(t, start, start + rowsPerRequest)])),
    )
  }
  return out
}
