/**
 * Inference bodies in and answers out, as tasks that run the same on the event loop (small ones)
 * or in a body worker (large ones, see decode-pool.ts): bytes in, typed arrays out, and back.
 * Everything a task takes and returns can cross a worker boundary: plain data, typed arrays and
 * the typed errors of src/errors.ts (sent as {@link WireError} and revived as the same class).
 */
import { type AnyTensor, type ColumnSpec, concatTyped } from '../engine/tensor.js'
import type { Columns } from '../engine/types.js'
import * as errors from '../errors.js'
import { InvalidRequestError, LastmileError } from '../errors.js'
import { type ArrowFormat, decodeArrow, encodeArrow } from './arrow.js'
import { parseWireJson } from './json-parse.js'
import type { DecodeLimits } from './limits.js'
import { ARROW_TYPES, BYTES_TYPE, JSON_TYPE } from './media-types.js'
import {
  decodeOipRequest,
  encodeOipResponse,
  type OipAnswerOptions,
  type OipRequest,
  type OipRows,
  splitBinaryBody,
} from './oip.js'
import { decodeRecords, encodeRecords, type RowMeta } from './records.js'

const decoder = new TextDecoder()
const encoder = new TextEncoder()

/**
 * Parse a JSON body holding at most `maxValues` values (each object, array, string, number,
 * boolean and null counts one), or fail with 400: the parser's reason, or the count past the limit
 * (`setting` names it). Counted before anything else walks the value: a body parsed in a body
 * worker comes back to the event loop only once it is known to be that small.
 */
export function parseJson(bytes: Uint8Array, maxValues = Number.POSITIVE_INFINITY, setting = ''): unknown {
  if (bytes.length === 0) throw new InvalidRequestError('the request body is empty; expected JSON')
  let value: unknown
  try {
    value = JSON.parse(decoder.decode(bytes))
  } catch (e) {
    throw new InvalidRequestError(`malformed JSON: ${e instanceof Error ? e.message : String(e)}`)
  }
  if (jsonValues(value, maxValues) > maxValues) {
    throw new InvalidRequestError(
      `the body holds more than ${maxValues} JSON values (${setting}); send fewer rows or values per request`,
      { limit: maxValues },
    )
  }
  return value
}

/**
 * The values in a parsed JSON value, counted up to past `max`: a container's members count when it
 * is reached, so the walk stops before it visits more than `max` (no recursion: any depth).
 */
function jsonValues(root: unknown, max: number): number {
  let n = 1
  const stack: unknown[] = [root]
  while (stack.length > 0) {
    const v = stack.pop()
    if (v === null || typeof v !== 'object') continue
    const members = Array.isArray(v) ? v : Object.values(v)
    n += members.length
    // Stryker disable next-line ConditionalExpression: the count only grows, so walking on also ends past max; stopping here saves only time
    if (n > max) return n
    for (const x of members) stack.push(x)
  }
  return n
}

/**
 * A request body to decode against the deployment's inputs, within `limits`. OIP v2 bodies with a
 * `headerLength` (Inference-Header-Content-Length) are a JSON header then binary tensor data.
 */
export type DecodeTask = { bytes: Uint8Array; specs: readonly ColumnSpec[]; limits: DecodeLimits } & (
  | { kind: 'oip'; headerLength?: string }
  | { kind: 'records' }
  | { kind: 'arrow' }
)

/** What a {@link DecodeTask} gives: the OIP request (with its feeds), or the feeds. */
export type Decoded<T extends DecodeTask = DecodeTask> = T extends { kind: 'oip' } ? OipRequest : Columns

/** Decode a body. Throws the decoders' typed errors (400s). */
export function decodeBody<T extends DecodeTask>(task: T): Decoded<T> {
  const { bytes, specs, limits } = task as DecodeTask
  const t = task as DecodeTask
  switch (t.kind) {
    case 'oip': {
      const parts = t.headerLength === undefined ? undefined : splitBinaryBody(bytes, t.headerLength)
      const header = parseWireJson(parts ? parts.header : bytes)
      return decodeOipRequest(header, parts?.binary, specs, limits) as Decoded<T>
    }
    case 'records':
      return decodeRecords(parseWireJson(bytes), specs, limits) as Decoded<T>
    case 'arrow':
      return decodeArrow(bytes, specs, limits) as Decoded<T>
  }
}

