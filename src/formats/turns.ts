/**
 * Turns for large requests (see decode-pool.ts): `capacity` are worked on at once, up to `queue`
 * more wait in order, and the next is refused with `QueueFullError` (429 with Retry-After). A
 * request whose client goes while it waits leaves the queue, so a stale waiter never holds a place
 * (nor, later, a turn) that a live request could use.
 */
import { QueueFullError } from '../errors.js'

/** Hand back an admitted large request's turn (idempotent). */
export type Release = () => void

/** A large request waiting for its turn. */
interface Waiter {
  resolve(): void
  reject(e: unknown): void
}

/** A bounded set of turns with a bounded queue in front. */
export class Turns {
  private taken = 0
  private readonly waiters: Waiter[] = []

  constructor(
    private readonly capacity: number,
    private readonly queue: number,
  ) {}

  /** Turns taken now. */
  get admitted(): number {
    return this.taken
  }

  /** Requests waiting now. */
  get waiting(): number {
    return this.waiters.length
  }

  /**
   * Wait for a turn; call the returned function when done with it. Throws `QueueFullError` when
   * `queue` requests already wait. A request whose `signal` aborts while it waits leaves the queue
   * at once, with the signal's reason.
   */
  async admit(signal?: AbortSignal): Promise<Release> {
    signal?.throwIfAborted()
    if (this.taken >= this.capacity) {
      if (this.waiters.length >= this.queue) {
        throw new QueueFullError(
          `${this.taken} large request bodies are being worked on and ${this.waiters.length} wait (LASTMILE_BODY_WORKERS, LASTMILE_LARGE_BODIES_PER_WORKER, LASTMILE_LARGE_BODY_QUEUE); retry shortly`,
        )
      }
      await new Promise<void>((resolve, reject) => {
        const gone = () => {
          const i = this.waiters.indexOf(waiter)
          if (i >= 0) this.waiters.splice(i, 1)
          reject(signal?.reason)
        }
        const waiter: Waiter = {
          resolve: () => {
            signal?.removeEventListener('abort', gone)
            resolve()
          },
          reject: (e) => {
            signal?.removeEventListener('abort', gone)
            reject(e)
          },
        }
        signal?.addEventListener('abort', gone, { once: true })
        this.waiters.push(waiter)
      })
    } else this.taken++
    let released = false
    return () => {
      if (released) return
      released = true
      const next = this.waiters.shift()
      if (next)
        next.resolve() // the turn passes straight on: `taken` stays
      else this.taken--
    }
  }

  /** Fail every waiting request with `error` (shutting down); turns taken stay until released. */
  rejectWaiting(error: Error): void {
    for (const w of this.waiters.splice(0)) w.reject(error)
  }
}
