/**
 * Request body helpers shared by the routes: raw bytes within a route's rules (size, content
 * codings: see body-read.ts), large bodies admitted by size (see src/formats/decode-pool.ts) and held
 * to a pace, JSON bodies read by what they carry, encoded answers, content type.
 */
import type { IncomingMessage } from 'node:http'
import { Readable } from 'node:stream'
import { promisify } from 'node:util'
import { deflate, gzip } from 'node:zlib'
import type { Context } from 'hono'
import { type Encoded, parseJson } from '../formats/body-codec.js'
import type { BodyPool } from '../formats/decode-pool.js'
import type { Release } from '../formats/turns.js'
import { type BodyPace, Pace } from './body-pace.js'
import {
  awaitHead,
  type BodyRules,
  type Coding,
  clientClosed,
  contentCoding,
  HEAD_BYTES,
  readBody,
  tooLarge,
} from './body-read.js'

export { parseJson }

const incomingOf = (c: Context) => (c.env as { incoming?: IncomingMessage } | undefined)?.incoming

/** The request's Content-Length, when it sends one (413 before reading when it is past `rules.limit`). */
function declaredLength(c: Context, rules: BodyRules): number | undefined {
  const declared = c.req.header('content-length')
  if (declared === undefined) return undefined
  const length = Number(declared)
  if (length > rules.limit) throw tooLarge(rules)
  return length
}

const emptyStream = () => new ReadableStream<Uint8Array>({ start: (controller) => controller.close() })

/** A body read whole through the web `Request` (`app.request` in tests): no Node stream to read. */
async function webBody(c: Context, rules: BodyRules, coding: Coding | undefined): Promise<Uint8Array> {
  if (coding) return readBody(Readable.fromWeb(c.req.raw.body ?? emptyStream()), { rules, coding })
  const bytes = new Uint8Array(await c.req.arrayBuffer())
  if (bytes.length > rules.limit) throw tooLarge(rules)
  return bytes
}

/**
 * The body as bytes within `rules`, not admitted: for bodies small by nature, and model uploads
 * (their own limit; the registry works on them whole). Under @hono/node-server it reads the Node
 * request stream directly: going through the web `Request` body costs several times the whole
 * inference of a small request.
 */
export async function bodyBytes(c: Context, rules: BodyRules): Promise<Uint8Array> {
  const length = declaredLength(c, rules)
  const coding = contentCoding(c.req.header('content-encoding'), rules)
  const incoming = incomingOf(c)
  return incoming ? readBody(incoming, { rules, coding, length }) : webBody(c, rules, coding)
}

/** A body and its admission: call `release` once its answer is encoded. */
export interface AdmittedBody {
  bytes: Uint8Array
  release: Release
}

/** What admitting and pacing large bodies takes. */
export interface Admission {
  bodies: BodyPool
  bodyPace: BodyPace
}

/**
 * A body that may be large, within `rules`. A large one (by Content-Length) waits for its first
 * {@link HEAD_BYTES}, then for its turn in the body pool, before the rest is read: waiting requests
 * hold next to no memory, a request whose client goes leaves the queue, and the pool refuses with
 * 429 when too many wait. A chunked or compressed body is admitted once it grows past the
 * threshold. Once admitted, the body must keep the pace (408 otherwise, and its turn passes on).
 */
async function admittedBody(c: Context, deps: Admission, rules: BodyRules): Promise<AdmittedBody> {
  const { bodies } = deps
  const length = declaredLength(c, rules)
  const coding = contentCoding(c.req.header('content-encoding'), rules)
  const incoming = incomingOf(c)
  const pace = new Pace(deps.bodyPace, length)
  let release: Release | undefined
  const admit = async () => {
    release ??= await bodies.admit(c.req.raw.signal).catch((e) => {
      throw c.req.raw.signal.aborted ? clientClosed() : e
    })
    pace.start()
  }
  try {
    let bytes: Uint8Array
    if (!incoming) {
      bytes = await webBody(c, rules, coding)
      if (bodies.isLarge(bytes.length)) await admit()
    } else {
      let head: Buffer[] | undefined
      if (length !== undefined && bodies.isLarge(length)) {
        head = await awaitHead(incoming, Math.min(length, HEAD_BYTES), deps.bodyPace)
        await admit()
      }
      const large = { bytes: bodies.options.largeBytes, onLarge: admit }
      bytes = await readBody(incoming, { rules, coding, length, large, pace, head })
    }
    return { bytes, release: release ?? (() => {}) }
  } catch (e) {
    release?.()
    throw e
  } finally {
    pace.stop()
  }
}

/** An inference request's body: compressed or not, up to LASTMILE_BODY_LIMIT_BYTES, admitted when large. */
export function inferenceBody(c: Context, deps: Admission & { bodyLimitBytes: number }): Promise<AdmittedBody> {
  return admittedBody(c, deps, { limit: deps.bodyLimitBytes, setting: 'LASTMILE_BODY_LIMIT_BYTES', compressed: true })
}

/**
 * The largest JSON body of a route that takes names and settings only (workspaces, keys, a
 * deployment's settings, an assay run's range): nothing there comes near it.
 */
const SMALL_JSON_BYTES = 64 * 1024

/** What a route's JSON body carries: `small`, names and settings; `data`, values, rows or steps. */
export type JsonKind = 'small' | 'data'

/** The body rules of a JSON route: never compressed; a small one within 64 KiB, a data one within the body limit. */
export function jsonRules(kind: JsonKind, deps: { bodyLimitBytes: number }): BodyRules {
  if (kind === 'data') return { limit: deps.bodyLimitBytes, setting: 'LASTMILE_BODY_LIMIT_BYTES', compressed: false }
  if (deps.bodyLimitBytes < SMALL_JSON_BYTES)
    return { limit: deps.bodyLimitBytes, setting: 'LASTMILE_BODY_LIMIT_BYTES', compressed: false }
  return { limit: SMALL_JSON_BYTES, setting: 'this route takes names and settings only', compressed: false }
}

/**
 * A JSON body, parsed. A `small` one is read and parsed here. A `data` one is admitted and parsed
 * in a body worker when it is large, and comes back only once its values are counted within
 * LASTMILE_JSON_BODY_MAX_VALUES (400 beyond): the event loop never parses a large body, nor walks
 * more values than that.
 */
export async function jsonValue(
  c: Context,
  deps: Admission & { bodyLimitBytes: number; jsonMaxValues: number },
  kind: JsonKind,
): Promise<unknown> {
  const rules = jsonRules(kind, deps)
  if (kind === 'small') return parseJson(await bodyBytes(c, rules))
  const body = await admittedBody(c, deps, rules)
  try {
    return await deps.bodies.json(body.bytes, deps.jsonMaxValues, 'LASTMILE_JSON_BODY_MAX_VALUES')
  } finally {
    body.release()
  }
}

const gzipAsync = promisify(gzip)
const deflateAsync = promisify(deflate)

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
