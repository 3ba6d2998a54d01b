/**
 * Batch file scoring jobs: an input file (uploaded as a stream, or a local path for in-process
 * use) scored through a deployed pipeline chunk by chunk, with progress, cancellation, persisted
 * state that a restarted server resumes from, and the result streamed in any of the formats.
 * A job is never resumed blindly: each start is counted in the store before it runs, and a job
 * the server did not survive `maxAttempts` times is failed instead; a job that commits no chunk
 * for `stallSeconds` is failed as stalled.
 *
 * With a shared store (PostgreSQL: `files`), an uploaded job's input and committed chunks are
 * shared files (src/jobs/shared-files.ts): one runner serves every host, and a host that runs or
 * serves a job fetches what its folder lacks. A job given a local file keeps to the data folder
 * of the process that created it, which runs it.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { Config } from '../config.js'
import { DIR_MODE } from '../durable.js'
import { ConflictError, errorMessage, NotFoundError } from '../errors.js'
import type { Logger } from '../logger.js'
import type { DeploymentManager } from '../serving/deployment.js'
import { namedPath } from '../store/names.js'
import type { JobOptions, JobRecord, Role, Store } from '../store/types.js'
import { planFeeds } from './features.js'
import { type JobFormat, openReader, writeOutput } from './io/index.js'
import {
  chunkFiles,
  chunkName,
  chunkPath,
  formatOf,
  type JobLimits,
  type RunState,
  runJob,
  tooManyRows,
} from './runner.js'
import { exists, INPUT_FILE, SharedJobFiles } from './shared-files.js'
import { receive, type UploadLimit } from './upload.js'
import { type JobView, jobView } from './view.js'

export type { JobView } from './view.js'

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
  /** The API key creating the job (undefined when auth is off or in-process): its id is kept, its role sets the upload limit. */
  key?: { id: string; role: Role }
}

const ACTIVE: JobRecord['status'][] = ['queued', 'running']

/** The change-feed topic of jobs: published when a process that does not run jobs creates or cancels one. */
export const JOBS_TOPIC = 'jobs'

export class JobService {
  private readonly queue: string[] = []
  private readonly running = new Map<string, RunState>()
  private readonly finished = new Set<() => void>()
  private stopping = false
  /** Whether this process runs jobs (see {@link start}); one that does not only creates and answers them. */
  private runs = false
  private watchdog: NodeJS.Timeout | undefined
  /** Jobs' files in the shared store, when there is one. */
  private readonly shared: SharedJobFiles | undefined

  constructor(private readonly deps: JobServiceDeps) {
    const { blobs, files } = deps.store
    this.shared = blobs && files ? new SharedJobFiles(blobs, files) : undefined
  }

  /** The largest upload a key of `role` may send (undefined: auth is off, anything goes). */
  uploadLimit(role: Role | undefined): UploadLimit {
    return role === 'viewer'
      ? { bytes: this.deps.config.viewerUploadLimitBytes, setting: 'LASTMILE_JOB_VIEWER_UPLOAD_LIMIT_BYTES' }
      : { bytes: this.deps.config.uploadLimitBytes, setting: 'LASTMILE_JOB_UPLOAD_LIMIT_BYTES' }
  }

  /** The settings a job is read under, at creation and at each start (a resumed job gets today's). */
  private limits(): JobLimits {
    const { maxRows, maxRecordBytes, maxColumns, chunkCells } = this.deps.config
    return { maxRows, maxRecordBytes, maxColumns, chunkCells }
  }

  /** A job's folder; `id` may be a client's, so it is checked to name a folder inside jobs/. */
  private dir(id: string): string {
    return namedPath(join(this.deps.dataDir, 'jobs'), ['job', id])
  }

  /** Where an uploaded input is kept in the job's folder. */
  private inputHere(job: Pick<JobRecord, 'id' | 'format'>): string {
    return join(this.dir(job.id), `input.${job.format}`)
  }

