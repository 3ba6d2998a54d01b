/** Receiving a job's input file: streamed to disk, never past the sender's upload limit. */
import { createHash } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { open, rename } from 'node:fs/promises'
import { pipeline } from 'node:stream/promises'
import { FILE_MODE } from '../durable.js'
import { PayloadTooLargeError } from '../errors.js'
import type { Role } from '../store/types.js'

/** The largest upload a sender may make, and the setting that says so (named in the 413). */
export interface UploadLimit {
  bytes: number
  setting: string
}

/** The 413 for an upload past `limit` from a sender with `role` (undefined: auth is off). */
export function tooLarge(limit: UploadLimit, role: Role | undefined): PayloadTooLargeError {
  const who = role ? ` from a ${role} key` : ''
  return new PayloadTooLargeError(
    `the file is larger than ${limit.bytes} bytes, the largest job upload${who} (${limit.setting})`,
  )
}

/**
 * Stream an upload to `path` (temp file, fsync, rename); returns its sha256 (lower-case hex) and
 * size, measured on the way. Past `limit` it stops reading and throws 413; the caller removes the
 * job's folder, temp file included.
 */
export async function receive(
  stream: AsyncIterable<Uint8Array>,
  path: string,
  limit: UploadLimit,
  role: Role | undefined,
): Promise<{ sha256: string; size: number }> {
  const tmp = `${path}.tmp`
  const hash = createHash('sha256')
  let bytes = 0
  // pipeline() ends every stream on any failure (the limit, a full disk, the client leaving), with
  // each stream's errors handled: a write failing after the abort must not surface as uncaught.
  await pipeline(
    stream,
    async function* (chunks: AsyncIterable<Uint8Array>) {
      for await (const chunk of chunks) {
        bytes += chunk.length
        if (bytes > limit.bytes) throw tooLarge(limit, role)
        hash.update(chunk)
        yield chunk
      }
    },
    createWriteStream(tmp, { mode: FILE_MODE }),
  )
  const f = await open(tmp, 'r+')
  await f.sync()
  await f.close()
  await rename(tmp, path)
  return { sha256: hash.digest('hex'), size: bytes }
}
