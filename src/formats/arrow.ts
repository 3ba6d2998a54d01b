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
import { InvalidInputError, InvalidRequestError } from '../errors.js'
import { readIpc } from './arrow-ipc.js'
import { tensorsFromArrow } from './arrow-tensors.js'
import { ARROW_BYTES_PER_BODY_BYTE, type DecodeLimits, TensorBudget, UNLIMITED } from './limits.js'
import type { RowMeta } from './records.js'

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
