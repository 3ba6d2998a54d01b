/**
 * The Parquet footer, read and checked in JavaScript before parquet-wasm sees the file: its length
 * against the file, every list, string and nesting level of its Thrift encoding against the bytes
 * left, and every claim the decoder will act on (row counts, each column chunk's byte range, a row
 * group's size) against the file and lastmile's limits. Work and memory are bounded by the footer's
 * length; only the fields lastmile checks are kept.
 */
import type { FileHandle } from 'node:fs/promises'
import { InvalidRequestError } from '../../errors.js'
import { CompactReader, type CompactType, T } from './thrift-compact.js'

/** Largest footer read: wide files with statistics reach megabytes, not this. */
const MAX_FOOTER_BYTES = 64 * 2 ** 20
/**
 * Largest row group, compressed: parquet-wasm reads a row group's column chunks whole into its
 * memory, which cannot pass 4 GiB (32-bit WebAssembly), and decodes them there.
 */
const MAX_ROW_GROUP_BYTES = 2 ** 30

const MAGIC = 'PAR1'

/** Where a column chunk's pages lie, checked to be inside the file's data. */
export interface ChunkRange {
  /** Its column's path, for messages (cut short). */
  column: string
  start: number
  bytes: number
}

/** What lastmile reads of one row group. */
interface RowGroupInfo {
  rows: number
  /** Compressed bytes of its column chunks (what is read from the file). */
  compressedBytes: number
  /** Uncompressed bytes, as the footer claims them. */
  uncompressedBytes: number
  chunks: ChunkRange[]
}

/** What lastmile reads of the footer. */
export interface FooterInfo {
  rows: number
  groups: RowGroupInfo[]
}

interface Chunk {
  filePath?: string
  path: string[]
  start?: number
  dictionaryStart?: number
  compressed?: number
  uncompressed?: number
  values?: number
}

/** Reads and checks the footer of the Parquet file open as `handle` (`size` bytes, named `name` in errors). */
export async function readFooter(handle: FileHandle, size: number, name: string): Promise<FooterInfo> {
  const bad = (what: string) => new InvalidRequestError(`'${name}' is not a valid Parquet file: ${what}`)
  if (size < 12) throw bad(`it has ${size} bytes; a Parquet file has at least 12`)
  const tail = Buffer.alloc(8)
  await handle.read(tail, 0, 8, size - 8)
  const head = Buffer.alloc(4)
  await handle.read(head, 0, 4, 0)
  if (head.toString('latin1') !== MAGIC || tail.toString('latin1', 4) !== MAGIC)
    throw bad(`it does not start and end with '${MAGIC}'`)
  const length = tail.readUInt32LE(0)
  if (length > size - 12) throw bad(`its footer claims ${length} bytes; the file has ${size - 12} besides its markers`)
  if (length > MAX_FOOTER_BYTES)
    throw bad(`its footer has ${length} bytes; lastmile reads footers of up to ${MAX_FOOTER_BYTES}`)
  const bytes = Buffer.alloc(length)
  await handle.read(bytes, 0, length, size - 8 - length)
  const dataEnd = size - 8 - length
  let meta: { rows?: number; leaves: number; groups: Array<{ rows?: number; chunks: Chunk[] }> }
  try {
    meta = fileMetaData(new CompactReader(bytes))
  } catch (e) {
    if (e instanceof RangeError) throw bad(`its footer is damaged: ${e.message}`)
    throw e
  }
  if (meta.rows === undefined) throw bad('its footer has no row count')
  let sum = 0
  const groups = meta.groups.map((g, i): RowGroupInfo => {
    if (g.rows === undefined) throw bad(`row group ${i} has no row count`)
    if (g.chunks.length !== meta.leaves)
      throw bad(`row group ${i} has ${g.chunks.length} column chunks; the schema has ${meta.leaves} columns`)
    let compressedBytes = 0
    let uncompressedBytes = 0
    const chunks: ChunkRange[] = []
    for (const c of g.chunks) {
      const path = c.path.join('.').slice(0, 80)
      const column = `row group ${i}, column '${path}'`
      if (c.filePath !== undefined)
        throw bad(
          `${column} names another file ('${c.filePath.slice(0, 80)}'); lastmile reads self-contained files only`,
        )
      if (c.start === undefined || c.compressed === undefined || c.uncompressed === undefined)
        throw bad(`${column} has no page offset or size`)
      const start =
        c.dictionaryStart !== undefined && c.dictionaryStart > 0 ? Math.min(c.dictionaryStart, c.start) : c.start
      if (start < 4 || c.compressed < 0 || start + c.compressed > dataEnd)
        throw bad(`${column} claims bytes ${start}..${start + c.compressed}; the data lies in bytes 4..${dataEnd}`)
      if (c.uncompressed < 0 || (c.values !== undefined && c.values < 0))
        throw bad(`${column} claims a negative size or value count`)
      compressedBytes += c.compressed
      uncompressedBytes += c.uncompressed
      chunks.push({ column: path, start, bytes: c.compressed })
    }
    if (compressedBytes > MAX_ROW_GROUP_BYTES)
      throw bad(
        `row group ${i} holds ${compressedBytes} bytes compressed; lastmile reads row groups of up to ${MAX_ROW_GROUP_BYTES}: write the file with smaller row groups`,
      )
    sum += g.rows
    return { rows: g.rows, compressedBytes, uncompressedBytes, chunks }
  })
  if (sum !== meta.rows) throw bad(`its row groups hold ${sum} rows; its footer says ${meta.rows}`)
  return { rows: meta.rows, groups }
}

