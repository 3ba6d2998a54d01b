/**
 * Lying Arrow bodies for tests: find the messages of a valid IPC stream or file written by
 * flechette and patch counts into their flatbuffers (a record batch's length, a field node's
 * length, a buffer's offset or length, a body length). Written independently of src/formats:
 * the flatbuffer layout is read here from the format's definition, not with lastmile's reader.
 */

/** Where one message sits, and where its patchable counts are (absolute byte positions). */
export interface MessageAt {
  /** MessageHeader: 1 schema, 2 dictionary batch, 3 record batch. */
  type: number
  /** The continuation marker's position. */
  start: number
  metaLength: number
  bodyStart: number
  bodyLength: number
  /** Message.bodyLength (int64), when written. */
  bodyLengthAt?: number
  /** DictionaryBatch.id (int64) of a dictionary batch. */
  idAt?: number
  /** RecordBatch.length (int64) of a record batch (or of a dictionary batch's data). */
  lengthAt?: number
  /** FieldNode structs (16 bytes: length, null count). */
  nodesAt: number[]
  /** Buffer structs (16 bytes: offset, length). */
  buffersAt: number[]
}

const u32 = (b: Uint8Array, at: number) => new DataView(b.buffer, b.byteOffset).getUint32(at, true)
const i32 = (b: Uint8Array, at: number) => new DataView(b.buffer, b.byteOffset).getInt32(at, true)
const u16 = (b: Uint8Array, at: number) => new DataView(b.buffer, b.byteOffset).getUint16(at, true)

/** Absolute position of field `i` of the table at `table`, or undefined when absent. */
function fieldAt(b: Uint8Array, table: number, i: number): number | undefined {
  const vtable = table - i32(b, table)
  const slot = 4 + 2 * i
  if (slot >= u16(b, vtable)) return undefined
  const off = u16(b, vtable + slot)
  return off ? table + off : undefined
}

const deref = (b: Uint8Array, at: number) => at + u32(b, at)

/** Every message of a stream, or of the stream inside a file (after its 8-byte magic). */
export function messagesOf(bytes: Uint8Array): MessageAt[] {
  const out: MessageAt[] = []
  let at = String.fromCharCode(...bytes.subarray(0, 6)) === 'ARROW1' ? 8 : 0
  while (at + 8 <= bytes.length && u32(bytes, at) === 0xffffffff) {
    const metaLength = i32(bytes, at + 4)
    if (metaLength === 0) break
    const meta = at + 8
    const root = deref(bytes, meta)
    const typeAt = fieldAt(bytes, root, 1)
    const type = typeAt === undefined ? 0 : (bytes[typeAt] as number)
    const bodyLengthAt = fieldAt(bytes, root, 3)
    const bodyLength = bodyLengthAt === undefined ? 0 : u32(bytes, bodyLengthAt)
    const message: MessageAt = {
      type,
      start: at,
      metaLength,
      bodyStart: meta + metaLength,
      bodyLength,
      ...(bodyLengthAt !== undefined ? { bodyLengthAt } : {}),
      nodesAt: [],
      buffersAt: [],
    }
    const headerAt = fieldAt(bytes, root, 2)
    if (headerAt !== undefined && (type === 2 || type === 3)) {
      let batch = deref(bytes, headerAt)
      if (type === 2) {
        const idAt = fieldAt(bytes, batch, 0)
        if (idAt !== undefined) message.idAt = idAt
        batch = deref(bytes, fieldAt(bytes, batch, 1) as number)
      }
      const lengthAt = fieldAt(bytes, batch, 0)
      if (lengthAt !== undefined) message.lengthAt = lengthAt
      for (const [index, list] of [
        [1, message.nodesAt],
        [2, message.buffersAt],
      ] as const) {
        const v = fieldAt(bytes, batch, index)
        if (v === undefined) continue
        const base = deref(bytes, v)
        for (let k = 0; k < u32(bytes, base); k++) list.push(base + 4 + 16 * k)
      }
    }
    out.push(message)
    at = meta + metaLength + bodyLength
  }
  return out
}

/** A copy of `bytes` with the int64 at `at` set to `value`. */
export function withInt64(bytes: Uint8Array, at: number, value: number): Uint8Array {
  const out = bytes.slice()
  new DataView(out.buffer).setBigInt64(at, BigInt(value), true)
  return out
}

/**
 * `bytes` with each lie `[message, count, value]` written over one of the counts of one of its
 * messages (both picked modulo how many there are): a length, a body length, a dictionary id, a
 * field node's length or null count, a buffer's offset or length.
 */
export function withLies(bytes: Uint8Array, lies: ReadonlyArray<readonly [number, number, number]>): Uint8Array {
  for (const [m, f, value] of lies) {
    const messages = messagesOf(bytes)
    const message = messages[m % messages.length]
    if (!message) continue
    const counts = [
      message.lengthAt,
      message.bodyLengthAt,
      message.idAt,
      ...message.nodesAt.flatMap((at) => [at, at + 8]),
      ...message.buffersAt.flatMap((at) => [at, at + 8]),
    ].filter((at): at is number => at !== undefined)
    if (counts.length) bytes = withInt64(bytes, counts[f % counts.length] as number, value)
  }
  return bytes
}

/** The first record batch of a stream or file. */
export function firstBatch(bytes: Uint8Array): MessageAt {
  const batch = messagesOf(bytes).find((m) => m.type === 3)
  if (!batch) throw new Error('no record batch in these bytes')
  return batch
}

/** A copy of `bytes` with the batch length and every field node length of `batch` set to `rows`. */
export function claimingRows(bytes: Uint8Array, batch: MessageAt, rows: number): Uint8Array {
  let out = withInt64(bytes, batch.lengthAt as number, rows)
  for (const node of batch.nodesAt) out = withInt64(out, node, rows)
  return out
}
