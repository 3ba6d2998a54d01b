/**
 * Fuzzing the JSON body parser of the data routes (`parseJson` with a value bound, what a body
 * worker runs for LASTMILE_JSON_BODY_MAX_VALUES): any JSON value, at any depth, is returned as
 * `JSON.parse` reads it when it holds at most the bound's values and refused with a 400 naming the
 * setting when it holds more; byte mutations of JSON text are a value or a 400, never another error.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { InvalidRequestError } from '../../src/errors.js'
import { parseJson } from '../../src/formats/body-codec.js'
import { CASE_TIMEOUT_MS, fuzzParams } from './budget.js'
import { mutated } from './mutate.js'

const encoder = new TextEncoder()
const SETTING = 'LASTMILE_JSON_BODY_MAX_VALUES'

/** Values in a JSON value, counted here independently: itself, and its members' values. */
function count(v: unknown): number {
  if (v === null || typeof v !== 'object') return 1
  let n = 1
  for (const x of Array.isArray(v) ? v : Object.values(v)) n += count(x)
  return n
}

/** `depth` arrays nested, the innermost holding `inner`: `[[[…inner…]]]`, `depth + 1 + inner` values. */
const nested = (depth: number, inner: number) =>
  `${'['.repeat(depth)}${Array.from({ length: inner }, () => '0').join(',')}${']'.repeat(depth)}`

describe('fuzz: JSON bodies of the data routes, their values bounded', () => {
  it(
    'returns a value within the bound as JSON.parse reads it, and refuses one past it naming the setting',
    () => {
      fc.assert(
        fc.property(fc.jsonValue({ maxDepth: 6 }), fc.integer({ min: 1, max: 200 }), (value, max) => {
          const text = JSON.stringify(value)
          const bytes = encoder.encode(text)
          if (count(value) <= max) expect(parseJson(bytes, max, SETTING)).toEqual(JSON.parse(text))
          else expect(() => parseJson(bytes, max, SETTING)).toThrow(`more than ${max} JSON values (${SETTING})`)
        }),
        fuzzParams(400),
      )
    },
    CASE_TIMEOUT_MS * 4,
  )

  it(
    'counts any depth without overflowing the stack: the bound, not the nesting, decides',
    () => {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 0, max: 50 }), (depth, inner) => {
          const values = depth + inner
          const bytes = encoder.encode(nested(depth, inner))
          expect(parseJson(bytes, values, SETTING)).toBeDefined()
          expect(() => parseJson(bytes, values - 1, SETTING)).toThrow(InvalidRequestError)
        }),
        fuzzParams(50),
      )
    },
    CASE_TIMEOUT_MS * 4,
  )

  it(
    'answers mutated JSON text with a value or a 400, never another error',
    () => {
      fc.assert(
        fc.property(
          fc.jsonValue({ maxDepth: 4 }).chain((v) => mutated([encoder.encode(JSON.stringify(v))])),
          fc.integer({ min: 1, max: 100 }),
          (bytes, max) => {
            try {
              parseJson(bytes, max, SETTING)
            } catch (e) {
              expect(e).toBeInstanceOf(InvalidRequestError)
            }
          },
        ),
        fuzzParams(300),
      )
    },
    CASE_TIMEOUT_MS * 4,
  )
})
