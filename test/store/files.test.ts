/**
 * Files every host reads, through PostgreSQL: a file's bytes stored from disk and written back to
 * disk a part at a time, byte for byte; files listed by scope and name, replaced by name; forgetting
 * files deletes only the blobs nothing else names (another file, a model version).
 */
import { createHash, randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { PgStore } from '../../src/store/pg-store.js'
import { usePostgres } from '../helpers/postgres.js'
import { afterEachTest } from '../helpers/server.js'

const cluster = usePostgres()
const undo = afterEachTest()

async function open(): Promise<{ store: PgStore; url: string; dir: string }> {
  const url = await cluster.database()
  const store = await PgStore.open(url)
  undo.closes(store)
  const dir = undo.dir()
  return { store, url, dir }
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

describe('shared files in PostgreSQL', () => {
  it('stores a file from disk and writes it back a part at a time, byte for byte', async () => {
    const { store, url, dir } = await open()
    const bytes = randomBytes(17 * 2 ** 20 + 5) // three parts: 8 MiB, 8 MiB, 1 MiB + 5
    writeFileSync(join(dir, 'in.bin'), bytes)
    await store.blobs.putFile(sha(bytes), join(dir, 'in.bin'))
    expect((await cluster.sql(url, 'SELECT count(*)::int AS n FROM blob_parts')).rows).toEqual([{ n: 3 }])
    expect(await store.blobs.getFile(sha(bytes), join(dir, 'out.bin'))).toBe(true)
    expect(Buffer.compare(readFileSync(join(dir, 'out.bin')), bytes)).toBe(0)
    expect(await store.blobs.getFile('00'.repeat(32), join(dir, 'none.bin'))).toBe(false)
    writeFileSync(join(dir, 'empty.bin'), new Uint8Array(0))
    await store.blobs.putFile(sha(new Uint8Array(0)), join(dir, 'empty.bin'))
    expect(await store.blobs.getFile(sha(new Uint8Array(0)), join(dir, 'empty-back.bin'))).toBe(true)
    expect(readFileSync(join(dir, 'empty-back.bin')).byteLength).toBe(0)
  })

  it('lists files by scope and name, replaces by name, and deletes only blobs nothing else names', async () => {
    const { store, url } = await open()
    const a = new TextEncoder().encode('chunk a')
    const b = new TextEncoder().encode('chunk b')
    for (const x of [a, b]) await store.blobs.put(sha(x), x)
    await store.files.put('job/j1', { name: 'chunk-2', sha256: sha(b), size: b.byteLength })
    await store.files.put('job/j1', { name: 'chunk-1', sha256: sha(a), size: 1 })
    await store.files.put('job/j1', { name: 'chunk-1', sha256: sha(a), size: a.byteLength }) // replaced
    await store.files.put('job/j2', { name: 'input', sha256: sha(a), size: a.byteLength }) // same bytes, elsewhere
    expect(await store.files.list('job/j1')).toEqual([
      { name: 'chunk-1', sha256: sha(a), size: 7 },
      { name: 'chunk-2', sha256: sha(b), size: 7 },
    ])
    expect(await store.files.list('job/j')).toEqual([]) // a scope is a name, not a prefix
    await store.files.delete('job/j1', ['chunk-2'])
    expect(await store.blobs.get(sha(b))).toBeUndefined() // nothing names b now
    await store.files.delete('job/j1')
    expect(await store.files.list('job/j1')).toEqual([])
    expect(Array.from((await store.blobs.get(sha(a))) ?? [])).toEqual(Array.from(a)) // j2 still names a
    // A model version naming the bytes keeps the blob too.
    await store.models.add({ workspace: 'default', name: 'm', sha256: sha(a), size: 7, inputs: [], outputs: [] })
    await store.files.delete('job/j2')
    expect(await store.blobs.get(sha(a))).toBeDefined()
    expect((await cluster.sql(url, 'SELECT count(*)::int AS n FROM shared_files')).rows).toEqual([{ n: 0 }])
  })

  it('draws sequence numbers unique across stores, growing, raised to a floor when asked', async () => {
    const { store, url } = await open()
    const other = await PgStore.open(url) // another host's
    undo.closes(other)
    expect(await store.files.nextSequence('log_segments', 1)).toBe(2 ** 20)
    expect(await other.files.nextSequence('log_segments', 1)).toBe(2 ** 20 + 1)
    expect(await store.files.nextSequence('log_segments', 5_000_000)).toBe(5_000_000)
    expect(await other.files.nextSequence('log_segments', 3)).toBe(5_000_001)
    // Drawn at once from both, some raising the floor: never the same number twice.
    const drawn = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        (i % 2 ? store : other).files.nextSequence('log_segments', i % 5 === 0 ? 5_000_010 + i : 1),
      ),
    )
    expect(new Set(drawn).size).toBe(40)
    expect(Math.min(...drawn)).toBeGreaterThan(5_000_001)
  })
})
