/**
 * The console's session: the API key (kept in sessionStorage, sent as `Authorization: Bearer`), one
 * typed client for every call, what the key may do, and whether the server is reachable. A failed
 * connection marks the session offline; a probe of `/v2/health/live` every two seconds brings it
 * back, and every page reloads its data then (the `epoch` its loads depend on).
 */
import { type Caller, LastmileClient } from '../../src/client/client.js'

const STORAGE = 'lastmile.key'
const ROLES = ['viewer', 'deployer', 'admin'] as const
export type Role = (typeof ROLES)[number]

type Listener = () => void
const listeners = new Set<Listener>()
let online = true
let epoch = 0
let probe: ReturnType<typeof setInterval> | undefined

/** Call `f` whenever the connection state changes; returns the unsubscribe. */
export function onConnection(f: Listener): () => void {
  listeners.add(f)
  return () => listeners.delete(f)
}

/** Whether the last call reached the server, and how many times it has come back (pages reload on a change). */
export function connection(): { online: boolean; epoch: number } {
  return { online, epoch }
}

function setOnline(now: boolean): void {
  if (now === online) return
  online = now
  if (now) {
    epoch++
    clearInterval(probe)
    probe = undefined
  } else {
    probe ??= setInterval(() => {
      fetch('/v2/health/live', { cache: 'no-store' }).then(
        (r) => r.ok && setOnline(true),
        () => {},
      )
    }, 2000)
  }
  for (const f of listeners) f()
}

export function storedKey(): string | undefined {
  return sessionStorage.getItem(STORAGE) ?? undefined
}

export function storeKey(key: string | undefined): void {
  if (key === undefined) sessionStorage.removeItem(STORAGE)
  else sessionStorage.setItem(STORAGE, key)
}

/** A client of this origin that sends `key` and tells the session when the server cannot be reached. */
export function clientFor(key: string | undefined): LastmileClient {
  return new LastmileClient({
    url: location.origin,
    ...(key ? { apiKey: key } : {}),
    fetch: async (url, init) => {
      try {
        const res = await fetch(url, init)
        setOnline(true)
        return res
      } catch (e) {
        if (!init.signal?.aborted) setOnline(false)
        throw e
      }
    },
  })
}

/** Whether `caller` may act with `role` in workspace `ws` (keys off, or a server admin: always). */
export function can(caller: Caller, ws: string, role: Role): boolean {
  if (!caller.key || caller.server_admin) return true
  return caller.key.workspace === ws && ROLES.indexOf(caller.key.role) >= ROLES.indexOf(role)
}
