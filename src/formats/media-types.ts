/**
 * The media types of lastmile's inference bodies and answers, each written once: the codecs, the
 * routes (and the OpenAPI document they describe themselves with), `Accept` negotiation and the
 * client take them from here. Batch job files have their own table (src/jobs/io/formats.ts).
 */
import type { ArrowFormat } from './arrow.js'

/** JSON: OIP requests and answers without binary data, and every JSON route. */
export const JSON_TYPE = 'application/json'

/** pandas-records (Wallaroo's engine format): a JSON array with one object per row. */
export const RECORDS_TYPE = 'application/json; format=pandas-records'

/** Arrow IPC, by framing: a stream (schema, then batches) or a file (the stream inside a footer). */
export const ARROW_TYPES: Readonly<Record<ArrowFormat, string>> = {
  stream: 'application/vnd.apache.arrow.stream',
  file: 'application/vnd.apache.arrow.file',
}

/** Raw bytes: an OIP request or answer with binary tensor data, a model upload, a job file of any format. */
export const BYTES_TYPE = 'application/octet-stream'
