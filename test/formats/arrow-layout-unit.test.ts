/**
 * layoutBatch, checkBody and offsetAt on hand-built schemas and batch headers (plain objects, as
 * arrow-meta would hand them over): buffer and node counts, each buffer's minimum size from the
 * Arrow columnar format (validity ⌈n/8⌉, fixed n·w, offsets (n+1)·w, fixed-size-list child n·size),
 * the slot bound, and the offsets checks on bodies written byte by byte.
 */
import { describe, expect, it } from 'vitest'
import { InvalidRequestError } from '../../src/errors.js'
import { checkBody, layoutBatch, offsetAt } from '../../src/formats/arrow-layout.js'
import type { ArrowField, ArrowType, BatchMeta } from '../../src/formats/arrow-meta.js'
import { expectRefusal } from '../helpers/refusal.js'

const type = (id: number, layout: ArrowType['layout'], width: number, name: string, signed = true): ArrowType => ({
  id,
  layout,
  width,
  signed,
  name,
})
const F32 = type(3, 'fixed', 4, 'float32')
const I16 = type(2, 'fixed', 2, 'int16')
const I8 = type(2, 'fixed', 1, 'int8')
const UTF8 = type(5, 'bytes', 4, 'utf8', false)
const LARGE_UTF8 = type(20, 'bytes', 8, 'large_utf8', false)
const BOOL = type(6, 'bool', 0, 'bool', false)
const NULL = type(1, 'null', 0, 'null', false)
const STRUCT = type(13, 'struct', 0, 'struct', false)
const LIST = type(12, 'list', 4, 'list<float32>', false)
const fixedList = (size: number) => type(16, 'fixed-list', size, `fixed_size_list<float32, ${size}>`, false)

const field = (
  name: string,
  t: ArrowType,
  children: ArrowField[] = [],
  dictionary?: ArrowField['dictionary'],
): ArrowField => ({ name, type: t, children, ...(dictionary ? { dictionary } : {}) })
const batch = (length: number, nodes: Array<[number, number]>, buffers: Array<[number, number]>): BatchMeta => ({
  length,
  nodes: nodes.map(([l, nullCount]) => ({ length: l, nullCount })),
  buffers: buffers.map(([offset, l]) => ({ offset, length: l })),
})
const WHAT = 'the body, message 1'

const refused = (f: () => unknown, message: string) => expectRefusal(f, InvalidRequestError, message)

