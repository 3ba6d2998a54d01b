/**
 * The CSV reader (src/jobs/io/csv.ts) on small files written by each test: RFC 4180 quoting (commas,
 * doubled quotes and line breaks inside quotes), CRLF, LF and CR line ends, a BOM, blank lines, the
 * header's names, column types from the first rows (long integers kept exact), row errors with
 * their lines (wrong widths and bad numbers in later rows), rows cut across the parser's 16 KiB
 * slices at every byte, and the refusals (bad quoting, an over-long record, too wide a header).
 * Every expected value is written by hand from the file text (RFC 4180's rules; line numbers count
 * the file's lines from 1); csv-parse's own error texts are quoted as it words them.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Type } from '@uwdata/flechette'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { InvalidRequestError } from '../../../src/errors.js'
import { openCsv } from '../../../src/jobs/io/csv.js'
import type { ReaderOptions, RowError } from '../../../src/jobs/io/types.js'

let dir: string
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lastmile-csv-'))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function file(text: string | Buffer, name = 'f.csv'): string {
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}

interface Read {
  schema: Array<[string, string]>
  columns: Record<string, unknown[]>
  errors: RowError[]
  chunks: Array<[number, number]>
}

const TYPE: Record<number, string> = { [Type.Float]: 'float64', [Type.Utf8]: 'utf8' }

/** Reads a whole file in chunks of `maxRows`: its schema, each column joined, its row errors. */
async function read(text: string | Buffer, options: ReaderOptions = {}, maxRows = 100): Promise<Read> {
  const reader = await openCsv(file(text), options)
  const schema = reader.schema.map((f): [string, string] => [f.name, TYPE[f.type.typeId] ?? String(f.type.typeId)])
  const columns: Record<string, unknown[]> = Object.fromEntries(reader.schema.map((f) => [f.name, []]))
  const errors: RowError[] = []
  const chunks: Array<[number, number]> = []
  for (let c = await reader.next(maxRows); c; c = await reader.next(maxRows)) {
    chunks.push([c.firstRow, c.rows])
    for (const [name, values] of Object.entries(c.columns)) columns[name]?.push(...Array.from(values))
    errors.push(...c.errors)
  }
  await reader.close()
  return { schema, columns, errors, chunks }
}

/** What opening (or reading) `text` threw. */
async function refusal(text: string | Buffer, options: ReaderOptions = {}, name = 'f.csv'): Promise<Error> {
  const path = file(text, name)
  try {
    const reader = await openCsv(path, options)
    try {
      while (await reader.next(100));
    } finally {
      await reader.close()
    }
  } catch (e) {
    return e as Error
  }
  throw new Error('expected a refusal')
}

async function expectRefusal(text: string | Buffer, options: ReaderOptions, message: string, name = 'f.csv') {
  const e = await refusal(text, options, name)
  expect(e).toBeInstanceOf(InvalidRequestError)
  expect(e.message).toBe(message)
}

