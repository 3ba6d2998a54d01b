/**
 * Arrow IPC files and streams, read message by message: record batches are gathered until a chunk's
 * worth of rows, then decoded by flechette together with the schema and the dictionaries in force.
 */
import { type FileHandle, open } from 'node:fs/promises'
import { basename } from 'node:path'
import { type Table, tableFromIPC } from '@uwdata/flechette'
import { errorMessage, InvalidRequestError } from '../../errors.js'
import { type Block, type BlockSource, ChunkedReader } from './chunker.js'
import { tableColumns, tableSchema } from './columns.js'
import { locateMessages, type MessageHead, MessageReader, MessageType } from './ipc.js'
import type { ChunkReader, SchemaField } from './types.js'

/** Opens an Arrow IPC file (`ARROW1` magic) or stream for reading in chunks. */
export async function openArrow(path: string): Promise<ChunkReader> {
  const name = basename(path)
  const handle = await open(path, 'r')
  try {
    const size = (await handle.stat()).size
    const where = await locateMessages(handle, size, name)
    const messages = new MessageReader(handle, where.start, where.end, name)
    const first = await messages.nextHead()
    if (first?.type !== MessageType.Schema)
      throw new InvalidRequestError(
        `'${name}' is not an Arrow IPC ${where.format}: it does not start with a schema message`,
      )
    const schemaMessage = await messages.body(first)
    let schema: SchemaField[]
    try {
      schema = tableSchema(tableFromIPC([schemaMessage]))
    } catch (e) {
      throw new InvalidRequestError(`'${name}' has an Arrow schema flechette cannot read: ${errorMessage(e)}`)
    }
    return new ChunkedReader(new ArrowSource(handle, name, size, messages, schemaMessage, schema, where.totalRows))
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
    schemaMessage: Uint8Array,
    readonly schema: SchemaField[],
    readonly totalRows: number | undefined,
  ) {
    this.#handle = handle
    this.#name = name
    this.#size = size
    this.#messages = messages
    this.#schemaMessage = schemaMessage
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
      if (head.type === MessageType.DictionaryBatch) this.#keepDictionary(head, await this.#messages.body(head))
      else if (head.type !== MessageType.RecordBatch || skipped + head.rows <= rows) {
        this.#messages.skipBody(head)
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
        group.push(await this.#messages.body(head))
        rows += head.rows
      } else if (head.type === MessageType.DictionaryBatch) {
        const message = await this.#messages.body(head)
        group.push(message)
        this.#keepDictionary(head, message)
      } else this.#messages.skipBody(head)
    }
    if (rows === 0) return undefined
    let table: Table
    try {
      table = tableFromIPC(group)
    } catch (e) {
      throw new InvalidRequestError(`'${this.#name}' has a record batch that cannot be decoded: ${errorMessage(e)}`)
    }
    const block = { firstRow: this.#row, rows: table.numRows, columns: tableColumns(table), errors: [] }
    this.#row += table.numRows
    return block
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#handle.close()
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
