/**
 * Arrow IPC messages read one at a time from a file handle (src/jobs/io/ipc.ts): each message's
 * header (type, rows, dictionary id and delta flag, the bytes as in the file), whole messages,
 * skipped bodies, the end of a stream in each of its forms, every refusal of a hostile length or a
 * truncated file (exact class, words and byte), the reads it makes (one window for small messages,
 * direct reads for big ones, nothing for a skipped body) and where a file's messages lie.
 * Streams are written by the independent Arrow library @uwdata/flechette, framing is located with
 * test/fuzz/arrow-craft.ts, a delta dictionary message is built by hand with
 * test/formats/flatbuffer-write.ts; expected heads, positions and reads are worked out by hand from
 * the IPC format (0xFFFFFFFF, int32 metadata length, metadata, body; a file's 8-byte magic and
 * 10-byte tail).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { type FileHandle, open } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { dictionary, float64, int32, tableFromArrays, tableToIPC, utf8 } from '@uwdata/flechette'
import { describe, expect, it } from 'vitest'
import { InvalidRequestError } from '../../../src/errors.js'
import { locateMessages, type MessageHead, MessageReader, MessageType } from '../../../src/jobs/io/ipc.js'
import { build, i16, i64, pairs, table, u8 } from '../../formats/flatbuffer-write.js'
import { messagesOf } from '../../fuzz/arrow-craft.js'
import { rejection } from '../../helpers/refusal.js'

/** An in-memory file handle that records its reads ([position, length]) and may answer short. */
function memoryHandle(bytes: Uint8Array, maxPerRead = Number.POSITIVE_INFINITY) {
  const reads: Array<[number, number]> = []
  const handle = {
    async read(buffer: Uint8Array, offset: number, length: number, position: number) {
      reads.push([position, length])
      const n = Math.max(0, Math.min(length, maxPerRead, bytes.length - position))
      buffer.set(bytes.subarray(position, position + n), offset)
      return { bytesRead: n, buffer }
    },
  }
  return { handle: handle as unknown as FileHandle, reads }
}

const invalid = (name: string, what: string) => `'${name}' is not a valid Arrow IPC file or stream: ${what}`

const stream = (t: Parameters<typeof tableToIPC>[0]) => tableToIPC(t, { format: 'stream' }) as Uint8Array

/** 4 float64 rows: a schema message, one record batch of a 32-byte body, the end marker. */
const small = stream(tableFromArrays({ x: Float64Array.of(1.5, 2.5, 3.5, 4.5) }, { types: { x: float64() } }))
/** 1500 float64 rows: a 12 000-byte body. */
const big = stream(
  tableFromArrays({ x: Float64Array.from({ length: 1500 }, (_, i) => i) }, { types: { x: float64() } }),
)
/** Two dictionary columns (ids 0 and 1), batches of 2 rows: schema, 2 dictionary batches, 3 record batches. */
const dict = stream(
  tableFromArrays(
    { a: ['x', 'y', 'z', 'x', 'w'], b: ['p', 'q', 'p', 'p', 'q'] },
    { types: { a: dictionary(utf8(), int32()), b: dictionary(utf8(), int32()) }, maxBatchRows: 2 },
  ),
)

/** A message framed by hand: continuation, metadata length (padded to 8), metadata, `body` zero bytes. */
function frame(meta: Uint8Array, body: number): Uint8Array {
  const length = Math.ceil(meta.length / 8) * 8
  const out = new Uint8Array(8 + length + body)
  const view = new DataView(out.buffer)
  view.setUint32(0, 0xffffffff, true)
  view.setInt32(4, length, true)
  out.set(meta, 8)
  return out
}

/**
 * A delta dictionary batch for dictionary 1, written by hand: Message{version V5, header type 2,
 * DictionaryBatch{id 1, RecordBatch{length 2, one node, three buffers}, isDelta}, bodyLength 16}.
 */
const delta = frame(
  build(
    table(
      i16(4),
      u8(MessageType.DictionaryBatch),
      table(i64(1), table(i64(2), pairs([2, 0]), pairs([0, 0], [0, 12], [16, 0])), u8(1)),
      i64(16),
    ),
  ),
  16,
)

const concat = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts))

/** Every head of `bytes`' messages (reading each body), and the reader. */
async function heads(bytes: Uint8Array, window?: number, maxPerRead?: number) {
  const { handle, reads } = memoryHandle(bytes, maxPerRead)
  const reader = new MessageReader(handle, 0, bytes.length, 'm.arrows', window)
  const out: Array<{ head: MessageHead; message: Uint8Array; at: number }> = []
  for (let head = await reader.nextHead(); head; head = await reader.nextHead()) {
    const at = reader.position
    out.push({ head, message: await reader.body(head), at })
  }
  return { out, reader, reads }
}

