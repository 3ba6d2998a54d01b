/**
 * The job file formats' table (src/jobs/io/formats.ts): every format's name, the media types and
 * extensions that name it, the type and extension a result is written with. Expected values are
 * written out by hand from the formats' registrations (IANA's text/csv and
 * application/vnd.apache.arrow.*, the ndjson/jsonl conventions, application/vnd.apache.parquet).
 */
import { describe, expect, it } from 'vitest'

/**
 * The module, imported inside each test: its table and lookup maps are built when it loads, so a
 * table that cannot be built fails the tests rather than the file's collection (which a runner
 * may report as no tests at all).
 */
const load = () => import('../../../src/jobs/io/formats.js')

describe('the job formats', () => {
  it('lists the four formats in help-text order', async () => {
    const { JOB_FORMATS } = await load()
    expect(JOB_FORMATS).toEqual(['csv', 'jsonl', 'arrow', 'parquet'])
  })

  it('lists every media type that names a format, format by format', async () => {
    const { JOB_MEDIA_TYPES } = await load()
    expect(JOB_MEDIA_TYPES).toEqual([
      'text/csv',
      'application/x-ndjson',
      'application/jsonl',
      'application/jsonlines',
      'application/vnd.apache.arrow.file',
      'application/vnd.apache.arrow.stream',
      'application/vnd.apache.parquet',
      'application/x-parquet',
    ])
  })

  it('tells a format name from any other string, case and all', async () => {
    const { isJobFormat } = await load()
    for (const name of ['csv', 'jsonl', 'arrow', 'parquet']) expect(isJobFormat(name)).toBe(true)
    for (const name of ['CSV', 'json', 'ndjson', 'arrows', '', 'parquet ', 'toString'])
      expect(isJobFormat(name)).toBe(false)
  })
})

describe('formatFromContentType', () => {
  it('names the format of each media type', async () => {
    const { formatFromContentType } = await load()
    expect(formatFromContentType('text/csv')).toBe('csv')
    expect(formatFromContentType('application/x-ndjson')).toBe('jsonl')
    expect(formatFromContentType('application/jsonl')).toBe('jsonl')
    expect(formatFromContentType('application/jsonlines')).toBe('jsonl')
    expect(formatFromContentType('application/vnd.apache.arrow.file')).toBe('arrow')
    expect(formatFromContentType('application/vnd.apache.arrow.stream')).toBe('arrow')
    expect(formatFromContentType('application/vnd.apache.parquet')).toBe('parquet')
    expect(formatFromContentType('application/x-parquet')).toBe('parquet')
  })

  it('ignores parameters, surrounding spaces and case', async () => {
    const { formatFromContentType } = await load()
    expect(formatFromContentType('text/csv; charset=utf-8')).toBe('csv')
    expect(formatFromContentType('  Application/X-NDJSON ;charset=UTF-8')).toBe('jsonl')
    expect(formatFromContentType('APPLICATION/VND.APACHE.PARQUET')).toBe('parquet')
  })

  it('names no format for another type, an empty one, or none', async () => {
    const { formatFromContentType } = await load()
    expect(formatFromContentType('application/json')).toBeUndefined()
    expect(formatFromContentType('application/octet-stream')).toBeUndefined()
    expect(formatFromContentType('charset=utf-8; text/csv')).toBeUndefined()
    expect(formatFromContentType('')).toBeUndefined()
    expect(formatFromContentType('  ; text/csv')).toBeUndefined()
    expect(formatFromContentType(undefined)).toBeUndefined()
  })
})

describe('contentTypeFor', () => {
  it('gives the type each result is sent with (Arrow results are streams)', async () => {
    const { contentTypeFor } = await load()
    expect(contentTypeFor('csv')).toBe('text/csv; charset=utf-8')
    expect(contentTypeFor('jsonl')).toBe('application/x-ndjson')
    expect(contentTypeFor('arrow')).toBe('application/vnd.apache.arrow.stream')
    expect(contentTypeFor('parquet')).toBe('application/vnd.apache.parquet')
  })
})

describe('formatFromPath', () => {
  it('names the format of every extension, in any case, after any folder', async () => {
    const { formatFromPath } = await load()
    const cases: Array<[string, string]> = [
      ['a.csv', 'csv'],
      ['dir.parquet/b.CSV', 'csv'],
      ['c.jsonl', 'jsonl'],
      ['d.NDJSON', 'jsonl'],
      ['e.arrows', 'arrow'],
      ['f.arrow', 'arrow'],
      ['g.feather', 'arrow'],
      ['/tmp/x/h.ipc', 'arrow'],
      ['i.parquet', 'parquet'],
      ['j.Pq', 'parquet'],
    ]
    for (const [path, format] of cases) expect(formatFromPath(path)).toBe(format)
  })

  it('names none for another extension or none at all', async () => {
    const { formatFromPath } = await load()
    for (const path of ['a.json', 'b.txt', 'csv', 'c.csv.gz', '.csv', 'noext', 'dir.csv/file', '']) {
      expect(formatFromPath(path)).toBeUndefined()
    }
  })
})

describe('extensionFor', () => {
  it("gives each result file the format's first extension", async () => {
    const { extensionFor } = await load()
    expect(extensionFor('csv')).toBe('.csv')
    expect(extensionFor('jsonl')).toBe('.jsonl')
    expect(extensionFor('arrow')).toBe('.arrows')
    expect(extensionFor('parquet')).toBe('.parquet')
  })
})