  /**
   * Create a job. `input` is the uploaded body (written to the job's folder and fsynced, and with a
   * shared store stored as a shared file, before the job exists: an acknowledged job never loses
   * its input) or a local file used in place.
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
    await mkdir(dir, { recursive: true, mode: DIR_MODE })
    let sharedInput = false
    try {
      let inputPath: string
      let received: { sha256: string; size: number } | undefined
      if ('path' in input) inputPath = input.path
      else {
        inputPath = this.inputHere({ id, format: opts.format })
        const role = opts.key?.role
        received = await receive(input.stream, inputPath, this.uploadLimit(role), role)
      }
      // Refuse now what is cheap to know: the format, the column count, the columns the pipeline
      // needs, the row count. Reading the first rows costs what their text does, with turns between.
      const reader = await openReader(inputPath, opts.format, this.limits())
      try {
        planFeeds(
          deployment.inputs,
          reader.schema.map((f) => f.name),
          opts.features,
        )
        if (reader.totalRows !== undefined) {
          const tooMany = tooManyRows(reader.totalRows, this.deps.config.maxRows, true)
          if (tooMany) throw tooMany
        }
      } finally {
        await reader.close()
      }
      if (received && this.shared) {
        // Any host may run the job: its input is every host's before the job exists.
        sharedInput = true
        await this.shared.putInput(id, inputPath, received)
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
        options,
        rowsTotal: reader.totalRows ?? null,
        rowsDone: 0,
        chunksDone: 0,
        errorCount: 0,
        errors: [],
        error: null,
        attempts: 0,
        createdBy: opts.key?.id ?? null,
        createdAt: new Date().toISOString(),
        startedAt: null,
        finishedAt: null,
      }
      await this.deps.store.jobs.add(job)
      // A local file's job with a shared store runs where the file is: here (no runner elsewhere takes it).
      if (this.runs || (this.shared && !received)) this.enqueue(id)
      else await this.deps.store.changes.publish(JOBS_TOPIC) // the process that runs jobs takes it
      return job
    } catch (e) {
      await rm(dir, { recursive: true, force: true })
      if (sharedInput)
        await this.shared?.forget(id).catch((f) => {
          this.deps.log.warn('the input of a job refused could not be forgotten', { id, error: errorMessage(f) })
        })
      throw e
    }
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
    return jobView(job, this.running.get(job.id))
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
        if (!this.runs) await this.deps.store.changes.publish(JOBS_TOPIC) // the runner stops it
      }
      return 'cancelled'
    }
    // Its shared files first: a delete cut short leaves the job, to be deleted again, not orphaned files.
    await this.shared?.forget(id)
    await this.deps.store.jobs.delete(id)
    await rm(this.dir(id), { recursive: true, force: true })
    return 'deleted'
  }

  /**
   * Whether this process's runner may run a job: one whose input is a shared file, with a shared
   * store; else one whose files are in this data folder (the processes of one server share it; a
   * local file's job stays with the folder of the process that created it).
   */
  private async runnable(id: string): Promise<boolean> {
    if (this.shared && (await this.shared.list(id)).has(INPUT_FILE)) return true
    return exists(this.dir(id))
  }

  /**
   * The committed chunk files of `job` in this data folder, in order. With a shared store each one
   * that is a shared file is checked against it, and fetched when missing here or different (a
   * chunk this host wrote but another one redid and committed).
   */
  private async chunksHere(job: JobRecord): Promise<string[]> {
    const dir = this.dir(job.id)
    if (!this.shared) return chunkFiles(dir)
    const files = await this.shared.list(job.id)
    const paths: string[] = []
    for (let k = 0; k < job.chunksDone; k++) {
      const path = chunkPath(dir, k)
      const file = files.get(chunkName(k))
      if (file) {
        await mkdir(dir, { recursive: true, mode: DIR_MODE })
        await this.shared.materialize(job.id, file, path, 'hash')
      } else if (!(await exists(path))) {
        throw new ConflictError(
          `chunk ${k} of job '${job.id}' is neither in this server's data folder nor in the shared store: the job read a local file; download its result from the server that ran it`,
        )
      }
      paths.push(path)
    }
    return paths
  }

  /** The result as `format` (default: the input's), streamed chunk by chunk. */
  async result(id: string, format?: JobFormat): Promise<{ format: JobFormat; body: AsyncIterable<Uint8Array> }> {
    const job = await this.get(id)
    if (job.status !== 'succeeded') {
      const where = job.rowsTotal ? ` (${job.rowsDone} of ${job.rowsTotal} rows)` : ` (${job.rowsDone} rows so far)`
      throw new ConflictError(`job '${id}' is ${job.status}${where}; its result is ready when it has succeeded`)
    }
    const f = format ?? formatOf(job)
    return { format: f, body: writeOutput(await this.chunksHere(job), f) }
  }

  /**
   * Resume jobs a previous run left queued or running, except those the server did not survive
   * `maxAttempts` times: those are failed with the reason, never run again.
   */
  async start(): Promise<void> {
    this.stopping = false
    this.runs = true
    const { maxAttempts, stallSeconds } = this.deps.config
    for (const job of (await this.deps.store.jobs.list({ status: ACTIVE })).reverse()) {
      if (!(await this.runnable(job.id))) continue
      if (job.attempts < maxAttempts) this.enqueue(job.id)
      else {
        this.deps.log.warn('job not resumed: the server stopped while running it', {
          id: job.id,
          attempts: job.attempts,
        })
        await this.finish(
          job,
          'failed',
          `the server stopped ${job.attempts} times while running this job (LASTMILE_JOB_MAX_ATTEMPTS is ${maxAttempts}); it was not resumed, in case the job is what stops the server. Check the input file, then create the job again`,
        )
      }
    }
    const stallMs = stallSeconds * 1000
    // Look often enough to catch a stall within a quarter of the limit, at most once a minute.
    this.watchdog = setInterval(() => void this.failStalled(stallMs), Math.min(60_000, Math.max(50, stallMs / 4)))
    this.watchdog.unref()
  }

