/**
 * The one place typed errors become HTTP: a status per error code, and the JSON body
 * `{"error": {"code", "message", "details"?}}`. Unknown errors are logged and answered with a
 * 500 that reveals nothing of the server's internals.
 */
import type { Context } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { type ErrorCode, LastmileError, QueueFullError } from '../errors.js'
import type { Logger } from '../log.js'

export const HTTP_STATUS: Record<ErrorCode, ContentfulStatusCode> = {
  invalid_config: 400,
  invalid_model: 400,
  unsupported_model: 400,
  invalid_input: 400,
  invalid_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
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

export interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> }
}

/** Status and body for any thrown value. */
export function errorResponse(
  e: unknown,
  log: Logger,
): { status: ContentfulStatusCode; body: ErrorBody; retryAfter?: number } {
  if (e instanceof LastmileError) {
    const status = HTTP_STATUS[e.code]
    if (status >= 500) log.error('request failed', { code: e.code, message: e.message })
    return {
      status,
      body: { error: { code: e.code, message: e.message, ...(e.details ? { details: e.details } : {}) } },
      ...(e instanceof QueueFullError ? { retryAfter: e.retryAfterSeconds } : {}),
    }
  }
  log.error('unexpected error', { error: e instanceof Error ? (e.stack ?? e.message) : String(e) })
  return {
    status: 500,
    body: { error: { code: 'internal', message: 'internal error; the server log has the details' } },
  }
}

/** Hono `onError`: answer with the mapped status and body. */
export function onError(log: Logger) {
  return (e: Error, c: Context) => {
    const r = errorResponse(e, log)
    if (r.retryAfter !== undefined) c.header('Retry-After', String(r.retryAfter))
    return c.json(r.body, r.status)
  }
}
