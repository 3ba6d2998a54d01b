/**
 * What the store's records may hold, as zod schemas any backend parses its rows with: the value
 * lists (roles, statuses) and the JSON documents stored in a column (tensor metadata, a job's
 * options and row errors). Nothing here knows a backend: the row layout both backends share
 * (column names, JSON as text) lives in `table-rows.ts` and `rows.ts`, each backend's SQL in its
 * `sqlite-*.ts` and `pg-*.ts` files.
 *
 * Documents another layer owns (pipeline steps, deploy settings, an assay's definition and results,
 * an explanation's request and report) are checked here only as JSON objects or arrays: the store
 * cannot import their schemas without depending on the layers that depend on it. Their owners parse
 * them where they are used (`parseSteps`, `deployRequestSchema`, `explainSchema`).
 */
import { z } from 'zod'

/**
 * A stored value that is not what lastmile writes there: the database was changed outside lastmile
 * or is corrupt. Says which table, column and row, where inside a JSON column, and what was wrong.
 */
export class CorruptRowError extends Error {
  constructor(
    readonly table: string,
    readonly column: string,
    /** The row's key, as `id=3` or `workspace="default", name="m"`. */
    row: string,
    /** Where inside the column's JSON (empty for the column itself). */
    inner: readonly PropertyKey[],
    problem: string,
  ) {
    const at = inner.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')
    super(
      `table '${table}', column '${column}' of row (${row})${at ? ` at ${at}` : ''}: ${problem}; the database was changed outside lastmile or is corrupt`,
    )
    this.name = 'CorruptRowError'
  }
}

/** An API key's role, weakest last. */
export const ROLES = ['admin', 'deployer', 'viewer'] as const

/** A batch job's state; `queued` and `running` are active, the others final. */
export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const

/** An explanation job's state. */
export const EXPLANATION_STATUSES = ['running', 'succeeded', 'failed'] as const

/** A measured tuning run's state. */
export const OPTIMIZATION_STATUSES = ['running', 'succeeded', 'failed'] as const

/** One input or output of a model version. */
export const tensorMetaSchema = z.object({
  name: z.string(),
  /** OIP v2 datatype (FP32, INT64, ...). */
  datatype: z.string(),
  /** -1 for symbolic dims. */
  shape: z.array(z.int().min(-1)),
})

/** The options a batch job was created with (the server's settings at that moment). */
export const jobOptionsSchema = z.object({
  /** The columns that form a model's one [N, F] input, in order; absent: each input reads its own column. */
  features: z.array(z.string()).optional(),
  /** Share of rows that may fail before the job fails (0 to 1). */
  maxErrorShare: z.number().min(0).max(1),
  /** Rows per committed chunk. */
  chunkRows: z.int().positive(),
  /** Rows per batch fed to the pipeline. */
  batchRows: z.int().positive(),
})

/** A row a job could not score. */
export const jobRowErrorSchema = z.object({
  /** Input row number, from 0. */
  row: z.int().min(0),
  message: z.string(),
})

/** A JSON object whose fields another layer defines. */
export const jsonObjectSchema = z.record(z.string(), z.unknown())