  /**
   * Another process sharing the store created or cancelled a job ({@link JOBS_TOPIC}): the runner
   * queues the new ones and stops the cancelled ones after their current chunk.
   */
  async changed(): Promise<void> {
    if (this.runs) {
      for (const job of (await this.deps.store.jobs.list({ status: ['queued'] })).reverse())
        if (await this.runnable(job.id)) this.enqueue(job.id)
    }
    for (const [id, state] of this.running) {
      if ((await this.deps.store.jobs.get(id))?.status === 'cancelled') state.cancel = true
    }
  }

  /** Stop running jobs after their current chunk; they resume at the next start. */
  async stop(): Promise<void> {
    this.runs = false
    this.stopping = true
    clearInterval(this.watchdog)
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
      const now = performance.now()
      const state: RunState = {
        cancel: false,
        stop: false,
        startedAt: now,
        progressAt: now,
        rowsAtStart: 0,
        rowsDone: 0,
      }
      this.running.set(id, state)
      void this.execute(id, state)
        .catch((e) => this.deps.log.error('job could not be run or recorded', { id, error: errorMessage(e) }))
        .finally(() => this.release(id, state))
    }
  }

  /** Frees `state`'s slot (unless a stall already did), starts the next job, wakes idle() waiters. */
  private release(id: string, state: RunState): void {
    if (this.running.get(id) === state) this.running.delete(id)
    this.pump()
    if (this.running.size > 0 || this.queue.length > 0) return
    for (const r of this.finished) r()
    this.finished.clear()
  }

  private async execute(id: string, state: RunState): Promise<void> {
    const job = await this.deps.store.jobs.get(id)
    if (!job || !ACTIVE.includes(job.status)) return
    state.rowsAtStart = job.rowsDone
    state.rowsDone = job.rowsDone
    // The attempt is committed before the job touches its input: if this start kills the server,
    // the next one knows.
    const attempts = job.attempts + 1
    await this.deps.store.jobs.update(id, {
      status: 'running',
      attempts,
      startedAt: job.startedAt ?? new Date().toISOString(),
    })
    this.deps.log.info('job running', { id, pipeline: job.pipeline, resumeFrom: job.rowsDone, attempt: attempts })
    const limits = this.limits()
    try {
      // A shared job runs on its input here, fetched first when this host lacks it.
      const input = (await this.shared?.list(id))?.get(INPUT_FILE)
      const here = input ? { ...job, inputPath: this.inputHere(job) } : job
      if (input) {
        await mkdir(this.dir(id), { recursive: true, mode: DIR_MODE })
        await this.shared?.materialize(id, input, here.inputPath, 'present')
      }
      const shared = input ? this.shared : undefined
      const outcome = await runJob(here, this.dir(id), this.deps.store.jobs, this.deps.manager, state, limits, shared)
      if (state.stalled) return // already failed, its slot given to the next job
      if (outcome === 'stopped') {
        // Still 'running' in the store, resumed at the next start; a graceful stop is not a crash.
        await this.deps.store.jobs.update(id, { attempts: attempts - 1 })
        return
      }
      await this.finish(await this.get(id), outcome === 'done' ? 'succeeded' : 'cancelled')
    } catch (e) {
      if (state.stalled) return
      const now = await this.get(id)
      if (!ACTIVE.includes(now.status)) return // cancelled meanwhile through another process, its input gone with it
      this.deps.log.warn('job failed', { id, error: errorMessage(e) })
      await this.finish(now, 'failed', errorMessage(e))
    }
  }

  /**
   * Fails each running job that has committed no chunk for `stallMs`, and frees its slot: a job
   * stuck in a decoder or a model call may never return. Its reader is closed, which ends a
   * decoder working in a thread of its own.
   */
  private async failStalled(stallMs: number): Promise<void> {
    const now = performance.now()
    for (const [id, state] of [...this.running]) {
      if (state.stalled || now - state.progressAt <= stallMs) continue
      state.stalled = true
      state.cancel = true
      const seconds = Math.round((now - state.progressAt) / 1000)
      this.deps.log.warn('job stalled', { id, seconds })
      void state.reader?.close().catch(() => undefined)
      try {
        await this.finish(
          await this.get(id),
          'failed',
          `the job committed no chunk for ${seconds} s (LASTMILE_JOB_STALL_SECONDS is ${stallMs / 1000}); it was stopped as stalled`,
        )
      } catch (e) {
        this.deps.log.warn('could not fail a stalled job', { id, error: errorMessage(e) })
      }
      this.release(id, state)
    }
  }

  private async finish(job: JobRecord, status: 'succeeded' | 'failed' | 'cancelled', error?: string): Promise<void> {
    await this.deps.store.jobs.update(job.id, {
      status,
      finishedAt: new Date().toISOString(),
      ...(error ? { error } : {}),
    })
    // An uploaded input is not needed once the job has ended (here, nor shared); a local file is the user's.
    const shared = this.shared && (await this.shared.list(job.id)).has(INPUT_FILE)
    if (shared) {
      await rm(this.inputHere(job), { force: true })
      await this.shared?.forget(job.id, [INPUT_FILE])
    } else if (job.inputPath.startsWith(this.dir(job.id))) await rm(job.inputPath, { force: true })
    this.deps.log.info('job finished', { id: job.id, status, rows: job.rowsDone, errors: job.errorCount })
  }
}
