/**
 * The Arrow IPC framing, checked before anything reads by a claimed size: a message is
 * 0xFFFFFFFF, an int32 metadata length, the flatbuffer `Message`, then `bodyLength` bytes of body;
 * a stream is messages up to an end marker (or the end); a file is the magic `ARROW1\0\0`, a
 * stream, a footer, its int32 length and `ARROW1`. {@link MessageChecker} holds the rules
 * across messages; {@link readIpc} applies all of it to a body held in memory. The job reader
 * (src/jobs/io/ipc.ts) applies the same checker to messages read from a file.
 */
import { InvalidRequestError } from '../errors.js'
import { type ArrayLayout, checkBody, layoutBatch } from './arrow-layout.js'
import { type ArrowSchema, type MessageMeta, MessageType, parseMessage } from './arrow-meta.js'

/** The continuation marker before each message's metadata length. */
export const CONTINUATION = 0xffffffff
/** The file format's magic, at both ends. */
const MAGIC = 'ARROW1'
/** The file format's leading magic, padded to 8 bytes. */
export const FILE_HEAD = 8
/** Footer length (int32) and trailing magic. */
export const FILE_TAIL = 10
/**
 * Largest message metadata read. Metadata is a few hundred bytes per column; 64 MiB is a schema
 * of several hundred thousand columns, and keeps a forged length from allocating gigabytes.
 */
export const MAX_METADATA_BYTES = 64 * 1024 * 1024

/** A batch that passed every check: its arrays and its body. */
export interface CheckedBatch {
  readonly length: number
  readonly arrays: readonly ArrayLayout[]
  readonly body: Uint8Array
}

/** A record batch, with the dictionaries in force where it came (per id: the last replacement, then its deltas). */
export interface CheckedRecordBatch extends CheckedBatch {
  readonly dictionaries: ReadonlyMap<number, readonly CheckedBatch[]>
}

/**
 * The rules that span messages: a schema first and only once, dictionary batches for ids the
 * schema declares (a delta only after a first batch of its id), and every record batch after the
 * dictionaries its columns use. Each batch is checked against the schema by its metadata, and by
 * its offsets when the body is given.
 */
export class MessageChecker {
  #schema: ArrowSchema | undefined
  readonly #seen = new Set<number>()
  #index = 0

  constructor(readonly what: string) {}

  get schema(): ArrowSchema | undefined {
    return this.#schema
  }

