/**
 * What the inference log takes in and gives back. The serving layer hands each answered request
 * to an {@link InferenceSink}; the log stores it and answers queries as {@link LogRow}s. These
 * types live here, beside the log that owns them, so the log never imports the serving layer.
 */
import type { Columns } from '../engine/types.js'
import { InvalidRequestError } from '../errors.js'

/** One answered request, as handed to the inference log. */
export interface InferenceRecord {
  /** ms since epoch when the answer was ready. */
  time: number
  workspace: string
  pipeline: string
  pipelineVersion: number
  model: string
  rows: number
  inputs: Columns
  outputs: Columns
  /** The model that answered each row. */
  rowModels: string[]
  /** Failed validations per row. */
  checkFailures: Int32Array
  /** Shadow challengers' outputs, as `out_<model>.<output>` columns. */
  shadow: Columns
  latencyMs: number
  /**
   * The request's id as the client gave it (OIP `id`), at most {@link MAX_REQUEST_ID_BYTES} bytes
   * of UTF-8: feedback names a row by it and the row's index in the request.
   */
  requestId?: string
}

/** Longest request id the log keeps, in UTF-8 bytes: the inference routes refuse a longer one. */
const MAX_REQUEST_ID_BYTES = 256

const encoder = new TextEncoder()

/**
 * A client's request id for the log, which joins feedback to the request's rows by it (`what` names
 * where it came from); one longer than {@link MAX_REQUEST_ID_BYTES} bytes of UTF-8 is refused
 * rather than cut.
 */
export function loggedRequestId(id: string | undefined, what: string): { requestId?: string } {
  if (id === undefined) return {}
  const bytes = encoder.encode(id).length
  if (bytes > MAX_REQUEST_ID_BYTES)
    throw new InvalidRequestError(`${what} has ${bytes} bytes of UTF-8; at most ${MAX_REQUEST_ID_BYTES} are accepted`)
  return { requestId: id }
}

/** Where answered inferences go (the inference log). `append` must not block or throw. */
export interface InferenceSink {
  append(record: InferenceRecord): void
}

/** One row of the log, as queries return it. */
export type LogRow = Record<string, unknown> & { time: number }
