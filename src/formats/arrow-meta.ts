/**
 * Arrow IPC message metadata (Message.fbs, Schema.fbs) read from untrusted bytes with the bounded
 * {@link FlatBuffer}: the schema's fields and types (nesting, field count and string bytes
 * bounded), record batch and dictionary batch headers (every node and buffer a non-negative count
 * inside the body). Types lastmile does not read are refused here, naming the column.
 * https://arrow.apache.org/docs/format/Columnar.html#serialization-and-interprocess-communication-ipc
 */
import { InvalidRequestError } from '../errors.js'
import { FlatBuffer, type Table } from './flatbuffer.js'

/** `MessageHeader` values of the Arrow format. */
export const MessageType = { Schema: 1, DictionaryBatch: 2, RecordBatch: 3 } as const

/** How a type's values sit in its buffers, which decides the buffers and children it has. */
type Layout = 'null' | 'bool' | 'fixed' | 'bytes' | 'list' | 'fixed-list' | 'struct'

/** A column's type, as far as checking and reading its buffers needs. */
export interface ArrowType {
  /** Arrow's `Type` union id (2 Int, 3 FloatingPoint, 5 Utf8, 12 List, 16 FixedSizeList...). */
  readonly id: number
  readonly layout: Layout
  /** fixed: bytes per value; bytes and list: bytes per offset (4 or 8); fixed-list: values per row. */
  readonly width: number
  /** Int: whether it is signed. */
  readonly signed: boolean
  /** For messages: `int32`, `float64`, `utf8`, `list<float32>`... */
  readonly name: string
}

/** A schema field; a dictionary-encoded one has `type` for its values and `dictionary` for its indices. */
export interface ArrowField {
  readonly name: string
  readonly type: ArrowType
  readonly dictionary?: { readonly id: number; readonly indexType: ArrowType }
  readonly children: readonly ArrowField[]
}

export interface ArrowSchema {
  readonly fields: readonly ArrowField[]
  /** Each dictionary id's field (its values' type). */
  readonly dictionaries: ReadonlyMap<number, ArrowField>
}

/** A FieldNode: one array's length and null count. */
interface FieldNode {
  readonly length: number
  readonly nullCount: number
}

/** A Buffer: a range of the message body. */
export interface BodyRange {
  readonly offset: number
  readonly length: number
}

/** A record batch header (also the data of a dictionary batch). */
export interface BatchMeta {
  readonly length: number
  readonly nodes: readonly FieldNode[]
  readonly buffers: readonly BodyRange[]
}

/** One message's metadata. */
export type MessageMeta = { bodyLength: number } & (
  | { type: typeof MessageType.Schema; schema: ArrowSchema }
  | { type: typeof MessageType.RecordBatch; batch: BatchMeta }
  | { type: typeof MessageType.DictionaryBatch; batch: BatchMeta; id: number; isDelta: boolean }
)

/** A nested column's name for messages: `x.a` for a struct's field, `x[]` for a list's unnamed values. */
export function columnName(path: string, name: string): string {
  return !path ? name : name ? `${path}.${name}` : `${path}[]`
}

/** Deepest type nesting read (list of list of ...): flechette walks types recursively. */
const MAX_DEPTH = 32
/** MetadataVersion V4 (Arrow ≥ 0.8) and V5 (≥ 1.0): earlier layouts differ. */
const VERSIONS = new Set([3, 4])
/** Bytes of a FieldNode and of a Buffer struct. */
const STRUCT_BYTES = 16

/** Parse one message's metadata (the flatbuffer after the continuation marker and length). */
export function parseMessage(meta: Uint8Array, what: string): MessageMeta {
  const fb = new FlatBuffer(meta, what)
  const message = fb.root()
  const version = fb.int16(message, 0, 0)
  if (!VERSIONS.has(version))
    throw fb.corrupt(`metadata version V${version + 1}; Arrow IPC V4 and V5 (Arrow 0.8 and later) are read`)
  const type = fb.uint8(message, 1, 0)
  const header = fb.child(message, 2)
  const bodyLength = fb.int64(message, 3, 0)
  if (bodyLength < 0) throw fb.corrupt(`a negative body length ${bodyLength}`)
  if (!header) throw fb.corrupt('a message without a header')
  if (type === MessageType.Schema) return { type, bodyLength, schema: parseSchema(fb, header) }
  if (type === MessageType.RecordBatch) return { type, bodyLength, batch: parseBatch(fb, header, bodyLength) }
  if (type === MessageType.DictionaryBatch) {
    const data = fb.child(header, 1)
    if (!data) throw fb.corrupt('a dictionary batch without data')
    const id = fb.int64(header, 0, 0)
    return { type, bodyLength, id, isDelta: fb.uint8(header, 2, 0) !== 0, batch: parseBatch(fb, data, bodyLength) }
  }
  throw fb.corrupt(`message type ${type}; schema, dictionary batch and record batch messages are read`)
}

