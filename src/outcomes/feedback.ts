/**
 * Feedback: the actual outcomes a client sends for logged rows, in JSON (here), CSV
 * (feedback-csv.ts) or Arrow (feedback-arrow.ts). Each decoder turns its body into
 * {@link FeedbackItems}, at most {@link MAX_FEEDBACK_ROWS} of them; {@link feedbackOutcomes} checks
 * every item against the pipeline's outcome settings and gives the outcomes to store, or refuses
 * the whole request naming the first bad row (nothing is stored).
 */
import { InvalidRequestError } from '../errors.js'
import type { OutcomeRecord } from '../store/types.js'
import { classIndex, columnKey, keyText, MAX_KEY_BYTES, type OutcomeSpec, requestKey, storable } from './spec.js'

/** Rows one feedback request may carry. */
export const MAX_FEEDBACK_ROWS = 100_000

/** The fields a feedback row may have: `id` and `row` (or `key`), and `outcome`. */
export const FEEDBACK_FIELDS = ['id', 'row', 'key', 'outcome'] as const

type Field = (typeof FEEDBACK_FIELDS)[number]

/** One row of feedback as it arrived (CSV's values as text), before it is checked. */
export type FeedbackItem = Partial<Record<Field, unknown>>

/** A body's rows, and where each sat (for messages: `outcomes[3]`, `line 5`, `row 3`). */
export interface FeedbackItems {
  items: FeedbackItem[]
  where(i: number): string
}

/** The 400 of a request with more rows than {@link MAX_FEEDBACK_ROWS}. */
export function tooManyRows(rows: number | string): InvalidRequestError {
  return new InvalidRequestError(
    `the feedback has ${rows} rows; at most ${MAX_FEEDBACK_ROWS} are taken per request: send the rest in another`,
    { limit: MAX_FEEDBACK_ROWS },
  )
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** The rows of a JSON body `{"outcomes": [{"id", "row", "outcome"} or {"key", "outcome"}, …]}`. */
export function feedbackFromJson(body: unknown): FeedbackItems {
  if (!isObject(body) || !Array.isArray(body.outcomes))
    throw new InvalidRequestError('the feedback must be a JSON object {"outcomes": [...]}')
  const extra = Object.keys(body).find((k) => k !== 'outcomes')
  if (extra !== undefined) throw new InvalidRequestError(`the feedback has an unknown member '${extra}'`)
  const rows: unknown[] = body.outcomes
  if (rows.length > MAX_FEEDBACK_ROWS) throw tooManyRows(rows.length)
  const where = (i: number) => `outcomes[${i}]`
  const items = rows.map((r, i): FeedbackItem => {
    if (!isObject(r)) throw new InvalidRequestError(`${where(i)}: must be an object with "outcome"; nothing was stored`)
    const unknown = Object.keys(r).find((k) => !(FEEDBACK_FIELDS as readonly string[]).includes(k))
    if (unknown !== undefined)
      throw new InvalidRequestError(
        `${where(i)}: unknown member '${unknown}' (expected ${FEEDBACK_FIELDS.join(', ')}); nothing was stored`,
      )
    return r
  })
  return { items, where }
}

const utf8Bytes = (s: string) => Buffer.byteLength(s, 'utf8')

/** A decimal number as text: `12`, `-0.5`, `1e3` (not `0x10`, `Infinity` or an empty string). */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/

/** A finite number, or decimal text that is one (CSV's values); undefined otherwise. */
function numberOf(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined
  if (typeof v === 'string' && DECIMAL.test(v.trim()) && Number.isFinite(Number(v))) return Number(v)
  return undefined
}

/** The text of a name (a request id, a key's value, a label), at most {@link MAX_KEY_BYTES} bytes. */
function nameOf(v: unknown, what: string, fail: (m: string) => never): string {
  const text = keyText(v)
  if (text === undefined || text === '') fail(`"${what}" must be a string or a number`)
  const bytes = utf8Bytes(text)
  if (bytes > MAX_KEY_BYTES) fail(`"${what}" has ${bytes} bytes of UTF-8; at most ${MAX_KEY_BYTES} are accepted`)
  if (!storable(text)) fail(`"${what}" holds a NUL character or an unpaired surrogate, which no stored key can hold`)
  return text
}

/** The stored key of an item: its key column's value, or its request id and row. */
function keyOf(item: FeedbackItem, spec: OutcomeSpec, fail: (m: string) => never): string {
  if (spec.key !== undefined) {
    if (item.id !== undefined || item.row !== undefined)
      fail(`the outcome settings join on the input '${spec.key}': send "key", not "id" and "row"`)
    if (item.key === undefined) fail(`"key" is missing (the value of input '${spec.key}')`)
    return columnKey(nameOf(item.key, 'key', fail))
  }
  if (item.key !== undefined) fail('the outcome settings join on the request id: send "id" (and "row"), not "key"')
  if (item.id === undefined) fail('"id" is missing (the OIP request id)')
  if (typeof item.id !== 'string') fail('"id" must be a string')
  const id = nameOf(item.id, 'id', fail)
  const row = item.row === undefined ? 0 : numberOf(item.row)
  if (row === undefined || !Number.isSafeInteger(row) || row < 0)
    fail(`"row" must be an integer from 0, the row's index in its request; got ${JSON.stringify(item.row)}`)
  return requestKey(id, row)
}

/** An item's outcome as stored: a regressor's number; a classifier's label (of `labels`) or class index. */
function outcomeOf(item: FeedbackItem, spec: OutcomeSpec, fail: (m: string) => never): number | string {
  const v = item.outcome
  if (v === undefined || v === null) fail('"outcome" is missing')
  const n = numberOf(v)
  if (spec.task === 'regression') {
    if (n === undefined) fail(`"outcome" must be a finite number (a regressor's actual value); got ${show(v)}`)
    return n
  }
  const labels = spec.labels
  if (typeof v === 'string' && labels?.includes(v)) return v
  const classes = labels?.length ?? Number.MAX_SAFE_INTEGER
  if (n !== undefined && !Number.isNaN(classIndex(n, undefined, classes))) return n
  fail(
    labels
      ? `"outcome" must be one of the labels (${preview(labels)}) or a class index below ${labels.length}; got ${show(v)}`
      : `"outcome" must be a class index (an integer from 0; set "labels" in the outcome settings to send names); got ${show(v)}`,
  )
}

const show = (v: unknown) => JSON.stringify(v)?.slice(0, 80) ?? String(v)
const preview = (labels: readonly string[]) =>
  labels.length <= 5 ? labels.join(', ') : `${labels.slice(0, 5).join(', ')}, … ${labels.length} in all`

/**
 * The outcomes of `f` to store, received at `time`: every item checked against `spec` (its key or
 * request id and row, its outcome), all or nothing: the first bad item is a 400 naming it.
 */
export function feedbackOutcomes(f: FeedbackItems, spec: OutcomeSpec, time: number): OutcomeRecord[] {
  return f.items.map((item, i) => {
    const fail = (message: string): never => {
      throw new InvalidRequestError(`${f.where(i)}: ${message}; nothing was stored`)
    }
    return { key: keyOf(item, spec, fail), value: outcomeOf(item, spec, fail), time }
  })
}
