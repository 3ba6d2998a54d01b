/** Request body helpers shared by the routes: raw bytes within the limit, JSON with a clear error, content type. */
import type { IncomingMessage } from 'node:http'
import type { Context } from 'hono'
import { InvalidRequestError, PayloadTooLargeError } from '../errors.js'

function tooLarge(limit: number): PayloadTooLargeError {
  return new PayloadTooLargeError(
    `the request body is larger than the limit of ${limit} bytes (LASTMILE_BODY_LIMIT_BYTES)`,
  )
}

/**
 * The body as bytes, refused with 413 past `limit`: by Content-Length before reading, or while
 * reading a chunked body. Under @hono/node-server it reads the Node request stream directly:
 * going through the web `Request` body costs several times the whole inference of a small request.
 */
export async function bodyBytes(c: Context, limit: number): Promise<Uint8Array> {
  const declared = c.req.header('content-length')
  if (declared !== undefined && Number(declared) > limit) throw tooLarge(limit)
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming
  if (!incoming) {
    const bytes = new Uint8Array(await c.req.arrayBuffer())
    if (bytes.length > limit) throw tooLarge(limit)
    return bytes
  }
  const chunks: Buffer[] = []
  let total = 0
  for await (const chunk of incoming as AsyncIterable<Buffer>) {
    total += chunk.length
    if (total > limit) {
      incoming.resume() // drain the rest without keeping it
      throw tooLarge(limit)
    }
    chunks.push(chunk)
  }
  const whole = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, total)
  return new Uint8Array(whole.buffer, whole.byteOffset, whole.byteLength)
}

const decoder = new TextDecoder()

/** Parse JSON, or fail with 400 and the parser's reason. */
export function parseJson(bytes: Uint8Array): unknown {
  if (bytes.length === 0) throw new InvalidRequestError('the request body is empty; expected JSON')
  try {
    return JSON.parse(decoder.decode(bytes))
  } catch (e) {
    throw new InvalidRequestError(`malformed JSON: ${e instanceof Error ? e.message : String(e)}`)
  }
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