describe('MessageReader heads and bodies', () => {
  it('reads a stream’s messages in order: their heads, bodies and where each ends', async () => {
    const at = messagesOf(dict)
    expect(at.map((m) => m.type)).toEqual([1, 2, 2, 3, 3, 3])
    const { out, reader } = await heads(dict)
    expect(out.map((o) => [o.head.type, o.head.rows, o.head.dictionaryId, o.head.isDelta])).toEqual([
      [MessageType.Schema, 0, 0, false],
      [MessageType.DictionaryBatch, 0, 0, false],
      [MessageType.DictionaryBatch, 0, 1, false],
      [MessageType.RecordBatch, 2, 0, false],
      [MessageType.RecordBatch, 2, 0, false],
      [MessageType.RecordBatch, 1, 0, false],
    ])
    out.forEach((o, i) => {
      const m = at[i] as (typeof at)[number]
      expect(o.head.bodyLength).toBe(m.bodyLength)
      expect(o.head.head).toEqual(dict.slice(m.start, m.bodyStart))
      expect(o.message).toEqual(dict.slice(m.start, m.bodyStart + m.bodyLength))
      expect(o.at).toBe(m.bodyStart)
    })
    // The end marker's 8 bytes were read.
    expect(reader.position).toBe(dict.length)
  })

  it('gives a record batch’s metadata parsed: its rows, nodes and buffers', async () => {
    const { out } = await heads(small)
    const batch = out[1]?.head.meta
    expect(batch?.type).toBe(MessageType.RecordBatch)
    expect(batch?.bodyLength).toBe(32)
    if (batch?.type !== MessageType.RecordBatch) throw new Error('expected a record batch')
    expect(batch.batch.length).toBe(4)
  })

  it('reads a delta dictionary batch’s id and flag', async () => {
    const m = messagesOf(dict)
    const recordsAt = (m[3] as (typeof m)[number]).start
    const bytes = concat(dict.subarray(0, recordsAt), delta, dict.subarray(recordsAt))
    const { out } = await heads(bytes)
    expect(out.map((o) => [o.head.type, o.head.rows, o.head.dictionaryId, o.head.isDelta])[3]).toEqual([
      MessageType.DictionaryBatch,
      0,
      1,
      true,
    ])
    expect(out[3]?.head.bodyLength).toBe(16)
    expect(out[3]?.message).toEqual(delta)
    expect(out.length).toBe(7)
  })

  it('reads the same messages whatever the window and however short the reads', async () => {
    const whole = await heads(dict)
    for (const [window, perRead] of [
      [8, undefined],
      [64, undefined],
      [300, 7],
      [4096, 1],
    ] as const) {
      const { out } = await heads(dict, window, perRead)
      expect(out.map((o) => o.message)).toEqual(whole.out.map((o) => o.message))
      expect(out.map((o) => o.at)).toEqual(whole.out.map((o) => o.at))
    }
  })

  it('reads from a real file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lastmile-io-ipc-'))
    try {
      const path = join(dir, 'small.arrows')
      writeFileSync(path, small)
      const handle = await open(path, 'r')
      try {
        const reader = new MessageReader(handle, 0, small.length, 'small.arrows')
        const schema = (await reader.nextHead()) as MessageHead
        expect(schema.type).toBe(MessageType.Schema)
        const batch = (await reader.nextHead()) as MessageHead
        const message = await reader.body(batch)
        expect(Array.from(new Float64Array(message.slice(batch.head.length).buffer))).toEqual([1.5, 2.5, 3.5, 4.5])
        expect(await reader.nextHead()).toBeUndefined()
      } finally {
        await handle.close()
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('MessageReader: the end of a stream', () => {
  const [, second] = messagesOf(small)
  const end = (second?.bodyStart as number) + 32

  it('ends at the end-of-stream marker, and where the data ends without one', async () => {
    expect((await heads(small)).out.length).toBe(2)
    expect((await heads(small.slice(0, end))).out.length).toBe(2)
  })

  it('ends at an old-style 4-byte zero marker, and at fewer than 4 bytes left', async () => {
    expect((await heads(concat(small.subarray(0, end), Uint8Array.of(0, 0, 0, 0)))).out.length).toBe(2)
    for (const tail of [[0xff], [0xff, 0xff, 0xff], [1, 2]]) {
      const { out, reader } = await heads(concat(small.subarray(0, end), Uint8Array.from(tail)))
      expect(out.length).toBe(2)
      expect(reader.position).toBe(end)
    }
  })

  it('refuses a continuation marker with no length after it', async () => {
    const bytes = concat(small.subarray(0, end), Uint8Array.of(0xff, 0xff, 0xff, 0xff))
    const e = await rejection(heads(bytes))
    expect(e).toBeInstanceOf(InvalidRequestError)
    expect(e.message).toBe(invalid('m.arrows', `a message cut short by the end of the file at byte ${end + 4}`))
  })

  it('ends at a zero metadata length at once (an empty stream)', async () => {
    const { handle } = memoryHandle(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0))
    const reader = new MessageReader(handle, 0, 8, 'e.arrows')
    expect(await reader.nextHead()).toBeUndefined()
    expect(reader.position).toBe(8)
  })

  it('reads nothing past `end`, and nothing before `start`', async () => {
    const m = messagesOf(small)
    const { handle, reads } = memoryHandle(small)
    const reader = new MessageReader(handle, m[1]?.start as number, end, 'm.arrows')
    const head = (await reader.nextHead()) as MessageHead
    expect(head.type).toBe(MessageType.RecordBatch)
    reader.skipBody(head)
    expect(await reader.nextHead()).toBeUndefined()
    expect(reads).toEqual([[m[1]?.start, end - (m[1]?.start as number)]])
  })
})

describe('MessageReader refusals', () => {
  const lengthAt = (bytes: Uint8Array, at: number, value: number) => {
    const out = bytes.slice()
    new DataView(out.buffer).setInt32(at + 4, value, true)
    return out
  }

  it('refuses bytes that are no continuation marker, at the marker’s byte', async () => {
    const e = await rejection(heads(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8)))
    expect(e).toBeInstanceOf(InvalidRequestError)
    expect(e.message).toBe(
      invalid(
        'm.arrows',
        'no message (continuation marker 0xFFFFFFFF; streams from Arrow before 0.15 without these markers are not supported) at byte 0',
      ),
    )
    const second = messagesOf(small)[1]?.start as number
    const bytes = small.slice()
    bytes.set([0xfe, 0xff, 0xff, 0xff], second)
    const f = await rejection(heads(bytes))
    expect(f.message).toMatch(new RegExp(`not supported\\) at byte ${second}$`))
  })

  it('refuses metadata that is no flatbuffer Message, naming the message’s byte', async () => {
    // After the schema message: a 16-byte metadata whose root offset (100) points outside it.
    const at = messagesOf(small)[1]?.start as number
    const bad = new Uint8Array(24)
    const view = new DataView(bad.buffer)
    view.setUint32(0, 0xffffffff, true)
    view.setInt32(4, 16, true)
    view.setUint32(8, 100, true)
    const e = await rejection(heads(concat(small.subarray(0, at), bad)))
    expect(e).toBeInstanceOf(InvalidRequestError)
    expect(e.message).toBe(
      `'m.arrows', the message at byte ${at} is malformed: 4 bytes at 100 lie outside its 16 bytes`,
    )
  })

  it('refuses a negative metadata length and one over 64 MiB, at the byte after it', async () => {
    for (const length of [-8, -1, 64 * 1024 * 1024 + 1, 0x7fffffff]) {
      const e = await rejection(heads(lengthAt(small, 0, length)))
      expect(e).toBeInstanceOf(InvalidRequestError)
      expect(e.message).toBe(
        invalid('m.arrows', `a metadata length of ${length} bytes (at most 67108864 are read) at byte 8`),
      )
    }
  })

  it('reads a metadata length of exactly 64 MiB, which this file then cannot hold', async () => {
    const e = await rejection(heads(lengthAt(small, 0, 64 * 1024 * 1024)))
    expect(e).toBeInstanceOf(InvalidRequestError)
    expect(e.message).toBe(invalid('m.arrows', 'a message cut short by the end of the file at byte 8'))
  })

  it('refuses metadata cut short by the end of the data', async () => {
    const m = messagesOf(small)[1] as ReturnType<typeof messagesOf>[number]
    const e = await rejection(heads(small.slice(0, m.bodyStart - 1)))
    expect(e.message).toBe(invalid('m.arrows', `a message cut short by the end of the file at byte ${m.start + 8}`))
  })

  it('refuses a body past the end, by one byte, at the body’s first byte; takes one that just fits', async () => {
    const m = messagesOf(small)[1] as ReturnType<typeof messagesOf>[number]
    const e = await rejection(heads(small.slice(0, m.bodyStart + 31)))
    expect(e).toBeInstanceOf(InvalidRequestError)
    expect(e.message).toBe(invalid('m.arrows', `a message body past the end of the file at byte ${m.bodyStart}`))
    expect((await heads(small.slice(0, m.bodyStart + 32))).out.length).toBe(2)
  })

  it('refuses to skip a body past the end, at the byte skipped to', async () => {
    const { handle } = memoryHandle(small)
    const reader = new MessageReader(handle, 0, small.length, 'm.arrows')
    const schema = (await reader.nextHead()) as MessageHead
    const at = reader.position
    reader.skipBody({ ...schema, bodyLength: small.length - at })
    expect(reader.position).toBe(small.length)
    const again = new MessageReader(handle, 0, small.length, 'm.arrows')
    await again.nextHead()
    let error: unknown
    try {
      again.skipBody({ ...schema, bodyLength: small.length - at + 1 })
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(InvalidRequestError)
    expect((error as Error).message).toBe(
      invalid('m.arrows', `a message body past the end of the file at byte ${small.length + 1}`),
    )
  })

  it('refuses a file shorter than the end it was opened with', async () => {
    const { handle } = memoryHandle(small)
    const reader = new MessageReader(handle, 0, small.length + 100, 'm.arrows')
    const e = await rejection(reader.nextHead())
    expect(e).toBeInstanceOf(InvalidRequestError)
    expect(e.message).toBe(`unexpected end of file at byte ${small.length}`)
  })
})

describe('MessageReader reads', () => {
  it('reads a small stream in one read of the whole', async () => {
    const { reads } = await heads(small)
    expect(reads).toEqual([[0, small.length]])
  })

  it('reads a body over half the window directly, and never reads a skipped one', async () => {
    const [, batch] = messagesOf(big)
    const b = batch?.bodyStart as number
    expect(batch?.bodyLength).toBe(12000)
    expect(b + 12000 + 8).toBe(big.length)
    const read = await heads(big, 4096)
    expect(read.reads).toEqual([
      [0, 4096],
      [b, 12000],
      [b + 12000, 8],
    ])
    const { handle, reads } = memoryHandle(big)
    const reader = new MessageReader(handle, 0, big.length, 'big.arrows', 4096)
    await reader.nextHead()
    reader.skipBody((await reader.nextHead()) as MessageHead)
    expect(reader.position).toBe(b + 12000)
    expect(await reader.nextHead()).toBeUndefined()
    expect(reads).toEqual([
      [0, 4096],
      [b + 12000, 8],
    ])
  })

  it('reads a body of exactly half the window through the window', async () => {
    const [schema, batch] = messagesOf(small)
    const m1 = schema?.metaLength as number
    const s2 = batch?.start as number
    const m2 = batch?.metaLength as number
    const b = batch?.bodyStart as number
    // Both metadata are over 32 bytes: read directly; the 32-byte body and the marker come in one window.
    expect([m1 > 32, m2 > 32, batch?.bodyLength, small.length - b]).toEqual([true, true, 32, 40])
    const { reads } = await heads(small, 64)
    expect(reads).toEqual([
      [0, 64],
      [8, m1],
      [s2, 64],
      [s2 + 8, m2],
      [b, 40],
    ])
  })
})

describe('locateMessages', () => {
  it('finds a stream’s messages from its first byte to its last', async () => {
    const { handle, reads } = memoryHandle(small)
    expect(await locateMessages(handle, small.length, 's.arrows')).toEqual({
      format: 'stream',
      start: 0,
      end: small.length,
    })
    expect(reads).toEqual([
      [0, 8],
      [small.length - 10, 10],
    ])
  })

  it('finds a file’s messages between its magic and its footer', async () => {
    const file = tableToIPC(tableFromArrays({ x: Float64Array.of(1, 2) }, { types: { x: float64() } }), {
      format: 'file',
    }) as Uint8Array
    const footer = new DataView(file.buffer).getInt32(file.length - 10, true)
    const where = await locateMessages(memoryHandle(file).handle, file.length, 'f.arrow')
    expect(where).toMatchObject({ format: 'file', start: 8, end: file.length - 10 - footer })
  })

  it('takes files shorter than the magic and the tail as streams, reading only what is there', async () => {
    for (const size of [0, 3, 7, 8, 9]) {
      const { handle, reads } = memoryHandle(new Uint8Array(size).fill(0xff))
      expect(await locateMessages(handle, size, 't.arrows')).toEqual({ format: 'stream', start: 0, end: size })
      const head = Math.min(8, size)
      expect(reads.filter(([, n]) => n > 0)).toEqual(
        [
          [0, head],
          [0, size],
        ].filter(([, n]) => (n as number) > 0),
      )
    }
  })

  it('refuses a file with the magic but too short for a footer, naming it', async () => {
    const bytes = new TextEncoder().encode('ARROW1\0\0ARROW1')
    const e = await rejection(locateMessages(memoryHandle(bytes).handle, bytes.length, 'short.arrow'))
    expect(e).toBeInstanceOf(InvalidRequestError)
    expect(e.message).toBe("'short.arrow' is not a valid Arrow IPC file: it is shorter than the magic and footer")
  })
})
