/**
 * Arrow IPC files and streams, read message by message: record batches are gathered until a chunk's
 * worth of rows, then decoded by flechette together with the schema and the dictionaries in force.
 */
import { type FileHandle, open } from 'node:fs/promises'
import { basename } from 'node:path'
import { type Table, tableFromIPC } from '@uwdata/flechette'
import { errorMessage, InvalidRequestError } from '../../errors.js'
import { MessageChecker } from '../../formats/arrow-ipc.js'
import { type Block, type BlockSource, ChunkedReader } from './chunker.js'
import { TABLE_OPTIONS, tableColumns, tableSchema } from './columns.js'
import { locateMessages, type MessageHead, MessageReader, MessageType } from './ipc.js'
import type { ChunkReader, SchemaField } from './types.js'

/** Message header reads ahead while scanning: metadata is small and bodies are skipped. */
const SCAN_WINDOW = 4096
/**
 * Largest message body of an input file. A record batch is read and decoded whole; bigger ones are
 * refused (with a request to write smaller batches) rather than risk the server's memory.
 */
const MAX_BODY_BYTES = 1024 * 1024 * 1024

/**
 * Opens an Arrow IPC file (`ARROW1` magic) or stream for reading in chunks. Every message header
 * is checked against the schema first (metadata only, one small read per message): a batch that
 * claims more rows or bytes than it holds is refused here, before a job exists. Bodies are checked
 * (offsets) as they are read.
 */
export async function openArrow(path: string): Promise<ChunkReader> {
  const name = basename(path)
  const handle = await open(path, 'r')
  try {
    const size = (await handle.stat()).size
    const where = await locateMessages(handle, size, name)
    const checker = new MessageChecker(`'${name}'`)
    const scan = new MessageReader(handle, where.start, where.end, name, SCAN_WINDOW)
    let rows = 0
    for (let head = await scan.nextHead(); head; head = await scan.nextHead()) {
      if (!checker.schema && head.type !== MessageType.Schema) break
      checker.check(head.meta)
      if (head.bodyLength > MAX_BODY_BYTES)
        throw new InvalidRequestError(
          `'${name}' has a message of ${head.bodyLength} bytes at byte ${scan.position}; record batches of at most ${MAX_BODY_BYTES} bytes are read: write smaller batches`,
        )
      rows += head.rows
      scan.skipBody(head)
    }
    if (!checker.schema)
      throw new InvalidRequestError(
        `'${name}' is not an Arrow IPC ${where.format}: it does not start with a schema message`,
      )
    const messages = new MessageReader(handle, where.start, where.end, name)
    const first = (await messages.nextHead()) as MessageHead
    const schemaMessage = await messages.body(first)
    let schema: SchemaField[]
    try {
      schema = tableSchema(tableFromIPC([schemaMessage]))
    } catch (e) {
      throw new InvalidRequestError(`'${name}' has an Arrow schema flechette cannot read: ${errorMessage(e)}`)
    }
    // A file's rows are known up front (as its footer would say); a stream is read as it comes.
    const totalRows = where.format === 'file' ? rows : undefined
    return new ChunkedReader(new ArrowSource(handle, name, size, messages, first, schemaMessage, schema, totalRows))
  } catch (e) {
    await handle.close()
    throw e
  }
}

class ArrowSource implements BlockSource {
  readonly #handle: FileHandle
  readonly #name: string
  readonly #size: number
  readonly #messages: MessageReader
  readonly #schemaMessage: Uint8Array
  /** Per dictionary id: the last replacement and the deltas after it, all a later batch may need. */
  readonly #dictionaries = new Map<number, Uint8Array[]>()
  /** The rules across messages, applied again as bodies are read (offsets need the body). */
  readonly #checker: MessageChecker
  /** A record batch header read while skipping but not skipped (it holds rows to keep). */
  #held: MessageHead | undefined
  #row = 0
  #ended = false
  #closed = false

  constructor(
    handle: FileHandle,
    name: string,
    size: number,
    messages: MessageReader,
    schemaHead: MessageHead,
    schemaMessage: Uint8Array,
    readonly schema: SchemaField[],
    readonly totalRows: number | undefined,
  ) {
    this.#handle = handle
    this.#name = name
    this.#size = size
    this.#messages = messages
    this.#schemaMessage = schemaMessage
    this.#checker = new MessageChecker(`'${name}'`)
    this.#checker.check(schemaHead.meta)
  }

  progress(): { bytesRead: number; bytesTotal: number } {
    return { bytesRead: this.#ended ? this.#size : this.#messages.position, bytesTotal: this.#size }
  }

  /** Record batches that fit in `rows` are passed over without reading their bodies. */
  async skipWhole(rows: number): Promise<number> {
    let skipped = 0
    for (;;) {
      const head = await this.#nextHead()
      if (!head) break
      if (head.type === MessageType.DictionaryBatch) this.#keepDictionary(head, await this.#read(head))
      else if (head.type !== MessageType.RecordBatch || skipped + head.rows <= rows) {
        this.#checker.check(head.meta)
        this.#messages.skipBody(head)
        // Stryker disable next-line ConditionalExpression: only record batches come here: dictionary batches take the branch above, and a second schema is refused at open
        if (head.type === MessageType.RecordBatch) skipped += head.rows
      } else {
        this.#held = head
        break
      }
    }
    this.#row = skipped
    return skipped
  }

  async read(wantRows: number): Promise<Block | undefined> {
    const group = [this.#schemaMessage, ...[...this.#dictionaries.values()].flat()]
    let rows = 0
    while (rows < wantRows) {
      const head = this.#held ?? (await this.#nextHead())
      this.#held = undefined
      if (!head) break
      if (head.type === MessageType.RecordBatch) {
        group.push(await this.#read(head))
        rows += head.rows
      } else {
        const message = await this.#read(head)
        group.push(message)
        this.#keepDictionary(head, message)
      }
    }
    if (rows === 0) return undefined
    // Checked above, so flechette allocates only by sizes the bytes bear out.
    let table: Table
    let columns: ArrayLike<unknown>[]
    try {
      table = tableFromIPC(group, TABLE_OPTIONS)
      columns = tableColumns(table)
    } catch (e) {
      throw new InvalidRequestError(`'${this.#name}' has a record batch that cannot be decoded: ${errorMessage(e)}`)
    }
    const block = { firstRow: this.#row, rows: table.numRows, columns, errors: [] }
    this.#row += table.numRows
    return block
  }

  async close(): Promise<void> {
    // Stryker disable next-line ConditionalExpression: closing a closed FileHandle again resolves without touching the descriptor (Node keeps it as -1), so a second close changes nothing
    if (this.#closed) return
    // Stryker disable next-line BooleanLiteral: as above, a second close of the handle changes nothing
    this.#closed = true
    await this.#handle.close()
  }

  /** A batch message, its body checked against the schema (offsets within their data) first. */
  async #read(head: MessageHead): Promise<Uint8Array> {
    const message = await this.#messages.body(head)
    this.#checker.check(head.meta, message.subarray(head.head.length))
    return message
  }

  async #nextHead(): Promise<MessageHead | undefined> {
    if (this.#ended) return undefined
    const head = await this.#messages.nextHead()
    if (!head) this.#ended = true
    return head
  }

  #keepDictionary(head: MessageHead, message: Uint8Array): void {
    const kept = this.#dictionaries.get(head.dictionaryId)
    if (head.isDelta && kept) kept.push(message)
    else this.#dictionaries.set(head.dictionaryId, [message])
  }
}
