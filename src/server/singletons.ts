/**
 * Work that must run in one process only among those sharing a store (the job runner, the assay
 * scheduler, objective alerts, resuming explanations): each piece runs under a lease in the store,
 * renewed every third of its time to live. A process that dies stops renewing; within the time to
 * live another one takes the lease over and starts the work there. A process that finds it lost a
 * lease (its renewals were late) stops that work at once. A process alone with its store runs
 * everything without leases, as one server always has.
 */
import { hostname } from 'node:os'
import { resolve } from 'node:path'
import { errorMessage } from '../errors.js'
import type { Logger } from '../logger.js'
import type { LeaseStore } from '../store/types.js'

/** A piece of singleton work: started when this process takes its lease, stopped when it loses or gives it back. */
export interface SingletonWork {
  name: string
  start(): Promise<void>
  stop(): Promise<void>
}

/** How long a lease lives without renewal: a dead holder's work moves within this. */
const LEASE_TTL_MS = 10_000

/** This process's name in the lease table: host and pid, readable in `/v1/…` answers and logs. */
export function leaseHolder(): string {
  return `${hostname()}:${process.pid}`
}

/** A data folder's name among the hosts sharing a store: this host's name and the folder's path. */
export function dataDirId(dataDir: string): string {
  return `${hostname()}:${resolve(dataDir)}`
}

export class Singletons {
  private readonly works: SingletonWork[] = []
  private readonly held = new Set<string>()
  /** Renewal or take-over in progress: one at a time. */
  private round: Promise<void> = Promise.resolve()
  private timer: NodeJS.Timeout | undefined
  private stopped = false

  /** `leases` undefined: this process is alone with its store and runs everything. */
  constructor(
    private readonly leases: LeaseStore | undefined,
    private readonly holder: string,
    private readonly log: Logger,
    private readonly ttlMs = LEASE_TTL_MS,
  ) {}

  add(work: SingletonWork): void {
    this.works.push(work)
  }

  /** The work this process runs now, by name. */
  holding(): string[] {
    return this.works.filter((w) => this.held.has(w.name)).map((w) => w.name)
  }

  /** Take what can be taken now (the start of a server waits for it), then keep renewing and taking over. */
  async start(): Promise<void> {
    if (!this.leases) {
      for (const w of this.works) {
        await w.start()
        this.held.add(w.name)
      }
      return
    }
    await this.tick()
    this.timer = setInterval(() => void this.tick(), Math.max(10, Math.floor(this.ttlMs / 3)))
    this.timer.unref()
  }

  /** One round: renew what is held, take what is free; stop what was lost. */
  tick(): Promise<void> {
    this.round = this.round.then(() => this.renew())
    return this.round
  }

  private async renew(): Promise<void> {
    const leases = this.leases
    if (this.stopped || !leases) return
    for (const w of this.works) {
      let ours: boolean
      try {
        ours = await leases.acquire(w.name, this.holder, this.ttlMs)
      } catch (e) {
        // The store did not answer: stop, as the lease may pass to another process meanwhile.
        this.log.warn('lease not renewed', { work: w.name, error: errorMessage(e) })
        ours = false
      }
      if (this.stopped) return
      if (ours && !this.held.has(w.name)) {
        this.held.add(w.name)
        this.log.info('singleton work taken over', { work: w.name, holder: this.holder })
        await w
          .start()
          .catch((e) => this.log.error('singleton work did not start', { work: w.name, error: errorMessage(e) }))
      } else if (!ours && this.held.has(w.name)) {
        this.held.delete(w.name)
        this.log.warn('singleton work lost its lease: stopped here', { work: w.name })
        await w
          .stop()
          .catch((e) => this.log.error('singleton work did not stop', { work: w.name, error: errorMessage(e) }))
      }
    }
  }

  /** Stop the held work and give its leases back, so another process takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true
    clearInterval(this.timer)
    await this.round
    for (const w of [...this.works].reverse()) {
      if (!this.held.delete(w.name)) continue
      await w.stop()
      await this.leases?.release(w.name, this.holder).catch(() => undefined) // expires anyway
    }
  }
}
