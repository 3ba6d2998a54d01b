/**
 * The file formats a batch job reads and writes, in one table: their names, the media types that
 * name each in a `Content-Type`, the one each result is sent as, and the file extensions that
 * suggest each. The job routes, their OpenAPI document, the wire schema, the CLI and the client
 * take them from here; adding a format starts with a row here and a reader in index.ts.
 */
import { extname } from 'node:path'
import { ARROW_TYPES } from '../../formats/media-types.js'

/** The formats, in the order help texts list them. */
export const JOB_FORMATS = ['csv', 'jsonl', 'arrow', 'parquet'] as const

/** A file format a job reads and writes. */
export type JobFormat = (typeof JOB_FORMATS)[number]

interface FormatRow {
  /** The `Content-Type` a result in this format is sent with (Arrow results are always a stream). */
  written: string
  /** Media types (lower case, no parameters) that name this format in an upload's `Content-Type`. */
  read: readonly string[]
  /** File name extensions (lower case) that suggest this format; the first is a result file's. */
  extensions: readonly string[]
}

const TABLE: Readonly<Record<JobFormat, FormatRow>> = {
  // Results are UTF-8 (RFC 4180 leaves text/csv's charset to the parameter).
  csv: { written: 'text/csv; charset=utf-8', read: ['text/csv'], extensions: ['.csv'] },
  jsonl: {
    written: 'application/x-ndjson',
    read: ['application/x-ndjson', 'application/jsonl', 'application/jsonlines'],
    extensions: ['.jsonl', '.ndjson'],
  },
  arrow: {
    written: ARROW_TYPES.stream,
    read: [ARROW_TYPES.file, ARROW_TYPES.stream],
    extensions: ['.arrows', '.arrow', '.feather', '.ipc'],
  },
  parquet: {
    written: 'application/vnd.apache.parquet',
    read: ['application/vnd.apache.parquet', 'application/x-parquet'],
    extensions: ['.parquet', '.pq'],
  },
}

const byMediaType = new Map(JOB_FORMATS.flatMap((f) => TABLE[f].read.map((t) => [t, f] as const)))
const byExtension = new Map(JOB_FORMATS.flatMap((f) => TABLE[f].extensions.map((e) => [e, f] as const)))

/** The media types that name a job file's format (any other type needs `?format=`). */
export const JOB_MEDIA_TYPES: readonly string[] = [...byMediaType.keys()]

/** Whether `name` is one of {@link JOB_FORMATS}. */
export function isJobFormat(name: string): name is JobFormat {
  return (JOB_FORMATS as readonly string[]).includes(name)
}

/** The format a `Content-Type` names (parameters and case ignored); undefined for any other type. */
export function formatFromContentType(contentType: string | undefined): JobFormat | undefined {
  // Stryker disable next-line OptionalChaining: split always returns at least one element, so [0] is never undefined
  const media = contentType?.split(';')[0]?.trim().toLowerCase()
  return media ? byMediaType.get(media) : undefined
}

/** The `Content-Type` a job result in `format` is sent with. */
export function contentTypeFor(format: JobFormat): string {
  return TABLE[format].written
}

/** The format a file name's extension suggests; undefined for an extension of none. */
export function formatFromPath(path: string): JobFormat | undefined {
  return byExtension.get(extname(path).toLowerCase())
}

/** The extension a result file in `format` is given (`.arrows` for Arrow: results are streams). */
export function extensionFor(format: JobFormat): string {
  return TABLE[format].extensions[0] as string
}
