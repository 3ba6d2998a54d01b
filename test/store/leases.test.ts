/**
 * Leases on each backend: one holder at a time, renewed by its holder, taken over once expired,
 * given up only by its holder; on PostgreSQL, expiry by the database's clock, not this process's.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { BACKENDS } from './backends.js'

const MINUTE = 60_000

describe.each(BACKENDS)('leases on $name', (backend) => {
  const { open } = backend.use()
  afterEach(() => {
    vi.useRealTimers()
  })

  it('are held by one holder at a time, renewed by it, and given up only by it', async () => {
    const { store } = await open()
    const before = Date.now()
    expect(await store.leases.acquire('jobs', 'host-a:1', MINUTE)).toBe(true)
    expect(await store.leases.acquire('jobs', 'host-b:2', MINUTE)).toBe(false)
    expect(await store.leases.acquire('assays', 'host-b:2', MINUTE)).toBe(true) // another lease
    const held = await store.leases.get('jobs')
    expect(held?.holder).toBe('host-a:1')
    // Until about a minute from now (this host's clock and the database's may differ a little).
    expect(held?.expiresAt).toBeGreaterThan(before + MINUTE - 5000)
    expect(held?.expiresAt).toBeLessThan(Date.now() + MINUTE + 5000)
    // Renewing moves the expiry on.
    expect(await store.leases.acquire('jobs', 'host-a:1', 10 * MINUTE)).toBe(true)
    expect((await store.leases.get('jobs'))?.expiresAt).toBeGreaterThan(before + 9 * MINUTE)
    await store.leases.release('jobs', 'host-b:2') // not its lease: nothing happens
    expect((await store.leases.get('jobs'))?.holder).toBe('host-a:1')
    expect(await store.leases.acquire('jobs', 'host-b:2', MINUTE)).toBe(false)
    await store.leases.release('jobs', 'host-a:1')
    expect(await store.leases.get('jobs')).toBeUndefined()
    expect(await store.leases.acquire('jobs', 'host-b:2', MINUTE)).toBe(true)
    expect(await store.leases.get('nothing')).toBeUndefined()
  })

  it('pass to another holder once expired, and are seen by every process sharing the store', async () => {
    const { store, again } = await open()
    const other = await again()
    expect(await store.leases.acquire('retention', 'a', MINUTE)).toBe(true)
    expect(await other.leases.acquire('retention', 'b', MINUTE)).toBe(false)
    expect((await other.leases.get('retention'))?.holder).toBe('a')
    // `a` renews for 1 ms: soon expired, and then `b` takes it over (however slow this machine is).
    expect(await store.leases.acquire('retention', 'a', 1)).toBe(true)
    await expect.poll(() => other.leases.acquire('retention', 'b', MINUTE), { timeout: 10_000 }).toBe(true)
    expect((await store.leases.get('retention'))?.holder).toBe('b')
    expect(await store.leases.acquire('retention', 'a', MINUTE)).toBe(false)
  })

  it('expire on their own: once the time is up, get answers undefined', async () => {
    const { store } = await open()
    expect(await store.leases.acquire('jobs', 'a', 1)).toBe(true)
    await expect.poll(() => store.leases.get('jobs'), { timeout: 10_000 }).toBeUndefined()
  })

  if (backend.name === 'PostgreSQL') {
    it("judge expiry by the database's clock, whatever this process's clock says", async () => {
      const { store } = await open()
      const realNow = Date.now()
      // This process's clock a day behind: the expiry is still about a minute from the real now.
      vi.useFakeTimers({ toFake: ['Date'], now: realNow - 24 * 60 * MINUTE })
      expect(await store.leases.acquire('jobs', 'a', MINUTE)).toBe(true)
      const expiresAt = (await store.leases.get('jobs'))?.expiresAt ?? 0
      expect(expiresAt).toBeGreaterThan(realNow + MINUTE - 5000)
      // And a day ahead: the lease has not expired for the database, so it is not taken over.
      vi.setSystemTime(realNow + 24 * 60 * MINUTE)
      expect(await store.leases.acquire('jobs', 'b', MINUTE)).toBe(false)
      expect((await store.leases.get('jobs'))?.holder).toBe('a')
    })
  }
})
