/**
 * Batch file scoring jobs: an input file (uploaded as a stream, or a local path for in-process
 * use) scored through a deployed pipeline chunk by chunk, with progress, cancellation, persisted
 * state that a restarted server resumes from, and the result streamed in any of the formats.
 */
import { randomBytes } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdir, open, rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { Config } from '../config.js'
import { ConflictError, errorMessage, NotFoundError, PayloadTooLargeError } from '../errors.js'
import type { Logger } from '../log.js'
import type { DeploymentManager } from '../serving/deployment.js'
import type { JobRecord, Store } from '../store/types.js'
import { planFeeds } from './features.js'
import { type JobFormat, openReader, writeOutput } from './io/index.js'
import { chunkFiles, type JobOptions, type RunState, runJob } from './runner.js'

export interface JobServiceDeps {
  store: Store
  manager: DeploymentManager
  dataDir: string
  log: Logger
  config: Config['jobs']
}

export interface CreateJob {
  format: JobFormat
  features?: string[]
  maxErrorShare?: number
}

/** A job as the API shows it: the record plus live progress. */
export interface JobView {
  id: string
  workspace: string
  pipeline: string
  status: JobRecord['status']
  format: string
  rows_done: number
  rows_total: number | null
  /** 0..1, from rows when the total is known, else from bytes read. */
  progress: number | null
  rows_per_second: number | null
  eta_seconds: number | null
  error_count: number
  errors: JobRecord['errors']
  error: string | null
  created_at: string
  started_at: string | null
  finished_at: string | null
}

const ACTIVE: JobRecord['status'][] = ['queued', 'running']

export class JobService {
  private readonly queue: string[] = []
  private readonly running = new Map<string, RunState>()
  private readonly finished = new Set<() => void>()
  private stopping = false

  constructor(private readonly deps: JobServiceDeps) {}

  /** Largest input file accepted, in bytes. */
  get uploadLimit(): number {
    return this.deps.config.uploadLimitBytes
  }

  private dir(id: string): string {
    return join(this.deps.dataDir, 'jobs', id)
  }

  /**
   * Create a job. `input` is the uploaded body (written to the job's folder and fsynced before
   * the job exists: an acknowledged job never loses its input) or a local file used in place.
   */
  async create(
    workspace: string,
    pipeline: string,
    input: { stream: AsyncIterable<Uint8Array> } | { path: string },
    opts: CreateJob,
  ): Promise<JobRecord> {
    const deployment = this.deps.manager.require(workspace, pipeline)
    const id = `job-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`
    const dir = this.dir(id)
    await mkdir(dir, { recursive: true })
    try {
      let inputPath: string
      if ('path' in input) inputPath = input.path
      else {
        inputPath = join(dir, `input.${opts.format}`)
        await this.receive(input.stream, inputPath)
      }
      const reader = await openReader(inputPath, opts.format) // refuse a file that is not what it says now
      try {
        planFeeds(
          deployment.inputs,
          reader.schema.map((f) => f.name),
          opts.features,
        )
      } finally {
        await reader.close()
      }
      const options: JobOptions = {
        ...(opts.features ? { features: opts.features } : {}),
        maxErrorShare: opts.maxErrorShare ?? this.deps.config.maxErrorShare,
        chunkRows: this.deps.config.chunkRows,
        batchRows: this.deps.config.batchRows,
      }
      const job: JobRecord = {
        id,
        workspace,
        pipeline,
        status: 'queued',
        format: opts.format,
        inputPath,
        inputBytes: (await stat(inputPath)).size,
        options: options as unknown as Record<string, unknown>,
        rowsTotal: reader.totalRows ?? null,
        rowsDone: 0,
        chunksDone: 0,
        errorCount: 0,
        errors: [],
        error: null,
        createdAt: new Date().toISOString(),
        startedAt: null,
        finishedAt: null,
      }
      await this.deps.store.jobs.add(job)
      this.enqueue(id)
      return job
    } catch (e) {
      await rm(dir, { recursive: true, force: true })
      throw e
    }
  }

