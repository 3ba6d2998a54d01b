/**
 * Fuzzing Arrow IPC inference through a real HTTP server: tables built with flechette (varied
 * column types, batch sizes, nulls, extra columns, stream and file), the same tables with lying
 * counts patched into their flatbuffers (batch and node lengths, null counts, buffer ranges, body
 * lengths), byte mutations of valid bodies, and hostile dataset queries and Accept headers each
 * answer a 2xx or a 4xx within the case bound; known-good requests still answer correctly
 * afterwards. The report's crafted bodies (a 68 KB stream claiming 1e9 and 2e7 rows, 3-byte
 * mutations of a small body) are explicit cases.
 */
import {
  bool,
  type DataType,
  dictionary,
  fixedSizeList,
  float32,
  float64,
  int8,
  int32,
  int64,
  list,
  tableFromArrays,
  tableFromIPC,
  tableToIPC,
  timestamp,
  utf8,
} from '@uwdata/flechette'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { claimingRows, firstBatch, messagesOf, withInt64 } from './arrow-craft.js'
import { fuzzParams } from './budget.js'
import { acceptHeader, columnFits, datasetQuery, queryString } from './dataset-query.js'
import { type FuzzServer, fuzzServer } from './inference-server.js'
import { mutated, overwritten } from './mutate.js'

type Format = 'stream' | 'file'
const TYPE = (format: Format) => ({ 'content-type': `application/vnd.apache.arrow.${format}` })
const ipc = (
  columns: Record<string, unknown[]>,
  types: Record<string, DataType>,
  format: Format,
  maxBatchRows: number,
) => tableToIPC(tableFromArrays(columns as never, { types: types as never, maxBatchRows }), { format }) as Uint8Array

/** How a column may be typed, and its values for `rows` rows of `width` numbers (row i: i, -i/2, ...). */
const numbers = (type: () => DataType, int: boolean) => ({ type, int })
const LEAVES = [numbers(float32, false), numbers(float64, false), numbers(int8, true), numbers(int32, true)]

/** A table for `double` (x: 2 numbers a row) or `mixed` (a: 3 numbers, b: one int, c: 2 bools). */
const table = fc
  .record({
    pipeline: fc.constantFrom('double', 'mixed'),
    rows: fc.oneof(fc.constant(0), { weight: 5, arbitrary: fc.integer({ min: 1, max: 6 }) }),
    leaf: fc.constantFrom(...LEAVES),
    fixed: fc.boolean(),
    // Each flaw in about one table in five, so most tables are valid and reach the model.
    nullRow: fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, fc.nat(5)),
    prefix: fc.constantFrom('', 'in.'),
    extra: fc.oneof(
      { weight: 4, arbitrary: fc.constant(undefined) },
      fc.constantFrom('utf8', 'dictionary', 'timestamp'),
    ),
    format: fc.constantFrom<Format>('stream', 'file'),
    maxBatchRows: fc.integer({ min: 1, max: 4 }),
    ragged: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, fc.constant(true)),
  })
  .map((t) => {
    const row = (i: number, width: number) => {
      const n = t.ragged && !t.fixed && i === 1 ? width + 1 : width
      return Array.from({ length: n }, (_, j) => (t.leaf.int ? (i + j) % 100 : i - j / 2))
    }
    const listOf = (type: DataType, width: number) => (t.fixed && !t.ragged ? fixedSizeList(type, width) : list(type))
    const columns: Record<string, unknown[]> = {}
    const types: Record<string, DataType> = {}
    const rows = Array.from({ length: t.rows }, (_, i) => i)
    const withNull = (values: unknown[]) => values.map((v, i) => (i === t.nullRow ? null : v))
    if (t.pipeline === 'double') {
      columns[`${t.prefix}x`] = withNull(rows.map((i) => row(i, 2)))
      types[`${t.prefix}x`] = listOf(t.leaf.type(), 2)
    } else {
      columns[`${t.prefix}a`] = withNull(rows.map((i) => row(i, 3)))
      types[`${t.prefix}a`] = listOf(t.leaf.type(), 3)
      columns.b = rows.map((i) => BigInt(i * 7 - 3))
      types.b = int64()
      columns.c = rows.map((i) => [i % 2 === 0, i % 3 === 0])
      types.c = listOf(bool(), 2)
    }
    // What the model answers for a valid table: y = 2·x, or ya = 3·a, yb = b, yc = c as ints.
    const expected: Record<string, unknown[]> =
      t.pipeline === 'double'
        ? { 'out.y': rows.map((i) => row(i, 2).map((v) => 2 * v)) }
        : {
            'out.ya': rows.map((i) => row(i, 3).map((v) => 3 * v)),
            'out.yb': rows.map((i) => i * 7 - 3),
            'out.yc': rows.map((i) => [i % 2 === 0 ? 1 : 0, i % 3 === 0 ? 1 : 0]),
          }
    if (t.extra) {
      columns.extra = rows.map((i) => (t.extra === 'timestamp' ? new Date(i) : `v${i % 2}`))
      types.extra = t.extra === 'timestamp' ? timestamp() : t.extra === 'dictionary' ? dictionary(utf8()) : utf8()
    }
    return { pipeline: t.pipeline, format: t.format, bytes: ipc(columns, types, t.format, t.maxBatchRows), expected }
  })

