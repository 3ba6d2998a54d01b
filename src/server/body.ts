/**
 * Request body helpers shared by the routes: raw bytes within the limit (decompressed when sent
 * with `Content-Encoding: gzip` or `deflate`), inference bodies admitted by size (see
 * src/formats/decode-pool.ts), encoded answers, JSON with a clear error, content type.
 */
import type { IncomingMessage } from 'node:http'
import { Readable } from 'node:stream'
import { promisify } from 'node:util'
import { createGunzip, createInflate, deflate, type Gunzip, gzip, type Inflate } from 'node:zlib'
import type { Context } from 'hono'
import { InvalidRequestError, PayloadTooLargeError, UnsupportedEncodingError } from '../errors.js'
import type { Encoded } from '../formats/body-codec.js'
import type { BodyPool, Release } from '../formats/decode-pool.js'

export { parseJson } from '../formats/body-codec.js'

function tooLarge(limit: number): PayloadTooLargeError {
  return new PayloadTooLargeError(
    `the request body is larger than the limit of ${limit} bytes (LASTMILE_BODY_LIMIT_BYTES)`,
  )
}

const incomingOf = (c: Context) => (c.env as { incoming?: IncomingMessage } | undefined)?.incoming

/** The content codings a request body may come in, besides identity (the zlib formats). */
const CONTENT_CODINGS = ['gzip', 'deflate'] as const
type Coding = (typeof CONTENT_CODINGS)[number]

/**
 * The request's content coding: `gzip` (`x-gzip` too, RFC 9110 §8.4.1.3), `deflate` (a zlib
 * stream, RFC 9110 §8.4.1.2: what tritonclient's `zlib.compress` sends), or none; anything else,
 * a list of codings included, is refused with 415 naming those accepted.
 */
function contentCoding(c: Context): Coding | undefined {
  const raw = c.req.header('content-encoding')?.trim().toLowerCase()
  if (!raw || raw === 'identity') return undefined
  if (raw === 'gzip' || raw === 'x-gzip') return 'gzip'
  if (raw === 'deflate') return 'deflate'
  throw new UnsupportedEncodingError(raw, CONTENT_CODINGS)
}

/** Where a large body's onLarge hook runs: once, before the body grows past `bytes`. */
type Large = { bytes: number; onLarge(): Promise<void> }

/**
 * The body as bytes, refused with 413 past `limit`: by Content-Length before reading, or while
 * reading a chunked body. Under @hono/node-server it reads the Node request stream directly:
 * going through the web `Request` body costs several times the whole inference of a small request.
 * `onLarge` runs once, before a chunked body grows past `large` bytes (reading waits for it).
 * A compressed body is decompressed as it arrives, and `limit` and `large` count its decompressed
 * bytes: decompression stops at the limit, so a small body that inflates enormously costs at most
 * the limit and one zlib chunk.
 */
export async function bodyBytes(c: Context, limit: number, large?: Large): Promise<Uint8Array> {
  const declared = c.req.header('content-length')
  if (declared !== undefined && Number(declared) > limit) throw tooLarge(limit)
  const coding = contentCoding(c)
  const incoming = incomingOf(c)
  if (coding) return inflated(incoming ?? Readable.fromWeb(c.req.raw.body ?? emptyStream()), coding, limit, large)
  if (!incoming) {
    const bytes = new Uint8Array(await c.req.arrayBuffer())
    if (bytes.length > limit) throw tooLarge(limit)
    return bytes
  }
  const length = Number(declared)
  if (declared !== undefined && large && length > large.bytes) return readInto(incoming, length)
  const chunks: Buffer[] = []
  let total = 0
  let onLarge = large?.onLarge
  for await (const chunk of incoming as AsyncIterable<Buffer>) {
    total += chunk.length
    if (total > limit) {
      incoming.resume() // drain the rest without keeping it
      throw tooLarge(limit)
    }
    if (onLarge && large && total > large.bytes) {
      await onLarge()
      onLarge = undefined
    }
    chunks.push(chunk)
  }
  const whole = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, total)
  return new Uint8Array(whole.buffer, whole.byteOffset, whole.byteLength)
}

/**
 * A large body of a known length, copied chunk by chunk into one buffer of its own as it arrives:
 * no Buffer.concat of tens of MiB on the event loop at the end, and a buffer a worker can take.
 */
async function readInto(incoming: IncomingMessage, length: number): Promise<Uint8Array> {
  const out = new Uint8Array(length)
  let at = 0
  for await (const chunk of incoming as AsyncIterable<Buffer>) {
    if (at + chunk.length > length)
      throw new InvalidRequestError(`the body is longer than its Content-Length ${length}`)
    out.set(chunk, at)
    at += chunk.length
  }
  return at === length ? out : out.subarray(0, at)
}

const gzipAsync = promisify(gzip)
const deflateAsync = promisify(deflate)

const emptyStream = () => new ReadableStream<Uint8Array>({ start: (controller) => controller.close() })

/** zlib's output chunk: fewer, larger chunks than its 16 KiB default for bodies of many MiB. */
const INFLATE_CHUNK = 64 * 1024

/**
 * A compressed body, decompressed as it arrives (zlib runs off the event loop) up to `limit`
 * decompressed bytes. Past the limit, decompression stops and the rest of the body is drained
 * unread, so the 413 still reaches the client; corrupt data is a 400 with zlib's reason.
 */
