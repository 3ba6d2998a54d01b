/**
 * Reading a request body off the Node stream, bounded three ways: by size (413 past the route's
 * limit, decompressed bytes counted for a compressed body), by the content codings the route takes
 * (415 for others), and, for a large body that holds a turn (see src/formats/decode-pool.ts), by
 * time: its first {@link HEAD_BYTES} must arrive within the grace before it waits for a turn, and
 * once admitted it must keep a minimum pace (body-pace.ts), or it is answered 408 and its turn
 * passes on. Reading stops without destroying the request, so the answer still reaches the client.
 */
import type { Readable } from 'node:stream'
import { createGunzip, createInflate, type Gunzip, type Inflate } from 'node:zlib'
import { BodyTimeoutError, InvalidRequestError, PayloadTooLargeError, UnsupportedEncodingError } from '../errors.js'
import type { BodyPace, Pace } from './body-pace.js'

/** What a route takes as a body. */
export interface BodyRules {
  /** Bytes at most (a compressed body's decompressed bytes); 413 beyond. */
  limit: number
  /** The setting that sets `limit`, named in the 413. */
  setting: string
  /** Whether the body may come with `Content-Encoding: gzip` or `deflate` (the inference routes). */
  compressed: boolean
}

/** The 413 for a body past `rules.limit`, naming the limit and its setting. */
export function tooLarge(rules: BodyRules): PayloadTooLargeError {
  return new PayloadTooLargeError(
    `the request body is larger than the limit of ${rules.limit} bytes (${rules.setting})`,
  )
}

/** The content codings a request body may come in, besides identity (the zlib formats). */
const CONTENT_CODINGS = ['gzip', 'deflate'] as const
/** A content coding a body may come in. */
export type Coding = (typeof CONTENT_CODINGS)[number]

/**
 * A request's content coding from its `Content-Encoding`: `gzip` (`x-gzip` too, RFC 9110
 * §8.4.1.3), `deflate` (a zlib stream, RFC 9110 §8.4.1.2: what tritonclient's `zlib.compress`
 * sends), or none. Anything else, a list of codings included, and any coding on a route that takes
 * none, is refused with 415 naming those accepted.
 */
export function contentCoding(header: string | undefined, rules: BodyRules): Coding | undefined {
  const raw = header?.trim().toLowerCase()
  if (!raw || raw === 'identity') return undefined
  const coding = raw === 'gzip' || raw === 'x-gzip' ? 'gzip' : raw === 'deflate' ? 'deflate' : undefined
  if (!coding || !rules.compressed) throw new UnsupportedEncodingError(raw, rules.compressed ? CONTENT_CODINGS : [])
  return coding
}

/** What a body read ends with when the client closes the connection before its end. */
export class ClientClosedError extends Error {
  constructor() {
    super('the client closed the connection during the body')
    this.name = 'ClientClosedError'
  }
}

/** The error a body read ends with when the client closes the connection before its end. */
export const clientClosed = () => new ClientClosedError()

/**
 * Bytes of a large body that must arrive before it waits for a turn: a few TCP windows, which a
 * client that is sending has sent at once, and all a waiting request holds.
 */
export const HEAD_BYTES = 64 * 1024

/**
 * The first `n` bytes of `source` (or all of a shorter body), or a 408 after the grace: a client
 * that declares a large body and sends nothing never reaches the queue. The reader takes them first.
 */
export async function awaitHead(source: Readable, n: number, pace: BodyPace): Promise<Buffer[]> {
  const head: Buffer[] = []
  let got = 0
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    // Bytes may be waiting behind a stall of the event loop: the reads it has pending run first.
    const expire = () =>
      reject(
        new BodyTimeoutError(
          `the body's first ${n} bytes did not arrive within ${pace.graceMs} ms (LASTMILE_LARGE_BODY_GRACE_MS), ${got} did; it was not admitted`,
          { received: got, graceMs: pace.graceMs },
        ),
      )
    timer = setTimeout(() => setImmediate(expire), pace.graceMs)
  })
  const take = (chunk: Buffer) => {
    head.push(chunk)
    got += chunk.length
    if (got >= n) throw HEAD_DONE
  }
  try {
    await eachChunk(source, take, timeout)
  } catch (e) {
    if (e !== HEAD_DONE) throw e
  } finally {
    clearTimeout(timer)
  }
  return head
}
const HEAD_DONE = Symbol('head')

/**
 * Hand each chunk of `source` to `take` until the stream ends; reading waits while a promise
 * `take` returns is pending. Rejects with what `take` throws, the stream's error, a closed
 * connection, or `stop`'s rejection; then the stream is left paused, not destroyed, so that an
 * answer can still go out on its connection.
 */
function eachChunk(
  source: Readable,
  take: (chunk: Buffer) => void | Promise<void>,
  stop?: Promise<never>,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let settled = false
    const finish = (e?: unknown) => {
      if (settled) return
      settled = true
      source.off('data', onData)
      source.off('end', onEnd)
      source.off('error', finish)
      source.off('aborted', onClosed)
      source.off('close', onClosed)
      source.pause()
      if (e === undefined) resolve()
      else reject(e)
    }
    const onData = (chunk: Buffer) => {
      let next: void | Promise<void>
      try {
        next = take(chunk)
      } catch (e) {
        return finish(e)
      }
      if (next) {
        source.pause()
        next.then(() => settled || source.resume(), finish)
      }
    }
    const onEnd = () => finish()
    const onClosed = () => finish(clientClosed())
    source.on('data', onData)
    source.once('end', onEnd)
    source.once('error', finish)
    source.once('aborted', onClosed)
    source.once('close', onClosed)
    stop?.catch(finish)
    if (source.readableEnded) finish()
    else source.resume() // a 'data' listener alone does not restart a stream paused before
  })
}