const LIES = [0, 1, 2, 3, 7, 8, 255, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2e7, 1e9, 2 ** 53 - 1, -1, -(2 ** 31)]

/** A table with one count in one message replaced by a lie. */
const lying = fc
  .tuple(
    table,
    fc.nat(),
    fc.constantFrom('length', 'node', 'nulls', 'offset', 'size', 'body'),
    fc.nat(),
    fc.constantFrom(...LIES),
  )
  .map(([t, m, what, k, lie]) => {
    const messages = messagesOf(t.bytes).filter((x) => x.type !== 1)
    const message = messages[m % Math.max(1, messages.length)]
    if (!message) return t
    const pick = (list: number[]) => list[k % Math.max(1, list.length)]
    const at =
      what === 'length'
        ? message.lengthAt
        : what === 'node'
          ? pick(message.nodesAt)
          : what === 'nulls'
            ? (pick(message.nodesAt) ?? -8) + 8
            : what === 'offset'
              ? pick(message.buffersAt)
              : what === 'size'
                ? (pick(message.buffersAt) ?? -8) + 8
                : message.bodyLengthAt
    return at === undefined || at < 0 ? t : { ...t, bytes: withInt64(t.bytes, at, lie) }
  })

/** The report's 68 KB stream: 8500 rows of two float32s. */
const rows8500 = Array.from({ length: 8500 }, (_, i) => Float32Array.of(i, -i / 2))
const big = ipc({ x: rows8500 }, { x: fixedSizeList(float32(), 2) }, 'stream', 10_000)
/** A small valid body (three rows), the size of the report's 376-byte one. */
const small = ipc(
  { x: [Float32Array.of(1, 2), Float32Array.of(3, 4)] },
  { x: fixedSizeList(float32(), 2) },
  'stream',
  10,
)

