/**
 * Feedback as an Arrow IPC stream (or file): columns named `id`, `row`, `key` and `outcome`, each
 * a scalar column of integers, floats or strings (utf8, dictionary-encoded or not); a null is a
 * missing value. The body is checked by the one Arrow reader (src/formats/arrow-ipc.ts: every
 * claimed size against the bytes) and its row count against {@link MAX_FEEDBACK_ROWS} before a
 * value is read.
 */
import { InvalidRequestError } from '../errors.js'
import { readIpc } from '../formats/arrow-ipc.js'
import type { ArrayLayout } from '../formats/arrow-layout.js'
import type { ArrowField, BodyRange } from '../formats/arrow-meta.js'
import { dictionaryReader, FLOAT, INT, reader, UTF8, type Value, viewOf } from '../formats/arrow-values.js'
import { FEEDBACK_FIELDS, type FeedbackItem, type FeedbackItems, MAX_FEEDBACK_ROWS, tooManyRows } from './feedback.js'

const WHAT = 'the feedback (Arrow)'

/** Whether a column's values may be feedback: integers, floats, utf8 (plain or through a dictionary of utf8). */
function readable(f: ArrowField): boolean {
  const { id, layout } = f.type
  if (f.dictionary) return UTF8.has(id)
  return (layout === 'fixed' && (id === INT || id === FLOAT)) || (layout === 'bytes' && UTF8.has(id))
}

/** A value as a feedback item holds it: 64-bit integers as numbers where exact, as their digits past that. */
function plain(v: Value): unknown {
  if (typeof v !== 'bigint') return v
  return Number.isSafeInteger(Number(v)) ? Number(v) : String(v)
}

/** The rows of an Arrow feedback body. */
export function feedbackFromArrow(bytes: Uint8Array): FeedbackItems {
  const { schema, batches } = readIpc(bytes, WHAT)
  const names = schema.fields.map((f) => f.name)
  for (const [i, f] of schema.fields.entries()) {
    if (!(FEEDBACK_FIELDS as readonly string[]).includes(f.name))
      throw new InvalidRequestError(
        `${WHAT}: unknown column '${f.name}' (the columns are ${FEEDBACK_FIELDS.join(', ')})`,
      )
    if (names.indexOf(f.name) !== i) throw new InvalidRequestError(`${WHAT}: column '${f.name}' appears twice`)
    if (!readable(f))
      throw new InvalidRequestError(`${WHAT}: column '${f.name}' is ${f.type.name}; expected integers, floats or utf8`)
  }
  const rows = batches.reduce((n, b) => n + b.length, 0)
  if (rows > MAX_FEEDBACK_ROWS) throw tooManyRows(rows)
  const items: FeedbackItem[] = Array.from({ length: rows }, () => ({}))
  let first = 0
  for (const batch of batches) {
    const view = viewOf(batch.body)
    schema.fields.forEach((f, c) => {
      const a = batch.arrays[c] as ArrayLayout
      const where = (entry: number) => `${WHAT} row ${first + entry}, column '${f.name}'`
      const read: (i: number, entry: number) => Value = f.dictionary
        ? dictionaryReader(view, batch, a, f, where)
        : reader(view, batch.body, a, f.type)
      const valid = validity(view, a)
      for (let i = 0; i < batch.length; i++) {
        if (valid(i)) (items[first + i] as FeedbackItem)[f.name as keyof FeedbackItem] = plain(read(i, i))
      }
    })
    first += batch.length
  }
  return { items, where: (i) => `${WHAT} row ${i}` }
}

/** Whether entry `i` of an array is present (its validity bit; every entry when it has no nulls). */
function validity(view: DataView, a: ArrayLayout): (i: number) => boolean {
  if (a.nullCount === 0) return () => true
  const at = (a.buffers[0] as BodyRange).offset
  return (i) => ((view.getUint8(at + (i >> 3)) >> (i & 7)) & 1) === 1
}
