/**
 * Arrow IPC inference bodies: valid tables decode column-wise to the values written (by hand,
 * below), and bodies whose counts lie (rows, node lengths, buffer ranges, offsets, metadata and
 * body lengths) are refused with a message that says what, in milliseconds, before anything is
 * allocated by the lie.
 */
import {
  bool,
  CompressionType,
  dictionary,
  fixedSizeList,
  float16,
  float32,
  int8,
  int64,
  list,
  setCompressionCodec,
  struct,
  tableFromArrays,
  tableToIPC,
  timestamp,
  uint64,
  utf8,
} from '@uwdata/flechette'
import { describe, expect, it } from 'vitest'
import type { ColumnSpec } from '../../src/engine/tensor.js'
import { InvalidInputError, InvalidRequestError } from '../../src/errors.js'
import { decodeArrow } from '../../src/formats/arrow.js'
import { claimingRows, firstBatch, messagesOf, withInt64 } from '../fuzz/arrow-craft.js'

type Format = 'stream' | 'file'
const ipc = (
  columns: Record<string, unknown>,
  types: Record<string, unknown>,
  format: Format = 'stream',
  maxBatchRows?: number,
) =>
  tableToIPC(tableFromArrays(columns as never, { types: types as never, ...(maxBatchRows ? { maxBatchRows } : {}) }), {
    format,
  }) as Uint8Array
const spec = (name: string, dtype: ColumnSpec['dtype'], shape: ColumnSpec['shape']): ColumnSpec => ({
  name,
  dtype,
  shape,
})
const values = (t: { data: ArrayLike<unknown> } | undefined) => Array.from(t?.data ?? [])

function refusal(f: () => unknown): { error: Error; ms: number } {
  const t0 = performance.now()
  try {
    f()
  } catch (error) {
    return { error: error as Error, ms: performance.now() - t0 }
  }
  throw new Error('expected a refusal')
}

/** The 68 KB stream of the report: 8500 rows of two float32s. */
const rows8500 = Array.from({ length: 8500 }, (_, i) => Float32Array.of(i, -i / 2))
const big = ipc({ x: rows8500 }, { x: fixedSizeList(float32(), 2) })
const pair = [spec('x', 'float32', ['N', 2])]

