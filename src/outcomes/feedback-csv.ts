/**
 * Feedback in CSV (RFC 4180): a header row naming some of `id`, `row`, `key` and `outcome`, then
 * one outcome per line. Fields may be quoted ("" for a quote inside; a quoted field may span
 * lines); lines end in LF, CRLF or CR; a leading BOM and blank lines are skipped; an empty field
 * is a missing value. Values stay text: feedback.ts reads numbers out of them where it expects
 * numbers. Read from the body held in memory, at most {@link MAX_FEEDBACK_ROWS} rows, stopping
 * at the first row past them.
 */
import { InvalidRequestError } from '../errors.js'
import { FEEDBACK_FIELDS, type FeedbackItem, type FeedbackItems, MAX_FEEDBACK_ROWS, tooManyRows } from './feedback.js'

const QUOTE = 34
const COMMA = 44
const LF = 10
const CR = 13

const bad = (line: number, why: string) => new InvalidRequestError(`the feedback (CSV) line ${line}: ${why}`)

/** Newlines in `s` (a quoted field's, so that later lines keep their numbers). */
function newlines(s: string): number {
  let n = 0
  for (let i = s.indexOf('\n'); i >= 0; i = s.indexOf('\n', i + 1)) n++
  return n
}

/** A CSV text's records, each with the line it starts on; at most `maxRecords` (a 400 past them). */
function records(text: string, maxRecords: number): Array<{ fields: string[]; line: number }> {
  const out: Array<{ fields: string[]; line: number }> = []
  const n = text.length
  let at = text.charCodeAt(0) === 0xfeff ? 1 : 0
  let line = 1
  while (at < n) {
    const start = line
    const fields: string[] = []
    let quotedAny = false
    for (;;) {
      let value: string
      if (text.charCodeAt(at) === QUOTE) {
        quotedAny = true
        value = ''
        let from = at + 1
        for (;;) {
          const q = text.indexOf('"', from)
          if (q < 0) throw bad(start, 'a quoted field has no closing quote')
          value += text.slice(from, q)
          if (text.charCodeAt(q + 1) === QUOTE) {
            value += '"'
            from = q + 2
            continue
          }
          at = q + 1
          break
        }
        line += newlines(value)
        const next = text.charCodeAt(at)
        if (at < n && next !== COMMA && next !== LF && next !== CR)
          throw bad(line, 'text after a closing quote (a quote inside a field is written "")')
      } else {
        let end = at
        for (; end < n; end++) {
          const c = text.charCodeAt(end)
          if (c === COMMA || c === LF || c === CR) break
          if (c === QUOTE) throw bad(line, 'a quote inside an unquoted field (quote the field, and write "" for it)')
        }
        value = text.slice(at, end)
        at = end
      }
      fields.push(value)
      if (fields.length > FEEDBACK_FIELDS.length)
        throw bad(start, `more than ${FEEDBACK_FIELDS.length} fields (the columns are ${FEEDBACK_FIELDS.join(', ')})`)
      if (text.charCodeAt(at) === COMMA) {
        at++
        continue
      }
      if (text.charCodeAt(at) === CR) at++
      if (text.charCodeAt(at) === LF) at++
      line++
      break
    }
    if (fields.length === 1 && fields[0] === '' && !quotedAny) continue // a blank line
    if (out.length >= maxRecords) throw tooManyRows(`more than ${maxRecords - 1}`)
    out.push({ fields, line: start })
  }
  return out
}

const decoder = new TextDecoder('utf-8', { fatal: true })

/** The rows of a CSV feedback body (header `id,row,outcome` or `key,outcome`, in any order). */
export function feedbackFromCsv(bytes: Uint8Array): FeedbackItems {
  let text: string
  try {
    text = decoder.decode(bytes)
  } catch {
    throw new InvalidRequestError('the feedback (CSV) is not UTF-8 text')
  }
  const [head, ...rows] = records(text, MAX_FEEDBACK_ROWS + 1)
  if (!head) throw new InvalidRequestError('the feedback (CSV) is empty: expected a header row, e.g. id,row,outcome')
  const names = head.fields
  for (const [i, name] of names.entries()) {
    if (!(FEEDBACK_FIELDS as readonly string[]).includes(name))
      throw bad(head.line, `unknown column '${name}' in the header (the columns are ${FEEDBACK_FIELDS.join(', ')})`)
    if (names.indexOf(name) !== i) throw bad(head.line, `column '${name}' appears twice in the header`)
  }
  const items = rows.map(({ fields, line }): FeedbackItem => {
    if (fields.length !== names.length)
      throw bad(line, `${fields.length} fields where the header has ${names.length}; nothing was stored`)
    const item: FeedbackItem = {}
    names.forEach((name, k) => {
      const v = fields[k] as string
      if (v !== '') item[name as keyof FeedbackItem] = v
    })
    return item
  })
  return { items, where: (i) => `the feedback (CSV) line ${(rows[i] as { line: number }).line}` }
}
