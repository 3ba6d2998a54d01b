/**
 * Typed errors of the core. Each has a stable `code` and no HTTP status: the server maps codes to
 * statuses in one table (`src/server/`). Messages say what was wrong and what was expected.
 */

export type ErrorCode =
  | 'invalid_config'
  | 'invalid_model'
  | 'unsupported_model'
  | 'invalid_input'
  | 'backend_unavailable'
  | 'not_ready'
  | 'session_closed'
  | 'inference_failed'
  | 'invalid_request'
  | 'not_found'
  | 'conflict'
  | 'queue_full'
  | 'timeout'
  | 'request_timeout'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'not_acceptable'
  | 'unauthorized'
  | 'forbidden'

/** Base class: `code` is stable for clients; `details` is optional structured context. */
export class LastmileError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(message, options)
    this.name = new.target.name
  }
}

/** A setting could not be parsed; names the setting and what it accepts. */
export class InvalidConfigError extends LastmileError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('invalid_config', message, details)
  }
}

/** The outbound policy refuses a call (a scheme, a name or an address); names the URL and why. */
export class OutboundRefusedError extends InvalidConfigError {
  constructor(
    readonly url: string,
    readonly reason: string,
  ) {
    super(`outbound call to '${url}' refused: ${reason}`, { url, reason })
  }
}

/** The bytes are not a loadable ONNX model (truncated, not protobuf, malformed graph). */
export class InvalidModelError extends LastmileError {
  constructor(message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super('invalid_model', message, options?.details, options)
  }
}

/** A well-formed model that this backend cannot run (an operator it lacks, an unsupported type). */
export class UnsupportedModelError extends LastmileError {
  constructor(message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super('unsupported_model', message, options?.details, options)
  }
}

/** Inputs that do not match the model: missing or unknown names, wrong dtype or shape. */
export class InvalidInputError extends LastmileError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('invalid_input', message, details)
  }
}

/** A backend was asked for that this machine cannot provide (e.g. `webgpu` with no adapter). */
export class BackendUnavailableError extends LastmileError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('backend_unavailable', message, details)
  }
}

/** Temporarily unable to serve (GPU device lost and recovering); retrying later can succeed. */
export class NotReadyError extends LastmileError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('not_ready', message, details)
  }
}

/** The session was released; load the model again. */
export class SessionClosedError extends LastmileError {
  constructor(message = 'the model session was released') {
    super('session_closed', message)
  }
}

/** The runtime failed while running a valid request (a bug or resource exhaustion, not bad input). */
export class InferenceError extends LastmileError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('inference_failed', message, undefined, options)
  }
}

/** A request body that cannot be decoded (malformed JSON or Arrow, wrong structure). */
export class InvalidRequestError extends LastmileError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('invalid_request', message, details)
  }
}

/** No such workspace, model, pipeline or deployment. */
export class NotFoundError extends LastmileError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('not_found', message, details)
  }
}

/** The operation conflicts with the current state (e.g. deleting something in use). */
export class ConflictError extends LastmileError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('conflict', message, details)
  }
}

/** A deployment's queue is full; retry after `retryAfterSeconds`. */
export class QueueFullError extends LastmileError {
  constructor(
    message: string,
    readonly retryAfterSeconds = 1,
  ) {
    super('queue_full', message, { retryAfterSeconds })
  }
}

/** The request was not answered within its deadline. */
export class TimeoutError extends LastmileError {
  constructor(message: string) {
    super('timeout', message)
  }
}

/**
 * The client did not send its request body in time: an admitted large body arrived slower than the
 * server's minimum pace. Its turn passes on and the connection is closed.
 */
export class BodyTimeoutError extends LastmileError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('request_timeout', message, details)
  }
}

/** The request body is larger than the configured limit. */
export class PayloadTooLargeError extends LastmileError {
  constructor(message: string) {
    super('payload_too_large', message)
  }
}

/** The request's content type is not one the route accepts. */
export class UnsupportedMediaTypeError extends LastmileError {
  constructor(message: string) {
    super('unsupported_media_type', message)
  }
}

/** The request's `Accept` allows none of the formats the route answers in (HTTP 406). */
export class NotAcceptableError extends LastmileError {
  constructor(message: string) {
    super('not_acceptable', message)
  }
}

/** The request's Content-Encoding is not one the server decodes; `accepted` lists those it does. */
export class UnsupportedEncodingError extends UnsupportedMediaTypeError {
  /** `accepted`: the codings the route takes besides identity; none: it takes bodies as they are. */
  constructor(
    encoding: string,
    readonly accepted: readonly string[],
  ) {
    super(
      accepted.length > 0
        ? `Content-Encoding '${encoding}' is not supported; send ${accepted.join(', ')} or identity`
        : `Content-Encoding '${encoding}' is not accepted on this route: send the body uncompressed (only inference bodies may come compressed)`,
    )
  }
}

/** No valid API key was presented. */
export class UnauthorizedError extends LastmileError {
  constructor(message: string) {
    super('unauthorized', message)
  }
}

/** The API key is valid but its role or workspace does not allow the operation. */
export class ForbiddenError extends LastmileError {
  constructor(message: string) {
    super('forbidden', message)
  }
}

/** Message of any thrown value. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e)
}