describe('layoutBatch matches nodes and buffers to the schema', () => {
  it('hands back each array with its node, buffers and children, in pre-order', () => {
    const fields = [
      field('a', F32),
      field('b', UTF8),
      field('c', BOOL),
      field('d', NULL),
      field('e', UTF8, [], { id: 7, indexType: I8 }),
      field('s', STRUCT, [field('x', I16)]),
    ]
    const meta = batch(
      3,
      [
        [3, 1],
        [3, 0],
        [3, 0],
        [3, 3],
        [3, 0],
        [3, 0],
        [5, 0],
      ],
      [
        [0, 1],
        [8, 12],
        [24, 0],
        [24, 16],
        [40, 5],
        [48, 0],
        [48, 1],
        [56, 0],
        [56, 3],
        [64, 0],
        [64, 0],
        [64, 10],
      ],
    )
    expect(layoutBatch(fields, meta, 80, WHAT)).toEqual([
      {
        field: fields[0],
        length: 3,
        nullCount: 1,
        buffers: [
          { offset: 0, length: 1 },
          { offset: 8, length: 12 },
        ],
        children: [],
      },
      {
        field: fields[1],
        length: 3,
        nullCount: 0,
        buffers: [
          { offset: 24, length: 0 },
          { offset: 24, length: 16 },
          { offset: 40, length: 5 },
        ],
        children: [],
      },
      {
        field: fields[2],
        length: 3,
        nullCount: 0,
        buffers: [
          { offset: 48, length: 0 },
          { offset: 48, length: 1 },
        ],
        children: [],
      },
      { field: fields[3], length: 3, nullCount: 3, buffers: [], children: [] },
      {
        field: fields[4],
        length: 3,
        nullCount: 0,
        buffers: [
          { offset: 56, length: 0 },
          { offset: 56, length: 3 },
        ],
        children: [],
      },
      {
        field: fields[5],
        length: 3,
        nullCount: 0,
        buffers: [{ offset: 64, length: 0 }],
        children: [
          {
            field: fields[5]?.children[0],
            length: 5,
            nullCount: 0,
            buffers: [
              { offset: 64, length: 0 },
              { offset: 64, length: 10 },
            ],
            children: [],
          },
        ],
      },
    ])
  })

  it('hands back a fixed-size list and a list with their child arrays', () => {
    const fields = [field('v', fixedList(2), [field('', F32)]), field('l', LIST, [field('item', F32)])]
    const meta = batch(
      2,
      [
        [2, 0],
        [4, 0],
        [2, 0],
        [3, 0],
      ],
      [
        [0, 0],
        [0, 0],
        [0, 16],
        [16, 0],
        [16, 12],
        [32, 0],
        [32, 12],
      ],
    )
    const [v, l] = layoutBatch(fields, meta, 48, WHAT)
    expect(v?.buffers).toEqual([{ offset: 0, length: 0 }])
    expect(v?.children.map((c) => [c.length, c.buffers])).toEqual([
      [
        4,
        [
          { offset: 0, length: 0 },
          { offset: 0, length: 16 },
        ],
      ],
    ])
    expect(l?.buffers).toEqual([
      { offset: 16, length: 0 },
      { offset: 16, length: 12 },
    ])
    expect(l?.children.map((c) => [c.length, c.buffers])).toEqual([
      [
        3,
        [
          { offset: 32, length: 0 },
          { offset: 32, length: 12 },
        ],
      ],
    ])
  })

  it('refuses a batch that runs out of buffers or field nodes, naming the column', () => {
    const fields = [field('a', F32), field('b', UTF8)]
    refused(
      () =>
        layoutBatch(
          fields,
          batch(
            1,
            [
              [1, 0],
              [1, 0],
            ],
            [
              [0, 0],
              [0, 4],
              [8, 0],
              [8, 8],
            ],
          ),
          24,
          WHAT,
        ),
      "the body, message 1: column 'b' needs more buffers than the 4 the batch has",
    )
    refused(
      () =>
        layoutBatch(
          fields,
          batch(
            1,
            [[1, 0]],
            [
              [0, 0],
              [0, 4],
            ],
          ),
          24,
          WHAT,
        ),
      "the body, message 1: column 'b' has no field node (the batch has 1)",
    )
  })

  it('holds top-level arrays to the batch length exactly, children to at least their parent', () => {
    const a = [field('a', I8)]
    const one = (length: number) =>
      batch(
        3,
        [[length, 0]],
        [
          [0, 0],
          [0, 8],
        ],
      )
    refused(() => layoutBatch(a, one(4), 8, WHAT), "the body, message 1: column 'a' has 4 values, expected 3")
    refused(() => layoutBatch(a, one(2), 8, WHAT), "the body, message 1: column 'a' has 2 values, expected 3")
    expect(layoutBatch(a, one(3), 8, WHAT)[0]?.length).toBe(3)

    const s = [field('s', STRUCT, [field('x', I8)])]
    // Three parent rows over a child of `child` values (no validity, no offsets, 8 bytes of values).
    const nested = (child: number) =>
      batch(
        3,
        [
          [3, 0],
          [child, 0],
        ],
        [
          [0, 0],
          [0, 0],
          [0, 8],
        ],
      )
    refused(
      () => layoutBatch(s, nested(2), 8, WHAT),
      "the body, message 1: column 's.x' has 2 values, expected at least 3",
    )
    expect(layoutBatch(s, nested(4), 8, WHAT)[0]?.children[0]?.length).toBe(4)

    const v = [field('v', fixedList(2), [field('', I8)])]
    refused(
      () => layoutBatch(v, nested(5), 8, WHAT),
      "the body, message 1: column 'v[]' has 5 values, expected at least 6",
    )
    expect(layoutBatch(v, nested(7), 8, WHAT)[0]?.children[0]?.length).toBe(7)
  })

  it('takes a left-out validity buffer only where there are no nulls, and sizes a given one at ⌈n/8⌉', () => {
    const a = [field('a', I8)]
    const nine = (nulls: number, validity: number) =>
      batch(
        9,
        [[9, nulls]],
        [
          [0, validity],
          [8, 9],
        ],
      )
    expect(layoutBatch(a, nine(0, 0), 24, WHAT)[0]?.buffers[0]).toEqual({ offset: 0, length: 0 })
    expect(layoutBatch(a, nine(2, 2), 24, WHAT)[0]?.nullCount).toBe(2)
    refused(
      () => layoutBatch(a, nine(1, 0), 24, WHAT),
      "the body, message 1: column 'a' has a 0-byte validity buffer; 9 values need 2 bytes",
    )
    refused(
      () => layoutBatch(a, nine(0, 1), 24, WHAT),
      "the body, message 1: column 'a' has a 1-byte validity buffer; 9 values need 2 bytes",
    )
  })

  it('sizes values, bools and dictionary indices by their width', () => {
    refused(
      () =>
        layoutBatch(
          [field('f', F32)],
          batch(
            3,
            [[3, 0]],
            [
              [0, 0],
              [0, 11],
            ],
          ),
          16,
          WHAT,
        ),
      "the body, message 1: column 'f' has a 11-byte values buffer; 3 values need 12 bytes",
    )
    refused(
      () =>
        layoutBatch(
          [field('b', BOOL)],
          batch(
            9,
            [[9, 0]],
            [
              [0, 0],
              [0, 1],
            ],
          ),
          16,
          WHAT,
        ),
      "the body, message 1: column 'b' has a 1-byte values buffer; 9 values need 2 bytes",
    )
    const key = [field('k', UTF8, [], { id: 0, indexType: I16 })]
    const keys = (bytes: number) =>
      batch(
        3,
        [[3, 0]],
        [
          [0, 0],
          [0, bytes],
        ],
      )
    refused(
      () => layoutBatch(key, keys(5), 8, WHAT),
      "the body, message 1: column 'k' has a 5-byte indices buffer; 3 values need 6 bytes",
    )
    expect(layoutBatch(key, keys(6), 8, WHAT)[0]?.buffers[1]).toEqual({ offset: 0, length: 6 })
  })

  it('sizes offsets at (n+1)·width, and none for an empty array', () => {
    const strings = (t: ArrowType, n: number, bytes: number) =>
      layoutBatch(
        [field('s', t)],
        batch(
          n,
          [[n, 0]],
          [
            [0, 0],
            [0, bytes],
            [32, 0],
          ],
        ),
        32,
        WHAT,
      )
    expect(strings(UTF8, 3, 16)[0]?.buffers[1]).toEqual({ offset: 0, length: 16 })
    refused(
      () => strings(UTF8, 3, 15),
      "the body, message 1: column 's' has a 15-byte offsets buffer; 3 values need 16 bytes",
    )
    refused(
      () => strings(LARGE_UTF8, 2, 23),
      "the body, message 1: column 's' has a 23-byte offsets buffer; 2 values need 24 bytes",
    )
    expect(strings(LARGE_UTF8, 2, 24)[0]?.length).toBe(2)
    expect(strings(UTF8, 0, 0)[0]?.buffers[1]).toEqual({ offset: 0, length: 0 })
  })

  it('refuses field nodes or buffers left over, each on its own', () => {
    const a = [field('a', I8)]
    refused(
      () =>
        layoutBatch(
          a,
          batch(
            1,
            [
              [1, 0],
              [1, 0],
            ],
            [
              [0, 0],
              [0, 1],
            ],
          ),
          8,
          WHAT,
        ),
      'the body, message 1: the batch has 2 field nodes and 2 buffers; the schema uses 1 and 2',
    )
    refused(
      () =>
        layoutBatch(
          a,
          batch(
            1,
            [[1, 0]],
            [
              [0, 0],
              [0, 1],
              [0, 0],
            ],
          ),
          8,
          WHAT,
        ),
      'the body, message 1: the batch has 1 field nodes and 3 buffers; the schema uses 1 and 2',
    )
  })

  it('bounds the values a batch claims at 16 per body byte plus 65536', () => {
    const nulls = [field('n', NULL), field('m', NULL)]
    const claim = (rows: number) =>
      batch(
        rows,
        [
          [rows, rows],
          [rows, rows],
        ],
        [],
      )
    // 2 bytes of body: 16 · 2 + 65536 = 65568 values, over both columns.
    expect(layoutBatch(nulls, claim(32784), 2, WHAT)).toHaveLength(2)
    refused(
      () => layoutBatch(nulls, claim(32785), 2, WHAT),
      'the body, message 1: the batch claims 65570 values in all but its body has only 2 bytes',
    )
  })
})

