/**
 * Large inference bodies off the event loop. Bodies (and answers) above `largeBytes` are parsed,
 * decoded and encoded in a few worker threads, their bytes moved in and the decoded typed arrays
 * moved back; small ones keep running inline, where a worker round trip would cost more than the
 * work. Large JSON bodies of the routes that carry data (assays, explanations, pipeline steps) are
 * parsed there too, and come back only once their values are counted within the route's bound.
 * Large requests are admitted a few per worker at a time and a bounded number wait (before
 * their bodies are read, so waiting costs no memory, and leaving the queue when their client goes);
 * beyond that they are refused with `QueueFullError` (429 with Retry-After). The inference log's
 * heavy steps for large requests and segments (encoding frames, rolling) and its query pages run in
 * the same workers. A worker that dies fails only the task it held and is replaced on the next task.
 *
 * Workers keep V8's default heap limit, as the event loop does: Node aborts the whole process when
 * a worker passes a `resourceLimits` heap limit inside one native allocation such as `JSON.parse`
 * (nodejs/node#47224), so a tight limit would turn a large body into a crash. Memory is bounded by
 * the body limit, the decoders' own bounds and the admission here instead.
 */
import type { Worker } from 'node:worker_threads'
import { NotReadyError, PayloadTooLargeError } from '../errors.js'
import { type LogPage, type LogPageTask, logPage } from '../logs/log-query.js'
import {
  type EncodedFrame,
  encodeFrameBytes,
  type LogWork,
  type OpenSegment,
  rollSegment,
  tensorBytes,
} from '../logs/log-work.js'
import type { InferenceRecord } from '../logs/record.js'
import { startWorker, workerModule } from '../workers/start.js'
import {
  answerSize,
  type Decoded,
  type DecodeTask,
  decodeBody,
  type Encoded,
  type EncodeTask,
  encodeBody,
  fromWire,
  parseJson,
  transferList,
} from './body-codec.js'
import type { WorkerReply, WorkerTask } from './decode-worker.js'
import { type Release, Turns } from './turns.js'

export interface BodyPoolOptions {
  /** Worker threads; 0 = none: every body is decoded on the calling thread (and still admitted). */
  workers: number
  /** Bodies and answers larger than this many bytes go to a worker. */
  largeBytes: number
  /** Large requests in flight per worker (at least one worker's worth when `workers` is 0). */
  perWorker: number
  /** Large requests waiting for their turn at most; beyond, `QueueFullError`. */
  queue: number
  /** The worker script: decode-worker's, unless a test substitutes one. */
  entry?: URL
}

/** What the pool has done and holds (tests, benchmarks). */
export interface BodyPoolStats {
  /** Worker threads alive. */
  workers: number
  /** Tasks that ran in a worker (answered or failed), by kind. */
  workerTasks: Record<WorkerTask['op'], number>
  /** Workers that died and were replaced. */
  workerDeaths: number
  /** Large requests in flight and waiting. */
  admitted: number
  waiting: number
}

const ENTRY = workerModule('./decode-worker.js', import.meta.url)

const shuttingDown = () => new NotReadyError('the server is shutting down; retry on another replica')

interface Job {
  message: WorkerTask
  transfer: ArrayBuffer[]
  resolve(value: unknown): void
  reject(e: unknown): void
}

interface Slot {
  worker: Worker
  job?: Job
  /** Why the worker failed, when it did (set before its exit). */
  failure?: Error & { code?: string }
}

export class BodyPool implements LogWork {
  private readonly slots = new Set<Slot>()
  private readonly idle: Slot[] = []
  private readonly jobs: Job[] = []
  private readonly turns: Turns
  private readonly workerTasks: Record<WorkerTask['op'], number> = {
    decode: 0,
    encode: 0,
    json: 0,
    frames: 0,
    roll: 0,
    page: 0,
  }
  private workerDeaths = 0
  /** No new admissions; jobs of admitted requests still run. */
  private closing = false
  /** Workers stopped: nothing runs any more. */
  private closed = false
  private readonly idleWaiters: Array<() => void> = []

  constructor(readonly options: BodyPoolOptions) {
    this.turns = new Turns(Math.max(1, options.workers) * options.perWorker, options.queue)
  }

  /** Whether a body (or answer) of `bytes` bytes is large: admitted, and worked on in a worker. */
  isLarge(bytes: number): boolean {
    return bytes > this.options.largeBytes
  }

  /**
   * Wait for a large request's turn; call the returned function when its answer is encoded.
   * Throws `QueueFullError` when `queue` requests already wait. A request whose `signal` aborts
   * while it waits (its client has gone) leaves the queue at once, with the signal's reason.
   */
  async admit(signal?: AbortSignal): Promise<Release> {
    if (this.closing) throw shuttingDown()
    return this.turns.admit(signal)
  }

  /**
   * Decode a body: in a worker when it is large, else right here. A body that is all of its buffer
   * is moved there; a view into a larger buffer (one the caller may share) is copied.
   */
  async decode<T extends DecodeTask>(task: T): Promise<Decoded<T>> {
    const { bytes } = task
    if (this.options.workers === 0 || !this.isLarge(bytes.byteLength)) return decodeBody(task)
    // Stryker disable next-line ConditionalExpression: a view at an offset past 0 is shorter than its buffer, so the length test alone decides
    const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
    return (await this.run({ op: 'decode', task }, whole ? transferList(task, 0) : [])) as Decoded<T>
  }