describe('quoting, line ends and a BOM (RFC 4180)', () => {
  const rows = [
    'id,name,score,note',
    '1,"Smith, Jane",0.5,plain',
    '2,"say ""hi""",1e3,',
    '3,"Zoë\r\n東京",,"a,b"',
    '4,x,-2,',
    '5,y,abc,"z"',
  ]

  it('reads quoted commas, doubled quotes and a quoted CRLF, with CRLF line ends and a BOM', async () => {
    const r = await read(`\uFEFF${rows.join('\r\n')}\r\n`, { inferRows: 4 }, 2)
    expect(r.schema).toEqual([
      ['id', 'float64'],
      ['name', 'utf8'],
      ['score', 'float64'],
      ['note', 'utf8'],
    ])
    expect(r.columns).toEqual({
      id: [1, 2, 3, 4, 5],
      name: ['Smith, Jane', 'say "hi"', 'Zoë\r\n東京', 'x', 'y'],
      score: [0.5, 1000, null, -2, null],
      note: ['plain', null, 'a,b', null, 'z'],
    })
    // Row 4 starts on line 7: row 2's quoted line break makes it two lines.
    expect(r.errors).toEqual([{ row: 4, message: "line 7: column 'score': 'abc' is not a number" }])
    expect(r.chunks).toEqual([
      [0, 2],
      [2, 2],
      [4, 1],
    ])
  })

  it('reads a BOM before a quoted first name', async () => {
    const r = await read('\uFEFF"a b",c\n1,2\n')
    expect(r.schema).toEqual([
      ['a b', 'float64'],
      ['c', 'float64'],
    ])
  })

  it('reads the same with LF line ends, no BOM and no line end at the end of the file', async () => {
    const r = await read(rows.join('\n'), { inferRows: 4 })
    expect(r.columns.name).toEqual(['Smith, Jane', 'say "hi"', 'Zoë\r\n東京', 'x', 'y'])
    expect(r.columns.note).toEqual(['plain', null, 'a,b', null, 'z'])
    expect(r.errors).toEqual([{ row: 4, message: "line 7: column 'score': 'abc' is not a number" }])
  })

  it('reads CR line ends', async () => {
    const r = await read('a,b\r1,2\r3,x\r', { inferRows: 1 })
    expect(r.columns).toEqual({ a: [1, 3], b: [2, null] })
    expect(r.errors).toEqual([{ row: 1, message: "line 3: column 'b': 'x' is not a number" }])
  })

  it('counts the lines of quoted LF, CR and CRLF breaks (a CRLF once)', async () => {
    const text = ['t,n', '"a\nb\nc",1', '"d\re",2', '"f\r\ng",3', '"h",x', ''].join('\n')
    const r = await read(text, { inferRows: 3 })
    expect(r.columns.t).toEqual(['a\nb\nc', 'd\re', 'f\r\ng', 'h'])
    // Lines: 1 header, 2-4 first row, 5-6 second, 7-8 third, 9 fourth.
    expect(r.errors).toEqual([{ row: 3, message: "line 9: column 'n': 'x' is not a number" }])
  })

  it('skips blank lines (before the header too), numbering rows without them and lines with them', async () => {
    const r = await read('\n\na,b\n\n1,2\n\n\n3,4\n,\nx,5\n\n', { inferRows: 2 })
    expect(r.columns).toEqual({ a: [1, 3, null, null], b: [2, 4, null, 5] })
    expect(r.errors).toEqual([{ row: 3, message: "line 10: column 'a': 'x' is not a number" }])
  })

  it('keeps the empty lines of a one-column file as missing values, but not those before its header', async () => {
    const r = await read('\n\nx\n1\n\n3\n\n', { inferRows: 1 })
    expect(r.schema).toEqual([['x', 'float64']])
    expect(r.columns.x).toEqual([1, null, 3, null])
  })
})