async function inflated(source: Readable, coding: Coding, limit: number, large?: Large): Promise<Uint8Array> {
  const z: Gunzip | Inflate =
    coding === 'gzip' ? createGunzip({ chunkSize: INFLATE_CHUNK }) : createInflate({ chunkSize: INFLATE_CHUNK })
  // pipe(), not pipeline(): stopping early must not destroy the request (and its socket) before the 413.
  source.pipe(z)
  const failed = (e: Error) => z.destroy(e)
  const aborted = () => z.destroy(new Error('the client closed the connection during the body'))
  source.once('error', failed)
  source.once('aborted', aborted)
  const chunks: Buffer[] = []
  let total = 0
  let onLarge = large?.onLarge
  try {
    for await (const chunk of z as AsyncIterable<Buffer>) {
      total += chunk.length
      if (total > limit) throw tooLarge(limit)
      if (onLarge && large && total > large.bytes) {
        await onLarge()
        onLarge = undefined
      }
      chunks.push(chunk)
    }
  } catch (e) {
    source.unpipe(z)
    source.resume() // drain the rest without keeping it
    z.destroy()
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && code.startsWith('Z_'))
      // zlib's own: the data, not the connection
      throw new InvalidRequestError(
        `the body is not valid ${coding} data (Content-Encoding: ${coding}): ${(e as Error).message}`,
      )
    throw e
  } finally {
    source.off('error', failed)
    source.off('aborted', aborted)
  }
  const whole = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, total)
  return new Uint8Array(whole.buffer, whole.byteOffset, whole.byteLength)
}

/** An inference body and its admission: call `release` once its answer is encoded. */
export interface InferenceBody {
  bytes: Uint8Array
  release: Release
}

/**
 * An inference request's body. A large one (by Content-Length, or once a chunked body grows past
 * the threshold) waits for its turn in the body pool before it is read, so waiting requests hold
 * no body in memory; the pool refuses with 429 when too many wait.
 */
export async function inferenceBody(
  c: Context,
  deps: { bodyLimitBytes: number; bodies: BodyPool },
): Promise<InferenceBody> {
  const { bodies } = deps
  const declared = c.req.header('content-length')
  if (declared !== undefined && Number(declared) > deps.bodyLimitBytes) throw tooLarge(deps.bodyLimitBytes)
  let release: Release | undefined
  try {
    if (declared !== undefined && bodies.isLarge(Number(declared))) release = await bodies.admit()
    const admit = async () => {
      release ??= await bodies.admit()
    }
    const bytes = await bodyBytes(c, deps.bodyLimitBytes, { bytes: bodies.options.largeBytes, onLarge: admit })
    if (bodies.isLarge(bytes.length)) await admit() // a body read whole by the web Request (app.request in tests)
    return { bytes, release: release ?? (() => {}) }
  } catch (e) {
    release?.()
    throw e
  }
}

/**
 * The response for an encoded answer (JSON text, JSON bytes, Arrow or OIP binary). An answer of
 * `compressFrom` bytes or more goes out compressed when the request's `Accept-Encoding` prefers
 * gzip or deflate (tritonclient's `response_compression_algorithm`, or any HTTP client), compressed
 * off the event loop; `Inference-Header-Content-Length` still counts the uncompressed JSON header,
 * as Triton's does.
 */
export function answer(
  c: Context,
  encoded: Encoded,
  compressFrom = Number.POSITIVE_INFINITY,
): Response | Promise<Response> {
  // Headers as a plain record, as `c.json` passes them: `c.header()` would build a Headers object,
  // a slower path through Hono and @hono/node-server for every small answer.
  const headers: Record<string, string> = { 'Content-Type': encoded.type }
  if (encoded.headerLength !== undefined) headers['Inference-Header-Content-Length'] = String(encoded.headerLength)
  const size = typeof encoded.body === 'string' ? encoded.body.length : encoded.body.byteLength
  const coding = size >= compressFrom ? preferredCoding(c.req.header('accept-encoding')) : undefined
  if (!coding) return c.body(encoded.body as string | Uint8Array<ArrayBuffer>, undefined, headers)
  const compress = coding === 'gzip' ? gzipAsync : deflateAsync
  return compress(encoded.body, { level: 1 /* JSON shrinks ~5× already; higher levels cost far more CPU */ }).then(
    (bytes) =>
      c.body(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) as Uint8Array<ArrayBuffer>, undefined, {
        ...headers,
        'Content-Encoding': coding,
        Vary: 'Accept-Encoding',
      }),
  )
}

/**
 * The coding an `Accept-Encoding` value prefers among gzip and deflate: the highest `q` above 0,
 * the first listed on a tie, as Triton picks; none when identity weighs more or nothing matches
 * (`*` is not taken to mean either).
 */
export function preferredCoding(accept: string | undefined): Coding | undefined {
  let best: Coding | 'identity' | undefined
  let weight = 0
  for (const part of accept?.split(',') ?? []) {
    const [token = '', ...params] = part.split(';').map((p) => p.trim().toLowerCase())
    const q = params.find((p) => p.startsWith('q='))
    const w = q === undefined ? 1 : Number(q.slice(2))
    const name = token === 'x-gzip' ? 'gzip' : token
    if ((name === 'gzip' || name === 'deflate' || name === 'identity') && w > weight) {
      best = name
      weight = w
    }
  }
  return best === 'identity' ? undefined : best
}

/** Media type (lower case, without parameters) and its parameters. */
export function contentType(c: Context): { type: string; params: Record<string, string> } {
  const raw = c.req.header('content-type') ?? ''
  const [type = '', ...rest] = raw.split(';').map((s) => s.trim())
  const params: Record<string, string> = {}
  for (const p of rest) {
    const [k, v] = p.split('=')
    if (k && v) params[k.trim().toLowerCase()] = v.trim().replace(/^"|"$/g, '')
  }
  return { type: type.toLowerCase(), params }
}
