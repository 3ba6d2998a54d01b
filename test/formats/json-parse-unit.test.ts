/**
 * parseWireJson: syntax errors become 400s (InvalidRequestError with the parser's message); any
 * other failure of the parser is not the client's fault and passes through unchanged. The parser
 * is wrapped so that a test can make it fail otherwise.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { InvalidRequestError } from '../../src/errors.js'
import { refusal } from '../helpers/refusal.js'

const failure = vi.hoisted(() => ({ next: undefined as Error | undefined }))

vi.mock('../../src/exact-json.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/exact-json.js')>()
  return {
    ...real,
    parseExactJson: (text: string) => {
      if (failure.next) throw failure.next
      return real.parseExactJson(text)
    },
  }
})

const { parseWireJson } = await import('../../src/formats/json-parse.js')

const bytes = (text: string) => new TextEncoder().encode(text)

afterEach(() => {
  failure.next = undefined
})

describe('parseWireJson', () => {
  it('parses exact integers and non-finite literals', () => {
    expect(parseWireJson(bytes('{"a":[18446744073709551615,NaN,-Infinity,1.5]}'))).toEqual({
      a: [18446744073709551615n, Number.NaN, Number.NEGATIVE_INFINITY, 1.5],
    })
  })

  it('refuses an empty body', () => {
    const e = refusal(() => parseWireJson(new Uint8Array(0)))
    expect(e).toBeInstanceOf(InvalidRequestError)
    expect(e.message).toBe('the request body is empty; expected JSON')
  })

  it('turns a syntax error into an InvalidRequestError with the same message', () => {
    const e = refusal(() => parseWireJson(bytes('[1,}')))
    expect(e).toBeInstanceOf(InvalidRequestError)
    expect(e.message).toBe('malformed JSON: expected a value at position 3 ("}")')
  })

  it('passes any other error of the parser through unchanged', () => {
    const other = new RangeError('out of memory')
    failure.next = other
    expect(refusal(() => parseWireJson(bytes('[1]')))).toBe(other)
  })
})
