/**
 * pandas-records (`application/json; format=pandas-records`): a JSON array with one object per
 * row and one key per input holding that row's tensor; the answer is one object per row with
 * `time`, `in.<input>`, `out.<output>`, `check_failures` and `metadata.model`.
 */
import type { AnyTensor, ColumnSpec } from '../engine/tensor.js'
import type { Columns } from '../engine/types.js'
import { InvalidInputError, InvalidRequestError } from '../errors.js'
import { type DecodeLimits, TensorBudget, UNLIMITED } from './limits.js'
import { columnFromJson, jsonRow, jsonValues } from './values.js'

/** Row shape of an input: its fixed dims after the batch dim, or what the first row shows. */
function rowDims(spec: ColumnSpec, first: unknown): number[] {
  const dims: number[] = []
  let node = first
  spec.shape.slice(1).forEach((d) => {
    if (typeof d === 'number' && d >= 0) dims.push(d)
    else {
      if (!Array.isArray(node))
        throw new InvalidInputError(`input '${spec.name}': row 0 is not nested ${spec.shape.length - 1} deep`)
      dims.push(node.length)
    }
    node = Array.isArray(node) ? node[0] : undefined
  })
  return dims
}

/**
 * Decode records into batch-major feeds (one row per record). Every record must hold every input
 * with the same nesting as the first; rows are checked against the data present and `limits`
 * before each column is allocated.
 */
export function decodeRecords(body: unknown, specs: readonly ColumnSpec[], limits: DecodeLimits = UNLIMITED): Columns {
  if (!Array.isArray(body) || body.length === 0) {
    throw new InvalidRequestError('a pandas-records body must be a non-empty JSON array of objects, one per row')
  }
  const names = new Set(specs.map((s) => s.name))
  body.forEach((rec, r) => {
    if (typeof rec !== 'object' || rec === null || Array.isArray(rec))
      throw new InvalidRequestError(`record ${r} is not an object`)
    for (const key of Object.keys(rec)) {
      if (!names.has(key)) {
        throw new InvalidInputError(`record ${r}: unknown input '${key}'; the inputs are ${[...names].join(', ')}`)
      }
    }
  })
  const budget = new TensorBudget(limits.maxTensorBytes)
  const feeds: Columns = {}
  for (const spec of specs) {
    // Own keys only: an input named like an Object method must not read the inherited one.
    const rows = body.map((rec, r) => {
      if (!Object.hasOwn(rec, spec.name)) throw new InvalidInputError(`record ${r}: missing input '${spec.name}'`)
      return (rec as Record<string, unknown>)[spec.name]
    })
    const dims = rowDims(spec, rows[0])
    // Rows nest under one more level: [rows, ...rowDims].
    feeds[spec.name] = columnFromJson(
      spec.dtype,
      [rows.length, ...dims],
      rows,
      `input '${spec.name}' (records)`,
      budget,
    )
  }
  return feeds
}

/** Per-row facts every answer format carries beside the outputs. */
export interface RowMeta {
  /** ms since epoch. */
  time: number
  /** The model that answered each row ("name:version"). */
  rowModels: readonly string[]
  /** Failed validations per row. */
  checkFailures: ArrayLike<number>
}

/** One answer record per row. */
export function encodeRecords(
  feeds: Columns,
  outputs: Record<string, AnyTensor>,
  meta: RowMeta,
): Record<string, unknown>[] {
  const rows = (Object.values(feeds)[0]?.dims[0] as number) ?? 0
  const ins = Object.entries(feeds).map(([name, t]) => [`in.${name}`, t, jsonValues(t)] as const)
  const outs = Object.entries(outputs).map(([name, t]) => [`out.${name}`, t, jsonValues(t)] as const)
  const records: Record<string, unknown>[] = []
  for (let r = 0; r < rows; r++) {
    const rec: Record<string, unknown> = { time: meta.time }
    for (const [key, t, values] of ins) rec[key] = jsonRow(t, values, r)
    for (const [key, t, values] of outs) rec[key] = jsonRow(t, values, r)
    rec.check_failures = meta.checkFailures[r] ?? 0
    rec['metadata.model'] = meta.rowModels[r]
    records.push(rec)
  }
  return records
}