/** An answer to encode. */
export type EncodeTask =
  | {
      kind: 'oip'
      model: { name: string; version?: string }
      request: OipAnswerOptions
      outputs: Record<string, AnyTensor>
      rows: OipRows
    }
  | { kind: 'records'; feeds: Columns; outputs: Record<string, AnyTensor>; meta: RowMeta }
  | { kind: 'arrow'; feeds: Columns; outputs: Record<string, AnyTensor>; meta: RowMeta & { format: ArrowFormat } }

/**
 * An encoded answer: JSON text (on the event loop, as `c.json` would make it) or bytes (from a
 * worker, or binary formats), its media type, and for the OIP binary extension the JSON header's
 * length (Inference-Header-Content-Length).
 */
export interface Encoded {
  body: string | Uint8Array
  type: string
  headerLength?: number
}

/** Encode an answer; `bytes` makes JSON answers bytes (a worker hands bytes back without a copy). */
export function encodeBody(task: EncodeTask, bytes = false): Encoded {
  const text = (json: string): Encoded => ({ body: bytes ? encoder.encode(json) : json, type: JSON_TYPE })
  switch (task.kind) {
    case 'oip': {
      const response = encodeOipResponse(task.model, task.request, task.outputs, task.rows)
      if (!response.binary) return text(response.header)
      const header = encoder.encode(response.header)
      return {
        body: concatTyped(Uint8Array, [header, ...response.binary]),
        type: BYTES_TYPE,
        headerLength: header.length,
      }
    }
    case 'records':
      return text(encodeRecords(task.feeds, task.outputs, task.meta))
    case 'arrow':
      return {
        body: encodeArrow(task.feeds, task.outputs, task.meta),
        type: ARROW_TYPES[task.meta.format],
      }
  }
}

/**
 * About how many bytes an answer's tensors encode to: JSON spends up to ~10 characters a number
 * (binary and Arrow fewer), so this errs towards the worker for big answers.
 */
export function answerSize(task: EncodeTask): number {
  const tensors = [...Object.values(task.outputs), ...(task.kind === 'oip' ? [] : Object.values(task.feeds))]
  return tensors.reduce((n, t) => n + t.data.length * 10 /* chars per JSON number, at most ~10 for float32 */, 0)
}

/**
 * Buffers worth moving rather than copying across a worker boundary: each typed array's whole
 * buffer, once. Small buffers are left to be copied: Node's pooled small allocations share one
 * buffer that must never be detached.
 */
export function transferList(value: unknown, minBytes = 64 * 1024): ArrayBuffer[] {
  const found = new Set<ArrayBuffer>()
  const walk = (v: unknown, depth: number): void => {
    if (depth > 6 || v === null || typeof v !== 'object') return
    if (ArrayBuffer.isView(v)) {
      if (v.buffer instanceof ArrayBuffer && v.buffer.byteLength >= minBytes) found.add(v.buffer)
      return
    }
    if (Array.isArray(v)) {
      // Lists of records or frames are walked; lists of strings or numbers (string columns, row models) are cloned.
      if (typeof v[0] === 'object') for (const x of v) walk(x, depth + 1)
      return
    }
    for (const x of Object.values(v)) walk(x, depth + 1)
  }
  walk(value, 0)
  return [...found]
}

/** An error as it crosses a worker boundary. */
export interface WireError {
  name: string
  message: string
  stack?: string
  code?: string
  details?: Record<string, unknown>
  /** Other own fields of a typed error (e.g. `retryAfterSeconds`). */
  fields?: Record<string, unknown>
}

/** The wire form of anything thrown. */
export function toWire(e: unknown): WireError {
  if (!(e instanceof Error)) return { name: 'Error', message: String(e) }
  const wire: WireError = { name: e.name, message: e.message, ...(e.stack ? { stack: e.stack } : {}) }
  if (e instanceof LastmileError) {
    const { code, details, name: _n, message: _m, stack: _s, ...fields } = e as LastmileError & Record<string, unknown>
    Object.assign(wire, { code, ...(details ? { details } : {}), ...(Object.keys(fields).length ? { fields } : {}) })
  }
  return wire
}

/** The error a {@link WireError} stands for: the same typed class, code, message and details. */
export function fromWire(wire: WireError): Error {
  const Class = (errors as Record<string, unknown>)[wire.name]
  let e: Error
  if (wire.code !== undefined && typeof Class === 'function' && Class.prototype instanceof LastmileError) {
    const typed = new LastmileError(wire.code as errors.ErrorCode, wire.message, wire.details)
    Object.setPrototypeOf(typed, Class.prototype)
    typed.name = wire.name
    e = Object.assign(typed, wire.fields)
  } else {
    e = new Error(wire.message)
    e.name = wire.name
  }
  if (wire.stack) e.stack = wire.stack
  return e
}