describe('checkBody reads the offsets', () => {
  const i32s = (...xs: number[]) => {
    const out = new Uint8Array(4 * xs.length)
    const view = new DataView(out.buffer)
    xs.forEach((x, i) => {
      view.setInt32(4 * i, x, true)
    })
    return out
  }
  const stringsAt = (n: number, offsetsBytes: number, dataBytes: number) =>
    layoutBatch(
      [field('s', UTF8)],
      batch(
        n,
        [[n, 0]],
        [
          [0, 0],
          [0, offsetsBytes],
          [offsetsBytes, dataBytes],
        ],
      ),
      offsetsBytes + dataBytes,
      WHAT,
    )
  const body = (offsets: number[], data: string) => {
    const bytes = new Uint8Array(4 * offsets.length + data.length)
    bytes.set(i32s(...offsets))
    bytes.set(new TextEncoder().encode(data), 4 * offsets.length)
    return bytes
  }

  it('passes offsets that start at 0 or later, never decrease and end within the data', () => {
    expect(() => checkBody(stringsAt(3, 16, 5), body([0, 2, 2, 5], 'abcde'), WHAT)).not.toThrow()
    expect(() => checkBody(stringsAt(2, 12, 5), body([1, 3, 4], 'abcde'), WHAT)).not.toThrow()
  })

  it('refuses a negative first offset, a decrease and a last offset past the data', () => {
    refused(
      () => checkBody(stringsAt(2, 12, 5), body([-1, 3, 4], 'abcde'), WHAT),
      "the body, message 1: column 's' has a first offset -1 below 0",
    )
    refused(
      () => checkBody(stringsAt(3, 16, 5), body([0, 3, 1, 4], 'abcde'), WHAT),
      "the body, message 1: column 's' has offset 2 (1) below offset 1 (3)",
    )
    refused(
      () => checkBody(stringsAt(3, 16, 5), body([0, 2, 3, 6], 'abcde'), WHAT),
      "the body, message 1: column 's' has a last offset 6, past the 5 bytes of data",
    )
  })

  it('checks a list against its child length, naming the nested column', () => {
    const fields = [field('s', STRUCT, [field('l', LIST, [field('item', F32)])])]
    const arrays = layoutBatch(
      fields,
      batch(
        2,
        [
          [2, 0],
          [2, 0],
          [4, 0],
        ],
        [
          [0, 0],
          [0, 0],
          [0, 12],
          [16, 0],
          [16, 16],
        ],
      ),
      32,
      WHAT,
    )
    const bytes = new Uint8Array(32)
    bytes.set(i32s(0, 3, 5))
    refused(
      () => checkBody(arrays, bytes, WHAT),
      "the body, message 1: column 's.l' has a last offset 5, past the 4 values of its child",
    )
    bytes.set(i32s(0, 3, 4))
    expect(() => checkBody(arrays, bytes, WHAT)).not.toThrow()
  })

  it('reads no offsets of an empty array (its offsets buffer may be empty)', () => {
    expect(() => checkBody(stringsAt(0, 0, 0), new Uint8Array(0), WHAT)).not.toThrow()
  })

  it('reads 8-byte offsets as 64-bit integers, high word included', () => {
    const arrays = layoutBatch(
      [field('s', LARGE_UTF8)],
      batch(
        1,
        [[1, 0]],
        [
          [0, 0],
          [0, 16],
          [16, 3],
        ],
      ),
      24,
      WHAT,
    )
    const bytes = new Uint8Array(24)
    const view = new DataView(bytes.buffer)
    view.setBigInt64(8, 2n ** 32n, true)
    refused(
      () => checkBody(arrays, bytes, WHAT),
      "the body, message 1: column 's' has a last offset 4294967296, past the 3 bytes of data",
    )
  })
})

describe('offsetAt', () => {
  const bytes = new Uint8Array(40)
  const view = new DataView(bytes.buffer)
  view.setInt32(4, -7, true)
  view.setInt32(8, 123456, true)
  view.setBigInt64(16, 2n ** 32n + 9n, true)
  view.setBigInt64(24, -5n, true)
  view.setBigInt64(32, 3n * 2n ** 40n + 2n ** 31n, true)

  it('reads unaligned little-endian 4-byte offsets', () => {
    expect(offsetAt(view, { offset: 4, length: 8 }, 4, 0)).toBe(-7)
    expect(offsetAt(view, { offset: 4, length: 8 }, 4, 1)).toBe(123456)
  })

  it('reads 8-byte offsets from their low and high words', () => {
    const range = { offset: 16, length: 24 }
    expect(offsetAt(view, range, 8, 0)).toBe(4294967305)
    expect(offsetAt(view, range, 8, 1)).toBe(-5)
    expect(offsetAt(view, range, 8, 2)).toBe(3298534883328 + 2147483648)
  })
})
