/**
 * The IPC framing and the rules across messages: MessageChecker on hand-made message metadata,
 * messageRegion on hand-written file heads and tails, and readIpc on streams and files written by
 * flechette, cut, patched and spliced (a delta dictionary batch is encoded with flechette's own
 * message encoder, its body written by hand).
 */
import { dictionary, float64, tableFromArrays, tableToIPC, utf8 } from '@uwdata/flechette'
import { describe, expect, it } from 'vitest'
import type { ColumnSpec } from '../../src/engine/tensor.js'
import { InvalidRequestError } from '../../src/errors.js'
import { MessageChecker, messageRegion, readIpc } from '../../src/formats/arrow-ipc.js'
import type { ArrowField, ArrowType, MessageMeta } from '../../src/formats/arrow-meta.js'
import { tensorsFromArrow } from '../../src/formats/arrow-tensors.js'
import { TensorBudget } from '../../src/formats/limits.js'
import { type MessageAt, messagesOf } from '../fuzz/arrow-craft.js'
import { expectRefusal } from '../helpers/refusal.js'

const refused = (f: () => unknown, message: string) => expectRefusal(f, InvalidRequestError, message)

const type = (id: number, layout: ArrowType['layout'], width: number, name: string): ArrowType => ({
  id,
  layout,
  width,
  signed: true,
  name,
})
const UTF8 = type(5, 'bytes', 4, 'utf8')
const I32 = type(2, 'fixed', 4, 'int32')
const STRUCT = type(13, 'struct', 0, 'struct')
const keyField: ArrowField = { name: 'k', type: UTF8, children: [], dictionary: { id: 0, indexType: I32 } }
const numField: ArrowField = { name: 'n', type: I32, children: [] }
const schemaMessage = (fields: ArrowField[], dictionaries: Array<[number, ArrowField]> = []): MessageMeta => ({
  type: 1,
  bodyLength: 0,
  schema: { fields, dictionaries: new Map(dictionaries) },
})
const valuesOfK: ArrowField = { name: 'k', type: UTF8, children: [] }
/** A dictionary batch of one word ('x'): validity, offsets [0, 1], data. */
const dictionaryMessage = (id: number, isDelta: boolean): MessageMeta => ({
  type: 2,
  bodyLength: 16,
  id,
  isDelta,
  batch: {
    length: 1,
    nodes: [{ length: 1, nullCount: 0 }],
    buffers: [
      { offset: 0, length: 0 },
      { offset: 0, length: 8 },
      { offset: 8, length: 1 },
    ],
  },
})
/** A record batch of two rows of one fixed-width or dictionary column. */
const recordMessage = (columns = 1): MessageMeta => ({
  type: 3,
  bodyLength: 8 * columns,
  batch: {
    length: 2,
    nodes: Array.from({ length: columns }, () => ({ length: 2, nullCount: 0 })),
    buffers: Array.from({ length: columns }, (_, i) => [
      { offset: 8 * i, length: 0 },
      { offset: 8 * i, length: 8 },
    ]).flat(),
  },
})