  /** Stream an upload to `path` (temp, fsync, rename), refused past the upload limit. */
  private async receive(stream: AsyncIterable<Uint8Array>, path: string): Promise<void> {
    const limit = this.deps.config.uploadLimitBytes
    const tmp = `${path}.tmp`
    const out = createWriteStream(tmp)
    let bytes = 0
    try {
      for await (const chunk of stream) {
        bytes += chunk.length
        if (bytes > limit) {
          throw new PayloadTooLargeError(`the file is larger than ${limit} bytes (LASTMILE_JOB_UPLOAD_LIMIT_BYTES)`)
        }
        if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r())) // back-pressure
      }
      await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())))
    } catch (e) {
      out.destroy()
      throw e
    }
    const f = await open(tmp, 'r+')
    await f.sync()
    await f.close()
    await rename(tmp, path)
  }

  async get(id: string): Promise<JobRecord> {
    const job = await this.deps.store.jobs.get(id)
    if (!job) throw new NotFoundError(`no job '${id}'`)
    return job
  }

  list(workspace?: string): Promise<JobRecord[]> {
    return this.deps.store.jobs.list(workspace === undefined ? {} : { workspace })
  }

  /** The job with its live progress. */
  view(job: JobRecord): JobView {
    const state = this.running.get(job.id)
    const rowsDone = state?.rowsDone ?? job.rowsDone
    let rate: number | null = null
    if (state) {
      const s = (performance.now() - state.startedAt) / 1000
      if (s > 0 && rowsDone > state.rowsAtStart) rate = (rowsDone - state.rowsAtStart) / s
    } else if (job.startedAt && job.finishedAt) {
      const s = (Date.parse(job.finishedAt) - Date.parse(job.startedAt)) / 1000
      if (s > 0) rate = rowsDone / s
    }
    let progress: number | null = job.status === 'succeeded' ? 1 : null
    if (progress === null && job.rowsTotal) progress = rowsDone / job.rowsTotal
    else if (progress === null && state?.reader) {
      const p = state.reader.progress()
      if (p.bytesTotal > 0) progress = p.bytesRead / p.bytesTotal
    }
    const eta =
      job.status === 'running' && rate && progress !== null && progress > 0
        ? job.rowsTotal
          ? (job.rowsTotal - rowsDone) / rate
          : (rowsDone / rate) * ((1 - progress) / progress)
        : null
    return {
      id: job.id,
      workspace: job.workspace,
      pipeline: job.pipeline,
      status: job.status,
      format: job.format,
      rows_done: rowsDone,
      rows_total: job.rowsTotal,
      progress,
      rows_per_second: rate,
      eta_seconds: eta,
      error_count: job.errorCount,
      errors: job.errors,
      error: job.error,
      created_at: job.createdAt,
      started_at: job.startedAt,
      finished_at: job.finishedAt,
    }
  }

  /** Cancel an active job (it stops after the chunk in progress); delete a finished one and its files. */
  async cancelOrDelete(id: string): Promise<'cancelled' | 'deleted'> {
    const job = await this.get(id)
    if (ACTIVE.includes(job.status)) {
      const state = this.running.get(id)
      if (state) state.cancel = true
      else {
        const queued = this.queue.indexOf(id)
        if (queued >= 0) this.queue.splice(queued, 1)
        await this.finish(job, 'cancelled')
      }
      return 'cancelled'
    }
    await this.deps.store.jobs.delete(id)
    await rm(this.dir(id), { recursive: true, force: true })
    return 'deleted'
  }

  /** The result as `format` (default: the input's), streamed chunk by chunk. */
  async result(id: string, format?: JobFormat): Promise<{ format: JobFormat; body: AsyncIterable<Uint8Array> }> {
    const job = await this.get(id)
    if (job.status !== 'succeeded') {
      const where = job.rowsTotal ? ` (${job.rowsDone} of ${job.rowsTotal} rows)` : ` (${job.rowsDone} rows so far)`
      throw new ConflictError(`job '${id}' is ${job.status}${where}; its result is ready when it has succeeded`)
    }
    const f = format ?? (job.format as JobFormat)
    return { format: f, body: writeOutput(await chunkFiles(this.dir(id)), f) }
  }

  /** Resume jobs a previous run left queued or running. */
  async start(): Promise<void> {
    const active = await this.deps.store.jobs.list({ status: ACTIVE })
    for (const job of active.reverse()) this.enqueue(job.id)
  }

  /** Stop running jobs after their current chunk; they resume at the next start. */
  async stop(): Promise<void> {
    this.stopping = true
    this.queue.length = 0
    for (const s of this.running.values()) s.stop = true
    await this.idle()
  }

  /** Resolves when no job is running. */
  idle(): Promise<void> {
    if (this.running.size === 0 && this.queue.length === 0) return Promise.resolve()
    return new Promise((r) => this.finished.add(r))
  }

  private enqueue(id: string): void {
    if (this.stopping || this.queue.includes(id) || this.running.has(id)) return
    this.queue.push(id)
    this.pump()
  }

  private pump(): void {
    while (!this.stopping && this.running.size < this.deps.config.concurrency && this.queue.length > 0) {
      const id = this.queue.shift() as string
      const state: RunState = { cancel: false, stop: false, startedAt: performance.now(), rowsAtStart: 0, rowsDone: 0 }
      this.running.set(id, state)
      void this.execute(id, state).finally(() => {
        this.running.delete(id)
        this.pump()
        if (this.running.size > 0 || this.queue.length > 0) return
        for (const r of this.finished) r()
        this.finished.clear()
      })
    }
  }

  private async execute(id: string, state: RunState): Promise<void> {
    const job = await this.deps.store.jobs.get(id)
    if (!job || !ACTIVE.includes(job.status)) return
    state.rowsAtStart = job.rowsDone
    state.rowsDone = job.rowsDone
    state.startedAt = performance.now()
    await this.deps.store.jobs.update(id, { status: 'running', startedAt: job.startedAt ?? new Date().toISOString() })
    this.deps.log.info('job running', { id, pipeline: job.pipeline, resumeFrom: job.rowsDone })
    try {
      const outcome = await runJob(job, this.dir(id), this.deps.store.jobs, this.deps.manager, state)
      if (outcome === 'stopped') return // still 'running' in the store: resumed at the next start
      await this.finish(await this.get(id), outcome === 'done' ? 'succeeded' : 'cancelled')
    } catch (e) {
      this.deps.log.warn('job failed', { id, error: errorMessage(e) })
      await this.finish(await this.get(id), 'failed', errorMessage(e))
    }
  }

  private async finish(job: JobRecord, status: 'succeeded' | 'failed' | 'cancelled', error?: string): Promise<void> {
    await this.deps.store.jobs.update(job.id, {
      status,
      finishedAt: new Date().toISOString(),
      ...(error ? { error } : {}),
    })
    // An uploaded input is not needed once the job has ended; a local file is the user's.
    if (job.inputPath.startsWith(this.dir(job.id))) await rm(job.inputPath, { force: true })
    this.deps.log.info('job finished', { id: job.id, status, rows: job.rowsDone, errors: job.errorCount })
  }
}