describe('Arrow bodies that decode', () => {
  it.each<Format>(['stream', 'file'])('reads a fixed-size list column (%s) into rows', (format) => {
    const bytes = ipc(
      { x: [Float32Array.of(1, 2), Float32Array.of(3, 4.5), Float32Array.of(-6, 7)] },
      { x: fixedSizeList(float32(), 2) },
      format,
    )
    const x = decodeArrow(bytes, pair).x
    expect(x?.dims).toEqual([3, 2])
    expect(values(x)).toEqual([1, 2, 3, 4.5, -6, 7])
  })

  it('concatenates batches in order and converts types as JSON values would', () => {
    const bytes = ipc(
      {
        x: [
          [1, 2],
          [3, 4],
          [5, 6],
          [7, 8],
          [9, 10],
        ],
        k: [1n, -2n, 3n, 4n, 2n ** 40n],
        s: ['a', 'bé', '', 'd', 'e'],
      },
      { x: list(int8()), k: int64(), s: utf8() },
      'stream',
      2,
    )
    expect(messagesOf(bytes).filter((m) => m.type === 3)).toHaveLength(3)
    const feeds = decodeArrow(bytes, [
      spec('x', 'float64', ['N', 2]),
      spec('k', 'int64', ['N']),
      spec('s', 'string', ['N']),
    ])
    expect(values(feeds.x)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    expect(values(feeds.k)).toEqual([1n, -2n, 3n, 4n, 2n ** 40n])
    expect(values(feeds.s)).toEqual(['a', 'bé', '', 'd', 'e'])
  })

  it('reads bools, float16 and dictionary-encoded keys, and columns named in.<input>', () => {
    const bytes = ipc(
      { 'in.flag': [true, false, true], h: [1, 0.5, -2], key: ['LAX', 'JFK', 'LAX'] },
      { 'in.flag': bool(), h: float16(), key: dictionary(utf8()) },
    )
    const feeds = decodeArrow(bytes, [
      spec('flag', 'bool', ['N']),
      spec('h', 'float32', ['N']),
      spec('key', 'string', ['N']),
    ])
    expect(values(feeds.flag)).toEqual([1, 0, 1])
    expect(values(feeds.h)).toEqual([1, 0.5, -2])
    expect(values(feeds.key)).toEqual(['LAX', 'JFK', 'LAX'])
  })

  it('refuses values its input cannot hold, naming the row', () => {
    const bytes = ipc({ k: [1n, 2n ** 63n + 5n, 3n] }, { k: uint64() })
    expect(refusal(() => decodeArrow(bytes, [spec('k', 'int64', ['N'])])).error.message).toMatch(
      /input 'k' \(Arrow\) row 1 is 9223372036854775813; expected an integer in \[-9223372036854775808, 9223372036854775807\]/,
    )
    const nulls = ipc({ x: [1, 2, null] }, { x: float32() })
    expect(refusal(() => decodeArrow(nulls, [spec('x', 'float32', ['N'])])).error.message).toMatch(
      /input 'x' \(Arrow\) row 2 is null/,
    )
  })

  it('refuses ragged list rows, naming the first row that differs', () => {
    const bytes = ipc(
      {
        x: [
          [1, 2],
          [3, 4],
          [5, 6, 7],
        ],
      },
      { x: list(float32()) },
    )
    const { error } = refusal(() => decodeArrow(bytes, pair))
    expect(error.message).toMatch(/input 'x' \(Arrow\) row 2: a list of 3 values where the first row's is 2/)
  })

  it('refuses types an input does not take, naming the column and the type', () => {
    const cases: Array<[Uint8Array, ColumnSpec, RegExp]> = [
      [ipc({ t: [new Date(0)] }, { t: timestamp() }), spec('t', 'float32', ['N']), /column 't' holds timestamp\[ms\]/],
      [ipc({ s: [{ a: 1 }] }, { s: struct({ a: int8() }) }), spec('s', 'float32', ['N']), /column 's' holds struct/],
      [
        ipc({ b: [true] }, { b: bool() }),
        spec('b', 'float32', ['N']),
        /column 'b' holds bool; float32 takes ints or floats/,
      ],
      [ipc({ s: ['1'] }, { s: utf8() }), spec('s', 'int32', ['N']), /column 's' holds utf8/],
    ]
    for (const [bytes, s, message] of cases) {
      const { error } = refusal(() => decodeArrow(bytes, [s]))
      expect(error).toBeInstanceOf(InvalidInputError)
      expect(error.message).toMatch(message)
    }
  })
})

describe('Arrow bodies that lie', () => {
  const batch = firstBatch(big)

  it.each([1e9, 2e7])('refuses a 68 KB stream whose batch claims %d rows, in milliseconds', (rows) => {
    expect(big.length).toBeGreaterThan(68_000)
    for (const lie of [withInt64(big, batch.lengthAt as number, rows), claimingRows(big, batch, rows)]) {
      const { error, ms } = refusal(() => decodeArrow(lie, pair))
      expect(error).toBeInstanceOf(InvalidRequestError)
      expect(error.message).toMatch(
        new RegExp(`column 'x(\\[\\])?' has \\d+ values, expected (at least )?\\d+|${rows}`),
      )
      expect(ms).toBeLessThan(1000)
    }
  })

  it('refuses a buffer that lies outside the body, and a body past the bytes', () => {
    const outside = withInt64(big, (batch.buffersAt[2] as number) + 0, 1e6)
    expect(refusal(() => decodeArrow(outside, pair)).error.message).toMatch(
      /buffer 2 \(offset 1000000, 68000 bytes\) lies outside the 68000-byte body/,
    )
    const long = withInt64(big, batch.bodyLengthAt as number, 1e12)
    expect(refusal(() => decodeArrow(long, pair)).error.message).toMatch(
      /a message body of 1000000000000 bytes at byte 352, past the end/,
    )
    const cut = big.subarray(0, big.length - 100)
    expect(refusal(() => decodeArrow(cut, pair)).error.message).toMatch(/past the end/)
  })

  it('refuses a values buffer shorter than its node claims', () => {
    const short = withInt64(big, (batch.buffersAt[2] as number) + 8, 100)
    expect(refusal(() => decodeArrow(short, pair)).error.message).toMatch(
      /column 'x\[\]' has a 100-byte values buffer; 17000 values need 68000 bytes/,
    )
  })

  it('refuses nulls claimed without a validity bitmap', () => {
    const nulls = withInt64(big, (batch.nodesAt[0] as number) + 8, 3)
    expect(refusal(() => decodeArrow(nulls, pair)).error.message).toMatch(
      /column 'x' has a 0-byte validity buffer; 8500 values need 1063 bytes/,
    )
  })

  it('refuses utf8 and list offsets that decrease or pass their data', () => {
    const strings = ipc({ s: ['ab', 'cd', 'ef'] }, { s: utf8() })
    const b = firstBatch(strings)
    const offsetsAt = b.bodyStart + Number(new DataView(strings.buffer).getBigInt64(b.buffersAt[1] as number, true))
    const patch = (i: number, v: number) => {
      const out = strings.slice()
      new DataView(out.buffer).setInt32(offsetsAt + 4 * i, v, true)
      return out
    }
    const s = [spec('s', 'string', ['N'])]
    expect(refusal(() => decodeArrow(patch(2, 1), s)).error.message).toMatch(
      /column 's' has offset 2 \(1\) below offset 1 \(2\)/,
    )
    expect(refusal(() => decodeArrow(patch(3, 1e6), s)).error.message).toMatch(
      /column 's' has a last offset 1000000, past the 8 bytes of data/,
    )
    expect(refusal(() => decodeArrow(patch(0, -4), s)).error.message).toMatch(/a first offset -4 below 0/)
  })

  it('refuses list offsets past the child, and dictionary batches for ids no column uses', () => {
    const lists = ipc(
      {
        x: [
          [1, 2],
          [3, 4],
        ],
      },
      { x: list(float32()) },
    )
    const b = firstBatch(lists)
    const offsetsAt = b.bodyStart + Number(new DataView(lists.buffer).getBigInt64(b.buffersAt[1] as number, true))
    const past = lists.slice()
    new DataView(past.buffer).setInt32(offsetsAt + 8, 5, true)
    expect(refusal(() => decodeArrow(past, pair)).error.message).toMatch(
      /column 'x' has a last offset 5, past the 4 values of its child/,
    )
    // Two dictionaries: the second's id (1) is written (a default 0 would not be).
    const keyed = ipc({ a: ['p', 'q'], key: ['a', 'b'] }, { a: dictionary(utf8()), key: dictionary(utf8()) })
    const dict = messagesOf(keyed).filter((m) => m.type === 2)[1]
    const stray = withInt64(keyed, dict?.idAt as number, 99)
    const keys = [spec('a', 'string', ['N']), spec('key', 'string', ['N'])]
    expect(values(decodeArrow(keyed, keys).key)).toEqual(['a', 'b'])
    expect(refusal(() => decodeArrow(stray, keys)).error.message).toMatch(
      /message 2: a dictionary batch for id 99, which no column uses/,
    )
  })

  it('refuses metadata and vectors that claim more than the bytes hold', () => {
    const meta = big.slice()
    new DataView(meta.buffer).setInt32(4, 2 ** 30, true)
    expect(refusal(() => decodeArrow(meta, pair)).error.message).toMatch(
      /message metadata of 1073741824 bytes at byte 0, past the end/,
    )
    // The nodes vector's length word sits 4 bytes before its first node.
    const nodes = big.slice()
    new DataView(nodes.buffer).setUint32((batch.nodesAt[0] as number) - 4, 2 ** 31, true)
    expect(refusal(() => decodeArrow(nodes, pair)).error.message).toMatch(
      /a vector of 2147483648 entries at \d+, past the end/,
    )
  })

  it("refuses a schema without columns (nothing would bound its batches' rows)", () => {
    const empty = tableToIPC(tableFromArrays({}), { format: 'stream' }) as Uint8Array
    expect(refusal(() => decodeArrow(empty, pair)).error.message).toMatch(/message 0: a schema without columns/)
  })

  it('refuses compressed bodies clearly', () => {
    setCompressionCodec(CompressionType.ZSTD, { encode: (b: Uint8Array) => b, decode: (b: Uint8Array) => b })
    const compressed = tableToIPC(tableFromArrays({ x: [1, 2, 3] }), {
      format: 'stream',
      codec: CompressionType.ZSTD,
    }) as Uint8Array
    expect(refusal(() => decodeArrow(compressed, [spec('x', 'float64', ['N'])])).error.message).toMatch(
      /compressed Arrow bodies \(LZ4, ZSTD\) are not supported/,
    )
  })

  it('bounds decoded bytes by 8 × the body: empty rows still cost their rows', () => {
    // 60 000 rows of zero values: no buffer bytes, under the batch's slot allowance.
    const empty = ipc(
      { x: Array.from({ length: 60_000 }, () => new Float32Array(0)) },
      { x: fixedSizeList(float32(), 0) },
    )
    const { error } = refusal(() => decodeArrow(empty, [spec('x', 'float32', ['N', 0])]))
    expect(error.message).toMatch(
      new RegExp(
        `input 'x' \\(Arrow\\): 0 values of float32 need 240000 bytes, more than .* \\(8 × the body's ${empty.length} bytes\\)`,
      ),
    )
  })

  it('applies the configured limit', () => {
    expect(refusal(() => decodeArrow(big, pair, { maxTensorBytes: 67_999 })).error.message).toMatch(
      /input 'x' \(Arrow\): 17000 values of float32 need 68000 bytes, more than the 67999 bytes left of the request's limit of 67999 \(LASTMILE_TENSOR_LIMIT_BYTES\)/,
    )
    expect(decodeArrow(big, pair, { maxTensorBytes: 68_000 }).x?.dims).toEqual([8500, 2])
  })
})
