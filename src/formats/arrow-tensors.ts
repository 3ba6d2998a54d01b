/**
 * Input tensors from checked Arrow record batches, column by column straight from the buffers: no
 * JS value per row for numeric columns, and nothing allocated before the row shape is known and
 * its bytes are reserved. A column feeds an input as scalars ([N] inputs) or as (fixed-size)
 * lists, nested once per further dim, whose rows must all have the same shape.
 */
import { type AnyTensor, type ColumnSpec, type DType, formatShape, zeros } from '../engine/tensor.js'
import type { Columns } from '../engine/types.js'
import { InvalidInputError } from '../errors.js'
import type { CheckedRecordBatch } from './arrow-ipc.js'
import { type ArrayLayout, offsetAt } from './arrow-layout.js'
import type { ArrowField, BodyRange } from './arrow-meta.js'
import {
  BOOL,
  converter,
  dictionaryReader,
  FLOAT,
  INT,
  reader,
  UTF8,
  type Value,
  viewOf,
  type Where,
} from './arrow-values.js'
import { MAX_RANK, shapeElements, type TensorBudget } from './limits.js'

/** Map is a list in layout but not a tensor row. */
const MAP = 17

/** The Arrow int or float type each numeric dtype is a byte-for-byte copy of. */
const SAME_BYTES: Partial<Record<DType, [id: number, width: number, signed: boolean]>> = {
  int8: [INT, 1, true],
  uint8: [INT, 1, false],
  int16: [INT, 2, true],
  uint16: [INT, 2, false],
  int32: [INT, 4, true],
  uint32: [INT, 4, false],
  int64: [INT, 8, true],
  uint64: [INT, 8, false],
  float16: [FLOAT, 2, true],
  float32: [FLOAT, 4, true],
  float64: [FLOAT, 8, true],
}

/**
 * Each input's tensor from the batches (schema columns named `x` or `in.x`). Throws naming the
 * input and column for a missing column, a type that does not feed the input, ragged rows,
 * nulls, out-of-range values, or more bytes than `budget` leaves.
 */
export function tensorsFromArrow(
  fields: readonly ArrowField[],
  batches: readonly CheckedRecordBatch[],
  specs: readonly ColumnSpec[],
  budget: TensorBudget,
): Columns {
  const feeds: Columns = {}
  for (const spec of specs) {
    let column = fields.findIndex((f) => f.name === spec.name)
    if (column < 0) column = fields.findIndex((f) => f.name === `in.${spec.name}`)
    if (column < 0) throw new InvalidInputError(`missing column for input '${spec.name}'`)
    feeds[spec.name] = inputTensor(fields[column] as ArrowField, column, batches, spec, budget)
  }
  return feeds
}

function inputTensor(
  field: ArrowField,
  column: number,
  batches: readonly CheckedRecordBatch[],
  spec: ColumnSpec,
  budget: TensorBudget,
): AnyTensor {
  const what = `input '${spec.name}' (Arrow)`
  const { levels, leaf } = plan(field, spec, what)
  const rows = batches.reduce((n, b) => n + b.length, 0)
  const dims = [rows, ...rowDims(levels, batches, column)]
  const elements = shapeElements(dims, budget.limit)
  if (!Number.isFinite(elements))
    throw new InvalidInputError(`${what}: shape ${formatShape(dims)} holds more values than the request may decode to`)
  budget.take(what, elements, rows, spec.dtype)
  const out = spec.dtype === 'string' ? new Array<string>(elements) : zeros(spec.dtype, dims).data
  let row = 0
  let at = 0
  for (const batch of batches) {
    const view = viewOf(batch.body)
    let a = batch.arrays[column] as ArrayLayout
    let start = 0
    let count = batch.length
    let per = 1 // entries per row at the current level
    const where: Where = (entry) => `${what} row ${row + Math.floor(entry / per)}`
    levels.forEach((level, k) => {
      nulls(view, a, start, count, where)
      const dim = dims[k + 1] as number
      const { layout, width } = level.type
      if (layout === 'list') {
        const offsets = a.buffers[1] as BodyRange
        for (let i = 0; i < count; i++) {
          const n = offsetAt(view, offsets, width, start + i + 1) - offsetAt(view, offsets, width, start + i)
          if (n !== dim)
            throw new InvalidInputError(
              `${where(i)}: a list of ${n} values where the first row's is ${dim}; rows must have one shape`,
            )
        }
        start = count === 0 ? 0 : offsetAt(view, offsets, width, start)
      } else start *= width
      count *= dim
      per *= dim
      a = a.children[0] as ArrayLayout
    })
    nulls(view, a, start, count, where)
    write(view, batch, a, leaf, start, count, out, at, spec.dtype, where)
    at += count
    row += batch.length
  }
  return spec.dtype === 'string'
    ? { dtype: 'string', dims, data: out as string[] }
    : ({ dtype: spec.dtype, dims, data: out } as AnyTensor)
}

