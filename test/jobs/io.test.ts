import { readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { isMainThread } from 'node:worker_threads'
import {
  bool,
  dictionary,
  field,
  float64,
  int64,
  largeUtf8,
  list,
  type Table,
  TimeUnit,
  Type,
  tableFromArrays,
  tableFromIPC,
  tableToIPC,
  timestamp,
  utf8,
} from '@uwdata/flechette'
import * as pw from 'parquet-wasm/esm'
import { describe, expect, it } from 'vitest'
import { InvalidRequestError } from '../../src/errors.js'
import {
  type ChunkReader,
  type ColumnChunk,
  contentTypeFor,
  encodeChunk,
  formatFromContentType,
  formatFromPath,
  type JobFormat,
  openReader,
  type SchemaField,
  writeOutput,
} from '../../src/jobs/io/index.js'
import { FLIGHTS_3M, FLIGHTS_200K } from '../helpers/flights.js'
import { tempDir } from '../helpers/server.js'

// The vega-datasets package exports only its JS entry; its data/ folder sits beside build/.
const DATA = join(dirname(createRequire(import.meta.url).resolve('vega-datasets')), '..', 'data')

async function readAll(reader: ChunkReader, maxRows: number): Promise<ColumnChunk[]> {
  const chunks: ColumnChunk[] = []
  for (let c = await reader.next(maxRows); c; c = await reader.next(maxRows)) chunks.push(c)
  await reader.close()
  return chunks
}

/** Every chunk's column `name`, joined, as a plain array. */
function joined(chunks: ColumnChunk[], name: string): unknown[] {
  return chunks.flatMap((c) => Array.from(c.columns[name] as ArrayLike<unknown>))
}

function tableColumn(table: Table, name: string): unknown[] {
  return Array.from(table.getChild(name).toArray() as ArrayLike<unknown>)
}

function writeText(dir: string, name: string, text: string): string {
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}

describe('parquet reader', () => {
  it('reads flights-3m after a skip in deterministic chunks, with rows equal to a whole-row-group decode', async () => {
    const skip = 1_234_567
    const maxRows = 100_000
    const reader = await openReader(FLIGHTS_3M, 'parquet')
    expect(reader.totalRows).toBe(3_000_000)
    expect(reader.schema.map((f) => [f.name, f.type.typeId])).toEqual([
      ['date', Type.Timestamp],
      ['delay', Type.Int],
      ['distance', Type.Int],
      ['origin', Type.LargeUtf8],
      ['destination', Type.LargeUtf8],
    ])
    await reader.skip(skip)
    // Row number → values of the rows checked below: inside row group 4, both sides of the 4|5
    // boundary (row groups hold 272727 rows), and the last row.
    const wanted = [skip, 5 * 272_727 - 1, 5 * 272_727, 2_999_999]
    const seen = new Map<number, unknown[]>()
    const sums: number[] = []
    let rows = 0
    let rss = 0
    for (let c = await reader.next(maxRows); c; c = await reader.next(maxRows)) {
      expect(c.firstRow).toBe(skip + sums.length * maxRows)
      expect(c.rows).toBe(Math.min(maxRows, 3_000_000 - c.firstRow))
      expect(c.errors).toEqual([])
      expect(c.columns.delay).toBeInstanceOf(Float64Array)
      for (const r of wanted) {
        if (r >= c.firstRow && r < c.firstRow + c.rows)
          seen.set(
            r,
            reader.schema.map((f) => (c.columns[f.name] as ArrayLike<unknown>)[r - c.firstRow]),
          )
      }
      sums.push((c.columns.delay as Float64Array).reduce((a, b) => a + b, 0))
      rows += c.rows
      rss = Math.max(rss, process.memoryUsage().rss)
    }
    expect(reader.progress().bytesRead).toBe(reader.progress().bytesTotal)
    await reader.close()
    expect(rows).toBe(3_000_000 - skip)
    expect(sums).toHaveLength(18)
    // Bounded memory: one row group's batches and one chunk at a time; the whole file decoded
    // would take well over 500 MiB of JS strings alone. In a worker thread (Stryker's vitest runner,
    // scripts/vitest.mutate.config.ts) RSS counts the whole runner and its other threads: not this reader's.
    if (isMainThread) expect(rss).toBeLessThan(500 * 2 ** 20)

    // Independent decode: whole row groups read from the file's bytes, through flechette's own
    // value extraction.
    const expected = new Map<number, unknown[]>()
    for (const group of [4, 5, 10]) {
      const table = tableFromIPC(pw.readParquet(readFileSync(FLIGHTS_3M), { rowGroups: [group] }).intoIPCStream())
      for (const r of wanted) {
        const i = r - group * 272_727
        if (i >= 0 && i < table.numRows)
          expected.set(
            r,
            reader.schema.map((f) => table.getChild(f.name).at(i)),
          )
      }
    }
    expect(seen).toEqual(expected)
    expect(seen.get(2_999_999)?.[0]).toBeTypeOf('number')

    // The same file skipped further starts on a later chunk's boundary and gives its rows.
    const again = await openReader(FLIGHTS_3M, 'parquet')
    await again.skip(skip + 3 * maxRows)
    const fourth = await again.next(maxRows)
    await again.close()
    expect(fourth?.firstRow).toBe(skip + 3 * maxRows)
    expect(((fourth?.columns.delay ?? []) as Float64Array).reduce((a, b) => a + b, 0)).toBe(sums[3])
  })

  it('refuses a file that is not Parquet', async () => {
    const path = writeText(tempDir(), 'x.parquet', 'a,b\n1,2\n')
    await expect(openReader(path, 'parquet')).rejects.toThrow(InvalidRequestError)
    await expect(openReader(path, 'parquet')).rejects.toThrow(/not a valid Parquet file: it has 8 bytes/)
  })
})

describe('arrow reader', () => {
  const whole = tableFromIPC(readFileSync(FLIGHTS_200K))
  const names = whole.schema.fields.map((f) => f.name)

  it('reads an Arrow IPC file in chunks equal to flechette decoding the whole file', async () => {
    const reader = await openReader(FLIGHTS_200K, 'arrow')
    expect(reader.totalRows).toBe(200_000)
    expect(reader.schema.map((f) => f.name)).toEqual(names)
    const chunks = await readAll(reader, 30_000)
    expect(chunks.map((c) => c.rows)).toEqual([30_000, 30_000, 30_000, 30_000, 30_000, 30_000, 20_000])
    for (const n of names) expect(joined(chunks, n)).toEqual(tableColumn(whole, n))
  })

  it('coalesces a stream of many small batches into chunks of maxRows, and skips batches unread', async () => {
    // A multi-batch stream written independently: parquet-wasm re-reads the table in 777-row batches.
    const parquet = pw.writeParquet(pw.Table.fromIPCStream(tableToIPC(whole, { format: 'stream' }) as Uint8Array))
    const stream = pw.readParquet(parquet, { batchSize: 777 }).intoIPCStream()
    expect(tableFromIPC(stream).getChild('delay').data.length).toBe(Math.ceil(200_000 / 777))
    const path = join(tempDir(), 'flights.arrows')
    writeFileSync(path, stream)

    const reader = await openReader(path, 'arrow')
    expect(reader.totalRows).toBeUndefined()
    const chunks = await readAll(reader, 10_000)
    expect(chunks.map((c) => c.rows)).toEqual(new Array(20).fill(10_000))
    expect(chunks.map((c) => c.firstRow)).toEqual(chunks.map((_, k) => k * 10_000))
    for (const n of names) expect(joined(chunks, n)).toEqual(tableColumn(whole, n))

    const skipped = await openReader(path, 'arrow')
    await skipped.skip(12_345)
    const rest = await readAll(skipped, 50_000)
    expect(rest.map((c) => [c.firstRow, c.rows])).toEqual([
      [12_345, 50_000],
      [62_345, 50_000],
      [112_345, 50_000],
      [162_345, 37_655],
    ])
    for (const n of names) expect(joined(rest, n)).toEqual(tableColumn(whole, n).slice(12_345))
  })

  it('gives dictionary-encoded columns as their values', async () => {
    const codes = Array.from({ length: 2500 }, (_, i) => ['LAX', 'JFK', 'SEA', 'Zürich'][i % 4])
    const table = tableFromArrays({ origin: codes }, { types: { origin: dictionary(utf8()) }, maxBatchRows: 1000 })
    const path = join(tempDir(), 'dict.arrow')
    writeFileSync(path, tableToIPC(table, { format: 'file' }) as Uint8Array)
    const reader = await openReader(path, 'arrow')
    expect(reader.schema.map((f) => f.type.typeId)).toEqual([Type.Utf8])
    expect(joined(await readAll(reader, 600), 'origin')).toEqual(codes)
  })

  it('refuses a file that is neither an Arrow IPC file nor a stream', async () => {
    const dir = tempDir()
    const csv = writeText(dir, 'x.arrow', 'delay,distance\n1,2\n')
    await expect(openReader(csv, 'arrow')).rejects.toThrow(/not a valid Arrow IPC file or stream/)
    const truncated = join(dir, 'cut.arrow')
    writeFileSync(truncated, readFileSync(FLIGHTS_200K).subarray(0, 5000))
    await expect(openReader(truncated, 'arrow')).rejects.toThrow(InvalidRequestError)
  })
})

describe('csv reader', () => {
  const csv = [
    '\uFEFFid,name,score,note',
    '1,"Smith, Jane",0.5,plain',
    '2,"say ""hi""",1e3,',
    '3,Zoë 東京,,"two',
    'lines"',
    '',
    '4,x,abc,late bad number',
    '5,y,-2',
  ].join('\r\n')

  it('parses quoting, blank cells and unicode, infers types from the first rows and reports bad values by row', async () => {
    const path = writeText(tempDir(), 'people.csv', csv)
    const reader = await openReader(path, 'csv', { inferRows: 3 })
    expect(reader.schema.map((f) => [f.name, f.type.typeId])).toEqual([
      ['id', Type.Float],
      ['name', Type.Utf8],
      ['score', Type.Float],
      ['note', Type.Utf8],
    ])
    expect(reader.totalRows).toBeUndefined()
    const chunks = await readAll(reader, 2)
    expect(chunks.map((c) => [c.firstRow, c.rows])).toEqual([
      [0, 2],
      [2, 2],
      [4, 1],
    ])
    expect(joined(chunks, 'id')).toEqual([1, 2, 3, 4, 5])
    expect(joined(chunks, 'name')).toEqual(['Smith, Jane', 'say "hi"', 'Zoë 東京', 'x', 'y'])
    expect(joined(chunks, 'score')).toEqual([0.5, 1000, null, null, -2])
    expect(joined(chunks, 'note')).toEqual(['plain', null, 'two\r\nlines', 'late bad number', null])
    expect(chunks[0]?.columns.id).toBeInstanceOf(Float64Array)
    expect(chunks.map((c) => c.errors)).toEqual([
      [],
      [{ row: 3, message: "line 7: column 'score': 'abc' is not a number" }],
      [{ row: 4, message: 'line 8: has 3 fields, the header row has 4' }],
    ])
  })

  it('reads flights-airport.csv with numeric and text columns', async () => {
    const path = join(DATA, 'flights-airport.csv')
    const lines = readFileSync(path, 'utf8').trim().split('\n')
    const reader = await openReader(path, 'csv')
    expect(reader.schema.map((f) => [f.name, f.type.typeId])).toEqual([
      ['origin', Type.Utf8],
      ['destination', Type.Utf8],
      ['count', Type.Float],
    ])
    const chunks = await readAll(reader, 1000)
    expect(chunks.reduce((n, c) => n + c.rows, 0)).toBe(lines.length - 1)
    const [origin, destination, count] = (lines[1] as string).split(',')
    expect([joined(chunks, 'origin')[0], joined(chunks, 'destination')[0], joined(chunks, 'count')[0]]).toEqual([
      origin,
      destination,
      Number(count),
    ])
  })

  it('keeps the empty lines of a one-column file as missing values', async () => {
    const path = writeText(tempDir(), 'one.csv', '\n\nx\n1\n\n3\n')
    const chunks = await readAll(await openReader(path, 'csv'), 10)
    expect(joined(chunks, 'x')).toEqual([1, null, 3])
  })

  it('refuses a CSV file with a broken quote, naming the line', async () => {
    const path = writeText(tempDir(), 'bad.csv', 'a,b\n1,2\n3,"x"y\n')
    await expect(openReader(path, 'csv')).rejects.toThrow(/not valid CSV: .*line 3/)
  })

  it('refuses a CSV file without a header row', async () => {
    const path = writeText(tempDir(), 'empty.csv', '')
    await expect(openReader(path, 'csv')).rejects.toThrow(InvalidRequestError)
    await expect(openReader(path, 'csv')).rejects.toThrow(/no header row/)
  })
})

describe('jsonl reader', () => {
  it('infers numbers, strings, booleans and tensors, and reports lines that do not fit', async () => {
    const text = [
      '{"x": 1, "name": "a", "ok": true, "v": [1, 2], "meta": {"k": 1}}',
      '',
      '{"x": 2.5, "name": "b\\nc", "ok": false, "v": [3], "meta": null}',
      '{"x": null, "name": "ü", "v": [], "meta": [1, "two"]}',
      '{"x": "three", "name": 7, "ok": 1, "v": [1, "a"], "extra": 1}',
      '[1, 2]',
      'not json',
    ].join('\n')
    const path = writeText(tempDir(), 'rows.jsonl', text)
    const reader = await openReader(path, 'jsonl', { inferRows: 3 })
    expect(reader.schema.map((f) => [f.name, f.type.typeId])).toEqual([
      ['x', Type.Float],
      ['name', Type.Utf8],
      ['ok', Type.Bool],
      ['v', Type.List],
      ['meta', Type.Utf8],
    ])
    const chunks = await readAll(reader, 4)
    expect(chunks.map((c) => c.rows)).toEqual([4, 2])
    expect(joined(chunks, 'x')).toEqual([1, 2.5, null, null, null, null])
    expect(joined(chunks, 'name')).toEqual(['a', 'b\nc', 'ü', '7', null, null])
    expect(joined(chunks, 'ok')).toEqual([true, false, null, null, null, null])
    expect(joined(chunks, 'v').map((v) => (v ? Array.from(v as Float64Array) : v))).toEqual([
      [1, 2],
      [3],
      [],
      null,
      null,
      null,
    ])
    expect(joined(chunks, 'meta')).toEqual(['{"k":1}', null, '[1,"two"]', null, null, null])
    const errors = chunks.flatMap((c) => c.errors)
    expect(errors.map((e) => e.row)).toEqual([3, 3, 3, 4, 5])
    expect(errors[0]?.message).toBe("line 5: column 'x': 'three' is not a number")
    expect(errors[1]?.message).toBe("line 5: column 'ok': 1 is not true or false")
    expect(errors[2]?.message).toBe(`line 5: column 'v': [1,"a"] is not an array of numbers`)
    expect(errors[3]?.message).toBe('line 6: expected a JSON object, got [1,2]')
    expect(errors[4]?.message).toMatch(/^line 7: not valid JSON/)
  })

  it('reads flights-2k rewritten as JSON lines', async () => {
    const rows = JSON.parse(readFileSync(join(DATA, 'flights-2k.json'), 'utf8')) as Array<Record<string, unknown>>
    const path = writeText(tempDir(), 'flights.jsonl', rows.map((r) => JSON.stringify(r)).join('\n'))
    const reader = await openReader(path, 'jsonl')
    await reader.skip(100)
    const chunks = await readAll(reader, 512)
    expect(chunks.map((c) => c.firstRow)).toEqual([100, 612, 1124, 1636])
    for (const n of Object.keys(rows[0] ?? {})) expect(joined(chunks, n)).toEqual(rows.slice(100).map((r) => r[n]))
  })
})

describe('job output', () => {
  const schema: SchemaField[] = [
    { name: 'date', type: timestamp(TimeUnit.MICROSECOND) },
    { name: 'delay', type: int64() },
    { name: 'score', type: float64() },
    { name: 'label', type: utf8() },
  ]
  const labels = ['plain', 'with, comma', 'quote "q"', 'two\nlines', 'ünï 東京', null]
  /** Three chunks of 4, 4 and 3 rows, with nulls in the numbers and awkward strings. */
  const chunks = [0, 4, 8].map((first) => {
    const rows = first === 8 ? 3 : 4
    const at = (i: number) => first + i
    return {
      rows,
      columns: {
        date: Float64Array.from({ length: rows }, (_, i) => 978_307_260_000 + at(i) * 60_000),
        delay: Array.from({ length: rows }, (_, i) => (at(i) === 5 ? null : at(i) * 7 - 20)),
        score: Float64Array.from({ length: rows }, (_, i) => at(i) / 8),
        label: Array.from({ length: rows }, (_, i) => labels[at(i) % labels.length] ?? null),
      } as Record<string, ArrayLike<unknown>>,
    }
  })
  const expected = (name: string) => chunks.flatMap((c) => Array.from(c.columns[name] as ArrayLike<unknown>))

  async function writeChunks(dir: string): Promise<string[]> {
    return chunks.map((c, k) => {
      const path = join(dir, `chunk-${k}.arrows`)
      writeFileSync(path, encodeChunk(schema, c.columns, c.rows))
      return path
    })
  }

  async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
    const parts: Uint8Array[] = []
    for await (const p of stream) parts.push(p)
    return Buffer.concat(parts)
  }

  it.each<JobFormat>(['csv', 'jsonl', 'arrow', 'parquet'])('round-trips chunk files through %s', async (format) => {
    const dir = tempDir()
    const out = join(dir, `out.${format}`)
    writeFileSync(out, await collect(writeOutput(await writeChunks(dir), format)))
    const back = await readAll(await openReader(out, format), 5)
    expect(back.map((c) => c.rows)).toEqual([5, 5, 1])
    for (const { name } of schema) expect(joined(back, name)).toEqual(expected(name))
    expect(back.flatMap((c) => c.errors)).toEqual([])
  })

  it('writes one valid Arrow stream and one Parquet row group per chunk', async () => {
    const dir = tempDir()
    const paths = await writeChunks(dir)
    const arrow = await collect(writeOutput(paths, 'arrow'))
    const table = tableFromIPC(arrow)
    expect(table.numRows).toBe(11)
    expect(table.getChild('label').data).toHaveLength(3)
    expect(Array.from(arrow.subarray(-8))).toEqual([255, 255, 255, 255, 0, 0, 0, 0])
    expect(tableColumn(table, 'delay')).toEqual(expected('delay'))

    const parquet = await collect(writeOutput(paths, 'parquet'))
    const path = join(dir, 'out.parquet')
    writeFileSync(path, parquet)
    const file = await pw.ParquetFile.fromFile(new Blob([parquet]))
    const meta = file.metadata()
    expect([meta.numRowGroups(), meta.fileMetadata().numRows()]).toEqual([3, 11])
    expect(meta.rowGroup(0).column(0).compression()).toBe(pw.Compression.ZSTD)
    file.free()
  })

  it('keeps tensors and booleans through jsonl, arrow and parquet', async () => {
    const dir = tempDir()
    const fields: SchemaField[] = [
      { name: 'v', type: list(field('item', float64())) },
      { name: 'ok', type: bool() },
    ]
    const v = [Float64Array.of(1, 2.5), Float64Array.of(), null]
    const path = join(dir, 'chunk.arrows')
    writeFileSync(path, encodeChunk(fields, { v, ok: [true, null, false] }, 3))
    for (const format of ['jsonl', 'arrow', 'parquet'] as const) {
      const out = join(dir, `out.${format}`)
      writeFileSync(out, await collect(writeOutput([path], format)))
      const back = await readAll(await openReader(out, format), 10)
      expect(joined(back, 'v').map((x) => (x ? Array.from(x as Float64Array) : x))).toEqual([[1, 2.5], [], null])
      expect(joined(back, 'ok')).toEqual([true, null, false])
    }
  })

  it('encodes strings, int64 and timestamps of every unit to what flechette decodes back', () => {
    const strings = ['', 'ascii', 'ünï', '東京', '🙂', null, '\ud83d', '\ude42', 'tail']
    const ints = [0, -1, 2 ** 40 + 3, -(2 ** 52), 7.6, null, Number.NaN, 2 ** 31, -(2 ** 31) - 1]
    const ms = [0, 1.5, -1000, 978_307_260_000, null, 86_400_000, 2, 3, 4]
    const fields: SchemaField[] = [
      { name: 's', type: utf8() },
      { name: 'l', type: largeUtf8() },
      { name: 'i', type: int64() },
      ...[TimeUnit.MILLISECOND, TimeUnit.MICROSECOND, TimeUnit.NANOSECOND].map((u) => ({
        name: `t${u}`,
        type: timestamp(u),
      })),
      { name: 'sec', type: timestamp(TimeUnit.SECOND) },
    ]
    const seconds = ms.map((x) => (x === null ? null : Math.round(x / 1000) * 1000))
    const bytes = encodeChunk(fields, { s: strings, l: strings, i: ints, t1: ms, t2: ms, t3: ms, sec: seconds }, 9)
    const table = tableFromIPC(bytes)
    expect(table.schema.fields.map((f) => f.type)).toEqual(fields.map((f) => f.type))
    // A lone surrogate is not valid UTF-8: it comes back as U+FFFD whichever encoder wrote it.
    const fixed = strings.map((x) => (x === '\ud83d' || x === '\ude42' ? '\ufffd' : x))
    expect(tableColumn(table, 's')).toEqual(fixed)
    expect(tableColumn(table, 'l')).toEqual(fixed)
    expect(tableColumn(table, 'i')).toEqual([0, -1, 2 ** 40 + 3, -(2 ** 52), 8, null, null, 2 ** 31, -(2 ** 31) - 1])
    // Milliseconds keep no fraction; the finer units keep it.
    expect(tableColumn(table, 't1')).toEqual(ms.map((x) => (x === null ? x : Math.round(x))))
    for (const t of ['t2', 't3']) expect(tableColumn(table, t)).toEqual(ms)
    expect(tableColumn(table, 'sec')).toEqual(seconds)
  })

  it('writes an empty result as a header, an empty schema-only stream, or an empty Parquet file', async () => {
    const dir = tempDir()
    const path = join(dir, 'chunk-0.arrows')
    writeFileSync(path, encodeChunk(schema, { date: [], delay: [], score: [], label: [] }, 0))
    const csv = await collect(writeOutput([path], 'csv'))
    expect(csv.toString()).toBe('date,delay,score,label\n')
    expect((await collect(writeOutput([path], 'jsonl'))).length).toBe(0)
    expect(tableFromIPC(await collect(writeOutput([path], 'arrow'))).schema.fields.map((f) => f.name)).toEqual(
      schema.map((f) => f.name),
    )
    const out = join(dir, 'out.parquet')
    writeFileSync(out, await collect(writeOutput([path], 'parquet')))
    const reader = await openReader(out, 'parquet')
    expect([reader.totalRows, reader.schema.map((f) => f.name)]).toEqual([0, schema.map((f) => f.name)])
    expect(await reader.next(10)).toBeUndefined()
    await reader.close()
    for (const format of ['csv', 'jsonl', 'arrow', 'parquet'] as const)
      expect((await collect(writeOutput([], format))).length).toBe(0)
  })

  it.each<JobFormat>(['csv', 'jsonl', 'arrow', 'parquet'])(
    'fails %s output on a chunk file that is not Arrow',
    async (format) => {
      const dir = tempDir()
      const [first = ''] = await writeChunks(dir)
      const bad = writeText(dir, 'bad.arrows', 'not an arrow stream at all')
      await expect(collect(writeOutput([first, bad, first], format))).rejects.toThrow()
    },
  )

  it('fails parquet output when a chunk turns out bad mid-stream', async () => {
    const dir = tempDir()
    const [first = ''] = await writeChunks(dir)
    // The chunk's record batch without its schema message (a schema message has no body).
    const bytes = readFileSync(first)
    const headless = join(dir, 'headless.arrows')
    writeFileSync(headless, bytes.subarray(8 + bytes.readInt32LE(4)))
    await expect(collect(writeOutput([first, headless], 'parquet'))).rejects.toThrow(/schema/i)
  })

  it('refuses a chunk whose columns do not match the schema', () => {
    expect(() => encodeChunk(schema, { date: [1], delay: [1], score: [1] }, 1)).toThrow(/no values for column 'label'/)
    expect(() => encodeChunk(schema, { date: [1], delay: [1], score: [1], label: [] }, 1)).toThrow(/has 0 values/)
  })
})

