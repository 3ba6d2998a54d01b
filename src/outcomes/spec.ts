/**
 * A pipeline's outcome settings (ground truth): what its predictions are (the probabilities of a
 * classifier, or a regressor's value, in one output), how outcomes name classes, and what joins
 * an outcome to the logged row it is the truth of: the OIP request `id` and the row's index in
 * that request, or the value of a request input column (`key`). And the keys outcomes are stored
 * under, one per logged row.
 */
import { z } from 'zod'
import { NotFoundError } from '../errors.js'
import { CorruptRowError } from '../store/schemas.js'
import type { OutcomeStore } from '../store/types.js'
import { retrainingSchema } from './retraining-spec.js'

/** Longest request id or key column value in feedback, in UTF-8 bytes (names in the settings: as many characters). */
export const MAX_KEY_BYTES = 256

/** Most classes a classifier's settings may name. */
const MAX_LABELS = 1000

const name = z.string().min(1).max(MAX_KEY_BYTES)

export const outcomeSpecSchema = z
  .object({
    task: z.enum(['classification', 'regression']),
    /**
     * The pipeline output holding the predictions: a classifier's probabilities ([N, K], or [N] /
     * [N, 1] for P(class 1) of a binary task), a regressor's value ([N] or [N, 1]).
     */
    output: name,
    /** Class names: outcome strings map to their index here (else outcomes are class indices). */
    labels: z
      .array(name)
      .min(2)
      .max(MAX_LABELS)
      .refine((l) => new Set(l).size === l.length, { message: 'labels must differ from each other' })
      .optional(),
    /** A request input whose value joins feedback to a row, instead of the request id and row. */
    key: name.optional(),
    /** When the pipeline's training set is exported (see retraining-spec.ts). */
    retraining: retrainingSchema.optional(),
  })
  .strict()
  .refine((s) => s.task === 'classification' || s.labels === undefined, {
    message: 'labels are for classification',
    path: ['labels'],
  })

/** Outcome settings, as stored and used. */
export type OutcomeSpec = z.infer<typeof outcomeSpecSchema>

/** The stored key of the outcome of row `row` of the request whose OIP `id` is `id`. */
export const requestKey = (id: string, row: number): string => `r${row}:${id}`

/** The stored key of the outcome for the rows whose key column holds `value`. */
export const columnKey = (value: string): string => `k:${value}`

/** A NUL (PostgreSQL's text refuses it) or an unpaired surrogate (UTF-8 cannot hold it: a store keeps another text). */
const UNSTORABLE = /\0|\p{Cs}/u

/**
 * Whether `text` (a request id, a key column's value) can be part of a stored key: without a NUL
 * or an unpaired surrogate. Feedback naming one is refused; a logged row holding one has no outcome.
 */
export const storable = (text: string): boolean => !UNSTORABLE.test(text)

/**
 * A key column's value as its key's text: strings as they are, integers as their digits (an
 * INT64 column's bigint too), other numbers as JavaScript writes them; undefined for anything
 * else (null, a NaN).
 */
export function keyText(value: unknown): string | undefined {
  if (typeof value === 'string') return value
  if (typeof value === 'bigint') return String(value)
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  return undefined
}

/**
 * The class index an outcome names: a label of `labels`, or an integer in [0, classes); NaN when it
 * names none (an unknown label, a number out of range).
 */
export function classIndex(value: number | string, labels: readonly string[] | undefined, classes: number): number {
  if (typeof value === 'string') {
    const k = labels?.indexOf(value) ?? -1
    return k >= 0 && k < classes ? k : Number.NaN
  }
  return Number.isInteger(value) && value >= 0 && value < classes ? value : Number.NaN
}

/**
 * A pipeline's outcome settings, parsed: NotFoundError when it has none, CorruptRowError when the
 * stored ones no longer parse (changed outside lastmile).
 */
export async function settingsOf(outcomes: OutcomeStore, ws: string, pipeline: string): Promise<OutcomeSpec> {
  const record = await outcomes.getSpec(ws, pipeline)
  if (!record)
    throw new NotFoundError(
      `pipeline '${pipeline}' has no outcome settings: PUT /v1/workspaces/${ws}/pipelines/${pipeline}/outcomes first`,
    )
  const parsed = outcomeSpecSchema.safeParse(record.config)
  if (parsed.success) return parsed.data
  const issue = parsed.error.issues[0]
  throw new CorruptRowError(
    'outcome_specs',
    'config',
    `workspace=${JSON.stringify(ws)}, pipeline=${JSON.stringify(pipeline)}`,
    issue?.path ?? [],
    issue?.message ?? 'not outcome settings',
  )
}
