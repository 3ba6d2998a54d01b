/**
 * Checks that a record batch (or dictionary batch) is what its schema says, before anything
 * allocates by its counts: one field node per field in pre-order, the buffers each layout has,
 * each node's length equal to the batch's (top level) or enough for its parent (children), each
 * buffer large enough for its node (validity ⌈n/8⌉, fixed width n·w, offsets (n+1)·w,
 * fixed-size-list child n·size) and, with the body at hand, every offset in order and within
 * the data or child it indexes.
 */
import { InvalidRequestError } from '../errors.js'
import { type ArrowField, type BatchMeta, type BodyRange, columnName } from './arrow-meta.js'

/** One array of a checked batch: its field, node and buffers (ranges of the body), children in order. */
export interface ArrayLayout {
  readonly field: ArrowField
  readonly length: number
  readonly nullCount: number
  readonly buffers: readonly BodyRange[]
  readonly children: readonly ArrayLayout[]
}

/**
 * Values a batch may claim per byte of its body, over all its arrays. A bool array holds 8 per
 * byte and a struct of bools 16; null-typed arrays hold any number in no bytes, which is what
 * this bounds (readers make a JS value per slot).
 */
const SLOTS_PER_BODY_BYTE = 16
/** ...plus this many, so small tables of null columns still read. */
const SLOT_ALLOWANCE = 1 << 16

/**
 * Match `batch`'s nodes and buffers to `fields` and check their sizes (the metadata only: cheap
 * enough to run on every header of a large file). Returns the top-level arrays.
 */
export function layoutBatch(fields: readonly ArrowField[], batch: BatchMeta, bodyLength: number, what: string) {
  const bad = (message: string) => new InvalidRequestError(`${what}: ${message}`)
  let node = 0
  let buffer = 0
  let slots = 0
  const take = (column: string): BodyRange => {
    const range = batch.buffers[buffer++]
    if (!range) throw bad(`column '${column}' needs more buffers than the ${batch.buffers.length} the batch has`)
    return range
  }
  const walk = (field: ArrowField, path: string, minLength: number, exact: boolean): ArrayLayout => {
    const column = columnName(path, field.name)
    const n = batch.nodes[node++]
    if (!n) throw bad(`column '${column}' has no field node (the batch has ${batch.nodes.length})`)
    if (exact ? n.length !== minLength : n.length < minLength)
      throw bad(`column '${column}' has ${n.length} values, expected ${exact ? '' : 'at least '}${minLength}`)
    slots += n.length
    const L = n.length
    const need = (range: BodyRange, bytes: number, of: string) => {
      if (range.length < bytes)
        throw bad(`column '${column}' has a ${range.length}-byte ${of} buffer; ${L} values need ${bytes} bytes`)
      return range
    }
    const validity = () => {
      const range = take(column)
      const bits = Math.ceil(L / 8)
      // With no nulls the validity buffer may be left out (0 bytes).
      return n.nullCount > 0 || range.length > 0 ? need(range, bits, 'validity') : range
    }
    const offsets = (width: number) => need(take(column), L === 0 ? 0 : (L + 1) * width, 'offsets')
    const node0 = { field, length: L, nullCount: n.nullCount }
    if (field.dictionary) {
      const v = validity()
      return {
        ...node0,
        buffers: [v, need(take(column), L * field.dictionary.indexType.width, 'indices')],
        children: [],
      }
    }
    const { layout, width } = field.type
    switch (layout) {
      case 'null':
        return { ...node0, buffers: [], children: [] }
      case 'bool': {
        const v = validity()
        return { ...node0, buffers: [v, need(take(column), Math.ceil(L / 8), 'values')], children: [] }
      }
      case 'fixed': {
        const v = validity()
        return { ...node0, buffers: [v, need(take(column), L * width, 'values')], children: [] }
      }
      case 'bytes': {
        const v = validity()
        const o = offsets(width)
        return { ...node0, buffers: [v, o, take(column)], children: [] }
      }
      case 'list': {
        const v = validity()
        const o = offsets(width)
        // The child's length is checked against the last offset once the body is read.
        return { ...node0, buffers: [v, o], children: [walk(field.children[0] as ArrowField, column, 0, false)] }
      }
      case 'fixed-list': {
        const v = validity()
        return {
          ...node0,
          buffers: [v],
          children: [walk(field.children[0] as ArrowField, column, L * width, false)],
        }
      }
      case 'struct': {
        const v = validity()
        return { ...node0, buffers: [v], children: field.children.map((c) => walk(c, column, L, false)) }
      }
    }
  }
  const arrays = fields.map((f) => walk(f, '', batch.length, true))
  if (node !== batch.nodes.length || buffer !== batch.buffers.length) {
    throw bad(
      `the batch has ${batch.nodes.length} field nodes and ${batch.buffers.length} buffers; the schema uses ${node} and ${buffer}`,
    )
  }
  if (slots > SLOTS_PER_BODY_BYTE * bodyLength + SLOT_ALLOWANCE)
    throw bad(`the batch claims ${slots} values in all but its body has only ${bodyLength} bytes`)
  return arrays
}

/**
 * With the body at hand: every offsets buffer starts at or after 0, never decreases, and ends
 * within the bytes (binary, utf8) or the child array (lists) it indexes. Linear in the offsets.
 */
export function checkBody(arrays: readonly ArrayLayout[], body: Uint8Array, what: string): void {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength)
  const visit = (a: ArrayLayout, path: string): void => {
    const column = columnName(path, a.field.name)
    const { layout, width } = a.field.type
    if (!a.field.dictionary && a.length > 0 && (layout === 'bytes' || layout === 'list')) {
      const bytes = layout === 'bytes'
      const end = bytes ? (a.buffers[2] as BodyRange).length : (a.children[0] as ArrayLayout).length
      const of = bytes ? `${end} bytes of data` : `${end} values of its child`
      checkOffsets(view, a.buffers[1] as BodyRange, width, a.length, end, `${what}: column '${column}'`, of)
    }
    for (const c of a.children) visit(c, column)
  }
  for (const a of arrays) visit(a, '')
}

/** Offset `i` of an offsets buffer of `width`-byte integers (read unaligned, little-endian). */
export function offsetAt(view: DataView, range: BodyRange, width: number, i: number): number {
  const at = range.offset + i * width
  return width === 4 ? view.getInt32(at, true) : view.getInt32(at + 4, true) * 4294967296 + view.getUint32(at, true)
}

function checkOffsets(
  view: DataView,
  range: BodyRange,
  width: number,
  n: number,
  end: number,
  what: string,
  of: string,
): void {
  let previous = offsetAt(view, range, width, 0)
  if (previous < 0) throw new InvalidRequestError(`${what} has a first offset ${previous} below 0`)
  for (let i = 1; i <= n; i++) {
    const next = offsetAt(view, range, width, i)
    if (next < previous)
      throw new InvalidRequestError(`${what} has offset ${i} (${next}) below offset ${i - 1} (${previous})`)
    previous = next
  }
  if (previous > end) throw new InvalidRequestError(`${what} has a last offset ${previous}, past the ${of}`)
}
