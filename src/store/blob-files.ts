/**
 * Files copied out of the shared store's blobs onto this host: hashed a part at a time (they may
 * not fit in memory), written beside their place under a temporary name, checked, renamed in. Used
 * by batch jobs' shared files and the shared inference log.
 */
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { rename, rm } from 'node:fs/promises'
import { dirname } from 'node:path'
import { syncDir } from '../durable.js'
import type { BlobStore } from './types.js'

/** The sha256 (lower-case hex) and size of the file at `path`, read a part at a time. */
export async function hashFile(path: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256')
  let size = 0
  for await (const part of createReadStream(path) as AsyncIterable<Buffer>) {
    hash.update(part)
    size += part.byteLength
  }
  return { sha256: hash.digest('hex'), size }
}

/**
 * Make `path` hold the blob `sha256`: written to `<path>.<random>.tmp` (a copy cut short by a crash
 * is removed at the next start), checked against its hash, renamed in, its folder fsynced.
 * 'missing' when the store has no such blob, 'corrupt' when its bytes do not match their hash
 * (nothing is left at `path` then).
 */
export async function copyBlob(
  blobs: BlobStore,
  sha256: string,
  path: string,
): Promise<'copied' | 'missing' | 'corrupt'> {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`
  try {
    if (!(await blobs.getFile(sha256, tmp))) return 'missing'
    if ((await hashFile(tmp)).sha256 !== sha256) return 'corrupt'
    await rename(tmp, path)
    await syncDir(dirname(path))
    return 'copied'
  } finally {
    await rm(tmp, { force: true })
  }
}
