/**
 * JSON as inference servers and clients write it, which is more than JSON.parse reads:
 *
 * - integers beyond 2^53 (INT64/UINT64 tensors, e.g. 9223372036854775807) arrive exactly, as
 *   bigints, where JSON.parse would round them;
 * - `NaN`, `Infinity` and `-Infinity` (also `Inf`, `-Inf`, `-NaN`) are numbers, as Triton's server
 *   (rapidjson with kParseNanAndInfFlag) and tritonclient (python-rapidjson) read and write them.
 *
 * The server reads request bodies and job lines with it, and lastmile's client reads answers that
 * carry tensors with it (Triton's server and lastmile's write those literals): one parser, in the
 * lowest tier, so that the client can import it without the server.
 *
 * Ordinary text takes JSON.parse: text goes through the parser here only when it holds a 16-digit
 * integer part (2^53 has 16 digits) or JSON.parse refuses it. That parser is bounded: it allocates
 * only for values present, nests at most {@link MAX_JSON_DEPTH} deep, reads at most 20 digits into
 * a bigint, and refuses anything else with a {@link JsonSyntaxError} naming the position.
 */

/** Deepest nesting the exact parser accepts: a request's structure plus a rank-32 tensor fits. */
export const MAX_JSON_DEPTH = 64

/**
 * Whether a parsed value nests arrays or objects more than `max` deep (a top-level array or object
 * is depth 1). Walked with a stack of its own: JSON.parse takes text of any depth, but
 * JSON.stringify, structuredClone and Array.flat recurse, and overflow the call stack on it.
 */
export function nestsDeeperThan(value: unknown, max = MAX_JSON_DEPTH): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]]
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number]
    if (v === null || typeof v !== 'object') continue
    if (depth === max) return true
    for (const x of Array.isArray(v) ? v : Object.values(v)) stack.push([x, depth + 1])
  }
  return false
}

/** An integer part of 16 digits or more, not a fraction's digits: the only place JSON.parse loses precision. */
const LONG_INTEGER = /(?<![\d.])\d{16}/

/** Text that is not JSON (or nests too deep): the message says what was wrong and where. */
export class JsonSyntaxError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'JsonSyntaxError'
  }
}

/**
 * Parse JSON text: exact integers past 2^53 (as bigints) and NaN/±Infinity literals (see the
 * module comment). Throws {@link JsonSyntaxError}.
 */
export function parseExactJson(text: string): unknown {
  if (!LONG_INTEGER.test(text)) {
    try {
      return JSON.parse(text)
    } catch {
      // NaN or Infinity literals, or malformed: the exact parser reads the first and names the second.
    }
  }
  return new ExactParser(text).document()
}

/** Digits an integer may have and still fit a 64-bit tensor (2^64 has 20). */
const MAX_INT_DIGITS = 20

enum C {
  Tab = 0x09,
  Lf = 0x0a,
  Cr = 0x0d,
  Space = 0x20,
  Quote = 0x22,
  Plus = 0x2b,
  Comma = 0x2c,
  Minus = 0x2d,
  Dot = 0x2e,
  Zero = 0x30,
  Nine = 0x39,
  Colon = 0x3a,
  UpperE = 0x45,
  UpperI = 0x49,
  UpperN = 0x4e,
  OpenBracket = 0x5b,
  Backslash = 0x5c,
  CloseBracket = 0x5d,
  LowerE = 0x65,
  OpenBrace = 0x7b,
  CloseBrace = 0x7d,
}

const isDigit = (c: number) => c >= C.Zero && c <= C.Nine

/** A recursive-descent parser over one text; recursion is bounded by {@link MAX_JSON_DEPTH}. */
class ExactParser {
  private i = 0

  constructor(private readonly s: string) {}

  document(): unknown {
    const v = this.value(0)
    this.space()
    if (this.i < this.s.length) this.fail('unexpected text after the JSON value')
    return v
  }

  private fail(what: string): never {
    const at = this.s.slice(this.i, this.i + 12)
    throw new JsonSyntaxError(
      `malformed JSON: ${what} at position ${this.i}${at ? ` (${JSON.stringify(at)})` : ' (the end)'}`,
    )
  }

  private space(): void {
    const s = this.s
    let c = s.charCodeAt(this.i)
    while (c === C.Space || c === C.Lf || c === C.Cr || c === C.Tab) c = s.charCodeAt(++this.i)
  }

  /** Consume `word` or fail. */
  private word(word: string): void {
    if (!this.s.startsWith(word, this.i)) this.fail(`expected ${word}`)
    this.i += word.length
  }

