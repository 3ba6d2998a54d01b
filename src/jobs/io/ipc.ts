/**
 * Arrow IPC messages read one at a time from a file handle: a file is never read whole, and a
 * record batch being skipped is never read at all. Each message's metadata is parsed with the
 * bounded reader of src/formats (the same one inference bodies go through) before its length is
 * trusted: metadata and bodies are read only when they lie within the file and the size limits.
 *
 * A message is 0xFFFFFFFF, an int32 metadata length, the flatbuffer `Message`, then `bodyLength`
 * bytes of body. The IPC file format is the magic `ARROW1\0\0`, such a stream, a footer, its int32
 * length and `ARROW1`.
 */
import type { FileHandle } from 'node:fs/promises'
import { InvalidRequestError } from '../../errors.js'
import { CONTINUATION, FILE_HEAD, FILE_TAIL, MAX_METADATA_BYTES, messageRegion } from '../../formats/arrow-ipc.js'
import { type MessageMeta, MessageType, parseMessage } from '../../formats/arrow-meta.js'

export { MessageType }

/** Bytes read ahead for message headers, so small messages cost one read each. */
const WINDOW = 1 << 16

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
  /** The parsed metadata (schema, or batch nodes and buffers). */
  meta: MessageMeta
}

/** Reads the messages of an Arrow IPC stream (or of the stream inside an IPC file) from `handle`. */
export class MessageReader {
  readonly #handle: FileHandle
  readonly #end: number
  readonly #name: string
  readonly #windowSize: number
  #position: number
  #window: Uint8Array = new Uint8Array(0)
  #windowAt = 0

  /** @param window bytes read ahead for headers: small when bodies are skipped, as when scanning */
  constructor(handle: FileHandle, start: number, end: number, name: string, window = WINDOW) {
    this.#handle = handle
    this.#position = start
    this.#end = end
    this.#name = name
    this.#windowSize = window
  }

  get position(): number {
    return this.#position
  }

  /** The next message's header; undefined at the end-of-stream marker or the end of the data. */
  async nextHead(): Promise<MessageHead | undefined> {
    if (this.#position + 4 > this.#end) return undefined
    const at = this.#position
    const prefix = await this.#take(4)
    // Stryker disable next-line BooleanLiteral: the marker is only compared with 0 and 0xFFFFFFFF, the same in either byte order (other values are refused by position, not value)
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
    // Stryker disable next-line EqualityOperator: a length of 0 has returned just above
    if (metaLength < 0 || metaLength > MAX_METADATA_BYTES)
      throw this.#corrupt(`a metadata length of ${metaLength} bytes (at most ${MAX_METADATA_BYTES} are read)`)
    const head = new Uint8Array(8 + metaLength)
    head.set([0xff, 0xff, 0xff, 0xff])
    new DataView(head.buffer).setInt32(4, metaLength, true)
    head.set(await this.#take(metaLength), 8)
    const meta = parseMessage(head.subarray(8), `'${this.#name}', the message at byte ${at}`)
    if (meta.bodyLength > this.#end - this.#position) throw this.#corrupt('a message body past the end of the file')
    return headOf(meta, head)
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
    // Stryker disable next-line ConditionalExpression: the position only moves forward (but for the step back before a refusal) and windows are loaded at it, so offset is never negative
    if (offset < 0 || offset + n > this.#window.length) {
      if (n > this.#windowSize / 2) {
        const out = await readExactly(this.#handle, this.#position, n)
        this.#position += n
        return out
      }
      const size = Math.min(this.#windowSize, this.#end - this.#position)
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

function headOf(meta: MessageMeta, head: Uint8Array): MessageHead {
  return {
    type: meta.type,
    rows: meta.type === MessageType.RecordBatch ? meta.batch.length : 0,
    dictionaryId: meta.type === MessageType.DictionaryBatch ? meta.id : 0,
    isDelta: meta.type === MessageType.DictionaryBatch && meta.isDelta,
    head,
    bodyLength: meta.bodyLength,
    meta,
  }
}

/** Where an Arrow IPC file's or stream's messages are (a file's footer is checked, not used). */
export async function locateMessages(
  handle: FileHandle,
  size: number,
  name: string,
): Promise<{ format: 'file' | 'stream'; start: number; end: number }> {
  const head = await readExactly(handle, 0, Math.min(FILE_HEAD, size))
  const tail = await readExactly(handle, Math.max(0, size - FILE_TAIL), Math.min(FILE_TAIL, size))
  return messageRegion(head, tail, size, `'${name}'`)
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
