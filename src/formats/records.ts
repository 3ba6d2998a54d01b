/**
 * pandas-records (`application/json; format=pandas-records`): a JSON array with one object per
 * row and one key per input holding that row's tensor. The answer is what Wallaroo's engine
 * answers: one object per row with the fields and layout the dataset query asks for (see
 * dataset.ts); this module also lists an answer's columns for the Arrow encoder.
 */
import type { AnyTensor, ColumnSpec } from '../engine/tensor.js'
import type { Columns } from '../engine/types.js'
import { InvalidInputError, InvalidRequestError } from '../errors.js'
import { columnName, type Dataset, type DatasetField } from './dataset.js'
import { type JsonNumbers, tensorRowJson } from './json-write.js'
import { type DecodeLimits, TensorBudget, UNLIMITED } from './limits.js'
import { columnFromJson } from './values.js'

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

/** What an answer carries beside the feeds and outputs, and how the client asked it laid out. */
export interface RowMeta {
  /** ms since epoch. */
  time: number
  /** The model that answered each row ("name:version", "a:1+b:1" for an ensemble). */
  rowModels: readonly string[]
  /** Failed validations per row. */
  checkFailures: ArrayLike<number>
  pipelineVersion: number
  /** [queued, ran] in ns: waiting for a batch, then the pipeline's steps. */
  elapsedNs: readonly [number, number]
  /** sha256 of each model by reference ("name:version"), where the registry has it. */
  modelShas: Readonly<Record<string, string>>
  dataset: Dataset
}

/** A column's rows: a tensor's, or one value per row of a kind every format writes. */
type ColumnData =
  | { kind: 'tensor'; tensor: AnyTensor }
  | { kind: 'int'; values: ArrayLike<number> }
  | { kind: 'string'; values: readonly string[] }
  | { kind: 'ints'; values: ReadonlyArray<readonly number[]> }
  /** One `true` per failure: `check_failures` is a list (Wallaroo's SDK takes its `len`). */
  | { kind: 'flags'; counts: ArrayLike<number> }

/** One column of an answer: a field, or one key of a nested field, and its rows. */
export type AnswerColumn = { field: DatasetField; key?: string } & ColumnData

/** The columns `meta.dataset` selects, in the engine's order. */
export function answerColumns(feeds: Columns, outputs: Record<string, AnyTensor>, meta: RowMeta): AnswerColumn[] {
  const rows = batchRows(feeds)
  const columns: AnswerColumn[] = []
  for (const { field, keys } of meta.dataset.fields) {
    if (field === 'time') columns.push({ field, kind: 'int', values: new Array(rows).fill(meta.time) })
    else if (field === 'check_failures') columns.push({ field, kind: 'flags', counts: meta.checkFailures })
    else if (field === 'in' || field === 'out') {
      const tensors = field === 'in' ? feeds : outputs
      for (const key of keys ?? []) columns.push({ field, key, kind: 'tensor', tensor: tensors[key] as AnyTensor })
    } else if (field === 'anomaly') columns.push({ field, key: 'count', kind: 'int', values: meta.checkFailures })
    else for (const key of keys ?? []) columns.push(Object.assign(metadataColumn(key, meta, rows), { field, key }))
  }
  return columns
}

function metadataColumn(key: string, meta: RowMeta, rows: number): Extract<ColumnData, { kind: 'string' | 'ints' }> {
  switch (key) {
    case 'last_model': {
      const described = new Map<string, string>()
      const describe = (ref: string) => {
        const text = described.get(ref) ?? lastModel(ref, meta.modelShas)
        described.set(ref, text)
        return text
      }
      return { kind: 'string', values: meta.rowModels.map(describe) }
    }
    case 'pipeline_version':
      return { kind: 'string', values: new Array(rows).fill(String(meta.pipelineVersion)) }
    case 'elapsed':
      return { kind: 'ints', values: new Array(rows).fill(meta.elapsedNs) }
    default: // 'model', lastmile's "name:version"
      return { kind: 'string', values: meta.rowModels }
  }
}

/**
 * The engine's `last_model`: a JSON string `{"model_name", "model_sha"}` (the sha where the
 * registry knows it); an ensemble's models joined with "+".
 */
function lastModel(ref: string, shas: Readonly<Record<string, string>>): string {
  const refs = ref.split('+')
  const name = refs.map(modelName).join('+')
  const known = refs.map((r) => shas[r])
  const sha = known.every((s) => s !== undefined) ? known.join('+') : undefined
  // Stryker disable next-line ConditionalExpression: JSON.stringify leaves out a model_sha that is undefined, so both objects write the same text
  return JSON.stringify(sha === undefined ? { model_name: name } : { model_name: name, model_sha: sha })
}

/** "name:version" → "name". */
function modelName(ref: string): string {
  const colon = ref.lastIndexOf(':')
  return colon > 0 ? ref.slice(0, colon) : ref
}

const batchRows = (feeds: Columns) => (Object.values(feeds)[0]?.dims[0] as number) ?? 0

/**
 * The answer as JSON text: one record per row, fields nested (`{"in": {"x": [..]}}`), or flattened
 * into `in<separator>x` keys when the dataset has a separator. Tensors are written as OIP data is
 * (json-write.ts): INT64/UINT64 exact, float16 as its value; NaN and ±Infinity as null, which is
 * how pandas' `to_json` writes them.
 */
export function encodeRecords(feeds: Columns, outputs: Record<string, AnyTensor>, meta: RowMeta): string {
  const rows = batchRows(feeds)
  const columns = answerColumns(feeds, outputs, meta)
  const cells = columns.map(cellOf)
  const flat = meta.dataset.separator !== undefined
  // The text before each column's value (the same in every row): its key, after closing the
  // previous nested field, or opening its own nested field (`"in":{"x":`).
  const heads: string[] = []
  let group: string | undefined
  columns.forEach((c, i) => {
    const into = flat || c.key === undefined ? undefined : c.field
    const key = JSON.stringify(into === undefined ? columnName(meta.dataset, c.field, c.key) : c.key)
    if (into !== undefined && into === group) heads.push(`,${key}:`)
    else {
      const before = `${group !== undefined ? '}' : ''}${i > 0 ? ',' : ''}`
      heads.push(into === undefined ? `${before}${key}:` : `${before}${JSON.stringify(into)}:{${key}:`)
    }
    group = into
  })
  const tail = group !== undefined ? '}}' : '}'
  // Stryker disable next-line ArrayDeclaration: every index 0..rows-1 is assigned below, so a preallocated and an empty array end up the same
  const records = new Array<string>(rows)
  for (let r = 0; r < rows; r++) {
    let text = '{'
    for (let i = 0; i < cells.length; i++) text += (heads[i] as string) + (cells[i] as Cell)(r)
    records[r] = text + tail
  }
  return `[${records.join(',')}]`
}

/** A column's value in row `r`, as JSON text. */
type Cell = (r: number) => string

/** How records answers write NaN and ±Infinity: null, as pandas does. */
const RECORDS_NUMBERS: JsonNumbers = { nonFiniteAsNull: true }

function cellOf(c: AnswerColumn): Cell {
  switch (c.kind) {
    case 'tensor':
      return (r) => tensorRowJson(c.tensor, r, RECORDS_NUMBERS)
    case 'flags':
      return (r) => JSON.stringify(new Array(c.counts[r] ?? 0).fill(true))
    default:
      return (r) => JSON.stringify(c.values[r]) ?? 'null'
  }
}