describe('every reader', () => {
  it.each<[JobFormat, string]>([
    ['parquet', FLIGHTS_3M],
    ['arrow', FLIGHTS_200K],
    ['csv', join(DATA, 'flights-airport.csv')],
  ])('%s: can be closed before the end, twice, and reports progress', async (format, path) => {
    const reader = await openReader(path, format)
    expect(reader.progress().bytesRead).toBeLessThanOrEqual(reader.progress().bytesTotal)
    expect((await reader.next(100))?.rows).toBe(100)
    expect(reader.progress().bytesRead).toBeGreaterThan(0)
    await expect(reader.skip(5)).rejects.toThrow(/before the first next/)
    await reader.close()
    await reader.close()
  })
})

describe('formats by name', () => {
  it('maps content types, ignoring parameters and case', () => {
    expect(formatFromContentType('text/csv; charset=utf-8')).toBe('csv')
    expect(formatFromContentType('application/x-ndjson')).toBe('jsonl')
    expect(formatFromContentType('application/jsonl')).toBe('jsonl')
    expect(formatFromContentType('application/vnd.apache.arrow.file')).toBe('arrow')
    expect(formatFromContentType('Application/Vnd.Apache.Arrow.Stream')).toBe('arrow')
    expect(formatFromContentType('application/vnd.apache.parquet')).toBe('parquet')
    expect(formatFromContentType('application/x-parquet')).toBe('parquet')
    expect(formatFromContentType('application/json')).toBeUndefined()
    expect(formatFromContentType('constructor')).toBeUndefined()
    expect(formatFromContentType(undefined)).toBeUndefined()
  })

  it('maps file extensions and gives each output format its content type', () => {
    expect(['a.csv', 'b.ndjson', 'c.JSONL', 'd.arrows', 'e.feather', 'f.parquet', 'g.txt'].map(formatFromPath)).toEqual(
      ['csv', 'jsonl', 'jsonl', 'arrow', 'arrow', 'parquet', undefined],
    )
    expect(formatFromContentType(contentTypeFor('csv'))).toBe('csv')
    expect(formatFromContentType(contentTypeFor('arrow'))).toBe('arrow')
  })

  it('refuses an unknown format', async () => {
    await expect(openReader(FLIGHTS_200K, 'xlsx' as JobFormat)).rejects.toThrow(/unknown file format 'xlsx'/)
  })
})
