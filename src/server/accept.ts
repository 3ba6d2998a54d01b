/**
 * Which format a pipeline answer goes out in: the one the request's `Accept` prefers among those
 * lastmile writes (RFC 9110 §12.5.1: the most specific matching range gives a format its weight;
 * the highest weight wins, ties go to the request's own format). No `Accept`, `*\/*` (curl's,
 * requests' and httpx's default) or `application/*` answer in the request's format.
 */
import { NotAcceptableError } from '../errors.js'
import { ARROW_TYPES, RECORDS_TYPE } from '../formats/media-types.js'

/** The answer formats of the pipeline routes. */
export type AnswerFormat = 'records' | 'stream' | 'file'

/** The media type of each answer format, in the order ties fall after the request's own. */
export const ANSWER_TYPES: Record<AnswerFormat, string> = { records: RECORDS_TYPE, ...ARROW_TYPES }

const FORMATS = Object.keys(ANSWER_TYPES) as AnswerFormat[]

/** Media ranges read from one header at most: a header is a few KiB, this bounds the work anyway. */
const MAX_RANGES = 64

interface Range {
  type: string
  subtype: string
  /** `format` parameter, for `application/json`. */
  format?: string
  q: number
}

function parseRanges(accept: string): Range[] {
  const ranges: Range[] = []
  for (const part of accept.split(',').slice(0, MAX_RANGES)) {
    const [mediaType = '', ...params] = part.split(';').map((s) => s.trim())
    const [type, subtype] = mediaType.toLowerCase().split('/')
    if (!type || !subtype) continue // not a media range: ignored, as a malformed list element
    const range: Range = { type, subtype, q: 1 }
    for (const p of params) {
      const eq = p.indexOf('=')
      const name = p.slice(0, eq).trim().toLowerCase()
      const value = p
        .slice(eq + 1)
        .trim()
        .replace(/^"|"$/g, '')
      if (eq < 0) continue
      if (name === 'q') {
        const q = Number(value)
        range.q = Number.isFinite(q) ? Math.min(1, Math.max(0, q)) : 1
      } else if (name === 'format') range.format = value.toLowerCase()
    }
    ranges.push(range)
  }
  return ranges
}

/** How specifically `range` names `format` (higher is more specific), or -1 when it does not. */
function specificity(range: Range, format: AnswerFormat): number {
  if (range.type === '*') return range.subtype === '*' ? 0 : -1
  if (range.type !== 'application') return -1
  if (range.subtype === '*') return 1
  if (format === 'records') {
    if (range.subtype !== 'json') return -1
    if (range.format === undefined) return 2
    return range.format === 'pandas-records' ? 3 : -1
  }
  return `application/${range.subtype}` === ARROW_TYPES[format] ? 2 : -1
}

/**
 * The answer format for a request in format `request` with this `Accept` header. Throws
 * NotAcceptableError (406) naming the types lastmile writes when the header accepts none of them.
 */
export function negotiate(accept: string | undefined, request: AnswerFormat): AnswerFormat {
  if (accept === undefined || accept.trim() === '') return request
  const ranges = parseRanges(accept)
  let best: AnswerFormat | undefined
  let bestQ = 0
  for (const format of [request, ...FORMATS.filter((f) => f !== request)]) {
    let q = 0
    let most = -1
    for (const range of ranges) {
      const s = specificity(range, format)
      if (s > most) {
        most = s
        q = range.q
      }
    }
    if (q > bestQ) {
      best = format
      bestQ = q
    }
  }
  if (best) return best
  throw new NotAcceptableError(
    `Accept '${accept.slice(0, 200)}' allows none of the formats this route answers in; accept ${Object.values(ANSWER_TYPES).join(', ')} (or */*)`,
  )
}
