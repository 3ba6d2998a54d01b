/**
 * openReader (src/jobs/io/index.ts): each format name opens its own reader, the column limit is
 * applied to every format's schema (and the file released when it is refused), and an unknown
 * format is refused by name. Input files are written by hand (CSV, JSONL) or by the independent
 * Arrow writer @uwdata/flechette; expected schemas, rows and messages are written out by hand.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { int32, Type, tableFromArrays, tableToIPC } from '@uwdata/flechette'
import { afterAll, describe, expect, it } from 'vitest'
import { InvalidRequestError } from '../../../src/errors.js'
import * as io from '../../../src/jobs/io/index.js'
import { type JobFormat, openReader } from '../../../src/jobs/io/index.js'
import { rejection } from '../../helpers/refusal.js'

const dir = mkdtempSync(join(tmpdir(), 'lastmile-io-index-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const write = (name: string, bytes: string | Uint8Array) => {
  const path = join(dir, name)
  writeFileSync(path, bytes)
  return path
}

/** An Arrow IPC file of `columns` int32 columns c0, c1, ... of two rows (c_k = [k, -k]). */
const arrowOf = (columns: number) =>
  tableToIPC(
    tableFromArrays(Object.fromEntries(Array.from({ length: columns }, (_, k) => [`c${k}`, Int32Array.of(k, -k)])), {
      types: Object.fromEntries(Array.from({ length: columns }, (_, k) => [`c${k}`, int32()])),
    }),
    { format: 'file' },
  ) as Uint8Array

/**
 * The descriptor the next file opened gets: POSIX hands out the lowest free one, so a file left
 * open between two calls shows as a higher number.
 */
async function nextFd(): Promise<number> {
  const probe = await open(write('probe.txt', 'x'), 'r')
  const fd = probe.fd
  await probe.close()
  return fd
}

describe('openReader by format', () => {
  const text = 'a,b\n1,x\n2,y\n'

  it('reads CSV as CSV: a header row, then numbers and strings', async () => {
    const reader = await openReader(write('t.csv', text), 'csv')
    expect(reader.schema.map((f) => [f.name, f.type.typeId])).toEqual([
      ['a', Type.Float],
      ['b', Type.Utf8],
    ])
    const chunk = await reader.next(10)
    await reader.close()
    expect(chunk?.rows).toBe(2)
    expect(Array.from(chunk?.columns.a ?? [])).toEqual([1, 2])
    expect(chunk?.columns.b).toEqual(['x', 'y'])
  })

  it('reads JSONL as JSONL: one object per line', async () => {
    const reader = await openReader(write('t.jsonl', '{"a":1,"b":"x"}\n{"a":2.5,"b":null}\n'), 'jsonl')
    expect(reader.schema.map((f) => f.name)).toEqual(['a', 'b'])
    const chunk = await reader.next(10)
    await reader.close()
    expect(Array.from(chunk?.columns.a ?? [])).toEqual([1, 2.5])
    expect(chunk?.columns.b).toEqual(['x', null])
  })

  it('reads the same CSV text as JSONL as lines that are not JSON (the format is not sniffed)', async () => {
    const reader = await openReader(write('t2.txt', text), 'jsonl')
    const chunk = await reader.next(10)
    await reader.close()
    expect(reader.schema).toEqual([])
    expect(chunk?.errors.map((e) => e.row)).toEqual([0, 1, 2])
  })

  it('reads an Arrow IPC file as Arrow, its rows known up front', async () => {
    const reader = await openReader(write('t.arrow', arrowOf(2)), 'arrow')
    expect(reader.totalRows).toBe(2)
    const chunk = await reader.next(10)
    await reader.close()
    expect(Array.from(chunk?.columns.c1 ?? [])).toEqual([1, -1])
  })

  it('opens Arrow and Parquet with their own readers, which refuse text by their own rules', async () => {
    const path = write('t.txt', text)
    const arrow = await rejection(openReader(path, 'arrow'))
    expect(arrow).toBeInstanceOf(InvalidRequestError)
    expect(arrow.message).toBe(
      "'t.txt' is not a valid Arrow IPC file or stream: no message (continuation marker 0xFFFFFFFF; streams from Arrow before 0.15 without these markers are not supported) at byte 0",
    )
    const parquet = await rejection(openReader(path, 'parquet'))
    expect(parquet).toBeInstanceOf(InvalidRequestError)
    expect(parquet.message).toBe("'t.txt' is not a valid Parquet file: it does not start and end with 'PAR1'")
  })

  it('refuses an unknown format, listing the four', async () => {
    const e = await rejection(openReader(write('t.xml', '<a/>'), 'xml' as JobFormat))
    expect(e).toBeInstanceOf(InvalidRequestError)
    expect(e.message).toBe("unknown file format 'xml'; expected one of csv, jsonl, arrow, parquet")
  })
})