describe('fuzz: Arrow inference through the HTTP server', () => {
  let s: FuzzServer
  beforeAll(async () => {
    s = await fuzzServer()
  })
  afterAll(() => s?.close())

  // Flat columns (`out.y`), as Wallaroo's SDK asks for them.
  const infer = (pipeline: string, format: Format, body: Uint8Array) =>
    s.send(`/v1/workspaces/default/pipelines/${pipeline}/infer?dataset.separator=.`, body, TYPE(format))

  it('answers the 68 KB stream edited to claim 1e9 and 2e7 rows with a 400, quickly, and keeps serving', async () => {
    expect(big.length).toBeGreaterThan(68_000)
    const batch = firstBatch(big)
    expect((await infer('double', 'stream', big)).status).toBe(200)
    for (const rows of [1e9, 2e7]) {
      for (const lie of [withInt64(big, batch.lengthAt as number, rows), claimingRows(big, batch, rows)]) {
        const t0 = performance.now()
        const res = await fetch(`${s.url}/v1/workspaces/default/pipelines/double/infer`, {
          method: 'POST',
          body: lie,
          headers: TYPE('stream'),
        })
        expect(res.status).toBe(400)
        expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(
          /column 'x(\[\])?' has \d+ values, expected (at least )?\d+/,
        )
        expect(performance.now() - t0).toBeLessThan(5000) // the report's 2e7 rows blocked for ~25 s
      }
    }
    await s.expectCorrect()
  })

  it('answers random 3-byte mutations of a small valid body with 2xx or 4xx', async () => {
    expect(small.length).toBeLessThan(400)
    expect((await infer('double', 'stream', small)).status).toBe(200)
    await fc.assert(
      fc.asyncProperty(overwritten(small, 3), async (body) => {
        await infer('double', 'stream', body)
      }),
      fuzzParams(100),
    )
    await s.expectCorrect()
  })

  it('answers flechette-built tables with 2xx or 4xx, and their values correctly when valid', async () => {
    await fc.assert(
      fc.asyncProperty(table, async (t) => {
        const answer = await infer(t.pipeline, t.format, t.bytes)
        if (answer.status !== 200) return
        const out = tableFromIPC(answer.body)
        for (const [name, rows] of Object.entries(t.expected)) {
          const column = out.getChild(name)
          const got = Array.from({ length: out.numRows }, (_, r) => {
            const v = column.at(r)
            return ArrayBuffer.isView(v) ? Array.from(v as unknown as ArrayLike<number>) : v
          })
          expect(got, name).toEqual(rows)
        }
      }),
      fuzzParams(80),
    )
    await s.expectCorrect()
  })

  it('answers any dataset query and Accept on an Arrow body with 200, 400 or 406, its columns as asked', async () => {
    const body = tableToIPC(tableFromArrays({ x: [Float32Array.of(1, 2), Float32Array.of(-3, 0.5)] }), {
      format: 'file',
    }) as Uint8Array
    await fc.assert(
      fc.asyncProperty(datasetQuery, acceptHeader, async (q, accept) => {
        const answer = await s.send(`/v1/workspaces/default/pipelines/double/infer?${queryString(q)}`, body, {
          ...TYPE('file'),
          ...(accept === null ? {} : { accept }),
        })
        expect([200, 400, 406]).toContain(answer.status)
        if (answer.status !== 200) return
        const names =
          answer.body[0] === 0x5b // '[': Accept asked for pandas-records
            ? Object.keys((JSON.parse(new TextDecoder().decode(answer.body)) as object[])[0] ?? {})
            : tableFromIPC(answer.body).schema.fields.map((f) => f.name)
        for (const name of names) expect(columnFits(name, q), name).toBe(true)
      }),
      fuzzParams(80),
    )
    await s.expectCorrect()
  })

  it('answers tables with lying counts patched into their metadata with 2xx or 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(lying, async (t) => {
        await infer(t.pipeline, t.format, t.bytes)
      }),
      fuzzParams(150),
    )
    await s.expectCorrect()
  })

  it('answers byte mutations of valid tables with 2xx or 4xx', async () => {
    const seeds = [
      small,
      ipc(
        { a: [[1, 2, 3]], b: [5n], c: [[true, false]] },
        { a: list(float32()), b: int64(), c: fixedSizeList(bool(), 2) },
        'file',
        1,
      ),
    ]
    await fc.assert(
      fc.asyncProperty(mutated(seeds), fc.constantFrom<Format>('stream', 'file'), async (body, format) => {
        await infer(body === seeds[0] ? 'double' : 'mixed', format, body)
      }),
      fuzzParams(150),
    )
    await s.expectCorrect()
  })
})
