/**
 * Arrow IPC messages read one at a time from a file handle, with just enough flatbuffer parsing to
 * find each message's kind, body length and row count: a file is never read whole, and a record
 * batch being skipped is never read at all.
 *
 * A message is 0xFFFFFFFF, an int32 metadata length, the flatbuffer `Message`, then `bodyLength`
 * bytes of body. The IPC file format is the magic `ARROW1\0\0`, such a stream, a footer, its int32
 * length and `ARROW1`.
 */
import type { FileHandle } from 'node:fs/promises'
import { InvalidRequestError } from '../../errors.js'

/** `MessageHeader` values of the Arrow format (Schema.fbs). */
export const MessageType = { Schema: 1, DictionaryBatch: 2, RecordBatch: 3 } as const

const CONTINUATION = 0xffffffff
const MAGIC = 'ARROW1'
/** The file format's leading magic, padded to 8 bytes. */
const FILE_HEAD = 8
/** Footer length (int32) and trailing magic. */
const FILE_TAIL = 10
/** Bytes read ahead for message headers, so small messages cost one read each. */
const WINDOW = 1 << 16
/** Size of the footer's `Block` struct: offset int64, metaDataLength int32 (+4 padding), bodyLength int64. */
const BLOCK = 24

/** One message's header: enough to decide whether to read or skip its body. */
export interface MessageHead {
  type: number
  /** Record batch: its rows; dictionary batch: 0. */
  rows: number
  dictionaryId: number
  isDelta: boolean
  /** The continuation marker, length and metadata, as in the file. */
  head: Uint8Array
  bodyLength: number
}

/** Reads the messages of an Arrow IPC stream (or of the stream inside an IPC file) from `handle`. */
export class MessageReader {
  readonly #handle: FileHandle
  readonly #end: number
  readonly #name: string
  #position: number
  #window: Uint8Array = new Uint8Array(0)
  #windowAt = 0

  constructor(handle: FileHandle, start: number, end: number, name: string) {
    this.#handle = handle
    this.#position = start
    this.#end = end
    this.#name = name
  }

  get position(): number {
    return this.#position
  }