describe('the header row', () => {
  it('trims names and names the blank ones by position', async () => {
    const r = await read(' a ,,b,  \n1,2,3,4\n')
    expect(r.schema.map(([n]) => n)).toEqual(['a', 'column_2', 'b', 'column_4'])
    expect(r.columns).toEqual({ a: [1], column_2: [2], b: [3], column_4: [4] })
  })

  it('refuses a name given twice, after trimming or by position', async () => {
    await expectRefusal('a,b,a\n1,2,3\n', {}, "'dup.csv' names column 'a' twice in its header row", 'dup.csv')
    await expectRefusal('x, x\n1,2\n', {}, "'f.csv' names column 'x' twice in its header row")
    await expectRefusal('column_2,\n1,2\n', {}, "'f.csv' names column 'column_2' twice in its header row")
  })

  it('refuses a file without one', async () => {
    const message = "'f.csv' has no header row; a CSV file must start with the column names"
    await expectRefusal('', {}, message)
    await expectRefusal('\n\n\n', {}, message)
    await expectRefusal('\r\n\r\n', {}, message)
  })

  it('takes a header of exactly maxColumns, and refuses one more, counted without quoted commas', async () => {
    const r = await read('"a,b",c,"d""e,f"\n1,2,3\n', { maxColumns: 3 })
    expect(r.schema.map(([n]) => n)).toEqual(['a,b', 'c', 'd"e,f'])
    await expectRefusal(
      'a,b,c,d\n1,2,3,4\n',
      { maxColumns: 3 },
      "'f.csv' has 4 columns; a job file may have at most 3 (LASTMILE_JOB_MAX_COLUMNS)",
    )
  })

  it('counts only the header: wider later rows are row errors, with LF or CR line ends', async () => {
    for (const end of ['\n', '\r', '\r\n']) {
      const r = await read(['a,b', '1,2,3,4', '5,6'].join(end) + end, { maxColumns: 2 })
      expect(r.columns).toEqual({ a: [1, 5], b: [2, 6] })
      expect(r.errors).toEqual([{ row: 0, message: 'line 2: has 4 fields, the header row has 2' }])
    }
  })

  it('counts a header that spans two slices on as it comes', async () => {
    // 16383 bytes and a comma fill the first 16 KiB slice: 2 fields so far, 3 at the line end.
    const header = `${'h'.repeat(16383)},b,c\n1,2,3\n`
    await expectRefusal(
      header,
      { maxColumns: 2 },
      "'f.csv' has 3 columns; a job file may have at most 2 (LASTMILE_JOB_MAX_COLUMNS)",
    )
  })

  it('counts a header that starts after a slice of blank lines', async () => {
    // 16385 line ends: the first slice holds 16384 of them, the second one more, then the header
    // from byte 16385: its first 16383 bytes are 8191 'c,' pairs and a 'c', 8191 commas.
    const text = `${'\n'.repeat(16385)}${'c,'.repeat(10000)}d\n1\n`
    await expectRefusal(
      text,
      { maxColumns: 5 },
      "'f.csv' has at least 8192 columns; a job file may have at most 5 (LASTMILE_JOB_MAX_COLUMNS)",
    )
  })

  it('refuses the header csv-parse reads when the file mixes CRLF and LF line ends', async () => {
    // csv-parse takes the first line end it meets (CRLF) for all: the LF ends no record, so the
    // header record is a,b,c\n1,2,3\n: 5 fields, though its first line has 3.
    await expectRefusal(
      '\r\na,b,c\n1,2,3\n',
      { maxColumns: 3 },
      "'f.csv' has 5 columns; a job file may have at most 3 (LASTMILE_JOB_MAX_COLUMNS)",
    )
  })

  it('refuses a header at the first slice that passes the limit, with the count so far', async () => {
    // A blank line, then a quoted name with a line break in it, then 'c,' pairs: the first 16384
    // bytes are 2 + 6 + 16376 = 8188 pairs' bytes, so hold 1 + 8188 commas: 8190 fields so far.
    const text = `\r\n"a\nb",${'c,'.repeat(10000)}d\n1\n`
    await expectRefusal(
      text,
      { maxColumns: 5 },
      "'f.csv' has at least 8190 columns; a job file may have at most 5 (LASTMILE_JOB_MAX_COLUMNS)",
    )
  })
})