/** The list levels (outer first) over a column's leaf values, checked against the input's dtype. */
function plan(field: ArrowField, spec: ColumnSpec, what: string): { levels: ArrowField[]; leaf: ArrowField } {
  const levels: ArrowField[] = []
  let f = field
  while (!f.dictionary && ((f.type.layout === 'list' && f.type.id !== MAP) || f.type.layout === 'fixed-list')) {
    levels.push(f)
    f = f.children[0] as ArrowField
  }
  const { id, width } = f.type
  const numeric = id === INT || id === FLOAT
  const feeds = f.dictionary
    ? spec.dtype === 'string' && UTF8.has(id) && levels.length === 0 // categorical keys
    : spec.dtype === 'string'
      ? numeric || id === BOOL || UTF8.has(id)
      : spec.dtype === 'float16'
        ? id === FLOAT && width === 2
        : numeric || (spec.dtype === 'bool' && id === BOOL)
  if (!feeds || levels.length >= MAX_RANK) {
    const type = f.dictionary ? `dictionary<${f.type.name}>` : f.type.name
    const wanted =
      spec.dtype === 'string'
        ? 'utf8 strings (plain or dictionary-encoded) or numbers'
        : spec.dtype === 'float16'
          ? 'float16'
          : `ints or floats${spec.dtype === 'bool' ? ' (0 or 1) or bools' : ''}`
    throw new InvalidInputError(
      `${what}: column '${field.name}' holds ${type}${levels.length ? ` in ${levels.length} list levels` : ''}; ${spec.dtype} takes ${wanted}, as scalars or (fixed-size) lists nested less than ${MAX_RANK} deep`,
    )
  }
  return { levels, leaf: f }
}

/** Row dims below the batch dim: the fixed sizes, and for lists what the first row shows. */
function rowDims(levels: readonly ArrowField[], batches: readonly CheckedRecordBatch[], column: number): number[] {
  const first = batches.find((b) => b.length > 0)
  if (!first) return levels.map((l) => (l.type.layout === 'fixed-list' ? l.type.width : 0))
  const view = viewOf(first.body)
  let a = first.arrays[column] as ArrayLayout
  let start = 0
  let count = first.length
  return levels.map((level) => {
    const { layout, width } = level.type
    let dim = width
    if (layout === 'list') {
      const offsets = a.buffers[1] as BodyRange
      dim = count === 0 ? 0 : offsetAt(view, offsets, width, start + 1) - offsetAt(view, offsets, width, start)
      start = count === 0 ? 0 : offsetAt(view, offsets, width, start)
    } else start *= width
    count *= dim
    a = a.children[0] as ArrayLayout
    return dim
  })
}

/** Refuse a null among entries [start, start + count) of `a`. */
function nulls(view: DataView, a: ArrayLayout, start: number, count: number, where: Where): void {
  if (a.nullCount === 0) return
  const validity = (a.buffers[0] as BodyRange).offset
  for (let i = 0; i < count; i++) {
    const bit = start + i
    if (((view.getUint8(validity + (bit >> 3)) >> (bit & 7)) & 1) === 0)
      throw new InvalidInputError(`${where(i)} is null; inputs take no missing values`)
  }
}

/** Write leaf entries [start, start + count) into `out` from `at`, as `dtype`. */
function write(
  view: DataView,
  batch: CheckedRecordBatch,
  a: ArrayLayout,
  leaf: ArrowField,
  start: number,
  count: number,
  out: ArrayLike<unknown>,
  at: number,
  dtype: DType | 'string',
  where: Where,
): void {
  const { id, width, signed } = leaf.type
  const same = dtype === 'string' || leaf.dictionary ? undefined : SAME_BYTES[dtype]
  if (same && same[0] === id && same[1] === width && (id === FLOAT || same[2] === signed)) {
    // Byte for byte: one copy, whatever the alignment of the body.
    const values = (a.buffers[1] as BodyRange).offset + start * width
    const target = out as unknown as Uint8Array
    new Uint8Array(target.buffer, target.byteOffset + at * width, count * width).set(
      batch.body.subarray(values, values + count * width),
    )
    return
  }
  const read = leaf.dictionary ? dictionaryReader(view, batch, a, leaf, where) : reader(view, batch.body, a, leaf.type)
  const target = out as unknown as { [i: number]: Value }
  const convert = converter(dtype, where)
  for (let i = 0; i < count; i++) target[at + i] = convert(read(start + i, i), i)
}