/** zlib's output chunk: fewer, larger chunks than its 16 KiB default for bodies of many MiB. */
const INFLATE_CHUNK = 64 * 1024

/** Where a large body's `onLarge` runs: once, before the body grows past `bytes` (reading waits for it). */
interface Large {
  bytes: number
  onLarge(): Promise<void>
}

/** How to read one body. */
interface BodyRead {
  rules: BodyRules
  coding?: Coding | undefined
  /** Its Content-Length, when it has one. */
  length?: number | undefined
  large?: Large | undefined
  /** The pace it must keep once admitted (see {@link Pace}). */
  pace?: Pace | undefined
  /** Its first bytes, already read ({@link awaitHead}): a large body of known length only. */
  head?: Buffer[] | undefined
}

/**
 * A body from the Node stream. A compressed one is decompressed as it arrives (see
 * {@link inflated}); a large one of known length is copied into one buffer of its own as it
 * arrives (no concatenation of tens of MiB at the end, and a buffer a worker can take); others are
 * gathered in chunks, `large.onLarge` awaited before they grow past its size.
 */
export function readBody(source: Readable, o: BodyRead): Promise<Uint8Array> {
  if (o.coding) return inflated(source, o.coding, o)
  if (o.length !== undefined && o.length > INTO_FROM) return readInto(source, o.length, o)
  return gather(source, o)
}

/** Bodies of a known length past this are read into one buffer; smaller ones usually come in one chunk. */
const INTO_FROM = 64 * 1024

/** A body of a known length into one buffer, chunk by chunk. */
async function readInto(source: Readable, length: number, o: BodyRead): Promise<Uint8Array> {
  const out = new Uint8Array(length)
  let at = 0
  const take = (chunk: Buffer) => {
    if (at + chunk.length > length)
      throw new InvalidRequestError(`the body is longer than its Content-Length ${length}`)
    out.set(chunk, at)
    at += chunk.length
  }
  for (const chunk of o.head ?? []) take(chunk)
  await eachChunk(
    source,
    (chunk) => {
      o.pace?.add(chunk.length)
      take(chunk)
    },
    o.pace?.expired,
  )
  return at === length ? out : out.subarray(0, at)
}

/** A body of unknown (or small) length, in chunks up to the limit. */
async function gather(source: Readable, o: BodyRead): Promise<Uint8Array> {
  const { rules, large } = o
  const chunks: Buffer[] = []
  let total = 0
  let onLarge = large?.onLarge
  const take = (chunk: Buffer): void | Promise<void> => {
    o.pace?.add(chunk.length)
    total += chunk.length
    if (total > rules.limit) throw tooLarge(rules)
    chunks.push(chunk)
    if (onLarge && large && total > large.bytes) {
      const admitted = onLarge()
      onLarge = undefined
      return admitted
    }
  }
  try {
    await eachChunk(source, take, o.pace?.expired)
  } catch (e) {
    if (e instanceof PayloadTooLargeError) source.resume() // drain the rest without keeping it
    throw e
  }
  const whole = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, total)
  return new Uint8Array(whole.buffer, whole.byteOffset, whole.byteLength)
}

/**
 * A compressed body, decompressed as it arrives (zlib runs off the event loop) up to the limit in
 * decompressed bytes. Past the limit, decompression stops and the rest of the body is drained
 * unread, so the 413 still reaches the client; corrupt data is a 400 with zlib's reason. The pace
 * counts the bytes as sent, and stops decompression when it expires.
 */
async function inflated(source: Readable, coding: Coding, o: BodyRead): Promise<Uint8Array> {
  const { rules, large, pace } = o
  const z: Gunzip | Inflate =
    coding === 'gzip' ? createGunzip({ chunkSize: INFLATE_CHUNK }) : createInflate({ chunkSize: INFLATE_CHUNK })
  for (const chunk of o.head ?? []) z.write(chunk)
  // pipe(), not pipeline(): stopping early must not destroy the request (and its socket) before the answer.
  source.pipe(z)
  const failed = (e: Error) => z.destroy(e)
  const aborted = () => z.destroy(clientClosed())
  const counted = (chunk: Buffer) => pace?.add(chunk.length)
  source.once('error', failed)
  source.once('aborted', aborted)
  source.on('data', counted)
  pace?.expired.catch(failed)
  const chunks: Buffer[] = []
  let total = 0
  let onLarge = large?.onLarge
  try {
    for await (const chunk of z as AsyncIterable<Buffer>) {
      total += chunk.length
      if (total > rules.limit) throw tooLarge(rules)
      if (onLarge && large && total > large.bytes) {
        await onLarge()
        onLarge = undefined
      }
      chunks.push(chunk)
    }
  } catch (e) {
    source.unpipe(z)
    z.destroy()
    if (e instanceof PayloadTooLargeError)
      source.resume() // drain the rest without keeping it
    else source.pause()
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
    source.off('data', counted)
  }
  const whole = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, total)
  return new Uint8Array(whole.buffer, whole.byteOffset, whole.byteLength)
}