  /** Check the next message; a batch's arrays come back (record or dictionary batch). */
  check(meta: MessageMeta, body?: Uint8Array): readonly ArrayLayout[] | undefined {
    const what = `${this.what}, message ${this.#index++}`
    if (meta.type === MessageType.Schema) {
      if (this.#schema) throw new InvalidRequestError(`${what}: a second schema message`)
      // Without columns a batch's row count is bounded by nothing in its body.
      if (meta.schema.fields.length === 0) throw new InvalidRequestError(`${what}: a schema without columns`)
      this.#schema = meta.schema
      return undefined
    }
    const schema = this.#schema
    if (!schema) throw new InvalidRequestError(`${what}: a batch before the schema message`)
    let arrays: readonly ArrayLayout[]
    if (meta.type === MessageType.DictionaryBatch) {
      const field = schema.dictionaries.get(meta.id)
      if (!field) throw new InvalidRequestError(`${what}: a dictionary batch for id ${meta.id}, which no column uses`)
      if (meta.isDelta && !this.#seen.has(meta.id))
        throw new InvalidRequestError(`${what}: a delta for dictionary ${meta.id} before its first batch`)
      arrays = layoutBatch([field], meta.batch, meta.bodyLength, what)
      this.#requireDictionaries(arrays, what)
      this.#seen.add(meta.id)
    } else {
      arrays = layoutBatch(schema.fields, meta.batch, meta.bodyLength, what)
      this.#requireDictionaries(arrays, what)
    }
    if (body) checkBody(arrays, body, what)
    return arrays
  }

  #requireDictionaries(arrays: readonly ArrayLayout[], what: string): void {
    for (const a of arrays) {
      const id = a.field.dictionary?.id
      if (id !== undefined && !this.#seen.has(id))
        throw new InvalidRequestError(`${what}: column '${a.field.name}' uses dictionary ${id} before it is sent`)
      this.#requireDictionaries(a.children, what)
    }
  }
}

/** Where the messages of an IPC body lie: all of a stream, or between a file's magic and footer. */
export function messageRegion(head: Uint8Array, tail: Uint8Array, size: number, what: string) {
  if (!startsWithMagic(head)) return { format: 'stream' as const, start: 0, end: size }
  const bad = (why: string) => new InvalidRequestError(`${what} is not a valid Arrow IPC file: ${why}`)
  if (size < FILE_HEAD + FILE_TAIL) throw bad('it is shorter than the magic and footer')
  if (Buffer.from(tail.subarray(tail.length - 6)).toString('latin1') !== MAGIC)
    throw bad('the trailing magic ARROW1 is missing')
  const footerLength = new DataView(tail.buffer, tail.byteOffset, tail.byteLength).getInt32(tail.length - 10, true)
  const end = size - FILE_TAIL - footerLength
  if (footerLength <= 0 || end < FILE_HEAD) throw bad(`footer length ${footerLength}`)
  return { format: 'file' as const, start: FILE_HEAD, end, footerLength }
}

function startsWithMagic(bytes: Uint8Array): boolean {
  return bytes.length >= 6 && Buffer.from(bytes.subarray(0, 6)).toString('latin1') === MAGIC
}

/**
 * Read a whole Arrow IPC stream or file held in memory: every message framed within the bytes,
 * checked by a {@link MessageChecker} (bodies included). Nothing is allocated by a claimed count.
 */
export function readIpc(
  bytes: Uint8Array,
  what = 'the Arrow body',
): { schema: ArrowSchema; batches: CheckedRecordBatch[] } {
  const region = messageRegion(bytes.subarray(0, FILE_HEAD), bytes.subarray(-FILE_TAIL), bytes.length, what)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const checker = new MessageChecker(what)
  const batches: CheckedRecordBatch[] = []
  const dictionaries = new Map<number, readonly CheckedBatch[]>()
  let at = region.start
  const bad = (why: string) => new InvalidRequestError(`${what} is not an Arrow IPC stream or file: ${why}`)
  while (at + 4 <= region.end) {
    // Stryker disable next-line BooleanLiteral: the marker is only compared with 0 and 0xFFFFFFFF, the same in either byte order (other values are refused by position, not value)
    const marker = view.getUint32(at, true)
    if (marker === 0) break // the end marker of streams before Arrow 0.15
    if (marker !== CONTINUATION) throw bad(`no message at byte ${at} (continuation marker 0xFFFFFFFF expected)`)
    if (at + 8 > region.end) throw bad(`a message cut short at byte ${at}`)
    const metaLength = view.getInt32(at + 4, true)
    if (metaLength === 0) break // the end-of-stream marker
    if (metaLength < 0 || metaLength > Math.min(MAX_METADATA_BYTES, region.end - at - 8))
      throw bad(`message metadata of ${metaLength} bytes at byte ${at}, past the end`)
    const meta = parseMessage(bytes.subarray(at + 8, at + 8 + metaLength), `${what}, the message at byte ${at}`)
    const bodyStart = at + 8 + metaLength
    if (meta.bodyLength > region.end - bodyStart)
      throw bad(`a message body of ${meta.bodyLength} bytes at byte ${bodyStart}, past the end`)
    const body = bytes.subarray(bodyStart, bodyStart + meta.bodyLength)
    const arrays = checker.check(meta, body)
    if (arrays && meta.type === MessageType.RecordBatch)
      batches.push({ length: meta.batch.length, arrays, body, dictionaries: new Map(dictionaries) })
    // Stryker disable next-line LogicalOperator: record batches never reach this test and dictionary batches always have arrays, so `||` takes the same messages
    else if (arrays && meta.type === MessageType.DictionaryBatch) {
      const part = { length: meta.batch.length, arrays, body }
      dictionaries.set(meta.id, meta.isDelta ? [...(dictionaries.get(meta.id) ?? []), part] : [part])
    }
    at = bodyStart + meta.bodyLength
  }
  if (!checker.schema) throw bad('it has no schema message')
  return { schema: checker.schema, batches }
}
