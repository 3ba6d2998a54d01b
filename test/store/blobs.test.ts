/**
 * Model bytes shared through PostgreSQL: blobs read back byte for byte (in several parts when
 * large), and the artifact folder as their cache: a second data folder fetches an artifact from the
 * blob store, checks its hash, keeps it (a new replica never downloads what it has), heals a
 * corrupt copy of its own, refuses a corrupt blob, and removing an artifact removes the blob.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { NotFoundError } from '../../src/errors.js'
import { ArtifactStore } from '../../src/store/artifacts.js'
import { PgStore } from '../../src/store/pg-store.js'
import { CorruptRowError } from '../../src/store/schemas.js'
import { usePostgres } from '../helpers/postgres.js'
import { afterEachTest } from '../helpers/server.js'

const cluster = usePostgres()
const undo = afterEachTest()

async function open(url?: string): Promise<{ store: PgStore; url: string }> {
  const at = url ?? (await cluster.database())
  const store = await PgStore.open(at)
  undo.closes(store)
  return { store, url: at }
}

function dataDir(): string {
  return undo.dir()
}

// Python 3: hashlib.sha256(b'model bytes').hexdigest()
const MODEL = new TextEncoder().encode('model bytes')
const MODEL_SHA = '9cb7487000bc86ac36ce83c4acfabe8878552be99572a6770f65ab1d048a5c48'

describe('blobs in PostgreSQL', () => {
  it('read back what was put, byte for byte, across parts; a second put keeps the first; delete removes', async () => {
    const { store, url } = await open()
    const large = randomBytes(20 * 2 ** 20 + 3) // three parts of at most 8 MiB, the last a short one
    const sha = 'ab'.repeat(32)
    await store.blobs.put(sha, large)
    await store.blobs.put('cd'.repeat(32), MODEL)
    await store.blobs.put('cd'.repeat(32), new Uint8Array(4)) // already there: kept as it was
    const back = await store.blobs.get(sha)
    expect(back?.byteLength).toBe(large.byteLength)
    expect(Buffer.compare(Buffer.from(back ?? []), large)).toBe(0)
    expect(Array.from((await store.blobs.get('cd'.repeat(32))) ?? [])).toEqual(Array.from(MODEL))
    expect((await cluster.sql(url, 'SELECT count(*)::int AS n FROM blob_parts WHERE sha256 = $1', [sha])).rows).toEqual(
      [{ n: 3 }],
    )
    await store.blobs.delete(sha)
    expect(await store.blobs.get(sha)).toBeUndefined()
    expect((await cluster.sql(url, 'SELECT count(*)::int AS n FROM blob_parts')).rows).toEqual([{ n: 1 }])
    await store.blobs.put('ef'.repeat(32), new Uint8Array(0)) // an empty blob has no parts
    expect(Array.from((await store.blobs.get('ef'.repeat(32))) ?? [1])).toEqual([])
  })

  it('refuse a blob whose parts do not add up to its size, naming the table and the blob', async () => {
    const { store, url } = await open()
    await store.blobs.put('ab'.repeat(32), MODEL)
    await cluster.sql(url, "UPDATE blob_parts SET bytes = '\\x0102'::bytea")
    const e = await store.blobs.get('ab'.repeat(32)).catch((err: unknown) => err)
    expect(e).toBeInstanceOf(CorruptRowError)
    expect((e as Error).message).toMatch(
      /table 'blob_parts', column 'bytes' of row \(sha256="abab.*"\): the parts hold 2 bytes, not its 11/,
    )
  })
})

describe('the artifact folder with a shared blob store', () => {
  it('fetches what another server stored, checks it and keeps it; removing it removes the blob', async () => {
    const { store, url } = await open()
    const first = await ArtifactStore.open(dataDir(), store.blobs)
    expect(await first.put(MODEL)).toBe(MODEL_SHA)
    const { store: other } = await open(url)
    const second = await ArtifactStore.open(dataDir(), other.blobs)
    expect(existsSync(second.path(MODEL_SHA))).toBe(false)
    expect(Array.from(await second.get(MODEL_SHA))).toEqual(Array.from(MODEL))
    // Kept in the second folder: read from there once the blob is gone.
    expect(Array.from(readFileSync(second.path(MODEL_SHA)))).toEqual(Array.from(MODEL))
    await cluster.sql(url, 'DELETE FROM blobs')
    expect(Array.from(await second.get(MODEL_SHA))).toEqual(Array.from(MODEL))
    // A corrupt copy here with no blob to heal it from is refused.
    writeFileSync(second.path(MODEL_SHA), 'tampered')
    await expect(second.get(MODEL_SHA)).rejects.toThrow(
      `model artifact ${MODEL_SHA} is corrupt (hash mismatch), and missing from the shared store`,
    )
    await first.put(MODEL) // the blob is back
    expect(Array.from(await second.get(MODEL_SHA))).toEqual(Array.from(MODEL)) // healed from it
    expect(Array.from(readFileSync(second.path(MODEL_SHA)))).toEqual(Array.from(MODEL))
    await second.remove(MODEL_SHA)
    expect(existsSync(second.path(MODEL_SHA))).toBe(false)
    expect(await store.blobs.get(MODEL_SHA)).toBeUndefined()
    expect(existsSync(first.path(MODEL_SHA))).toBe(true) // another server's cache is its own to tidy
  })

  it('refuses a blob whose bytes are not those of its hash, and keeps nothing of it', async () => {
    const { store } = await open()
    await store.blobs.put(MODEL_SHA, new TextEncoder().encode('other bytes'))
    const a = await ArtifactStore.open(dataDir(), store.blobs)
    const e = await a.get(MODEL_SHA).catch((err: unknown) => err)
    expect(e).toBeInstanceOf(NotFoundError)
    expect((e as Error).message).toBe(`model artifact ${MODEL_SHA} is corrupt in the shared store (hash mismatch)`)
    expect(existsSync(a.path(MODEL_SHA))).toBe(false)
    await expect(a.get('f'.repeat(64))).rejects.toThrow(
      `model artifact ${'f'.repeat(64)} is missing from ${a.dir}, and missing from the shared store`,
    )
  })
})
