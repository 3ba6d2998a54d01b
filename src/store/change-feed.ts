/**
 * The change feed's delivery, on either backend. Publishing a topic stores it with the next
 * revision of the feed (a number that only grows); a poll reads the topics stored at revisions past
 * the last one it saw and hands each to every listener. SQLite polls often (processes on one host
 * share its file); PostgreSQL polls when a notification arrives and, as a safety net, slowly.
 *
 * A poll runs only while someone listens. The feed starts from the revision at the store's open, so
 * a first listener also hears of what changed between the open and its subscription (a reload that
 * was maybe not needed, never a change missed).
 */
import { errorMessage } from '../errors.js'
import type { Logger } from '../logger.js'

/** Where the feed reads the topics changed since a revision. */
export interface RevisionLog {
  /** Topics changed after `revision`, each with the revision it last changed at, oldest first. */
  since(revision: number): Promise<Array<{ topic: string; revision: number }>>
}

/** The listeners of one store's feed, and the polls that find what to tell them. */
export class FeedPoller {
  private readonly listeners = new Set<(topic: string) => void>()
  private timer: NodeJS.Timeout | undefined
  /** The poll in flight, and whether another must follow it (something asked while it ran). */
  private running: Promise<void> | undefined
  private again = false
  private closed = false

  /** `last`: the revision at the store's open; `everyMs`: the interval of the timed polls. */
  constructor(
    private readonly changes: RevisionLog,
    private last: number,
    private readonly everyMs: number,
    private readonly log: Logger,
  ) {}

  /** Whether anyone listens. */
  get listening(): boolean {
    return this.listeners.size > 0
  }

  /** Add a listener; the timed polls run while there is one. Returns the unsubscribe function. */
  subscribe(listener: (topic: string) => void): () => void {
    if (this.closed) throw new Error('the store is closed: its change feed has no more news')
    this.listeners.add(listener)
    if (!this.timer) {
      this.timer = setInterval(() => void this.poll(), this.everyMs)
      this.timer.unref() // a feed never keeps the process alive
    }
    return () => {
      this.listeners.delete(listener)
      if (this.listeners.size === 0) this.stopTimer()
    }
  }

  /** Poll now (after the one in flight, if any); resolves when the listeners have been told. */
  poll(): Promise<void> {
    if (this.running) {
      this.again = true
      return this.running
    }
    this.running = (async () => {
      do {
        this.again = false
        await this.pollOnce()
      } while (this.again && !this.closed)
      this.running = undefined
    })()
    return this.running
  }

  /** Stop polling and forget the listeners. */
  close(): void {
    this.closed = true
    this.listeners.clear()
    this.stopTimer()
  }

  private async pollOnce(): Promise<void> {
    if (this.closed || this.listeners.size === 0) return
    let changed: Array<{ topic: string; revision: number }>
    try {
      changed = await this.changes.since(this.last)
    } catch (e) {
      if (!this.closed) this.log.warn('change feed: cannot read the changes (trying again)', { error: errorMessage(e) })
      return
    }
    for (const { topic, revision } of changed) {
      this.last = Math.max(this.last, revision)
      for (const listener of [...this.listeners]) {
        try {
          listener(topic)
        } catch (e) {
          this.log.error('change feed: a listener failed', { topic, error: errorMessage(e) })
        }
      }
    }
  }

  private stopTimer(): void {
    clearInterval(this.timer)
    this.timer = undefined
  }
}