  /** Encode an answer: in a worker when it is large (its tensors are copied there), else right here. */
  async encode(task: EncodeTask): Promise<Encoded> {
    if (this.options.workers === 0 || !this.isLarge(answerSize(task))) return encodeBody(task)
    return (await this.run({ op: 'encode', task }, [])) as Encoded
  }

  /**
   * Parse a JSON body of at most `maxValues` values (`setting` names the limit in the 400): in a
   * worker when it is large (its buffer is moved there when it is all of it), else right here.
   */
  async json(bytes: Uint8Array, maxValues: number, setting: string): Promise<unknown> {
    if (this.options.workers === 0 || !this.isLarge(bytes.byteLength)) return parseJson(bytes, maxValues, setting)
    // Stryker disable next-line ConditionalExpression: a view at an offset past 0 is shorter than its buffer, so the length test alone decides
    const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
    const transfer = whole && bytes.buffer instanceof ArrayBuffer ? [bytes.buffer] : []
    return this.run({ op: 'json', bytes, maxValues, setting }, transfer)
  }

  /** Encode inference log frames: in a worker when the records are large (their buffers are moved there). */
  async frames(records: InferenceRecord[]): Promise<EncodedFrame[]> {
    const bytes = records.reduce((n, r) => n + 2 * tensorBytes(r.inputs, r.outputs, r.shadow), 0) // float64 in frames
    if (this.options.workers === 0 || !this.isLarge(bytes)) return encodeFrameBytes(records)
    return (await this.run({ op: 'frames', records }, transferList(records))) as EncodedFrame[]
  }

  /** Roll an inference log segment: in a worker when the segment is large. */
  async roll(segment: OpenSegment): Promise<void> {
    if (this.options.workers === 0 || !this.isLarge(segment.bytes)) return rollSegment(segment)
    await this.run({ op: 'roll', segment }, [])
  }

  /** Read and encode a page of an inference log query: in a worker whenever there is one (it reads files). */
  async page(task: LogPageTask): Promise<LogPage> {
    if (this.options.workers === 0) return logPage(task)
    return (await this.run({ op: 'page', task }, [])) as LogPage
  }

  stats(): BodyPoolStats {
    return {
      workers: this.slots.size,
      workerTasks: { ...this.workerTasks },
      workerDeaths: this.workerDeaths,
      admitted: this.turns.admitted,
      waiting: this.turns.waiting,
    }
  }

  /**
   * Refuse new large requests (waiting ones fail with `NotReadyError`), let the tasks of admitted
   * ones finish, then stop the workers.
   */
  async close(): Promise<void> {
    this.closing = true
    this.turns.rejectWaiting(shuttingDown())
    // Stryker disable next-line ConditionalExpression: a job is queued only while every worker holds one (pump hands it to a freed or replaced worker before this loop checks again)
    while (this.jobs.length > 0 || [...this.slots].some((s) => s.job)) {
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve))
    }
    this.closed = true
    await Promise.all([...this.slots].map((s) => s.worker.terminate()))
  }

  private run(message: WorkerTask, transfer: ArrayBuffer[]): Promise<unknown> {
    if (this.closed) return Promise.reject(shuttingDown())
    return new Promise((resolve, reject) => {
      this.jobs.push({ message, transfer, resolve, reject })
      this.pump()
    })
  }

  /** Hand queued jobs to idle workers, starting workers up to `workers`. */
  private pump(): void {
    while (this.jobs.length > 0) {
      const slot = this.idle.pop() ?? (this.slots.size < this.options.workers ? this.spawn() : undefined)
      if (!slot) return
      const job = this.jobs.shift() as Job
      slot.job = job
      slot.worker.ref() // an answer is owed: keep the process up for it
      try {
        slot.worker.postMessage(job.message, job.transfer)
      } catch (e) {
        this.settle(slot)
        job.reject(e)
      }
    }
  }

  /** The worker is free again. */
  private settle(slot: Slot): void {
    slot.job = undefined
    slot.worker.unref()
    this.idle.push(slot)
    for (const w of this.idleWaiters.splice(0)) w()
  }

  private spawn(): Slot {
    const worker = startWorker(this.options.entry ?? ENTRY)
    const slot: Slot = { worker }
    this.slots.add(slot)
    worker.on('message', (reply: WorkerReply) => {
      const job = slot.job
      if (!job) return
      this.workerTasks[job.message.op]++
      this.settle(slot)
      if (reply.ok) job.resolve(reply.value)
      else job.reject(fromWire(reply.error))
      this.pump()
    })
    worker.on('error', (e: Error & { code?: string }) => {
      slot.failure = e
    })
    worker.on('exit', () => {
      this.slots.delete(slot)
      const i = this.idle.indexOf(slot)
      if (i >= 0) this.idle.splice(i, 1)
      const job = slot.job
      if (job) {
        this.workerTasks[job.message.op]++
        job.reject(this.closed ? shuttingDown() : this.deathError(slot.failure))
      }
      if (this.closed) return
      this.workerDeaths++
      this.pump() // a replacement starts for whatever waits
      for (const w of this.idleWaiters.splice(0)) w()
    })
    return slot
  }

  private deathError(failure: (Error & { code?: string }) | undefined): Error {
    if (failure?.code === 'ERR_WORKER_OUT_OF_MEMORY') {
      return new PayloadTooLargeError(
        'decoding or encoding this body needed more memory than a body worker has; send it in smaller requests',
      )
    }
    return new NotReadyError(
      `the body worker stopped while working on this request${failure ? ` (${failure.message})` : ''}; retry`,
    )
  }
}
