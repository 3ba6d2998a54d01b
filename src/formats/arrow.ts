/**
 * Arrow IPC (`application/vnd.apache.arrow.stream` or `.file`) for pipeline inference: a table with
 * a column per input (a scalar column for [N] inputs, a (fixed-size) list column of the row's
 * values, row-major, otherwise). The answer has the columns of the pandas-records answer (see
 * records.ts), in the same layout. Encoded with @uwdata/flechette (the Arrow library Arquero uses).
 */
import {
  field as arrowField,
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
  struct,
  tableFromArrays,
  tableToIPC,
  uint8,
  uint16,
  uint32,
  uint64,
  utf8,
} from '@uwdata/flechette'
import { rowWidth } from '../engine/rows.js'
import type { AnyTensor, ColumnSpec, DType, HostTensor } from '../engine/tensor.js'
import type { Columns } from '../engine/types.js'
import { InvalidInputError, InvalidRequestError } from '../errors.js'
import { halvesToNumbers } from '../half.js'
import { readIpc } from './arrow-ipc.js'
import { tensorsFromArrow } from './arrow-tensors.js'
import { columnName } from './dataset.js'
import { ARROW_BYTES_PER_BODY_BYTE, type DecodeLimits, TensorBudget, UNLIMITED } from './limits.js'
import { type AnswerColumn, answerColumns, type RowMeta } from './records.js'

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

/**
 * Decode an Arrow IPC stream or file into batch-major feeds (columns named `x` or `in.x`). The
 * framing, schema and every batch are checked against the bytes first (see arrow-ipc.ts); the
 * tensors are then copied column-wise from the buffers, at most
 * {@link ARROW_BYTES_PER_BODY_BYTE} × the body's bytes and `limits`.
 */
export function decodeArrow(
  bytes: Uint8Array,
  specs: readonly ColumnSpec[],
  limits: DecodeLimits = UNLIMITED,
): Columns {
  const { schema, batches } = readIpc(bytes)
  const wanted = new Set(specs.flatMap((s) => [s.name, `in.${s.name}`]))
  for (const { name } of schema.fields) {
    if (!wanted.has(name))
      throw new InvalidInputError(`unknown column '${name}'; the inputs are ${specs.map((s) => s.name).join(', ')}`)
  }
  if (batches.every((b) => b.length === 0)) throw new InvalidRequestError('the Arrow table has no rows')
  const relative = ARROW_BYTES_PER_BODY_BYTE * bytes.length
  const budget =
    limits.maxTensorBytes <= relative
      ? new TensorBudget(limits.maxTensorBytes)
      : new TensorBudget(relative, `${ARROW_BYTES_PER_BODY_BYTE} × the body's ${bytes.length} bytes`)
  return tensorsFromArrow(schema.fields, batches, specs, budget)
}

/**
 * The answer as an Arrow table: the columns `meta.dataset` selects (see records.ts), flat
 * (`in.x`, `out.y`, `metadata.elapsed`) with a separator, else a struct column per nested field,
 * as Wallaroo's engine answers. `time` is int64 ms and `check_failures` a list per row (Wallaroo's
 * SDK converts the first and takes the `len` of the second); rows of rank ≥ 2 tensors are
 * flattened row-major into fixed-size lists.
 */
export function encodeArrow(
  feeds: Columns,
  outputs: Record<string, AnyTensor>,
  meta: RowMeta & { format: ArrowFormat },
): Uint8Array {
  const rows = (Object.values(feeds)[0]?.dims[0] as number) ?? 0
  const columns = answerColumns(feeds, outputs, meta)
  const built = columns.map((c) => arrowColumn(c, rows))
  const arrays: Record<string, ArrayLike<unknown>> = {}
  const types: Record<string, DataType> = {}
  if (meta.dataset.separator !== undefined) {
    columns.forEach((c, i) => {
      const name = columnName(meta.dataset, c.field, c.key)
      ;[arrays[name], types[name]] = built[i] as ArrowColumn
    })
  } else {
    for (const field of new Set(columns.map((c) => c.field))) {
      const members = columns.flatMap((c, i) => (c.field === field ? [[c, built[i] as ArrowColumn] as const] : []))
      const [first, column] = members[0] as (typeof members)[0]
      if (first.key === undefined) {
        ;[arrays[field], types[field]] = column
        continue
      }
      // A struct of the field's keys: each row an object of its values.
      types[field] = struct(members.map(([c, [, type]]) => arrowField(c.key as string, type)))
      arrays[field] = Array.from({ length: rows }, (_, r) =>
        Object.fromEntries(members.map(([c, [values]]) => [c.key, values[r]])),
      )
    }
  }
  const table = tableFromArrays(arrays as never, { types: types as never })
  return tableToIPC(table, { format: meta.format }) as Uint8Array
}

type ArrowColumn = readonly [ArrayLike<unknown>, DataType]

function arrowColumn(c: AnswerColumn, rows: number): ArrowColumn {
  switch (c.kind) {
    case 'tensor':
      return tensorColumn(c.tensor, rows)
    case 'int':
      return [c.values, int64()]
    case 'string':
      return [c.values, utf8()]
    case 'ints':
      return [c.values, list(int64())]
    case 'flags':
      return [Array.from({ length: rows }, (_, r) => new Array(c.counts[r] ?? 0).fill(true)), list(bool())]
  }
}

/** A scalar column for rank-1 tensors, else a (fixed-size) list of each row's values. */
function tensorColumn(t: AnyTensor, rows: number): ArrowColumn {
  const width = rowWidth(t)
  const scalar = t.dims.length <= 1
  if (t.dtype === 'string') {
    const values = scalar ? t.data : Array.from({ length: rows }, (_, r) => t.data.slice(r * width, (r + 1) * width))
    return [values, scalar ? utf8() : list(utf8())]
  }
  const h = t as HostTensor
  // float16 travels as raw half bits: written as their values (in a float32 column).
  const data =
    // Stryker disable next-line ConditionalExpression,StringLiteral: flechette's bool() builder writes 0/1 bytes as false/true as well; the conversion only hands it plain booleans
    h.dtype === 'bool'
      ? Array.from(h.data as Uint8Array, (x) => x !== 0)
      : h.dtype === 'float16'
        ? halvesToNumbers(h.data as Uint16Array)
        : h.data
  const values = scalar
    ? data
    : Array.from({ length: rows }, (_, r) =>
        (data as unknown as { slice(a: number, b: number): unknown }).slice(r * width, (r + 1) * width),
      )
  return [values, scalar ? ARROW_TYPE[h.dtype]() : fixedSizeList(ARROW_TYPE[h.dtype](), width)]
}