function parseBatch(fb: FlatBuffer, table: Table, bodyLength: number): BatchMeta {
  const length = fb.int64(table, 0, 0)
  if (length < 0) throw fb.corrupt(`a negative record batch length ${length}`)
  if (fb.field(table, 3))
    throw new InvalidRequestError('compressed Arrow bodies (LZ4, ZSTD) are not supported: write without compression')
  if (fb.vector(table, 4, 8).length > 0) throw fb.corrupt('variadic buffers (view types are not read)')
  const nodeVector = fb.vector(table, 1, STRUCT_BYTES)
  const nodes: FieldNode[] = []
  for (let i = 0; i < nodeVector.length; i++) {
    const at = nodeVector.start + STRUCT_BYTES * i
    const node = { length: fb.int64At(at), nullCount: fb.int64At(at + 8) }
    if (node.length < 0 || node.nullCount < 0 || node.nullCount > node.length)
      throw fb.corrupt(`field node ${i} has length ${node.length} and null count ${node.nullCount}`)
    nodes.push(node)
  }
  const bufferVector = fb.vector(table, 2, STRUCT_BYTES)
  const buffers: BodyRange[] = []
  for (let i = 0; i < bufferVector.length; i++) {
    const at = bufferVector.start + STRUCT_BYTES * i
    const range = { offset: fb.int64At(at), length: fb.int64At(at + 8) }
    if (range.offset < 0 || range.length < 0 || range.offset + range.length > bodyLength)
      throw fb.corrupt(
        `buffer ${i} (offset ${range.offset}, ${range.length} bytes) lies outside the ${bodyLength}-byte body`,
      )
    buffers.push(range)
  }
  return { length, nodes, buffers }
}

/**
 * The schema, with what a hostile one could inflate bounded: nesting depth, the fields counted as
 * a tree (a flatbuffer may point many entries at one table) and the bytes of names and metadata
 * strings, each no more than the metadata could hold without such sharing.
 */
function parseSchema(fb: FlatBuffer, table: Table): ArrowSchema {
  if (fb.int16(table, 0, 0) !== 0) throw new InvalidRequestError('big-endian Arrow data is not supported')
  let fieldsLeft = fb.length / 4
  let stringBytes = fb.length
  const dictionaries = new Map<number, ArrowField>()
  const spend = (bytes: number) => {
    stringBytes -= bytes
    if (stringBytes < 0) throw fb.corrupt('more string bytes than the metadata holds (shared strings)')
  }
  const metadata = (t: Table, index: number) => {
    const kv = fb.vector(t, index, 4)
    for (let i = 0; i < kv.length; i++) {
      const entry = fb.tableAt(kv, i)
      spend((fb.string(entry, 0)?.length ?? 0) + (fb.string(entry, 1)?.length ?? 0))
    }
  }
  const field = (t: Table, depth: number, path: string): ArrowField => {
    if (--fieldsLeft < 0) throw fb.corrupt('more fields than the metadata holds (shared tables)')
    const name = fb.string(t, 0) ?? ''
    spend(name.length)
    const column = columnName(path, name)
    if (depth > MAX_DEPTH) throw new InvalidRequestError(`column '${column}' nests types more than ${MAX_DEPTH} deep`)
    metadata(t, 6)
    const childVector = fb.vector(t, 5, 4)
    const children: ArrowField[] = []
    for (let i = 0; i < childVector.length; i++) children.push(field(fb.tableAt(childVector, i), depth + 1, column))
    const typeTable = fb.child(t, 3)
    const type = readType(fb, fb.uint8(t, 2, 0), typeTable, children, column)
    if (type.id === 10 && typeTable) spend(fb.string(typeTable, 1)?.length ?? 0) // the timestamp's time zone
    const encoding = fb.child(t, 4)
    if (!encoding) return { name, type, children }
    const indexTable = fb.child(encoding, 1)
    // Stryker disable next-line ArrayDeclaration: an Int (id 2) reads no children, so none given or any given read alike
    const indexType = indexTable ? readType(fb, 2, indexTable, [], column) : int(4, true)
    const id = fb.int64(encoding, 0, 0)
    if (dictionaries.has(id)) throw fb.corrupt(`dictionary id ${id} is used by two fields`)
    dictionaries.set(id, { name, type, children })
    return { name, type, children, dictionary: { id, indexType } }
  }
  metadata(table, 2)
  const vector = fb.vector(table, 1, 4)
  const fields: ArrowField[] = []
  for (let i = 0; i < vector.length; i++) fields.push(field(fb.tableAt(vector, i), 0, ''))
  return { fields, dictionaries }
}

const int = (width: number, signed: boolean): ArrowType => ({
  id: 2,
  layout: 'fixed',
  width,
  signed,
  name: `${signed ? '' : 'u'}int${width * 8}`,
})
const fixed = (id: number, width: number, name: string): ArrowType => ({
  id,
  layout: 'fixed',
  width,
  signed: true,
  name,
})
const TIME_UNITS = ['s', 'ms', 'us', 'ns']

