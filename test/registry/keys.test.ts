/**
 * API keys against outside answers: a key stored by an earlier release (its row written here with
 * the sha256 Python computes) still authenticates, so changing how keys are hashed would lock every
 * client out after an upgrade; and the role table written out case by case.
 */
import { rmSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { ForbiddenError, UnauthorizedError } from '../../src/errors.js'
import { authenticate, authorize, permits } from '../../src/registry/keys.js'
import { SqliteStore } from '../../src/store/sqlite-store.js'
import type { ApiKeyRecord, Role } from '../../src/store/types.js'
import { tempDir } from '../helpers/server.js'

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

const KEY = 'lm_0123456789abcdef_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde'
// Python 3: hashlib.sha256(KEY.encode()).hexdigest(): the sha256 of the whole key, lm_ prefix and id included.
const KEY_SHA256 = 'bb4a14eb78f5f5a02f49abdc7027f30aad9d2f57d33ecda84df29f095280d3bd'

/** A store holding KEY's row as an earlier release wrote it, with `role` in workspace default. */
async function storeWithKey(role: Role) {
  const dir = tempDir()
  dirs.push(dir)
  const store = SqliteStore.open(dir)
  await store.apiKeys.add({
    id: '0123456789abcdef',
    workspace: 'default',
    name: 'from an earlier release',
    role,
    hash: KEY_SHA256,
    createdAt: '2026-01-01T00:00:00.000Z',
  })
  return store
}

describe('API keys', () => {
  it('authenticates a key stored as the sha256 of the whole key, and only that key', async () => {
    const store = await storeWithKey('deployer')
    try {
      expect(await authenticate(store, `Bearer ${KEY}`)).toMatchObject({ id: '0123456789abcdef', role: 'deployer' })
      // One character of the secret changed: same id, another key.
      await expect(authenticate(store, `Bearer ${KEY.slice(0, -1)}f`)).rejects.toBeInstanceOf(UnauthorizedError)
    } finally {
      await store.close()
    }
  })

  it('grants roles by rank within a workspace, and everything to a default-workspace admin', () => {
    const key = (workspace: string, role: Role): ApiKeyRecord => ({
      id: 'k',
      workspace,
      name: 'k',
      role,
      hash: '',
      createdAt: '',
    })
    const asks: Role[] = ['viewer', 'deployer', 'admin']
    const row = (k: ApiKeyRecord, ws: string | undefined) => asks.map((r) => permits(k, ws, r))
    expect(row(key('team', 'viewer'), 'team')).toEqual([true, false, false])
    expect(row(key('team', 'deployer'), 'team')).toEqual([true, true, false])
    expect(row(key('team', 'admin'), 'team')).toEqual([true, true, true])
    expect(row(key('team', 'admin'), 'other')).toEqual([false, false, false])
    expect(row(key('team', 'admin'), undefined)).toEqual([false, false, false])
    expect(row(key('default', 'deployer'), 'team')).toEqual([false, false, false])
    expect(row(key('default', 'admin'), 'team')).toEqual([true, true, true])
    expect(row(key('default', 'admin'), undefined)).toEqual([true, true, true])
  })

  it('reads the Authorization header strictly: Bearer (any case), whitespace, then exactly one key', async () => {
    const store = await storeWithKey('viewer')
    try {
      for (const ok of [`Bearer ${KEY}`, `bearer ${KEY}`, `BEARER  ${KEY}`, `Bearer\t${KEY}`]) {
        expect(await authenticate(store, ok), JSON.stringify(ok)).toMatchObject({ id: '0123456789abcdef' })
      }
      const malformed = 'malformed Authorization header: expected "Bearer lm_<id>_<secret>"'
      for (const bad of [
        KEY, // no scheme
        `Basic ${KEY}`,
        'Bearer',
        'Bearer ',
        `Bearer x${KEY}`, // junk before the key
        `Bearer ${KEY}x`, // junk after it
        `Bearer ${KEY.replace('0123456789abcdef', '0123456789ABCDEF')}`, // the id is lower-case hex
        `Bearer ${KEY.slice(0, -1)}`, // a secret one character short
        `Bearer ${KEY.slice(0, -1)}=`, // not base64url
      ]) {
        await expect(authenticate(store, bad), JSON.stringify(bad)).rejects.toThrow(malformed)
      }
      await expect(authenticate(store, undefined)).rejects.toThrow(
        'an API key is required: send "Authorization: Bearer <key>"',
      )
      const other = `Bearer ${KEY.slice(0, -1)}f` // well formed, stored nowhere
      await expect(authenticate(store, other)).rejects.toThrow('unknown or revoked API key')
    } finally {
      await store.close()
    }
  })

  it('says what a refused key would need, and where', () => {
    const viewer: ApiKeyRecord = { id: 'k', workspace: 'team', name: 'k', role: 'viewer', hash: '', createdAt: '' }
    expect(() => authorize(viewer, 'team', 'deployer')).toThrow(
      new ForbiddenError("this key (viewer in 'team') cannot do this: it needs deployer in workspace 'team'"),
    )
    expect(() => authorize(viewer, undefined, 'admin')).toThrow(
      new ForbiddenError(
        "this key (viewer in 'team') cannot do this: it needs admin on the server (a default-workspace admin key)",
      ),
    )
    expect(() => authorize(viewer, 'team', 'viewer')).not.toThrow()
  })
})
