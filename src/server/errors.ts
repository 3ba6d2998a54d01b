/**
 * The one place errors become HTTP: a status per error code, and a body in the style of the
 * protocol the route speaks ({@link ErrorStyle}). Whatever the body, every error answer carries the
 * stable code in the `Lastmile-Error-Code` header and is `Content-Type: application/json` exactly
 * (KServe's client reads the message only then). Unknown errors are logged and answered with a
 * 500 that reveals nothing of the server's internals; a client that closed its connection is
 * counted as 499, not logged as an error.
 */
import type { Context } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { BodyTimeoutError, type ErrorCode, LastmileError, QueueFullError, UnsupportedEncodingError } from '../errors.js'
import type { Logger } from '../logger.js'
import { ClientClosedError } from './body-read.js'

const HTTP_STATUS: Record<ErrorCode, ContentfulStatusCode> = {
  invalid_config: 400,
  invalid_model: 400,
  unsupported_model: 400,
  invalid_input: 400,
  invalid_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  not_acceptable: 406,
  request_timeout: 408,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  queue_full: 429,
  inference_failed: 500,
  backend_unavailable: 503,
  not_ready: 503,
  session_closed: 503,
  timeout: 504,
}

/**
 * The error body a route answers with:
 * - `lastmile`: `{"error": {"code", "message", "details"?}}`, lastmile's own routes (its client
 *   reads `error.code`).
 * - `oip`: `{"error": "<message>"}`, the Open Inference Protocol's error object (tritonclient's
 *   `_get_error` passes `error` to an exception that must hold a string; KServe's client prints it).
 * - `wallaroo`: Wallaroo's engine's `{"code": <status>, "status": "Error", "error": "<message>",
 *   "source": "engine"}` for a request from Wallaroo's SDK (it sends the `dataset[]` query on every
 *   pandas-records and Arrow call; its `APIErrorResponse.from_response` reads `code` and `error`),
 *   lastmile's body for every other request (lastmile's client on the same route).
 */
export type ErrorStyle = 'lastmile' | 'oip' | 'wallaroo'

/** The header every error answer carries its stable code in, whatever the body's style. */
export const ERROR_CODE_HEADER = 'Lastmile-Error-Code'

const LASTMILE_BODY = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' }, details: { type: 'object' } },
    },
  },
}

const WALLAROO_ENGINE_BODY = {
  type: 'object',
  required: ['code', 'status', 'error', 'source'],
  properties: {
    code: { type: 'integer' },
    status: { const: 'Error' },
    error: { type: 'string' },
    source: { const: 'engine' },
  },
}

/** JSON Schema of each style's body (for the OpenAPI document). */
export const ERROR_BODY_SCHEMAS: Record<ErrorStyle, Record<string, unknown>> = {
  lastmile: LASTMILE_BODY,
  oip: { type: 'object', required: ['error'], properties: { error: { type: 'string' } } },
  wallaroo: { oneOf: [WALLAROO_ENGINE_BODY, LASTMILE_BODY] },
}

/** A thrown value as HTTP: status, stable code, message, and headers that go with it. */
export interface MappedError {
  status: ContentfulStatusCode
  code: string
  message: string
  details?: Record<string, unknown>
  headers?: Record<string, string>
}

/**
 * The status counted for a request whose client closed the connection before its answer (nginx's
 * 499, "client closed request"): no answer reaches anyone, and it is no server error, so it stays
 * out of the 5xx rates that error alerts watch.
 */
const CLIENT_CLOSED_STATUS = 499 as ContentfulStatusCode

/**
 * Whether `e` says the client closed the connection mid-request: the body reader's
 * {@link ClientClosedError}, or Node's own `aborted` (ECONNRESET) of an IncomingMessage.
 */
function closedByClient(e: unknown): boolean {
  if (e instanceof ClientClosedError) return true
  if (!(e instanceof Error)) return false
  return e.message === 'aborted' && (e as NodeJS.ErrnoException).code === 'ECONNRESET'
}

/** Status, code and message for any thrown value. */
export function errorResponse(e: unknown, log: Logger): MappedError {
  if (closedByClient(e)) {
    log.debug('the client closed the connection before the answer', { message: (e as Error).message })
    return { status: CLIENT_CLOSED_STATUS, code: 'client_closed', message: (e as Error).message }
  }
  if (e instanceof LastmileError) {
    const status = HTTP_STATUS[e.code]
    if (status >= 500) log.error('request failed', { code: e.code, message: e.message })
    const headers: Record<string, string> | undefined =
      e instanceof QueueFullError
        ? { 'Retry-After': String(e.retryAfterSeconds) }
        : e instanceof UnsupportedEncodingError
          ? { 'Accept-Encoding': e.accepted.join(', ') || 'identity' } // RFC 7694: say which codings would do
          : e instanceof BodyTimeoutError
            ? { Connection: 'close' } // the rest of the body is not awaited: the connection cannot carry another request
            : undefined
    return {
      status,
      code: e.code,
      message: e.message,
      ...(e.details ? { details: e.details } : {}),
      ...(headers ? { headers } : {}),
    }
  }
  log.error('unexpected error', { error: e instanceof Error ? (e.stack ?? e.message) : String(e) })
  return { status: 500, code: 'internal', message: 'internal error; the server log has the details' }
}

/** Each request's declared style, set by the route table before the route's guard runs. */
const styles = new WeakMap<Request, ErrorStyle>()

/** Answer errors of this request in `style` (the route table calls it for every declared route). */
export function useErrorStyle(c: Context, style: ErrorStyle): void {
  styles.set(c.req.raw, style)
}

/** Whether a path is under the Open Inference Protocol's `/v2` (routes or not). */
const isOipPath = (path: string) => path === '/v2' || path.startsWith('/v2/')

/** The query keys of Wallaroo's SDK (`Deployment._init_infer_params`): always sent together. */
const WALLAROO_QUERY = ['dataset[]', 'dataset.exclude[]', 'dataset.separator']

function bodyOf(style: ErrorStyle, c: Context, e: MappedError): Record<string, unknown> {
  if (style === 'oip') return { error: e.message }
  if (style === 'wallaroo') {
    const query = new URL(c.req.url).searchParams
    if (WALLAROO_QUERY.some((k) => query.has(k)))
      return { code: e.status, status: 'Error', error: e.message, source: 'engine' }
  }
  return { error: { code: e.code, message: e.message, ...(e.details ? { details: e.details } : {}) } }
}

/**
 * The answer to an error: the request's declared style, else by path (an unknown `/v2` path still
 * speaks the OIP's body), with the code header and the error's own headers.
 */
export function errorAnswer(c: Context, e: unknown, log: Logger): Response {
  const r = errorResponse(e, log)
  const style = styles.get(c.req.raw) ?? (isOipPath(c.req.path) ? 'oip' : 'lastmile')
  return c.json(bodyOf(style, c, r), r.status, { [ERROR_CODE_HEADER]: r.code, ...r.headers })
}

/** Hono `onError`: answer with the mapped status and the route's body. */
export function onError(log: Logger) {
  return (e: Error, c: Context) => errorAnswer(c, e, log)
}
