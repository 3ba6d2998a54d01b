/**
 * Job results out of chunk files (src/jobs/io/output.ts): the Arrow stream spliced from the
 * chunks' messages (one schema, every batch, one end marker), Parquet with a row group per chunk
 * (and a schema-only file when every chunk is empty), CSV (one header row, RFC 4180 quoting,
 * missing and NaN empty) and JSONL (one object per row; 64-bit integers exact, non-finite numbers
 * null, lists and structs element by element), in pieces of at most 8192 lines. Chunk files are
 * written by the independent Arrow library @uwdata/flechette; the Parquet output is read back with
 * parquet-wasm, Arrow output with flechette and test/fuzz/arrow-craft.ts; expected text and bytes
 * are written out by hand.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  bool,
  float32,
  float64,
  int32,
  int64,
  list,
  struct,
  type Table,
  tableFromArrays,
  tableFromIPC,
  tableToIPC,
  uint64,
  utf8,
} from '@uwdata/flechette'
import * as pw from 'parquet-wasm/esm'
import { afterAll, describe, expect, it } from 'vitest'
import { writeOutput } from '../../../src/jobs/io/output.js'
import { messagesOf } from '../../fuzz/arrow-craft.js'

// parquet-wasm is initialised by src/jobs/io/parquet.ts, which output.ts imports.

const dir = mkdtempSync(join(tmpdir(), 'lastmile-io-output-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

let files = 0
/** A chunk file: `table` as an Arrow IPC stream written by flechette. */
const chunk = (t: Table) => {
  const path = join(dir, `chunk-${files++}.arrows`)
  writeFileSync(path, tableToIPC(t, { format: 'stream' }) as Uint8Array)
  return path
}

/** Rows `from`..`to`-1 of two columns: n (int32) = i, s (utf8) = 's<i>'. */
const rows = (from: number, to: number) =>
  tableFromArrays(
    {
      n: Int32Array.from({ length: to - from }, (_, i) => from + i),
      s: Array.from({ length: to - from }, (_, i) => `s${from + i}`),
    },
    { types: { n: int32(), s: utf8() } },
  )

async function pieces(it: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = []
  for await (const p of it) out.push(p)
  return out
}
const joined = (parts: Uint8Array[]) => Buffer.concat(parts)
const text = async (paths: string[], format: 'csv' | 'jsonl') =>
  joined(await pieces(writeOutput(paths, format))).toString('utf8')

/** The bytes of message `i` of `bytes` (metadata and body). */
const message = (bytes: Uint8Array, i: number) => {
  const m = messagesOf(bytes)[i] as ReturnType<typeof messagesOf>[number]
  return bytes.subarray(m.start, m.bodyStart + m.bodyLength)
}
const EOS = [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]