  /** The next message's header; undefined at the end-of-stream marker or the end of the data. */
  async nextHead(): Promise<MessageHead | undefined> {
    if (this.#position + 4 > this.#end) return undefined
    const prefix = await this.#take(4)
    const marker = new DataView(prefix.buffer).getUint32(0, true)
    if (marker !== CONTINUATION) {
      if (marker === 0) return undefined
      this.#position -= 4
      throw this.#corrupt(
        'no message (continuation marker 0xFFFFFFFF; streams from Arrow before 0.15 without these markers are not supported)',
      )
    }
    const metaLength = new DataView((await this.#take(4)).buffer).getInt32(0, true)
    if (metaLength === 0) return undefined
    if (metaLength < 0) throw this.#corrupt(`a negative metadata length ${metaLength}`)
    const head = new Uint8Array(8 + metaLength)
    head.set([0xff, 0xff, 0xff, 0xff])
    new DataView(head.buffer).setInt32(4, metaLength, true)
    head.set(await this.#take(metaLength), 8)
    return parseHead(head, (what) => this.#corrupt(what))
  }

  /** The whole message (header and body) as one buffer, as flechette's `tableFromIPC` wants it. */
  async body(head: MessageHead): Promise<Uint8Array> {
    const message = new Uint8Array(head.head.length + head.bodyLength)
    message.set(head.head)
    message.set(await this.#take(head.bodyLength), head.head.length)
    return message
  }

  skipBody(head: MessageHead): void {
    this.#position += head.bodyLength
    if (this.#position > this.#end) throw this.#corrupt('a message body past the end of the file')
  }

  /** The next `n` bytes, from the read-ahead window when they are in it. */
  async #take(n: number): Promise<Uint8Array> {
    if (this.#position + n > this.#end) throw this.#corrupt('a message cut short by the end of the file')
    const offset = this.#position - this.#windowAt
    if (offset < 0 || offset + n > this.#window.length) {
      if (n > WINDOW / 2) {
        const out = await readExactly(this.#handle, this.#position, n)
        this.#position += n
        return out
      }
      const size = Math.min(WINDOW, this.#end - this.#position)
      this.#window = await readExactly(this.#handle, this.#position, size)
      this.#windowAt = this.#position
    }
    const start = this.#position - this.#windowAt
    this.#position += n
    return this.#window.slice(start, start + n)
  }

  #corrupt(what: string): InvalidRequestError {
    return new InvalidRequestError(
      `'${this.#name}' is not a valid Arrow IPC file or stream: ${what} at byte ${this.#position}`,
    )
  }
}

/** Where an Arrow IPC file's or stream's messages are, and (file format) its total rows from the footer. */
export async function locateMessages(
  handle: FileHandle,
  size: number,
  name: string,
): Promise<{ format: 'file' | 'stream'; start: number; end: number; totalRows: number | undefined }> {
  const first = await readExactly(handle, 0, Math.min(FILE_HEAD, size))
  if (Buffer.from(first.subarray(0, 6)).toString('latin1') !== MAGIC)
    return { format: 'stream', start: 0, end: size, totalRows: undefined }
  const bad = (what: string) => new InvalidRequestError(`'${name}' is not a valid Arrow IPC file: ${what}`)
  if (size < FILE_HEAD + FILE_TAIL) throw bad('it is shorter than the magic and footer')
  const tail = await readExactly(handle, size - FILE_TAIL, FILE_TAIL)
  if (Buffer.from(tail.subarray(4)).toString('latin1') !== MAGIC) throw bad('the trailing magic ARROW1 is missing')
  const footerLength = new DataView(tail.buffer).getInt32(0, true)
  const end = size - FILE_TAIL - footerLength
  if (footerLength <= 0 || end < FILE_HEAD) throw bad(`footer length ${footerLength}`)
  const footer = new DataView((await readExactly(handle, end, footerLength)).buffer)
  const batches = field(footer, footer.getUint32(0, true), 3)
  let totalRows = 0
  if (batches) {
    const vector = batches + footer.getUint32(batches, true)
    for (let i = 0, count = footer.getUint32(vector, true); i < count; i++) {
      const at = vector + 4 + BLOCK * i
      const offset = int64(footer, at)
      const metaLength = footer.getInt32(at + 8, true)
      if (offset < FILE_HEAD || offset + metaLength > end) throw bad(`record batch block ${i} points outside the file`)
      const head = await readExactly(handle, offset, metaLength)
      totalRows += parseHead(head, bad).rows
    }
  }
  return { format: 'file', start: FILE_HEAD, end, totalRows }
}

/** Parses a message prefix + `Message` flatbuffer (root uoffset, vtable via soffset, fields at +4+2·i). */
function parseHead(head: Uint8Array, corrupt: (what: string) => Error): MessageHead {
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength)
  const meta = view.getUint32(0, true) === CONTINUATION ? 8 : 4
  try {
    const message = meta + view.getUint32(meta, true)
    const typeAt = field(view, message, 1)
    const headerAt = field(view, message, 2)
    const lengthAt = field(view, message, 3)
    const type = typeAt ? view.getUint8(typeAt) : 0
    const header = headerAt ? headerAt + view.getUint32(headerAt, true) : 0
    const out = {
      type,
      rows: 0,
      dictionaryId: 0,
      isDelta: false,
      head,
      bodyLength: lengthAt ? int64(view, lengthAt) : 0,
    }
    if (type === MessageType.RecordBatch && header) {
      const rowsAt = field(view, header, 0)
      out.rows = rowsAt ? int64(view, rowsAt) : 0
    } else if (type === MessageType.DictionaryBatch && header) {
      const idAt = field(view, header, 0)
      const deltaAt = field(view, header, 2)
      out.dictionaryId = idAt ? int64(view, idAt) : 0
      out.isDelta = deltaAt ? view.getUint8(deltaAt) !== 0 : false
    }
    if (out.bodyLength < 0 || out.rows < 0) throw new RangeError('negative length')
    return out
  } catch (e) {
    throw corrupt(`unreadable message metadata (${e instanceof Error ? e.message : e})`)
  }
}

/** Absolute position of field `index` of the flatbuffer table at `table`, 0 when absent. */
function field(view: DataView, table: number, index: number): number {
  const vtable = table - view.getInt32(table, true)
  const at = 4 + 2 * index
  const offset = at < view.getUint16(vtable, true) ? view.getUint16(vtable + at, true) : 0
  return offset ? table + offset : 0
}

function int64(view: DataView, at: number): number {
  return view.getUint32(at, true) + view.getInt32(at + 4, true) * 4294967296
}

async function readExactly(handle: FileHandle, position: number, length: number): Promise<Uint8Array> {
  const out = new Uint8Array(length)
  let done = 0
  while (done < length) {
    const { bytesRead } = await handle.read(out, done, length - done, position + done)
    if (bytesRead === 0) throw new InvalidRequestError(`unexpected end of file at byte ${position + done}`)
    done += bytesRead
  }
  return out
}