describe('column types from the first rows', () => {
  it('makes a column float64 when every non-empty value there is a decimal number', async () => {
    const r = await read(
      [
        'plain,spaced,blank,late,texty,inf,hex,huge,empty',
        '1,  2 ,,,a,1,1,1,',
        '.5,3,4,,1,Infinity,0x10,1e400,',
        '-2.5e-3,+6,,7,2,3,4,5,',
      ].join('\n'),
    )
    expect(r.schema).toEqual([
      ['plain', 'float64'],
      ['spaced', 'float64'],
      ['blank', 'float64'],
      ['late', 'float64'],
      ['texty', 'utf8'],
      ['inf', 'utf8'],
      ['hex', 'utf8'],
      ['huge', 'utf8'],
      ['empty', 'utf8'],
    ])
    expect(r.columns).toEqual({
      plain: [1, 0.5, -0.0025],
      spaced: [2, 3, 6],
      blank: [null, 4, null],
      late: [null, null, 7],
      texty: ['a', '1', '2'],
      inf: ['1', 'Infinity', '3'],
      hex: ['1', '0x10', '4'],
      huge: ['1', '1e400', '5'],
      empty: [null, null, null],
    })
    expect(r.chunks).toEqual([[0, 3]])
  })

  it('looks at inferRows rows only: a later text value is a row error, its cell null', async () => {
    const r = await read('n\n1\n2\nx\n4\n', { inferRows: 2 })
    expect(r.schema).toEqual([['n', 'float64']])
    expect(r.columns.n).toEqual([1, 2, null, 4])
    expect(r.errors).toEqual([{ row: 2, message: "line 4: column 'n': 'x' is not a number" }])
  })

  it('keeps a column text when an integer there is past 2^53, and not for other numbers', async () => {
    const r = await read(
      [
        'safe,two53,past,neg,lead,trail,frac,exp',
        '9007199254740991,9007199254740992,9007199254740993,-9007199254740993, 9007199254740993,9007199254740993 ,9007199254740993.5,1e20',
      ].join('\n'),
    )
    expect(r.schema).toEqual([
      ['safe', 'float64'],
      ['two53', 'utf8'],
      ['past', 'utf8'],
      ['neg', 'utf8'],
      ['lead', 'utf8'],
      ['trail', 'utf8'],
      ['frac', 'float64'],
      ['exp', 'float64'],
    ])
    expect(r.columns).toEqual({
      safe: [9007199254740991],
      two53: ['9007199254740992'],
      past: ['9007199254740993'],
      neg: ['-9007199254740993'],
      lead: [' 9007199254740993'],
      trail: ['9007199254740993 '],
      frac: [9007199254740994],
      exp: [1e20],
    })
  })

  it('reads a later integer past 2^53 in a column of numbers exactly, up to 20 digits', async () => {
    const later = [
      '9007199254740993',
      '+18446744073709551615',
      ' -18446744073709551615 ',
      '100000000000000000000',
      '9007199254740991',
      '1.5e300',
    ]
    const r = await read(`n\n1\n${later.join('\n')}\n`, { inferRows: 1 })
    expect(r.schema).toEqual([['n', 'float64']])
    expect(r.columns.n).toEqual([
      1,
      9007199254740993n,
      18446744073709551615n,
      -18446744073709551615n,
      1e20,
      9007199254740991,
      1.5e300,
    ])
    expect(r.errors).toEqual([])
  })

  it('packs a column of numbers without missing values as a Float64Array', async () => {
    const reader = await openCsv(file('a,b\n1,x\n2.5,y\n'))
    const chunk = await reader.next(10)
    expect(chunk?.columns.a).toBeInstanceOf(Float64Array)
    expect(Array.from(chunk?.columns.a as Float64Array)).toEqual([1, 2.5])
    expect(chunk?.columns.b).toEqual(['x', 'y'])
    await reader.close()
  })
})

describe('rows of the wrong width', () => {
  it('reports a later row with too few or too many fields, keeping the values it has', async () => {
    const r = await read('a,b,c\n1,2,3\n4,5,6\n7\n8,9,10,11\n,,\n12,13,14\n', { inferRows: 2 })
    expect(r.columns).toEqual({
      a: [1, 4, 7, 8, null, 12],
      b: [2, 5, null, 9, null, 13],
      c: [3, 6, null, 10, null, 14],
    })
    expect(r.errors).toEqual([
      { row: 2, message: 'line 4: has 1 fields, the header row has 3' },
      { row: 3, message: 'line 5: has 4 fields, the header row has 3' },
    ])
  })

  it('guesses from the fields a short or long row has', async () => {
    const r = await read('a,b\nx\n1,2,y\n3,4\n')
    expect(r.schema).toEqual([
      ['a', 'utf8'],
      ['b', 'float64'],
    ])
    expect(r.columns).toEqual({ a: ['x', '1', '3'], b: [null, 2, 4] })
    expect(r.errors).toEqual([
      { row: 0, message: 'line 2: has 1 fields, the header row has 2' },
      { row: 1, message: 'line 3: has 3 fields, the header row has 2' },
    ])
  })
})

