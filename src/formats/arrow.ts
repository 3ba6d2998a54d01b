/**
 * Arrow IPC (`application/vnd.apache.arrow.stream` or `.file`) for pipeline inference: a table with
 * a column per input (a scalar column for [N] inputs, a (fixed-size) list column of the row's
 * values, row-major, otherwise). The answer is a table with the same columns as pandas-records:
 * `time`, `in.<input>`, `out.<output>`, `check_failures`, `metadata.model`. Encoded with
 * @uwdata/flechette (the Arrow library Arquero uses).
 */
import {
  bool,
  type DataType,
  fixedSizeList,
  float32,
  float64,
  int8,
  int16,
  int32,
  int64,
  list,
  TimeUnit,
  tableFromArrays,
  tableFromIPC,
  tableToIPC,
  timestamp,
  uint8,
  uint16,
  uint32,
  uint64,
  utf8,
} from '@uwdata/flechette'
import { rowWidth } from '../engine/rows.js'
import type { AnyTensor, ColumnSpec, DType, HostTensor } from '../engine/tensor.js'
import type { Columns } from '../engine/types.js'
import { errorMessage, InvalidInputError, InvalidRequestError } from '../errors.js'
import type { RowMeta } from './records.js'
import { columnFromJson } from './values.js'

export type ArrowFormat = 'stream' | 'file'

const ARROW_TYPE: Record<DType, () => DataType> = {
  float32,
  float64,
  float16: float32,
  int8,
  uint8,
  int16,
  uint16,
  int32,
  uint32,
  int64,
  uint64,
  bool,
}

type Column = {
  at(i: number): unknown
  data: Array<{ children?: Array<{ values?: ArrayLike<unknown> }>; nullCount: number; length: number }>
}

/** Decode an Arrow IPC table into batch-major feeds. Columns may be named `x` or `in.x`. */
export function decodeArrow(bytes: Uint8Array, specs: readonly ColumnSpec[]): Columns {
  let table: ReturnType<typeof tableFromIPC>
  try {
    table = tableFromIPC(bytes, { useBigInt: true })
  } catch (e) {
    throw new InvalidRequestError(`the body is not an Arrow IPC stream or file: ${errorMessage(e)}`)
  }
  const names = table.schema.fields.map((f) => f.name)
  const wanted = new Set(specs.flatMap((s) => [s.name, `in.${s.name}`]))
  for (const n of names) {
    if (!wanted.has(n))
      throw new InvalidInputError(`unknown column '${n}'; the inputs are ${specs.map((s) => s.name).join(', ')}`)
  }
  const rows = table.numRows
  if (rows === 0) throw new InvalidRequestError('the Arrow table has no rows')
  const feeds: Columns = {}
  for (const spec of specs) {
    const column = (table.getChild(spec.name) ?? table.getChild(`in.${spec.name}`)) as unknown as Column | null
    if (!column) throw new InvalidInputError(`missing column for input '${spec.name}'`)
    const values = Array.from({ length: rows }, (_, r) => {
      const v = column.at(r)
      if (v === null || v === undefined) throw new InvalidInputError(`input '${spec.name}' row ${r} is null`)
      return toPlain(v)
    })
    const first = values[0]
    const dims = [rows, ...rowShape(first)]
    feeds[spec.name] = columnFromJson(spec.dtype, dims, values, `input '${spec.name}' (Arrow)`)
  }
  return feeds
}

/** Typed arrays and bigints from Arrow as plain JSON-like values. */
function toPlain(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v)
  if (ArrayBuffer.isView(v))
    return Array.from(v as unknown as ArrayLike<number | bigint>, (x) => (typeof x === 'bigint' ? Number(x) : x))
  if (Array.isArray(v)) return v.map(toPlain)
  return v
}

function rowShape(v: unknown): number[] {
  const dims: number[] = []
  let node = v
  while (Array.isArray(node)) {
    dims.push(node.length)
    node = node[0]
  }
  return dims
}

/** One column per input and output (rows flattened row-major), plus time, check_failures, metadata.model. */
export function encodeArrow(
  feeds: Columns,
  outputs: Record<string, AnyTensor>,
  meta: RowMeta & { format: ArrowFormat },
): Uint8Array {
  const rows = (Object.values(feeds)[0]?.dims[0] as number) ?? 0
  const columns: Record<string, unknown[] | ArrayLike<unknown>> = { time: new Array(rows).fill(meta.time) }
  const types: Record<string, unknown> = { time: timestamp(TimeUnit.MILLISECOND) }
  const add = (name: string, t: AnyTensor) => {
    const width = rowWidth(t)
    const scalar = t.dims.length <= 1
    if (t.dtype === 'string') {
      columns[name] = scalar ? t.data : Array.from({ length: rows }, (_, r) => t.data.slice(r * width, (r + 1) * width))
      types[name] = scalar ? utf8() : list(utf8())
      return
    }
    const h = t as HostTensor
    const data = h.dtype === 'bool' ? Array.from(h.data as Uint8Array, (x) => x !== 0) : h.data
    columns[name] = scalar
      ? data
      : Array.from({ length: rows }, (_, r) =>
          (data as unknown as { slice(a: number, b: number): unknown }).slice(r * width, (r + 1) * width),
        )
    types[name] = scalar ? ARROW_TYPE[h.dtype]() : fixedSizeList(ARROW_TYPE[h.dtype](), width)
  }
  for (const [name, t] of Object.entries(feeds)) add(`in.${name}`, t)
  for (const [name, t] of Object.entries(outputs)) add(`out.${name}`, t)
  columns.check_failures = Int32Array.from(meta.checkFailures)
  types.check_failures = int32()
  columns['metadata.model'] = [...meta.rowModels]
  types['metadata.model'] = utf8()
  const table = tableFromArrays(columns as never, { types: types as never, useBigInt: true })
  return tableToIPC(table, { format: meta.format }) as Uint8Array
}
