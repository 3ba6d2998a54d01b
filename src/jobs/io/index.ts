/**
 * File IO for batch jobs: read an input file (CSV, JSONL, Arrow IPC file or stream, Parquet) in
 * bounded chunks of rows, write each chunk of results as an Arrow IPC stream file, and stream the
 * chunk files back as any of the four formats.
 */
import { basename } from 'node:path'
import { DEFAULT_MAX_COLUMNS } from '../../config-schema.js'
import { InvalidRequestError } from '../../errors.js'
import { openArrow } from './arrow.js'
import { openCsv } from './csv.js'
import { JOB_FORMATS, type JobFormat } from './formats.js'
import { openJsonl } from './jsonl.js'
import { openParquet } from './parquet.js'
import { tooManyColumns } from './text.js'
import type { ChunkReader, ReaderOptions } from './types.js'

export { encodeChunk } from './encode.js'
export {
  contentTypeFor,
  extensionFor,
  formatFromContentType,
  formatFromPath,
  isJobFormat,
  JOB_FORMATS,
  JOB_MEDIA_TYPES,
  type JobFormat,
} from './formats.js'
export { writeOutput } from './output.js'
export type { ChunkReader, ColumnChunk, ReaderOptions, SchemaField } from './types.js'

/**
 * Opens `path` as `format` for reading in chunks. Throws {@link InvalidRequestError} when the file
 * is not of that format (no Parquet footer, no Arrow schema, a CSV without a header row) or has
 * more than `options.maxColumns` columns.
 */
export async function openReader(path: string, format: JobFormat, options: ReaderOptions = {}): Promise<ChunkReader> {
  const reader = await open(path, format, options)
  // CSV and JSONL check while reading their first rows; Arrow and Parquet schemas come whole.
  const maxColumns = options.maxColumns ?? DEFAULT_MAX_COLUMNS
  if (reader.schema.length > maxColumns) {
    await reader.close()
    throw tooManyColumns(basename(path), reader.schema.length, maxColumns)
  }
  return reader
}

function open(path: string, format: JobFormat, options: ReaderOptions): Promise<ChunkReader> {
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