/** One field's type from its `Type` union id and table; refuses what lastmile does not read. */
function readType(
  fb: FlatBuffer,
  id: number,
  t: Table | undefined,
  children: readonly ArrowField[],
  column: string,
): ArrowType {
  const refuse = (name: string) =>
    new InvalidRequestError(`column '${column}' has Arrow type ${name}, which lastmile does not read`)
  const short = (index: number, fallback: number) => (t ? fb.int16(t, index, fallback) : fallback)
  const nested = (layout: Layout, width: number, name: string, arity: number): ArrowType => {
    if (children.length !== arity && arity >= 0)
      throw fb.corrupt(`column '${column}' (${name}) has ${children.length} child fields, expected ${arity}`)
    const inner = arity === 1 ? `<${(children[0] as ArrowField).type.name}>` : ''
    return { id, layout, width, signed: false, name: `${name}${inner}` }
  }
  switch (id) {
    case 1:
      return { id, layout: 'null', width: 0, signed: false, name: 'null' }
    case 2: {
      const bits = t ? fb.int32(t, 0, 0) : 0
      if (![8, 16, 32, 64].includes(bits)) throw refuse(`int of ${bits} bits`)
      // Stryker disable next-line BooleanLiteral: without a table (t undefined) bits is 0, refused above, so the `: false` is never reached
      return int(bits / 8, t ? fb.uint8(t, 1, 0) !== 0 : false)
    }
    case 3: {
      const width = [2, 4, 8][short(0, 0)]
      if (width === undefined) throw refuse(`float of precision ${short(0, 0)}`)
      return fixed(id, width, `float${width * 8}`)
    }
    case 4:
    case 19:
      return { id, layout: 'bytes', width: id === 4 ? 4 : 8, signed: false, name: id === 4 ? 'binary' : 'large_binary' }
    case 5:
    case 20:
      return { id, layout: 'bytes', width: id === 5 ? 4 : 8, signed: false, name: id === 5 ? 'utf8' : 'large_utf8' }
    case 6:
      return { id, layout: 'bool', width: 0, signed: false, name: 'bool' }
    case 7: {
      const bits = t ? fb.int32(t, 2, 128) : 128
      if (![32, 64, 128, 256].includes(bits)) throw refuse(`decimal of ${bits} bits`)
      return fixed(id, bits / 8, `decimal${bits}`)
    }
    case 8:
      return fixed(id, short(0, 1) === 0 ? 4 : 8, short(0, 1) === 0 ? 'date32' : 'date64')
    case 9: {
      const unit = short(0, 1)
      if (!TIME_UNITS[unit]) throw refuse(`time of unit ${unit}`)
      // As flechette reads it: seconds and milliseconds in 32 bits, finer units in 64.
      return fixed(id, unit <= 1 ? 4 : 8, `time[${TIME_UNITS[unit]}]`)
    }
    case 10:
    case 18: {
      const unit = short(0, id === 10 ? 0 : 1)
      if (!TIME_UNITS[unit]) throw refuse(`${id === 10 ? 'timestamp' : 'duration'} of unit ${unit}`)
      return fixed(id, 8, `${id === 10 ? 'timestamp' : 'duration'}[${TIME_UNITS[unit]}]`)
    }
    case 11: {
      const width = [4, 8, 16][short(0, 0)]
      if (width === undefined) throw refuse(`interval of unit ${short(0, 0)}`)
      return fixed(id, width, 'interval')
    }
    case 15: {
      const width = t ? fb.int32(t, 0, 0) : 0
      if (width < 0) throw fb.corrupt(`column '${column}' has a fixed-size binary of ${width} bytes`)
      return { ...fixed(id, width, `fixed_size_binary[${width}]`), signed: false }
    }
    case 12:
      return nested('list', 4, 'list', 1)
    case 21:
      return nested('list', 8, 'large_list', 1)
    case 17: {
      const entries = children[0]
      if (entries?.type.layout !== 'struct' || entries.children.length !== 2)
        throw fb.corrupt(`column '${column}' is a map whose entries are not a struct of key and value`)
      return nested('list', 4, 'map', 1)
    }
    case 16: {
      const size = t ? fb.int32(t, 0, 0) : 0
      if (size < 0) throw fb.corrupt(`column '${column}' has a fixed-size list of ${size} values`)
      const type = nested('fixed-list', size, 'fixed_size_list', 1)
      return { ...type, name: `fixed_size_list<${(children[0] as ArrowField).type.name}, ${size}>` }
    }
    case 13:
      return nested('struct', 0, 'struct', -1)
  }
  const names: Record<number, string> = {
    14: 'union',
    22: 'run_end_encoded',
    23: 'binary_view',
    24: 'utf8_view',
    25: 'list_view',
    26: 'large_list_view',
  }
  throw refuse(names[id] ?? `id ${id}`)
}
