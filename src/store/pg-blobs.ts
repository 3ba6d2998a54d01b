/**
 * Model bytes in the PostgreSQL store, shared by every host: a blob row (size, number of parts)
 * and its bytes in parts of 8 MiB. A model may be 1 GiB (LASTMILE_MODEL_LIMIT_BYTES), more than one
 * bytea value and one protocol message may carry; parts also keep the memory a read or a write
 * needs beside the bytes themselves small. Parts are read one at a time into the blob's buffer.
 */
import { open } from 'node:fs/promises'
import type pg from 'pg'
import { z } from 'zod'
import { FILE_MODE } from '../durable.js'
import { transaction } from './pg-pool.js'
import { rowParser } from './rows.js'
import { CorruptRowError } from './schemas.js'
import type { BlobStore } from './types.js'

const PART_BYTES = 8 * 2 ** 20

const blobFrom = rowParser('blobs', z.object({ sha256: z.string(), size: z.int().min(0), parts: z.int().min(0) }), [
  'sha256',
])
const partFrom = rowParser('blob_parts', z.object({ bytes: z.instanceof(Uint8Array) }), [])

const sizeMismatch = (sha256: string, what: string) =>
  new CorruptRowError('blob_parts', 'bytes', `sha256=${JSON.stringify(sha256)}`, [], `the parts hold ${what}`)

/** BlobStore on PostgreSQL, over the pool `PgStore` opened and migrated. */
export class PgBlobs implements BlobStore {
  constructor(private readonly db: pg.Pool) {}

  /** Store `bytes` under `sha256` (the caller's hash of them); a blob already there is kept. */
  async put(sha256: string, bytes: Uint8Array): Promise<void> {
    const parts = Math.ceil(bytes.byteLength / PART_BYTES)
    await transaction(this.db, async (c) => {
      // A second writer of the same blob waits here for the first one's commit, then finds it.
      const added = await c.query(
        'INSERT INTO blobs (sha256, size, parts) VALUES ($1, $2, $3) ON CONFLICT (sha256) DO NOTHING',
        [sha256, bytes.byteLength, parts],
      )
      if (added.rowCount === 0) return
      for (let part = 0; part < parts; part++) {
        const start = part * PART_BYTES
        const end = Math.min(start + PART_BYTES, bytes.byteLength)
        const chunk = Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start)
        await c.query('INSERT INTO blob_parts (sha256, part, bytes) VALUES ($1, $2, $3)', [sha256, part, chunk])
      }
    })
  }

  /** The bytes stored under `sha256` (unchecked: the caller hashes them), or undefined. */
  async get(sha256: string): Promise<Uint8Array | undefined> {
    const found = (await this.db.query('SELECT sha256, size, parts FROM blobs WHERE sha256 = $1', [sha256])).rows[0]
    if (found === undefined) return undefined
    const { size, parts } = blobFrom(found)
    const out = new Uint8Array(size)
    let at = 0
    for (let part = 0; part < parts; part++) {
      const { rows } = await this.db.query('SELECT bytes FROM blob_parts WHERE sha256 = $1 AND part = $2', [
        sha256,
        part,
      ])
      if (rows[0] === undefined) return undefined // deleted while it was read
      const { bytes } = partFrom(rows[0])
      if (at + bytes.byteLength > size) throw sizeMismatch(sha256, `more than its ${size} bytes`)
      out.set(bytes, at)
      at += bytes.byteLength
    }
    if (at !== size) throw sizeMismatch(sha256, `${at} bytes, not its ${size}`)
    return out
  }

  /** Store the file at `path` under `sha256` (the caller's hash of it), a part at a time; a blob already there is kept. */
  async putFile(sha256: string, path: string): Promise<void> {
    const file = await open(path, 'r')
    try {
      const size = (await file.stat()).size
      const parts = Math.ceil(size / PART_BYTES)
      await transaction(this.db, async (c) => {
        const added = await c.query(
          'INSERT INTO blobs (sha256, size, parts) VALUES ($1, $2, $3) ON CONFLICT (sha256) DO NOTHING',
          [sha256, size, parts],
        )
        if (added.rowCount === 0) return
        const buffer = Buffer.alloc(Math.min(PART_BYTES, size))
        for (let part = 0; part < parts; part++) {
          const want = Math.min(PART_BYTES, size - part * PART_BYTES)
          const { bytesRead } = await file.read(buffer, 0, want, part * PART_BYTES)
          if (bytesRead !== want) throw new Error(`${path} changed while it was stored`)
          await c.query('INSERT INTO blob_parts (sha256, part, bytes) VALUES ($1, $2, $3)', [
            sha256,
            part,
            buffer.subarray(0, want),
          ])
        }
      })
    } finally {
      await file.close()
    }
  }

  /** Write the blob to `path` a part at a time (unchecked: the caller hashes it); false when there is none. */
  async getFile(sha256: string, path: string): Promise<boolean> {
    const found = (await this.db.query('SELECT sha256, size, parts FROM blobs WHERE sha256 = $1', [sha256])).rows[0]
    if (found === undefined) return false
    const { size, parts } = blobFrom(found)
    const file = await open(path, 'w', FILE_MODE)
    try {
      let at = 0
      for (let part = 0; part < parts; part++) {
        const { rows } = await this.db.query('SELECT bytes FROM blob_parts WHERE sha256 = $1 AND part = $2', [
          sha256,
          part,
        ])
        if (rows[0] === undefined) return false // deleted while it was read
        const { bytes } = partFrom(rows[0])
        if (at + bytes.byteLength > size) throw sizeMismatch(sha256, `more than its ${size} bytes`)
        await file.write(bytes, 0, bytes.byteLength, at)
        at += bytes.byteLength
      }
      if (at !== size) throw sizeMismatch(sha256, `${at} bytes, not its ${size}`)
      await file.sync()
      return true
    } finally {
      await file.close()
    }
  }

  async delete(sha256: string): Promise<void> {
    await this.db.query('DELETE FROM blobs WHERE sha256 = $1', [sha256])
  }
}
