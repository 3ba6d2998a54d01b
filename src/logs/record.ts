/**
 * What the inference log takes in and gives back. The serving layer hands each answered request
 * to an {@link InferenceSink}; the log stores it and answers queries as {@link LogRow}s. These
 * types live here, beside the log that owns them, so the log never imports the serving layer.
 */
import type { Columns } from '../engine/types.js'

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
}

/** Where answered inferences go (the inference log). `append` must not block or throw. */
export interface InferenceSink {
  append(record: InferenceRecord): void
}

/** One row of the log, as queries return it. */
export type LogRow = Record<string, unknown> & { time: number }
