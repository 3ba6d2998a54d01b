/** Request body helpers shared by the routes: raw bytes, JSON with a clear error, content type. */
import type { Context } from 'hono'
import { InvalidRequestError } from '../errors.js'

/** The body as bytes (the body-limit middleware has already refused oversized ones). */
export async function bodyBytes(c: Context): Promise<Uint8Array> {
  return new Uint8Array(await c.req.arrayBuffer())
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