describe('MessageChecker', () => {
  it('takes a schema, its dictionaries, then record batches, and hands back each batch’s arrays', () => {
    const c = new MessageChecker('the body')
    expect(c.schema).toBeUndefined()
    const schema = schemaMessage([keyField, numField], [[0, valuesOfK]])
    expect(c.check(schema)).toBeUndefined()
    expect(c.schema).toBe(schema.type === 1 ? schema.schema : undefined)
    const dict = c.check(dictionaryMessage(0, false), Uint8Array.of(0, 0, 0, 0, 1, 0, 0, 0, 120, 0, 0, 0, 0, 0, 0, 0))
    expect(dict?.map((a) => [a.field.name, a.length])).toEqual([['k', 1]])
    expect(c.check(dictionaryMessage(0, true))?.[0]?.length).toBe(1)
    const record = c.check(recordMessage(2))
    expect(record?.map((a) => [a.field.name, a.length, a.buffers])).toEqual([
      [
        'k',
        2,
        [
          { offset: 0, length: 0 },
          { offset: 0, length: 8 },
        ],
      ],
      [
        'n',
        2,
        [
          { offset: 8, length: 0 },
          { offset: 8, length: 8 },
        ],
      ],
    ])
  })

  it('refuses a second schema, a schema without columns and a batch before the schema, numbering messages', () => {
    const c = new MessageChecker('the body')
    c.check(schemaMessage([numField]))
    refused(() => c.check(schemaMessage([numField])), 'the body, message 1: a second schema message')
    refused(() => new MessageChecker('x').check(schemaMessage([])), 'x, message 0: a schema without columns')
    refused(() => new MessageChecker('x').check(recordMessage()), 'x, message 0: a batch before the schema message')
  })

  it('refuses a dictionary batch no column uses and a delta before its first batch', () => {
    const c = new MessageChecker('the body')
    c.check(schemaMessage([keyField], [[0, valuesOfK]]))
    refused(
      () => c.check(dictionaryMessage(5, false)),
      'the body, message 1: a dictionary batch for id 5, which no column uses',
    )
    refused(
      () => c.check(dictionaryMessage(0, true)),
      'the body, message 2: a delta for dictionary 0 before its first batch',
    )
  })

  it('refuses a record batch whose column, nested or not, uses a dictionary not yet sent', () => {
    const c = new MessageChecker('the body')
    c.check(schemaMessage([keyField], [[0, valuesOfK]]))
    refused(() => c.check(recordMessage()), "the body, message 1: column 'k' uses dictionary 0 before it is sent")

    const nested = new MessageChecker('the body')
    nested.check(schemaMessage([{ name: 's', type: STRUCT, children: [keyField] }], [[0, valuesOfK]]))
    const inStruct: MessageMeta = {
      type: 3,
      bodyLength: 8,
      batch: {
        length: 2,
        nodes: [
          { length: 2, nullCount: 0 },
          { length: 2, nullCount: 0 },
        ],
        buffers: [
          { offset: 0, length: 0 },
          { offset: 0, length: 0 },
          { offset: 0, length: 8 },
        ],
      },
    }
    refused(() => nested.check(inStruct), "the body, message 1: column 'k' uses dictionary 0 before it is sent")
    nested.check(dictionaryMessage(0, false))
    expect(nested.check(inStruct)?.[0]?.children[0]?.field.name).toBe('k')
  })

  it('checks the offsets of a body when it is given, and not without it', () => {
    const c = new MessageChecker('the body')
    c.check(schemaMessage([keyField], [[0, valuesOfK]]))
    const past = Uint8Array.of(0, 0, 0, 0, 2, 0, 0, 0, 120, 0, 0, 0, 0, 0, 0, 0)
    refused(
      () => c.check(dictionaryMessage(0, false), past),
      "the body, message 1: column 'k' has a last offset 2, past the 1 bytes of data",
    )
    expect(c.check(dictionaryMessage(0, false))?.[0]?.length).toBe(1)
  })
})

describe('messageRegion', () => {
  const bytes = (...parts: Array<string | number[]>) =>
    Uint8Array.from(parts.flatMap((p) => (typeof p === 'string' ? Array.from(p, (c) => c.charCodeAt(0)) : p)))
  /** A file tail: the footer length (int32, little-endian) and the magic. */
  const tail = (footerLength: number, magic = 'ARROW1') =>
    bytes(
      [footerLength & 0xff, (footerLength >> 8) & 0xff, (footerLength >> 16) & 0xff, (footerLength >>> 24) & 0xff],
      magic,
    )
  const HEAD = bytes('ARROW1', [0, 0])

  it('takes a body without the leading magic as a stream, all of it', () => {
    expect(messageRegion(bytes([255, 255, 255, 255, 0, 0, 0, 0]), tail(4), 40, 'b')).toEqual({
      format: 'stream',
      start: 0,
      end: 40,
    })
    expect(messageRegion(bytes('ARROW'), tail(4), 5, 'b')).toEqual({ format: 'stream', start: 0, end: 5 })
  })

  it('takes the messages of a file between its 8-byte magic and its footer', () => {
    expect(messageRegion(HEAD, tail(4), 30, 'b')).toEqual({ format: 'file', start: 8, end: 16, footerLength: 4 })
    expect(messageRegion(bytes('ARROW1'), tail(12), 30, 'b')).toEqual({
      format: 'file',
      start: 8,
      end: 8,
      footerLength: 12,
    })
  })

  it('refuses a file too short, without its trailing magic, or with a footer length out of range', () => {
    refused(
      () => messageRegion(HEAD, tail(1), 17, 'the body'),
      'the body is not a valid Arrow IPC file: it is shorter than the magic and footer',
    )
    refused(
      () => messageRegion(HEAD, tail(0), 18, 'the body'),
      'the body is not a valid Arrow IPC file: footer length 0',
    )
    refused(
      () => messageRegion(HEAD, tail(4, 'ARROW2'), 30, 'the body'),
      'the body is not a valid Arrow IPC file: the trailing magic ARROW1 is missing',
    )
    refused(
      () => messageRegion(HEAD, tail(-4), 30, 'the body'),
      'the body is not a valid Arrow IPC file: footer length -4',
    )
    refused(
      () => messageRegion(HEAD, tail(13), 30, 'the body'),
      'the body is not a valid Arrow IPC file: footer length 13',
    )
  })
})

