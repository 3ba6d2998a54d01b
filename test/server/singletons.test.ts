/**
 * Singleton work under leases, with an in-memory lease table whose clock the test moves: a process
 * alone runs everything without leases; with leases, the first process takes the work, a second one
 * waits, takes it over once the first stops renewing, and the first stops its work when it finds
 * the lease gone; a store that fails stops the work; stop() gives the leases back at once; each
 * change is logged; rounds come every third of the lease by themselves, and none once stopped.
 */
import { hostname } from 'node:os'
import { describe, expect, it, vi } from 'vitest'
import { type Logger, silentLogger } from '../../src/logger.js'
import { dataDirId, leaseHolder, Singletons, type SingletonWork } from '../../src/server/singletons.js'
import type { LeaseStore } from '../../src/store/types.js'

/** Leases as the stores keep them: one holder per name until its expiry, by the test's clock. */
class Leases implements LeaseStore {
  now = 1_000_000
  failing = false
  readonly rows = new Map<string, { holder: string; expiresAt: number }>()

  async acquire(name: string, holder: string, ttlMs: number): Promise<boolean> {
    if (this.failing) throw new Error('store unreachable')
    const row = this.rows.get(name)
    if (row && row.holder !== holder && row.expiresAt > this.now) return false
    this.rows.set(name, { holder, expiresAt: this.now + ttlMs })
    return true
  }

  async release(name: string, holder: string): Promise<void> {
    if (this.rows.get(name)?.holder === holder) this.rows.delete(name)
  }

  async get(name: string) {
    const row = this.rows.get(name)
    return row && row.expiresAt > this.now ? row : undefined
  }
}

/** A piece of work that records its starts and stops. */
function work(name: string, events: string[], who: string): SingletonWork {
  return {
    name,
    start: async () => void events.push(`${who} start ${name}`),
    stop: async () => void events.push(`${who} stop ${name}`),
  }
}

/** Singletons whose timer never fires on its own: the test calls tick(). */
function singletons(leases: LeaseStore | undefined, who: string, events: string[]): Singletons {
  const s = new Singletons(leases, who, silentLogger, 3_600_000)
  s.add(work('jobs', events, who))
  s.add(work('assays', events, who))
  return s
}

describe('singleton work', () => {
  it('runs everything in a process alone with its store, and stops it all', async () => {
    const events: string[] = []
    const s = singletons(undefined, 'a', events)
    await s.start()
    expect(s.holding()).toEqual(['jobs', 'assays'])
    await s.stop()
    expect(events).toEqual(['a start jobs', 'a start assays', 'a stop assays', 'a stop jobs'])
    expect(s.holding()).toEqual([])
  })

  it('gives the work to one process; another takes it over when the first stops renewing', async () => {
    const leases = new Leases()
    const events: string[] = []
    const a = singletons(leases, 'a', events)
    const b = singletons(leases, 'b', events)
    await a.start()
    await b.start()
    expect([a.holding(), b.holding()]).toEqual([['jobs', 'assays'], []])
    expect(leases.rows.get('jobs')).toEqual({ holder: 'a', expiresAt: 1_000_000 + 3_600_000 })

    // a renews: b still waits.
    leases.now += 3_000_000
    await a.tick()
    await b.tick()
    expect(b.holding()).toEqual([])

    // a falls silent past its lease: b takes both over; a, ticking late, finds them gone and stops.
    leases.now += 3_600_001
    await b.tick()
    expect(b.holding()).toEqual(['jobs', 'assays'])
    await a.tick()
    expect(a.holding()).toEqual([])
    expect(events).toEqual([
      'a start jobs',
      'a start assays',
      'b start jobs',
      'b start assays',
      'a stop jobs',
      'a stop assays',
    ])

    // b stops: its leases are given back at once, so a takes the work at its next round.
    await b.stop()
    expect(leases.rows.size).toBe(0)
    await a.tick()
    expect(a.holding()).toEqual(['jobs', 'assays'])
    await a.stop()
  })

  it('stops the work when the store cannot renew its lease, and takes it again when it can', async () => {
    const leases = new Leases()
    const events: string[] = []
    const a = singletons(leases, 'a', events)
    await a.start()
    leases.failing = true
    await a.tick()
    expect(a.holding()).toEqual([])
    leases.failing = false
    await a.tick()
    expect(a.holding()).toEqual(['jobs', 'assays'])
    expect(events).toEqual([
      'a start jobs',
      'a start assays',
      'a stop jobs',
      'a stop assays',
      'a start jobs',
      'a start assays',
    ])
    await a.stop()
  })

  it('names a holder by host and pid, and a data folder by host and absolute path', () => {
    expect(leaseHolder()).toBe(`${hostname()}:${process.pid}`)
    expect(dataDirId('relative/data')).toBe(`${hostname()}:${process.cwd()}/relative/data`)
  })

  it('logs each take-over, loss and failure with the work it concerns', async () => {
    const lines: string[] = []
    const note = (level: string) => (msg: string, fields?: Record<string, unknown>) =>
      void lines.push(`${level} ${msg} ${JSON.stringify(fields)}`)
    const log = { debug: note('debug'), info: note('info'), warn: note('warn'), error: note('error') } as Logger
    const leases = new Leases()
    const events: string[] = []
    const a = new Singletons(leases, 'a', log, 1000)
    a.add({ name: 'jobs', start: () => Promise.reject(new Error('no folder')), stop: async () => undefined })
    a.add({ name: 'assays', start: async () => undefined, stop: () => Promise.reject(new Error('stuck')) })
    await a.start()
    leases.failing = true
    await a.tick()
    expect(lines).toEqual([
      'info singleton work taken over {"work":"jobs","holder":"a"}',
      'error singleton work did not start {"work":"jobs","error":"no folder"}',
      'info singleton work taken over {"work":"assays","holder":"a"}',
      'warn lease not renewed {"work":"jobs","error":"store unreachable"}',
      'warn singleton work lost its lease: stopped here {"work":"jobs"}',
      'warn lease not renewed {"work":"assays","error":"store unreachable"}',
      'warn singleton work lost its lease: stopped here {"work":"assays"}',
      'error singleton work did not stop {"work":"assays","error":"stuck"}',
    ])
    await a.stop()
    expect(events).toEqual([])
  })

  it('renews on its own every third of the lease, and not at all once stopped', async () => {
    vi.useFakeTimers()
    try {
      const leases = new Leases()
      leases.rows.set('jobs', { holder: 'x', expiresAt: leases.now + 1 }) // another holder, about to expire
      const events: string[] = []
      const a = new Singletons(leases, 'a', silentLogger, 300)
      a.add(work('jobs', events, 'a'))
      await a.start()
      expect(a.holding()).toEqual([])
      leases.now += 2
      await vi.advanceTimersByTimeAsync(99)
      expect(a.holding()).toEqual([]) // the next round is at 100 ms (300 / 3)
      await vi.advanceTimersByTimeAsync(1)
      expect(a.holding()).toEqual(['jobs'])
      await a.stop()
      expect(leases.rows.size).toBe(0)
      await a.tick() // stopped: it takes nothing again
      await vi.advanceTimersByTimeAsync(1000)
      expect(leases.rows.size).toBe(0)
      expect(events).toEqual(['a start jobs', 'a stop jobs'])
    } finally {
      vi.useRealTimers()
    }
  })
})