describe('rows across the parser’s 16 KiB slices', () => {
  it('reads a row with a quoted CRLF and multibyte characters cut at every byte by a slice end', async () => {
    // Header 'a,b\n' (4 bytes), a filler row '1,<k bytes>\n', then the 13-byte row 2,"é,\r\n東"
    // starting at byte k + 7: for k = 16377 … 16364 the slice end at byte 16384 falls at each
    // place in it, from before its first byte to after its last.
    const row = '2,"é,\r\n東"\n'
    expect(Buffer.byteLength(row)).toBe(13)
    for (let k = 16364; k <= 16377; k++) {
      const filler = 'f'.repeat(k)
      const r = await read(`a,b\n1,${filler}\n${row}3,z\nx,w\n`, { inferRows: 3 })
      expect(r.columns.a).toEqual([1, 2, 3, null])
      expect(r.columns.b).toEqual([filler, 'é,\r\n東', 'z', 'w'])
      expect(r.errors).toEqual([{ row: 3, message: "line 6: column 'a': 'x' is not a number" }])
    }
  })
})

describe('refusals of text that is not CSV', () => {
  it('refuses a quote closed before the end of its field, naming the line', async () => {
    await expectRefusal(
      'a,b\n1,2\n3,"x"y\n',
      {},
      `'f.csv' is not valid CSV: Invalid Closing Quote: got "y" at line 3 instead of delimiter, record delimiter, trimable character (if activated) or comment`,
    )
  })

  it('refuses when opened a file whose first slice is not valid CSV', async () => {
    const path = file('a,b\n1,2\n3,"x"y\n4,5\n')
    const e = await openCsv(path, { inferRows: 1 }).catch((x: unknown) => x as Error)
    expect(e).toBeInstanceOf(InvalidRequestError)
    expect((e as Error).message).toMatch(/^'f\.csv' is not valid CSV: Invalid Closing Quote: got "y" at line 3 /)
  })

  it('refuses a quote opened inside a field', async () => {
    await expectRefusal(
      'a"b,c\n1,2\n',
      {},
      `'f.csv' is not valid CSV: Invalid Opening Quote: a quote is found on field 0 at line 1, value is "a"`,
    )
  })

  it('refuses a quote never closed, found at the end of the file', async () => {
    await expectRefusal(
      'a,b\n1,2\n3,"xy\n4,5\n',
      {},
      "'f.csv' is not valid CSV: Quote Not Closed: the parsing is finished with an opening quote at line 4",
    )
  })

  it('takes a record of maxRecordBytes + 1 bytes of fields and refuses one byte more', async () => {
    // csv-parse checks a record's size before it adds each byte (separators not counted), so it
    // holds one byte past the limit: fields of 1 + 62 + 2 ('é' is 2 bytes) = 65 bytes pass.
    const ok = await read(`a,b\n1,2\n3,${'x'.repeat(62)}é\n4,5\n`, { maxRecordBytes: 64 })
    expect(ok.columns.b).toEqual(['2', `${'x'.repeat(62)}é`, '5'])
    const message =
      "'f.csv' has a record longer than 64 bytes at line 4 (LASTMILE_JOB_MAX_RECORD_BYTES): a line without its end, or a quote never closed?"
    await expectRefusal(`a,b\r\n1,2\r\n\r\n3,${'x'.repeat(63)}é\r\n4,5\r\n`, { maxRecordBytes: 64 }, message)
  })

  it('refuses a quote never closed once it holds more than maxRecordBytes, at the line it got to', async () => {
    // The quote opens on line 2; its 101st byte (the ',' after 33 'q,\n' and a 'q') is on line 35.
    await expectRefusal(
      `a,b\n1,"${'q,\n'.repeat(40)}`,
      { maxRecordBytes: 100 },
      "'f.csv' has a record longer than 100 bytes at line 35 (LASTMILE_JOB_MAX_RECORD_BYTES): a line without its end, or a quote never closed?",
    )
  })
})
