/**
 * File IO for batch jobs: read an input file (CSV, JSONL, Arrow IPC file or stream, Parquet) in
 * bounded chunks of rows, write each chunk of results as an Arrow IPC stream file, and stream the
 * chunk files back as any of the four formats.
 */
import { extname } from 'node:path'
import { InvalidRequestError } from '../../errors.js'
import { openArrow } from './arrow.js'
import { openCsv } from './csv.js'
import { openJsonl } from './jsonl.js'
import { openParquet } from './parquet.js'
import type { ChunkReader, JobFormat, ReaderOptions } from './types.js'

export { encodeChunk } from './encode.js'
export { writeOutput } from './output.js'
export { INFER_ROWS } from './text.js'
export type { ChunkReader, ColumnChunk, JobFormat, ReaderOptions, RowError, SchemaField } from './types.js'

/** The formats, for validation and help texts. */
export const JOB_FORMATS: readonly JobFormat[] = ['csv', 'jsonl', 'arrow', 'parquet']

/**
 * Opens `path` as `format` for reading in chunks. Throws {@link InvalidRequestError} when the file
 * is not of that format (no Parquet footer, no Arrow schema, a CSV without a header row).
 */
export async function openReader(path: string, format: JobFormat, options: ReaderOptions = {}): Promise<ChunkReader> {
  switch (format) {
    case 'csv':
      return openCsv(path, options)
    case 'jsonl':
      return openJsonl(path, options)
    case 'arrow':
      return openArrow(path)
    case 'parquet':
      return openParquet(path)
    default:
      throw new InvalidRequestError(
        `unknown file format '${String(format)}'; expected one of ${JOB_FORMATS.join(', ')}`,
      )
  }
}

const BY_MEDIA_TYPE = new Map<string, JobFormat>(
  Object.entries({
    'text/csv': 'csv',
    'application/x-ndjson': 'jsonl',
    'application/jsonl': 'jsonl',
    'application/jsonlines': 'jsonl',
    'application/vnd.apache.arrow.file': 'arrow',
    'application/vnd.apache.arrow.stream': 'arrow',
    'application/vnd.apache.parquet': 'parquet',
    'application/x-parquet': 'parquet',
  }) as [string, JobFormat][],
)

/** The media types that name a job file's format (any other type needs `?format=`). */
export const JOB_MEDIA_TYPES: readonly string[] = [...BY_MEDIA_TYPE.keys()]

/** The format a `Content-Type` names (parameters and case ignored); undefined for any other type. */
export function formatFromContentType(contentType: string | undefined): JobFormat | undefined {
  const media = contentType?.split(';')[0]?.trim().toLowerCase()
  return media ? BY_MEDIA_TYPE.get(media) : undefined
}

/** The `Content-Type` of a job output in `format` (Arrow output is always the stream format). */
export function contentTypeFor(format: JobFormat): string {
  return {
    csv: 'text/csv; charset=utf-8',
    jsonl: 'application/x-ndjson',
    arrow: 'application/vnd.apache.arrow.stream',
    parquet: 'application/vnd.apache.parquet',
  }[format]
}

const BY_EXTENSION = new Map<string, JobFormat>(
  Object.entries({
    '.csv': 'csv',
    '.jsonl': 'jsonl',
    '.ndjson': 'jsonl',
    '.arrow': 'arrow',
    '.arrows': 'arrow',
    '.feather': 'arrow',
    '.ipc': 'arrow',
    '.parquet': 'parquet',
    '.pq': 'parquet',
  }) as [string, JobFormat][],
)

/** The format a file name's extension suggests (`.csv`, `.jsonl`/`.ndjson`, `.arrow`/`.arrows`/`.feather`/`.ipc`, `.parquet`/`.pq`). */
export function formatFromPath(path: string): JobFormat | undefined {
  return BY_EXTENSION.get(extname(path).toLowerCase())
}