describe('writeOutput arrow', () => {
  it('splices one stream: the first schema, every batch in order, one end marker', async () => {
    const a = tableToIPC(rows(0, 3), { format: 'stream' }) as Uint8Array
    const b = tableToIPC(rows(3, 5), { format: 'stream' }) as Uint8Array
    const pa = join(dir, 'a.arrows')
    const pb = join(dir, 'b.arrows')
    writeFileSync(pa, a)
    writeFileSync(pb, b)
    const out = await pieces(writeOutput([pa, pb], 'arrow'))
    expect(out.map((p) => Buffer.from(p))).toEqual(
      [message(a, 0), message(a, 1), message(b, 1), Uint8Array.from(EOS)].map((p) => Buffer.from(p)),
    )
    const t = tableFromIPC(joined(out))
    expect(Array.from(t.getChild('n').toArray() as Int32Array)).toEqual([0, 1, 2, 3, 4])
    expect(t.getChild('s').toArray()).toEqual(['s0', 's1', 's2', 's3', 's4'])
  })

  it('writes the schema of empty chunks once, with their batches none', async () => {
    const empty = chunk(rows(0, 0))
    const full = chunk(rows(7, 9))
    const out = await pieces(writeOutput([empty, chunk(rows(0, 0)), full, empty], 'arrow'))
    expect(out.length).toBe(3)
    const t = tableFromIPC(joined(out))
    expect(Array.from(t.getChild('n').toArray() as Int32Array)).toEqual([7, 8])
    expect(Array.from(out[2] as Uint8Array)).toEqual(EOS)
  })

  it('writes a schema-only stream for one empty chunk, and nothing for no chunks', async () => {
    const out = await pieces(writeOutput([chunk(rows(0, 0))], 'arrow'))
    expect(out.length).toBe(2)
    expect(tableFromIPC(joined(out)).numRows).toBe(0)
    expect(await pieces(writeOutput([], 'arrow'))).toEqual([])
  })

  it('refuses a chunk whose schema differs from the first one’s', async () => {
    const other = chunk(tableFromArrays({ n: Int32Array.of(1) }, { types: { n: int32() } }))
    const first = chunk(rows(0, 1))
    let error: unknown
    try {
      await pieces(writeOutput([first, other], 'arrow'))
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(Error)
    expect((error as Error).message).toBe(
      `chunk file '${other.split('/').pop()}' has a different schema from the first chunk's`,
    )
  })
})

describe('writeOutput parquet', () => {
  const read = async (bytes: Uint8Array) => {
    const file = await pw.ParquetFile.fromFile(new Blob([bytes]))
    const meta = file.metadata()
    const groups = meta.rowGroups().map((g) => g.numRows())
    const t = tableFromIPC((await file.read()).intoIPCStream())
    return { groups, t }
  }

  it('writes a row group per chunk, sized by the first chunk with rows', async () => {
    const paths = [chunk(rows(0, 0)), chunk(rows(0, 3)), chunk(rows(3, 6)), chunk(rows(6, 8))]
    const out = joined(await pieces(writeOutput(paths, 'parquet')))
    expect(out.subarray(0, 4).toString('latin1')).toBe('PAR1')
    const { groups, t } = await read(out)
    expect(groups).toEqual([3, 3, 2])
    expect(Array.from(t.getChild('n').toArray() as Int32Array)).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
    expect(t.getChild('s').toArray()).toEqual(['s0', 's1', 's2', 's3', 's4', 's5', 's6', 's7'])
  })

  it('sizes the row groups by the first chunk’s batches, all of them', async () => {
    const two = tableFromArrays(
      { n: Int32Array.of(0, 1, 2, 3), s: ['a', 'b', 'c', 'd'] },
      { types: { n: int32(), s: utf8() }, maxBatchRows: 2 },
    )
    const { groups } = await read(joined(await pieces(writeOutput([chunk(two), chunk(rows(4, 8))], 'parquet'))))
    expect(groups).toEqual([4, 4])
  })

  it('writes a file with the schema and no rows when every chunk is empty, and nothing for no chunks', async () => {
    const out = joined(await pieces(writeOutput([chunk(rows(0, 0)), chunk(rows(0, 0))], 'parquet')))
    const { groups, t } = await read(out)
    expect(t.numRows).toBe(0)
    expect(t.schema.fields.map((f) => f.name)).toEqual(['n', 's'])
    expect(groups.reduce((a, b) => a + b, 0)).toBe(0)
    expect(await pieces(writeOutput([], 'parquet'))).toEqual([])
  })
})

describe('writeOutput files', () => {
  /**
   * The descriptor the next file opened gets: POSIX hands out the lowest free one, so a file left
   * open shows as a higher number.
   */
  const nextFd = async () => {
    const probe = await open(join(dir, 'probe.txt'), 'w')
    const fd = probe.fd
    await probe.close()
    return fd
  }

  it('closes every chunk file it opens, whatever the format', async () => {
    const paths = [chunk(rows(0, 0)), chunk(rows(0, 2)), chunk(rows(2, 3))]
    const before = await nextFd()
    for (const format of ['arrow', 'parquet', 'csv', 'jsonl'] as const) {
      await pieces(writeOutput(paths, format))
      expect(await nextFd()).toBe(before)
    }
    const other = chunk(tableFromArrays({ m: Int32Array.of(1) }, { types: { m: int32() } }))
    await pieces(writeOutput([paths[1] as string, other], 'arrow')).catch(() => undefined)
    expect(await nextFd()).toBe(before)
  })
})

describe('writeOutput csv', () => {
  it('writes one header row, then every chunk’s rows', async () => {
    expect(await text([chunk(rows(0, 2)), chunk(rows(2, 3))], 'csv')).toBe('n,s\n0,s0\n1,s1\n2,s2\n')
  })

  it('writes the header of an empty first chunk, and nothing for no chunks', async () => {
    expect(await text([chunk(rows(0, 0)), chunk(rows(5, 6))], 'csv')).toBe('n,s\n5,s5\n')
    expect(await text([chunk(rows(0, 0))], 'csv')).toBe('n,s\n')
    expect(await text([], 'csv')).toBe('')
  })

  it('quotes fields and names with a comma, a quote or a line break (RFC 4180)', async () => {
    const t = tableFromArrays(
      { 'a,b': ['plain', 'x,y', 'say "hi"', 'two\nlines', 'cr\r', ''], 'q"': [1, 2, 3, 4, 5, 6] },
      { types: { 'a,b': utf8(), 'q"': int32() } },
    )
    expect(await text([chunk(t)], 'csv')).toBe(
      '"a,b","q"""\nplain,1\n"x,y",2\n"say ""hi""",3\n"two\nlines",4\n"cr\r",5\n,6\n',
    )
  })

  it('writes missing values and NaN empty, infinities, booleans, 64-bit integers exactly', async () => {
    const t = tableFromArrays(
      {
        f: [1.5, null, NaN, Number.POSITIVE_INFINITY, -0.25],
        b: [true, false, null, true, false],
        i: [2n ** 53n + 1n, -5n, null, 0n, 2n ** 62n],
        u: [2n ** 64n - 1n, 1n, 2n, 3n, 4n],
        s: ['a', null, 'c', 'd', 'e'],
      },
      { types: { f: float64(), b: bool(), i: int64(), u: uint64(), s: utf8() } },
    )
    expect(await text([chunk(t)], 'csv')).toBe(
      'f,b,i,u,s\n' +
        '1.5,true,9007199254740993,18446744073709551615,a\n' +
        ',false,-5,1,\n' +
        ',,,2,c\n' +
        'Infinity,true,0,3,d\n' +
        '-0.25,false,4611686018427387904,4,e\n',
    )
  })

  it('writes lists and structs as JSON text, quoted where it has a comma or a quote', async () => {
    const t = tableFromArrays(
      {
        l: [[1.5, 2], [3], [], null],
        st: [{ k: 'v', n: 1 }, { k: 'w', n: null }, null, { k: 'x,y', n: 3 }],
      },
      { types: { l: list(float64()), st: struct({ k: utf8(), n: int32() }) } },
    )
    expect(await text([chunk(t)], 'csv')).toBe(
      'l,st\n' +
        '"[1.5,2]","{""k"":""v"",""n"":1}"\n' +
        '[3],"{""k"":""w"",""n"":null}"\n' +
        '[],\n' +
        ',"{""k"":""x,y"",""n"":3}"\n',
    )
  })

  it('writes text in pieces of at most 8192 lines, the header counted', async () => {
    const t = tableFromArrays({ n: Int32Array.from({ length: 8193 }, (_, i) => i) }, { types: { n: int32() } })
    const out = await pieces(writeOutput([chunk(t)], 'csv'))
    const lines = out.map((p) => Buffer.from(p).toString('utf8').split('\n'))
    // Each piece ends with a line break: its last split part is empty.
    expect(lines.map((l) => l.length - 1)).toEqual([8192, 2])
    expect(lines[0]?.slice(0, 2)).toEqual(['n', '0'])
    expect(lines[0]?.[8191]).toBe('8190')
    expect(lines[1]).toEqual(['8191', '8192', ''])
  })
})

describe('writeOutput jsonl', () => {
  it('writes one object per row, keys in schema order, across chunks', async () => {
    expect(await text([chunk(rows(0, 2)), chunk(rows(0, 0)), chunk(rows(2, 3))], 'jsonl')).toBe(
      '{"n":0,"s":"s0"}\n{"n":1,"s":"s1"}\n{"n":2,"s":"s2"}\n',
    )
    expect(await text([chunk(rows(0, 0))], 'jsonl')).toBe('')
  })

  it('writes nulls, non-finite numbers as null, booleans, 64-bit integers exactly, escaped strings and keys', async () => {
    const t = tableFromArrays(
      {
        f: [1.5, null, NaN, Number.NEGATIVE_INFINITY],
        b: [true, false, null, true],
        i: [2n ** 53n + 1n, -5n, null, 0n],
        'k"\n': ['a"b', 'line\nbreak', null, 'é'],
      },
      { types: { f: float64(), b: bool(), i: int64(), 'k"\n': utf8() } },
    )
    expect(await text([chunk(t)], 'jsonl')).toBe(
      '{"f":1.5,"b":true,"i":9007199254740993,"k\\"\\n":"a\\"b"}\n' +
        '{"f":null,"b":false,"i":-5,"k\\"\\n":"line\\nbreak"}\n' +
        '{"f":null,"b":null,"i":null,"k\\"\\n":null}\n' +
        '{"f":null,"b":true,"i":0,"k\\"\\n":"é"}\n',
    )
  })

  it('writes lists (typed arrays too) and structs element by element', async () => {
    const t = tableFromArrays(
      {
        l: [[0.5, NaN], [], null],
        il: [[1n, 2n ** 60n], [-3n], []],
        st: [{ k: 'v', n: 1, i: 2n ** 60n + 1n }, null, { k: null, n: 2, i: -1n }],
      },
      { types: { l: list(float32()), il: list(int64()), st: struct({ k: utf8(), n: int32(), i: int64() }) } },
    )
    expect(await text([chunk(t)], 'jsonl')).toBe(
      '{"l":[0.5,null],"il":[1,1152921504606846976],"st":{"k":"v","n":1,"i":1152921504606846977}}\n' +
        '{"l":[],"il":[-3],"st":null}\n' +
        '{"l":null,"il":[],"st":{"k":null,"n":2,"i":-1}}\n',
    )
  })

  it('writes text in pieces of at most 8192 lines', async () => {
    const t = tableFromArrays({ n: Int32Array.from({ length: 8193 }, (_, i) => i) }, { types: { n: int32() } })
    const out = await pieces(writeOutput([chunk(t)], 'jsonl'))
    const lines = out.map((p) => Buffer.from(p).toString('utf8').split('\n'))
    expect(lines.map((l) => l.length - 1)).toEqual([8192, 1])
    expect(lines[0]?.[0]).toBe('{"n":0}')
    expect(lines[1]).toEqual(['{"n":8192}', ''])
  })
})
