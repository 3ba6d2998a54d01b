/**
 * Dynamic batching: requests from many clients are queued and run together as batches of rows.
 * A batch starts when it can be full (`maxBatchSize` rows), when a preferred size is available,
 * or `maxQueueDelayMs` after its oldest request arrived (0 = never wait). A many-row request may
 * span batches and a batch may hold many requests; each request gets exactly its own rows back,
 * in order. Up to `concurrency` batches run at once, one per replica of the deployment's model
 * sessions (the count may change while it runs: autoscaling); each next batch forms from
 * whatever queued meanwhile.
 *
 * Bulk requests (batch jobs, explanations) queue apart and run as batches of their own rows,
 * sized to about `BULK_SLICE_MS` of measured work, and interactive requests go first: an
 * interactive request waits for at most one bulk slice, not for a whole job's chunk. A bulk
 * request still gets a slice once it has waited `BULK_MAX_WAIT_MS`, so jobs progress under load.
 */
import { concatRows, rowCount, rowShapeKey, sliceRows } from '../engine/rows.js'
import type { AnyTensor } from '../engine/tensor.js'
import type { Columns } from '../engine/types.js'
import { InvalidInputError, NotReadyError, QueueFullError, TimeoutError } from '../errors.js'
import type { StageTimings } from '../pipeline/fused.js'
import type { BatchingConfig } from './settings.js'

export type { StageTimings }

/** Target duration of one bulk batch. */
const BULK_SLICE_MS = 50
/** Rows of the first bulk batch, before its speed is known. */
const BULK_PROBE_ROWS = 1024
/** A bulk request waiting this long gets the next batch even with interactive requests queued. */
const BULK_MAX_WAIT_MS = 250

export type BatchRunner = (feeds: Columns) => Promise<{ outputs: Record<string, AnyTensor>; timings: StageTimings }>

export interface BatchedResult {
  outputs: Record<string, AnyTensor>
  /** Time from enqueue to the start of the request's first batch, in ms. */
  queueMs: number
  /** Stage timings of the (last) batch that carried the request. */
  timings: StageTimings
}

/** Called after each batch (metrics). */
export interface BatchObserver {
  onBatch?(rows: number, requests: number, timings: StageTimings): void
}

interface Pending {
  feeds: Columns
  rows: number
  /** Rows already handed to a batch. */
  taken: number
  shapeKey: string
  parts: Array<Record<string, AnyTensor> | undefined>
  partsPending: number
  enqueuedAt: number
  startedAt?: number
  timer: NodeJS.Timeout | undefined
  bulk: boolean
  done: boolean
  resolve(r: BatchedResult): void
  reject(e: unknown): void
  timings?: StageTimings
}

interface Slice {
  req: Pending
  part: number
  start: number
  end: number
}

export class DynamicBatcher {
  /** Interactive requests, oldest first. */
  private readonly queue: Pending[] = []
  /** Bulk requests, oldest first. */
  private readonly bulkQueue: Pending[] = []
  /** Measured ms per row of bulk batches (moving average); undefined before the first. */
  private bulkMsPerRow: number | undefined
  /** When the oldest bulk request last got a batch (or arrived). */
  private bulkServedAt = 0
  private queuedRowCount = 0
  /** Of which in bulk requests (not counted against max_queue_size). */
  private bulkRowCount = 0
  /** Batches in flight (at most `concurrency`). */
  private running = 0
  private draining = false
  private delayTimer: NodeJS.Timeout | undefined
  private idleWaiters: Array<() => void> = []
  private readonly preferred: number[]

  /**
   * @param concurrency batches that may run at once (one per replica of the model sessions).
   */
  constructor(
    private readonly run: BatchRunner,
    readonly config: BatchingConfig,
    private readonly observer: BatchObserver = {},
    private concurrency = 1,
  ) {
    // Largest first. A size above max_batch_size is never chosen: a full batch is dispatched first.
    this.preferred = [...config.preferred_batch_sizes].sort((a, b) => b - a)
  }