/** FileMetaData: 2 schema, 3 num_rows, 4 row_groups (parquet.thrift). */
function fileMetaData(r: CompactReader) {
  const out: { rows?: number; leaves: number; groups: Array<{ rows?: number; chunks: Chunk[] }> } = {
    leaves: 0,
    groups: [],
  }
  r.struct((id, type) => {
    if (id === 2 && type === T.LIST) {
      let first = true
      r.list(T.STRUCT, () => {
        let children: number | undefined
        r.struct((f, t) => {
          if (f !== 5 || t !== T.I32) return false
          children = r.int(t)
          return true
        })
        if (!first && !children) out.leaves++ // the first element is the root
        first = false
      })
    } else if (id === 3 && isInt(type)) out.rows = count(r.int(type), 'num_rows')
    else if (id === 4 && type === T.LIST) r.list(T.STRUCT, () => out.groups.push(rowGroup(r)))
    else return false
    return true
  })
  return out
}

/** RowGroup: 1 columns, 3 num_rows. */
function rowGroup(r: CompactReader): { rows?: number; chunks: Chunk[] } {
  const g: { rows?: number; chunks: Chunk[] } = { chunks: [] }
  r.struct((id, type) => {
    if (id === 1 && type === T.LIST) r.list(T.STRUCT, () => g.chunks.push(columnChunk(r)))
    else if (id === 3 && isInt(type)) g.rows = count(r.int(type), 'num_rows')
    else return false
    return true
  })
  return g
}

/** ColumnChunk: 1 file_path, 3 meta_data (ColumnMetaData: 3 path, 5 num_values, 6 and 7 sizes, 9 and 11 offsets). */
function columnChunk(r: CompactReader): Chunk {
  const c: Chunk = { path: [] }
  r.struct((id, type) => {
    if (id === 1 && type === T.BINARY) c.filePath = r.string(256)
    else if (id === 3 && type === T.STRUCT)
      r.struct((f, t) => {
        if (f === 3 && t === T.LIST) r.list(T.BINARY, () => c.path.push(r.string(256)))
        else if (f === 5 && isInt(t)) c.values = r.int(t)
        else if (f === 6 && isInt(t)) c.uncompressed = r.int(t)
        else if (f === 7 && isInt(t)) c.compressed = r.int(t)
        else if (f === 9 && isInt(t)) c.start = r.int(t)
        else if (f === 11 && isInt(t)) c.dictionaryStart = r.int(t)
        else return false
        return true
      })
    else return false
    return true
  })
  return c
}

const isInt = (t: CompactType) => t === T.I32 || t === T.I64

function count(n: number, what: string): number {
  if (n < 0) throw new RangeError(`${what} is ${n}`)
  return n
}
