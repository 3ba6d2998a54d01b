/**
 * Request bodies in JSON as inference clients write them: exact 64-bit integers and NaN/±Infinity
 * literals, read by the one bounded parser (src/exact-json.ts); what it refuses is a 400.
 */

import { InvalidRequestError } from '../errors.js'
import { JsonSyntaxError, parseExactJson } from '../exact-json.js'

const decoder = new TextDecoder()

/** Parse a JSON body: exact integers and NaN/±Infinity literals (see src/exact-json.ts), or a 400. */
export function parseWireJson(bytes: Uint8Array): unknown {
  if (bytes.length === 0) throw new InvalidRequestError('the request body is empty; expected JSON')
  try {
    return parseExactJson(decoder.decode(bytes))
  } catch (e) {
    if (e instanceof JsonSyntaxError) throw new InvalidRequestError(e.message)
    throw e
  }
}
