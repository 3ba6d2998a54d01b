/**
 * The store on each backend and the artifact folder: schema, versions, idempotency, durability on
 * reopen; SQLite's write-ahead log.
 */
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { ConflictError, NotFoundError } from '../../src/errors.js'
import { ArtifactStore } from '../../src/store/artifacts.js'
import { MIGRATIONS } from '../../src/store/migrations.js'
import { SqliteStore } from '../../src/store/sqlite-store.js'
import { tempDir as newTempDir } from '../helpers/server.js'
import { BACKENDS } from './backends.js'

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

/** A temp folder removed after the test. */
function tempDir(): string {
  const d = newTempDir()
  dirs.push(d)
  return d
}

const meta = { inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 4] }], outputs: [] }

describe('SQLite store', () => {
  it('creates its schema once, in WAL mode, with the default workspace', async () => {
    const dir = tempDir()
    const s = SqliteStore.open(dir)
    expect(s.schemaVersion()).toBe(MIGRATIONS.length)
    expect((await s.workspaces.list()).map((w) => w.name)).toEqual(['default'])
    await s.close()
    const again = SqliteStore.open(dir)
    expect(again.schemaVersion()).toBe(MIGRATIONS.length)
    // While open after a write, SQLite keeps its write-ahead log beside the database.
    await again.workspaces.create('wal-check')
    expect(existsSync(join(dir, 'lastmile.db-wal'))).toBe(true)
    await again.close()
    // WAL mode is recorded in the file itself: bytes 18 and 19 of the header (file format write and
    // read versions) are 2 in WAL mode, 1 in rollback-journal mode (sqlite.org/fileformat.html §1.3.3).
    const header = readFileSync(join(dir, 'lastmile.db')).subarray(18, 20)
    expect([...header]).toEqual([2, 2])
    // A separate connection reads the persistent mode back.
    const other = new Database(join(dir, 'lastmile.db'), { readonly: true })
    expect(other.pragma('journal_mode', { simple: true })).toBe('wal')
    other.close()
  })
})

describe.each(BACKENDS)('$name store', (backend) => {
  const { open } = backend.use()

  it('numbers model versions 1, 2, 3 and returns the same version for the same bytes', async () => {
    const { store: s } = await open()
    const a = await s.models.add({ workspace: 'default', name: 'm', sha256: 'a'.repeat(64), size: 10, ...meta })
    const b = await s.models.add({ workspace: 'default', name: 'm', sha256: 'b'.repeat(64), size: 11, ...meta })
    const again = await s.models.add({
      workspace: 'default',
      name: 'm',
      sha256: 'a'.repeat(64),
      size: 10,
      ...meta,
    })
    expect([a.record.version, a.created, b.record.version, b.created]).toEqual([1, true, 2, true])
    expect([again.record.version, again.created]).toEqual([1, false])
    expect((await s.models.versions('default', 'm')).map((m) => m.version)).toEqual([1, 2])
    expect((await s.models.get('default', 'm', 2))?.inputs).toEqual(meta.inputs)
  })

  it('keeps pipeline versions, deployments and keys across a reopen', async () => {
    const { store: s, again } = await open()
    await s.workspaces.create('team')
    await expect(s.workspaces.create('team')).rejects.toBeInstanceOf(ConflictError)
    await s.pipelines.add('team', 'p', [{ model: 'm' }])
    await s.pipelines.add('team', 'p', [{ model: 'm:2' }])
    await s.deployments.put({
      workspace: 'team',
      pipeline: 'p',
      version: 2,
      config: { engine: 'cpu' },
      deployedAt: 'now',
    })
    await s.apiKeys.add({
      id: 'k1',
      workspace: 'team',
      name: 'ci',
      role: 'deployer',
      hash: 'h'.repeat(64),
      createdAt: 'now',
    })
    await s.close()
    const r = await again()
    expect((await r.pipelines.latest('team')).map((p) => [p.name, p.version, p.steps])).toEqual([
      ['p', 2, [{ model: 'm:2' }]],
    ])
    expect(await r.deployments.list()).toMatchObject([
      { workspace: 'team', pipeline: 'p', version: 2, config: { engine: 'cpu' } },
    ])
    expect(await r.apiKeys.find('h'.repeat(64))).toMatchObject({ id: 'k1', role: 'deployer' })
    await r.workspaces.delete('team')
    expect(await r.deployments.list()).toEqual([]) // cascades
    await expect(r.workspaces.delete('default')).rejects.toBeInstanceOf(ConflictError)
    await expect(r.workspaces.delete('nope')).rejects.toBeInstanceOf(NotFoundError)
  })
})

describe('artifact store', () => {
  it('stores bytes under their sha256, privately, and verifies them on read', async () => {
    const dir = tempDir()
    const a = await ArtifactStore.open(dir)
    const bytes = new TextEncoder().encode('model bytes')
    const sha = await a.put(bytes)
    // Python 3: hashlib.sha256(b'model bytes').hexdigest()
    expect(sha).toBe('9cb7487000bc86ac36ce83c4acfabe8878552be99572a6770f65ab1d048a5c48')
    expect(Array.from(await a.get(sha))).toEqual(Array.from(bytes))
    expect(statSync(a.path(sha)).mode & 0o777).toBe(0o600)
    expect(statSync(join(dir, 'artifacts', sha.slice(0, 2))).mode & 0o777).toBe(0o700)
    writeFileSync(a.path(sha), 'tampered')
    await expect(a.get(sha)).rejects.toThrow(/corrupt/)
    await expect(a.get('f'.repeat(64))).rejects.toBeInstanceOf(NotFoundError)
    await expect(a.get('f'.repeat(64))).rejects.toThrow(
      `model artifact ${'f'.repeat(64)} is missing from ${join(dir, 'artifacts')}`,
    )
    await expect(a.get(sha)).rejects.toThrow(`model artifact ${sha} is corrupt (hash mismatch)`)
    await a.remove(sha)
    expect(existsSync(a.path(sha))).toBe(false)
    await a.remove(sha) // already gone: no error
  })

  it('names artifacts by exactly 64 lower-case hex digits and nothing around them', async () => {
    const dir = tempDir()
    const a = await ArtifactStore.open(dir)
    const sha = 'ab'.repeat(32)
    expect(a.path(sha)).toBe(join(dir, 'artifacts', 'ab', `${sha}.onnx`))
    for (const bad of [`x${sha}`, `${sha}x`, sha.toUpperCase(), sha.slice(1), `../${sha.slice(3)}`, '']) {
      expect(() => a.path(bad), bad).toThrow(NotFoundError)
    }
    expect(() => a.path('zz')).toThrow('not an artifact id: zz')
    expect(ArtifactStore.shaOf(`${sha}.onnx`)).toBe(sha)
    for (const name of [sha, `${sha}.onnx.tmp`, `${sha}.onx`, `x${sha}.onnx`, `${sha}x.onnx`, '.onnx']) {
      expect(ArtifactStore.shaOf(name), name).toBeUndefined()
    }
  })
})
