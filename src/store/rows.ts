/**
 * Reading rows, on either backend: each table's row is parsed by a zod schema of its columns
 * (`table-rows.ts`), never cast, so a corrupt or hand-edited row fails with an error naming the
 * table, the column and the row rather than passing a wrong value on. Column schemas for what the
 * column types do not say: JSON kept as text, SQLite's 0/1 for booleans, BLOBs (bytea) of float64
 * values.
 */
import { z } from 'zod'
import { CorruptRowError } from './schemas.js'

/** A TEXT column holding JSON that `schema` parses. */
export function jsonText<T extends z.ZodType>(schema: T) {
  return z
    .string()
    .transform((text, ctx): unknown => {
      try {
        return JSON.parse(text)
      } catch (e) {
        ctx.issues.push({ code: 'custom', message: `not JSON (${(e as Error).message})`, input: text })
        return z.NEVER
      }
    })
    .pipe(schema)
}

/** An INTEGER column holding a boolean as 0 or 1. */
export const booleanInteger = z.literal([0, 1]).transform((v) => v === 1)

/** A BLOB (bytea) column holding float64 values (native byte order), copied out of the driver's buffer. */
export const float64Blob = z
  .instanceof(Uint8Array)
  .refine((b) => b.byteLength % Float64Array.BYTES_PER_ELEMENT === 0, {
    message: 'float64 values need a multiple of 8 bytes',
  })
  .transform((b) => {
    const copy = new Uint8Array(b.byteLength) // aligned, and not a view of a buffer the driver reuses
    copy.set(b)
    return new Float64Array(copy.buffer)
  })

/** A BLOB (bytea) column, as a Uint8Array of its own. */
export const bytesBlob = z.instanceof(Uint8Array).transform((b) => new Uint8Array(b))

/** How far a row's key values are shown in an error (a corrupt key may be long). */
const SHOWN_KEY_CHARS = 64

/**
 * The parser of `table`'s rows: returns what `schema` makes of a row, or throws CorruptRowError
 * naming the column and the row by its `key` columns.
 *
 * @example
 * const modelFrom = rowParser('models', modelRow, ['workspace', 'name', 'version'])
 * const record = modelFrom(db.prepare('SELECT * FROM models WHERE ...').get(...))
 */
export function rowParser<S extends z.ZodType>(
  table: string,
  schema: S,
  key: readonly string[],
): (row: unknown) => z.output<S> {
  return (row) => {
    const parsed = schema.safeParse(row)
    if (parsed.success) return parsed.data
    const issue = parsed.error.issues[0]
    const [column, ...inner] = issue?.path ?? []
    const values = row !== null && typeof row === 'object' ? (row as Record<string, unknown>) : {}
    const which = key.map((k) => `${k}=${JSON.stringify(values[k])?.slice(0, SHOWN_KEY_CHARS)}`).join(', ')
    throw new CorruptRowError(
      table,
      column === undefined ? '(row)' : String(column),
      which,
      inner,
      issue?.message ?? 'not a row',
    )
  }
}

const maxVersionOf: Record<string, (row: unknown) => { v: number }> = {}

/** The version after the latest of a versioned table, from a `SELECT COALESCE(MAX(version), 0) AS v` row. */
export function nextVersion(table: string, row: unknown): number {
  maxVersionOf[table] ??= rowParser(table, z.object({ v: z.int().min(0) }), [])
  return maxVersionOf[table](row).v + 1
}