  /**
   * Run up to `n` batches at once from now on. More start at once; with fewer, the batches
   * running finish and no new one starts until fewer than `n` run.
   */
  setConcurrency(n: number): void {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`concurrency must be a positive integer, got ${n}`)
    this.concurrency = n
    this.schedule()
  }

  /** Rows waiting for a batch. */
  queuedRows(): number {
    return this.queuedRowCount
  }

  /**
   * Queue a request of `rows` rows (dim 0 of every feed). Rejects with `QueueFullError` when the
   * queue cannot take it, `TimeoutError` after `timeout_ms`, `NotReadyError` while draining.
   */
  submit(
    feeds: Columns,
    // Stryker disable next-line ObjectLiteral,ArrayDeclaration: only for feeds with no tensor, which no caller submits
    rows = rowCount(Object.values(feeds)[0] ?? { dims: [] }),
    opts: { bulk?: boolean } = {},
  ): Promise<BatchedResult> {
    if (this.draining)
      return Promise.reject(new NotReadyError('the deployment is shutting down; retry on another replica'))
    if (rows < 1) return Promise.reject(new InvalidInputError('the request has no rows'))
    if (opts.bulk) return this.enqueue(feeds, rows, true)
    if (rows > this.config.max_queue_size) {
      return Promise.reject(
        new InvalidInputError(
          `the request has ${rows} rows, more than this deployment queues (max_queue_size ${this.config.max_queue_size}); split it`,
        ),
      )
    }
    if (this.queuedRowCount - this.bulkRowCount + rows > this.config.max_queue_size) {
      return Promise.reject(
        new QueueFullError(
          `the deployment's queue is full (${this.queuedRowCount} of ${this.config.max_queue_size} rows); retry shortly`,
        ),
      )
    }
    return this.enqueue(feeds, rows, false)
  }

  /**
   * A bulk request (batch jobs, explanations) runs as batches of its own rows only, as large as it is: it waits
   * its turn in the queue like any request, but neither the queue size nor the timeout applies
   * (its caller awaits one at a time), and interactive requests never wait inside its batch.
   */
  private enqueue(feeds: Columns, rows: number, bulk: boolean): Promise<BatchedResult> {
    return new Promise<BatchedResult>((resolve, reject) => {
      const req: Pending = {
        feeds,
        rows,
        taken: 0,
        shapeKey: rowShapeKey(feeds), // compared within one queue: bulk and interactive never share a batch
        bulk,
        parts: [],
        partsPending: 0,
        enqueuedAt: performance.now(),
        done: false,
        resolve,
        reject,
        timer: bulk ? undefined : setTimeout(() => this.expire(req), this.config.timeout_ms),
      }
      if (bulk) {
        if (this.bulkQueue.length === 0) this.bulkServedAt = req.enqueuedAt
        this.bulkQueue.push(req)
      } else this.queue.push(req)
      this.queuedRowCount += rows
      if (bulk) this.bulkRowCount += rows
      this.schedule()
    })
  }

  /** Stop taking requests and resolve once every queued request has been answered. */
  async drain(): Promise<void> {
    this.draining = true
    clearTimeout(this.delayTimer)
    this.schedule(true)
    if (this.running === 0 && this.queue.length === 0 && this.bulkQueue.length === 0) return
    await new Promise<void>((r) => this.idleWaiters.push(r))
  }

  private expire(req: Pending): void {
    this.fail(
      req,
      new TimeoutError(
        `no answer within ${this.config.timeout_ms} ms (timeout_ms); the server is overloaded or the model is slow`,
      ),
    )
  }

  private schedule(now = false): void {
    if (this.running === 0 && this.queue.length === 0 && this.bulkQueue.length === 0) {
      for (const w of this.idleWaiters.splice(0)) w()
      return
    }
    while (
      this.running < this.concurrency &&
      (this.queue.length > 0 || this.bulkQueue.length > 0) &&
      this.dispatchNow(now)
    ) {}
  }

  /** Rows of the next bulk batch: about BULK_SLICE_MS of work at the measured speed. */
  private bulkSlice(remaining: number): number {
    const rows = this.bulkMsPerRow === undefined ? BULK_PROBE_ROWS : Math.round(BULK_SLICE_MS / this.bulkMsPerRow)
    return Math.max(1, Math.min(remaining, rows))
  }

  /** Dispatch a batch if one is due (else arm the delay timer); returns whether it dispatched. */
  private dispatchNow(now: boolean): boolean {
    const bulkHead = this.bulkQueue[0]
    if (
      bulkHead &&
      // Stryker disable next-line EqualityOperator: > and >= differ only at one instant of a continuous clock
      (this.queue.length === 0 || this.draining || performance.now() - this.bulkServedAt >= BULK_MAX_WAIT_MS)
    ) {
      this.dispatch(this.bulkQueue, this.bulkSlice(bulkHead.rows - bulkHead.taken))
      return true
    }
    const rows = this.queuedRowCount - this.bulkRowCount
    const { max_batch_size: max, max_queue_delay_ms: delay } = this.config
    const preferred = this.preferred.find((p) => p <= rows)
    // Requests that queued while earlier batches ran have often waited out the delay already (with
    // a delay of 0, every request has). Without this check the delay timer, armed with a wait of 0
    // or less, would dispatch them a moment later: the same batches.
    const head = this.queue[0] as Pending
    // Stryker disable next-line BooleanLiteral,ConditionalExpression,EqualityOperator: see above; > and >= differ at one instant
    const waited = performance.now() - head.enqueuedAt >= delay
    if (now || this.draining || rows >= max || waited) {
      this.dispatch(this.queue, Math.min(rows, max))
      return true
    }
    if (preferred !== undefined) {
      this.dispatch(this.queue, preferred)
      return true
    }
    // Stryker disable next-line ConditionalExpression: a second timer for the same head fires at the same moment
    if (!this.delayTimer) {
      const wait = (this.queue[0] as Pending).enqueuedAt + delay - performance.now()
      this.delayTimer = setTimeout(() => {
        this.delayTimer = undefined
        // Stryker disable next-line BooleanLiteral: the head has waited out the delay when its timer fires
        this.schedule(true)
      }, wait)
    }
    return false
  }

  /** Take up to `target` rows from the front of `queue` (one row shape per batch) and run them. */
  private dispatch(queue: Pending[], target: number): void {
    const bulk = queue === this.bulkQueue
    if (!bulk) {
      clearTimeout(this.delayTimer)
      this.delayTimer = undefined
    }
    const slices: Slice[] = []
    let rows = 0
    const key = (queue[0] as Pending).shapeKey
    const now = performance.now()
    if (bulk) this.bulkServedAt = now
    // Stryker disable next-line ConditionalExpression,EqualityOperator: targets never exceed the rows queued, so the queue never empties first
    while (rows < target && queue.length > 0) {
      const req = queue[0] as Pending
      if (req.shapeKey !== key) break
      const n = Math.min(req.rows - req.taken, target - rows)
      slices.push({ req, part: req.parts.length, start: req.taken, end: req.taken + n })
      req.parts.push(undefined)
      req.partsPending++
      req.startedAt ??= now
      req.taken += n
      rows += n
      if (req.taken === req.rows) queue.shift()
    }
    this.queuedRowCount -= rows
    if (bulk) this.bulkRowCount -= rows
    this.running++
    void this.execute(slices, rows, bulk).finally(() => {
      this.running--
      this.schedule()
    })
  }

  private async execute(slices: Slice[], rows: number, bulk: boolean): Promise<void> {
    let result: Awaited<ReturnType<BatchRunner>>
    const started = performance.now()
    try {
      result = await this.run(batchFeeds(slices))
    } catch (e) {
      for (const s of slices) this.fail(s.req, e)
      return
    }
    if (bulk) {
      const msPerRow = (performance.now() - started) / rows
      // Stryker disable next-line ConditionalExpression: the average only smooths noise; the first measure alone sizes slices as well
      this.bulkMsPerRow = this.bulkMsPerRow === undefined ? msPerRow : 0.5 * this.bulkMsPerRow + 0.5 * msPerRow
    }
    this.observer.onBatch?.(rows, new Set(slices.map((s) => s.req)).size, result.timings)
    let offset = 0
    for (const s of slices) {
      const n = s.end - s.start
      const part: Record<string, AnyTensor> = {}
      for (const [name, t] of Object.entries(result.outputs)) {
        part[name] = slices.length === 1 ? t : sliceRows(t, offset, offset + n)
      }
      offset += n
      this.complete(s.req, s.part, part, result.timings)
    }
  }

  private complete(req: Pending, part: number, outputs: Record<string, AnyTensor>, timings: StageTimings): void {
    // Stryker disable next-line ConditionalExpression: for a request already rejected, resolving it again does nothing
    if (req.done) return
    req.parts[part] = outputs
    req.timings = timings
    req.partsPending--
    if (req.partsPending > 0 || req.taken < req.rows) return
    req.done = true
    clearTimeout(req.timer)
    const parts = req.parts as Array<Record<string, AnyTensor>>
    const merged: Record<string, AnyTensor> = {}
    for (const name of Object.keys(parts[0] ?? {})) merged[name] = concatRows(parts.map((p) => p[name] as AnyTensor))
    req.resolve({ outputs: merged, queueMs: (req.startedAt ?? req.enqueuedAt) - req.enqueuedAt, timings })
  }

  /** Reject `req` (a failed batch, or its timeout) once, and drop its rows that no batch took. */
  private fail(req: Pending, e: unknown): void {
    if (req.done) return
    req.done = true
    clearTimeout(req.timer)
    this.dropUntaken(req) // its remaining rows would fail the same way
    req.reject(e)
  }

  /** Take the rows of `req` that no batch took out of the queue (it timed out or failed). */
  private dropUntaken(req: Pending): void {
    const untaken = req.rows - req.taken
    // Stryker disable next-line ConditionalExpression,EqualityOperator: with no untaken rows the block subtracts 0 and finds nothing to remove
    if (untaken > 0) {
      this.queuedRowCount -= untaken
      if (req.bulk) this.bulkRowCount -= untaken
      const queue = req.bulk ? this.bulkQueue : this.queue
      const i = queue.indexOf(req)
      // Stryker disable next-line ConditionalExpression,EqualityOperator: a request with untaken rows is always in its queue
      if (i >= 0) queue.splice(i, 1)
    }
  }
}

/** The batch's feeds: each input's slices stacked along dim 0 (no copy for a single whole request). */
function batchFeeds(slices: Slice[]): Columns {
  const first = slices[0] as Slice
  if (slices.length === 1 && first.start === 0 && first.end === first.req.rows) return first.req.feeds
  const feeds: Columns = {}
  for (const name of Object.keys(first.req.feeds)) {
    feeds[name] = concatRows(
      slices.map((s) => {
        const t = s.req.feeds[name] as AnyTensor
        // Stryker disable next-line ConditionalExpression: slicing a whole request gives the same rows (the check saves a copy)
        return s.start === 0 && s.end === s.req.rows ? t : sliceRows(t, s.start, s.end)
      }),
    )
  }
  return feeds
}