  private value(depth: number): unknown {
    this.space()
    const c = this.s.charCodeAt(this.i)
    switch (c) {
      case C.OpenBrace:
      case C.OpenBracket:
        if (depth >= MAX_JSON_DEPTH) this.fail(`nested deeper than ${MAX_JSON_DEPTH} levels`)
        return c === C.OpenBrace ? this.object(depth + 1) : this.array(depth + 1)
      case C.Quote:
        return this.string()
      case 0x74 /* t */:
        this.word('true')
        return true
      case 0x66 /* f */:
        this.word('false')
        return false
      case 0x6e /* n */:
        this.word('null')
        return null
      case C.UpperN:
      case C.UpperI:
        return this.nonFinite(false)
      case C.Minus: {
        const next = this.s.charCodeAt(this.i + 1)
        if (next === C.UpperN || next === C.UpperI) {
          this.i++
          return this.nonFinite(true)
        }
        return this.number()
      }
      default:
        if (isDigit(c)) return this.number()
        return this.fail(Number.isNaN(c) ? 'unexpected end; expected a value' : 'expected a value')
    }
  }

  /** `NaN`, `Inf` or `Infinity`, after an optional minus (rapidjson reads `-NaN` as NaN). */
  private nonFinite(negative: boolean): number {
    if (this.s.startsWith('NaN', this.i)) {
      this.i += 3
      return Number.NaN
    }
    this.word(this.s.startsWith('Infinity', this.i) ? 'Infinity' : 'Inf')
    return negative ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY
  }

  /** RFC 8259's number grammar; integers past 2^53 (up to 20 digits) become bigints. */
  private number(): number | bigint {
    const s = this.s
    const start = this.i
    if (s.charCodeAt(this.i) === C.Minus) this.i++
    const first = s.charCodeAt(this.i)
    if (!isDigit(first)) this.fail('expected a digit')
    this.i++
    if (first !== C.Zero) while (isDigit(s.charCodeAt(this.i))) this.i++
    const intEnd = this.i
    let integer = true
    if (s.charCodeAt(this.i) === C.Dot) {
      integer = false
      this.i++
      if (!isDigit(s.charCodeAt(this.i))) this.fail('expected a digit after the decimal point')
      while (isDigit(s.charCodeAt(this.i))) this.i++
    }
    const e = s.charCodeAt(this.i)
    if (e === C.LowerE || e === C.UpperE) {
      integer = false
      this.i++
      const sign = s.charCodeAt(this.i)
      if (sign === C.Plus || sign === C.Minus) this.i++
      if (!isDigit(s.charCodeAt(this.i))) this.fail('expected a digit in the exponent')
      while (isDigit(s.charCodeAt(this.i))) this.i++
    }
    const text = s.slice(start, this.i)
    const n = Number(text)
    const digits = intEnd - start - (s.charCodeAt(start) === C.Minus ? 1 : 0)
    if (!integer || Number.isSafeInteger(n) || digits > MAX_INT_DIGITS) return n
    return BigInt(text)
  }

  private string(): string {
    const s = this.s
    const start = this.i
    let escaped = false
    for (let j = start + 1; j < s.length; j++) {
      const c = s.charCodeAt(j)
      if (c === C.Quote) {
        this.i = j + 1
        if (!escaped) return s.slice(start + 1, j)
        try {
          // Escapes (\n, \u00e9, surrogate pairs) decoded exactly as JSON.parse does.
          return JSON.parse(s.slice(start, j + 1)) as string
        } catch {
          this.i = start
          return this.fail('invalid escape in a string')
        }
      }
      if (c === C.Backslash) {
        escaped = true
        j++ // the escaped character, whatever it is, does not end the string
      } else if (c < C.Space) {
        this.i = j
        this.fail('control character in a string')
      }
    }
    return this.fail('unterminated string')
  }

  private array(depth: number): unknown[] {
    this.i++ // [
    const out: unknown[] = []
    this.space()
    if (this.s.charCodeAt(this.i) === C.CloseBracket) {
      this.i++
      return out
    }
    for (;;) {
      out.push(this.value(depth))
      this.space()
      const c = this.s.charCodeAt(this.i++)
      if (c === C.CloseBracket) return out
      if (c !== C.Comma) {
        this.i--
        this.fail("expected ',' or ']'")
      }
    }
  }

  private object(depth: number): Record<string, unknown> {
    this.i++ // {
    const out: Record<string, unknown> = {}
    this.space()
    if (this.s.charCodeAt(this.i) === C.CloseBrace) {
      this.i++
      return out
    }
    for (;;) {
      this.space()
      if (this.s.charCodeAt(this.i) !== C.Quote) this.fail('expected a string key')
      const key = this.string()
      this.space()
      if (this.s.charCodeAt(this.i) !== C.Colon) this.fail("expected ':'")
      this.i++
      const value = this.value(depth)
      // An own property, as JSON.parse makes it: `out[key] =` would set the prototype for "__proto__".
      Object.defineProperty(out, key, { value, writable: true, enumerable: true, configurable: true })
      this.space()
      const c = this.s.charCodeAt(this.i++)
      if (c === C.CloseBrace) return out
      if (c !== C.Comma) {
        this.i--
        this.fail("expected ',' or '}'")
      }
    }
  }
}