describe('readIpc', () => {
  const table = (k: string[], n: number[], maxBatchRows?: number) =>
    tableFromArrays(
      { k, n },
      { types: { k: dictionary(utf8()), n: float64() }, ...(maxBatchRows ? { maxBatchRows } : {}) },
    )
  const stream = (k: string[], n: number[], maxBatchRows?: number) =>
    tableToIPC(table(k, n, maxBatchRows), { format: 'stream' }) as Uint8Array
  const file = (k: string[], n: number[]) => tableToIPC(table(k, n), { format: 'file' }) as Uint8Array
  const cat = (...parts: Uint8Array[]) => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
    let at = 0
    for (const p of parts) {
      out.set(p, at)
      at += p.length
    }
    return out
  }
  const whole = (bytes: Uint8Array, m: MessageAt) => bytes.subarray(m.start, m.bodyStart + m.bodyLength)
  const ENCODER = '@uwdata/flechette/src/encode/encode-ipc.js'
  type Encode = (data: unknown) => { finish(): Uint8Array }
  /** A delta dictionary batch for id 0 of the words 'c' and 'd', its body laid out by hand. */
  async function deltaCD(): Promise<Uint8Array> {
    const { encodeIPC } = (await import(ENCODER)) as { encodeIPC: Encode }
    const data = {
      byteLength: 24,
      nodes: [{ length: 2, nullCount: 0 }],
      regions: [
        { offset: 0, length: 0 },
        { offset: 0, length: 12 },
        { offset: 16, length: 2 },
      ],
      variadic: [],
      buffers: [new Uint8Array(0), Uint8Array.of(0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0), Uint8Array.of(99, 100)],
    }
    const bytes = encodeIPC({ dictionaries: [{ id: 0, isDelta: true, data }] }).finish()
    return bytes.subarray(0, bytes.length - 8) // without its end-of-stream marker
  }

  it('reads the schema and each record batch with the dictionaries in force', () => {
    const bytes = stream(['a', 'b', 'a', 'c', 'b'], [1, 2, 3, 4, 5], 2)
    expect(messagesOf(bytes).map((m) => m.type)).toEqual([1, 2, 3, 3, 3])
    const { schema, batches } = readIpc(bytes)
    expect(schema.fields.map((f) => f.name)).toEqual(['k', 'n'])
    expect(batches.map((b) => b.length)).toEqual([2, 2, 1])
    expect(batches.map((b) => [...b.dictionaries].map(([id, parts]) => [id, parts.map((p) => p.length)]))).toEqual([
      [[0, [3]]],
      [[0, [3]]],
      [[0, [3]]],
    ])
    expect(batches[2]?.arrays.map((a) => [a.field.name, a.length])).toEqual([
      ['k', 1],
      ['n', 1],
    ])
  })

  it('reads a file the same way, between its magic and footer', () => {
    const { schema, batches } = readIpc(file(['x', 'y', 'x'], [0.5, 1, 2]))
    expect(schema.fields.map((f) => [f.name, f.type.name])).toEqual([
      ['k', 'utf8'],
      ['n', 'float64'],
    ])
    expect(batches.map((b) => [b.length, b.body.length])).toEqual([[3, 40]])
  })

  const spec: ColumnSpec = { name: 'k', dtype: 'string', shape: ['N'] }

  it('appends a delta to the dictionary in force, and a replacement starts it over', async () => {
    const first = stream(['a', 'b'], [1, 2])
    const later = stream(['a', 'b', 'c', 'd', 'b'], [1, 2, 3, 4, 5])
    const [schema, dict] = messagesOf(first) as [MessageAt, MessageAt]
    const [, replacement, record] = messagesOf(later) as [MessageAt, MessageAt, MessageAt]
    const delta = await deltaCD()
    const withDelta = readIpc(cat(whole(first, schema), whole(first, dict), delta, whole(later, record)))
    const parts = withDelta.batches[0]?.dictionaries.get(0)
    expect(parts?.map((p) => [p.length, p.arrays[0]?.length])).toEqual([
      [2, 2],
      [2, 2],
    ])
    expect(Array.from(parts?.[1]?.body.subarray(16, 18) ?? [])).toEqual([99, 100])
    const keys = tensorsFromArrow(withDelta.schema.fields, withDelta.batches, [spec], new TensorBudget(1 << 20))
    expect(keys.k).toEqual({ dtype: 'string', dims: [5], data: ['a', 'b', 'c', 'd', 'b'] })
    const replaced = readIpc(
      cat(whole(first, schema), whole(first, dict), delta, whole(later, replacement), whole(later, record)),
    )
    expect(replaced.batches[0]?.dictionaries.get(0)?.map((p) => p.length)).toEqual([4])
    const again = tensorsFromArrow(replaced.schema.fields, replaced.batches, [spec], new TensorBudget(1 << 20))
    expect(again.k?.data).toEqual(['a', 'b', 'c', 'd', 'b'])
  })

  it('reads a stream that ends right after its last message, without an end marker', () => {
    const bytes = stream(['a', 'b'], [1, 2])
    const [schema, , record] = messagesOf(bytes) as [MessageAt, MessageAt, MessageAt]
    expect(bytes.length).toBe(record.bodyStart + record.bodyLength + 8)
    expect(readIpc(bytes.subarray(0, bytes.length - 8)).batches.map((b) => b.length)).toEqual([2])
    const only = readIpc(whole(bytes, schema))
    expect([only.schema.fields.length, only.batches.length]).toEqual([2, 0])
  })

  it('stops at the 4-byte end marker of streams before Arrow 0.15, whatever follows', () => {
    const bytes = stream(['a', 'b'], [1, 2])
    const body = bytes.subarray(0, bytes.length - 8)
    const old = cat(body, Uint8Array.of(0, 0, 0, 0, 0xab, 0xcd, 0xef, 0x01, 0x23))
    expect(readIpc(old).batches.map((b) => b.length)).toEqual([2])
  })

  it('refuses bytes that are not a message, a message cut short and a body past the end', () => {
    const bytes = stream(['a', 'b'], [1, 2])
    const end = bytes.length - 8
    const body = bytes.subarray(0, end)
    refused(
      () => readIpc(cat(body, Uint8Array.of(1, 2, 3, 4, 0, 0, 0, 0)), 'the body'),
      `the body is not an Arrow IPC stream or file: no message at byte ${end} (continuation marker 0xFFFFFFFF expected)`,
    )
    refused(
      () => readIpc(cat(body, Uint8Array.of(255, 255, 255, 255)), 'the body'),
      `the body is not an Arrow IPC stream or file: a message cut short at byte ${end}`,
    )
    refused(
      () => readIpc(cat(body, Uint8Array.of(255, 255, 255, 255, 8)), 'the body'),
      `the body is not an Arrow IPC stream or file: a message cut short at byte ${end}`,
    )
    const record = messagesOf(bytes)[2] as MessageAt
    refused(
      () => readIpc(bytes.subarray(0, end - 1), 'the body'),
      `the body is not an Arrow IPC stream or file: a message body of ${record.bodyLength} bytes at byte ${record.bodyStart}, past the end`,
    )
  })

  it('refuses metadata lengths below 0 or past the end, by one byte', () => {
    const bytes = stream(['a', 'b'], [1, 2])
    const [schema, dict] = messagesOf(bytes) as [MessageAt, MessageAt]
    const withLength = (m: MessageAt, length: number, upTo: number) => {
      const out = bytes.slice(0, upTo)
      new DataView(out.buffer).setInt32(m.start + 4, length, true)
      return out
    }
    refused(
      () => readIpc(withLength(schema, -1, bytes.length), 'the body'),
      'the body is not an Arrow IPC stream or file: message metadata of -1 bytes at byte 0, past the end',
    )
    // The schema message alone: its metadata is all that follows its 8-byte prefix.
    const schemaEnd = schema.bodyStart
    refused(
      () => readIpc(withLength(schema, schema.metaLength + 1, schemaEnd), 'the body'),
      `the body is not an Arrow IPC stream or file: message metadata of ${schema.metaLength + 1} bytes at byte 0, past the end`,
    )
    const dictEnd = dict.bodyStart + dict.bodyLength
    refused(
      () => readIpc(withLength(dict, dict.metaLength + dict.bodyLength + 1, dictEnd), 'the body'),
      `the body is not an Arrow IPC stream or file: message metadata of ${dict.metaLength + dict.bodyLength + 1} bytes at byte ${dict.start}, past the end`,
    )
  })

  it('refuses a body without a schema message', () => {
    refused(
      () => readIpc(new Uint8Array(0)),
      'the Arrow body is not an Arrow IPC stream or file: it has no schema message',
    )
    refused(
      () => readIpc(Uint8Array.of(255, 255, 255, 255, 0, 0, 0, 0), 'the body'),
      'the body is not an Arrow IPC stream or file: it has no schema message',
    )
  })

  it('refuses a file of only its magic and a zero footer length', () => {
    const bytes = Uint8Array.of(65, 82, 82, 79, 87, 49, 0, 0, 0, 0, 0, 0, 65, 82, 82, 79, 87, 49)
    refused(() => readIpc(bytes, 'the body'), 'the body is not a valid Arrow IPC file: footer length 0')
  })
})
