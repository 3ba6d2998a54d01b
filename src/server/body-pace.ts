/**
 * The pace a large body must keep once it holds a turn (see src/formats/decode-pool.ts): a client
 * that declares a large body and then sends it slowly, or not at all, would otherwise hold one of
 * the few turns until Node's request timeout (300 s).
 */
import { BodyTimeoutError } from '../errors.js'

/** How fast an admitted large body must arrive. */
export interface BodyPace {
  /** Average bytes per second from admission, once `graceMs` have passed. */
  minBytesPerSecond: number
  /** The allowance, in ms: for a large body's first bytes, and behind the pace once admitted. */
  graceMs: number
}

/**
 * The pace an admitted body must keep: from {@link start}, `minBytesPerSecond` on average once
 * `graceMs` have passed. A single timer fires when the bytes received so far stop being enough;
 * {@link expired} rejects with 408 if by then (and after the reads the event loop has pending) no
 * more have come.
 */
export class Pace {
  private received = 0
  private t0 = 0
  private timer: NodeJS.Timeout | undefined
  private stopped = false
  private fail: (e: Error) => void = () => {}
  /** Rejects with a {@link BodyTimeoutError} when the body falls behind. */
  readonly expired: Promise<never>

  constructor(
    private readonly rule: BodyPace,
    private readonly total?: number,
  ) {
    this.expired = new Promise<never>((_, reject) => {
      this.fail = reject
    })
    this.expired.catch(() => {}) // a body that keeps its pace never awaits it
  }

  /** Start the clock: the body's turn has come. */
  start(): void {
    if (this.t0 !== 0 || this.stopped) return
    this.t0 = performance.now()
    this.schedule()
  }

  /** Count bytes read. */
  add(n: number): void {
    this.received += n
  }

  /** The body is read (or failed): no more checks. */
  stop(): void {
    this.stopped = true
    clearTimeout(this.timer)
  }

  /** Bytes the body should have sent by now. */
  private owed(): number {
    return ((performance.now() - this.t0 - this.rule.graceMs) / 1000) * this.rule.minBytesPerSecond
  }

  private schedule(): void {
    const due = this.t0 + this.rule.graceMs + (this.received / this.rule.minBytesPerSecond) * 1000
    this.timer = setTimeout(() => this.check(), Math.max(0, due - performance.now()) + 1)
  }

  private check(): void {
    if (this.stopped) return
    if (this.received >= this.owed()) {
      this.schedule()
      return
    }
    // Bytes may be waiting behind a stall of the event loop: look again once pending reads have run.
    setImmediate(() => {
      if (this.stopped) return
      if (this.received >= this.owed()) {
        this.schedule()
        return
      }
      const seconds = (performance.now() - this.t0) / 1000
      this.fail(
        new BodyTimeoutError(
          `the body arrived too slowly: ${this.received}${this.total === undefined ? '' : ` of ${this.total}`} bytes in ${seconds.toFixed(1)} s since its turn came, below ${this.rule.minBytesPerSecond} bytes/s after ${this.rule.graceMs} ms (LASTMILE_LARGE_BODY_MIN_BYTES_PER_SECOND, LASTMILE_LARGE_BODY_GRACE_MS); its turn went to the next request`,
          { received: this.received, seconds },
        ),
      )
    })
  }
}
