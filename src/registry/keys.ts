/**
 * API keys: `lm_<id>_<secret>`, 32 random bytes of secret, stored as the sha256 of the whole key
 * (a high-entropy secret needs no slow hash). A key belongs to a workspace with a role; an admin
 * key of workspace `default` administers the server (every workspace).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { ForbiddenError, UnauthorizedError } from '../errors.js'
import type { ApiKeyRecord, Role, Store } from '../store/types.js'

const RANK: Record<Role, number> = { viewer: 1, deployer: 2, admin: 3 }
const KEY = /^lm_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/

function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex')
}

/** Create and store a key; the returned `key` is shown once and never stored. */
export async function createApiKey(store: Store, workspace: string, name: string, role: Role) {
  const id = randomBytes(8).toString('hex')
  const key = `lm_${id}_${randomBytes(32).toString('base64url')}`
  const record: ApiKeyRecord = { id, workspace, name, role, hash: hashKey(key), createdAt: new Date().toISOString() }
  await store.apiKeys.add(record)
  return { id, key, workspace, name, role, createdAt: record.createdAt }
}

/** The key presented as `Authorization: Bearer <key>`, or 401. */
export async function authenticate(store: Store, authorization: string | undefined): Promise<ApiKeyRecord> {
  if (!authorization) throw new UnauthorizedError('an API key is required: send "Authorization: Bearer <key>"')
  const [scheme, key] = authorization.split(/\s+/, 2)
  // Stryker disable next-line OptionalChaining: split always yields a first element
  if (scheme?.toLowerCase() !== 'bearer' || !key || !KEY.test(key)) {
    throw new UnauthorizedError('malformed Authorization header: expected "Bearer lm_<id>_<secret>"')
  }
  const hash = hashKey(key)
  const record = await store.apiKeys.find(hash)
  if (!record || !timingSafeEqual(Buffer.from(record.hash, 'hex'), Buffer.from(hash, 'hex'))) {
    throw new UnauthorizedError('unknown or revoked API key')
  }
  return record
}

/** Whether `key` administers the server: an admin key of workspace `default`. */
export function isServerAdmin(key: ApiKeyRecord): boolean {
  return key.workspace === 'default' && key.role === 'admin'
}

/**
 * Whether `key` may act with `role` in `workspace` (server admins may act anywhere; on the server as
 * a whole, `workspace` undefined, only they may: a key's workspace is always a name).
 */
export function permits(key: ApiKeyRecord, workspace: string | undefined, role: Role): boolean {
  if (isServerAdmin(key)) return true
  return key.workspace === workspace && RANK[key.role] >= RANK[role]
}

/** Throw 403 unless `key` may act with `role` in `workspace`. */
export function authorize(key: ApiKeyRecord, workspace: string | undefined, role: Role): void {
  if (permits(key, workspace, role)) return
  const where =
    workspace === undefined ? 'on the server (a default-workspace admin key)' : `in workspace '${workspace}'`
  throw new ForbiddenError(`this key (${key.role} in '${key.workspace}') cannot do this: it needs ${role} ${where}`)
}