describe('openReader column limit', () => {
  it('passes the options to the text readers, which stop at the limit themselves', async () => {
    const e = await rejection(openReader(write('w.jsonl', '{"a":1,"b":2,"c":3}\n'), 'jsonl', { maxColumns: 2 }))
    expect(e).toBeInstanceOf(InvalidRequestError)
    expect(e.message).toBe(
      "'w.jsonl' has at least 3 columns (distinct keys by line 1); a job file may have at most 2 (LASTMILE_JOB_MAX_COLUMNS)",
    )
    const f = await rejection(openReader(write('w.csv', 'a,b,c\n1,2,3\n'), 'csv', { maxColumns: 2 }))
    expect(f.message).toBe("'w.csv' has 3 columns; a job file may have at most 2 (LASTMILE_JOB_MAX_COLUMNS)")
  })

  it('takes a schema of exactly maxColumns columns', async () => {
    const reader = await openReader(write('three.arrow', arrowOf(3)), 'arrow', { maxColumns: 3 })
    expect(reader.schema.map((f) => f.name)).toEqual(['c0', 'c1', 'c2'])
    await reader.close()
  })

  it('refuses one column more, closing the file it opened', async () => {
    const path = write('four.arrow', arrowOf(4))
    const before = await nextFd()
    const e = await rejection(openReader(path, 'arrow', { maxColumns: 3 }))
    expect(e).toBeInstanceOf(InvalidRequestError)
    expect(e.message).toBe("'four.arrow' has 4 columns; a job file may have at most 3 (LASTMILE_JOB_MAX_COLUMNS)")
    expect(await nextFd()).toBe(before)
  })

  it('allows 4096 columns by default, and refuses 4097', async () => {
    const ok = await openReader(write('4096.arrow', arrowOf(4096)), 'arrow')
    expect(ok.schema.length).toBe(4096)
    await ok.close()
    const e = await rejection(openReader(write('4097.arrow', arrowOf(4097)), 'arrow'))
    expect(e).toBeInstanceOf(InvalidRequestError)
    expect(e.message).toBe("'4097.arrow' has 4097 columns; a job file may have at most 4096 (LASTMILE_JOB_MAX_COLUMNS)")
  })
})

describe('what index.ts re-exports', () => {
  it('hands out the writers and the format table', () => {
    expect(io.JOB_FORMATS).toEqual(['csv', 'jsonl', 'arrow', 'parquet'])
    expect(typeof io.encodeChunk).toBe('function')
    expect(typeof io.writeOutput).toBe('function')
    expect(io.extensionFor('arrow')).toBe('.arrows')
    expect(io.formatFromPath('x.pq')).toBe('parquet')
    expect(io.formatFromContentType('text/csv')).toBe('csv')
    expect(io.contentTypeFor('jsonl')).toBe('application/x-ndjson')
    expect(io.isJobFormat('arrow')).toBe(true)
    expect(io.JOB_MEDIA_TYPES).toContain('application/x-parquet')
  })
})
