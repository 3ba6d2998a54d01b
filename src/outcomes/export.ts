/**
 * Training sets for retraining: a range of a pipeline's inference log joined with its outcomes
 * (export-rows.ts), written as a Parquet file (ZSTD, row groups of bounded size) to
 * `<exports>/<ws>/<pipeline>/<yyyymmdd>T<hhmmss>Z-<id>.parquet`, a name the server chooses. The
 * file is written as `<name>.tmp`, fsynced and renamed; then its record, `<stem>.json` (what the
 * list answers: schema, rows, range, reason), is written the same way, and only then is the export
 * listed, served and announced to the pipeline's `retraining.webhooks`. A crash between the two
 * leaves a file without a record, which the data folder's tidy removes at the next start.
 *
 * An export runs on request, on an assay alert of the pipeline (`retraining.on_assay_alert`) or
 * on a schedule (`retraining.every_s`, retraining.ts). One export per pipeline runs at a time,
 * among every process sharing the store (a lease per pipeline); a failed one is logged and kept
 * as `failed` in the list of the process that ran it, never thrown at the server.
 */
import { randomBytes } from 'node:crypto'
import { open, readdir, readFile, rename, rm, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { parseTime } from '../assays/time.js'
import { Webhooks } from '../assays/webhooks.js'
import { FILE_MODE, mkdirPrivate, syncDir, writeAtomically } from '../durable.js'
import { ConflictError, errorMessage, InvalidConfigError, NotFoundError } from '../errors.js'
import type { Logger } from '../logger.js'
import type { InferenceLog } from '../logs/inference-log.js'
import type { OutboundPolicy } from '../outbound/policy.js'
import { namedPath, within } from '../store/names.js'
import type { Store } from '../store/types.js'
import {
  type AlertingAssay,
  type ExportReason,
  FILE,
  iso,
  type ParquetEncoder,
  parsed,
  RECORD,
  stamp,
  type TrainingSetRecord,
} from './export-record.js'
import { emptyChunk, freshStats, trainingChunks } from './export-rows.js'
import { type OutcomeSpec, outcomeSpecSchema } from './spec.js'

export interface TrainingSetDeps {
  store: Pick<Store, 'outcomes' | 'leases'>
  log: InferenceLog
  logger: Logger
  outbound: OutboundPolicy
  parquet: ParquetEncoder
  /** The exports folder (LASTMILE_EXPORT_DIR, by default `<data>/exports`). */
  dir: string
  /** Log rows one export reads at most (LASTMILE_EXPORT_MAX_ROWS). */
  maxRows: number
  /** This process's name in the lease table. */
  holder: string
  webhookAttempts: number
  /** First webhook retry delay (ms); doubles per attempt. */
  webhookBaseDelayMs?: number
  /** Rows per row group at most (fewer for wide rows). */
  chunkRows?: number
  /** The clock (tests). */
  now?: () => number
}

/** A lease lives this long without renewal (an export whose process died frees its pipeline within it). */
const LEASE_TTL_MS = 60_000
/** Exports listed at most, newest first. */
const MAX_LISTED = 1000

export class TrainingSets {
  private readonly webhooks: Webhooks
  /** Exports running in this process, by `<ws>/<pipeline>`. */
  private readonly running = new Map<string, { record: TrainingSetRecord; done: Promise<void> }>()
  /** The last failed export of each pipeline, in this process. */
  private readonly failed = new Map<string, TrainingSetRecord>()
  /** Alerts being looked at (their settings read, their export not started yet). */
  private readonly starting = new Set<Promise<void>>()
  private readonly now: () => number

  constructor(private readonly deps: TrainingSetDeps) {
    this.webhooks = new Webhooks({
      outbound: deps.outbound,
      logger: deps.logger,
      attempts: deps.webhookAttempts,
      baseDelayMs: deps.webhookBaseDelayMs ?? 1000,
    })
    this.now = deps.now ?? Date.now
  }

  /** A pipeline's outcome settings; an error saying how to set them when it has none. */
  async spec(ws: string, pipeline: string): Promise<OutcomeSpec> {
    const stored = await this.deps.store.outcomes.getSpec(ws, pipeline)
    if (!stored) {
      throw new NotFoundError(
        `pipeline '${pipeline}' has no outcome settings: set them (task, output) before exporting a training set`,
      )
    }
    return outcomeSpecSchema.parse(stored.config)
  }

  /** Check settings' retraining webhooks against the outbound policy: a 400 naming the first it refuses. */
  async checkWebhooks(spec: OutcomeSpec): Promise<void> {
    for (const url of spec.retraining?.webhooks ?? []) await this.deps.outbound.check(url)
  }

  /** The route's export: `[start, end)` of the log, now in the background; its record, running. */
  async request(ws: string, pipeline: string, range: { start: unknown; end: unknown }): Promise<TrainingSetRecord> {
    const start = parseTime(range.start)
    const end = parseTime(range.end)
    if (!(end > start)) throw new InvalidConfigError('training set: "end" must be after "start"')
    const spec = await this.spec(ws, pipeline)
    const started = await this.begin(ws, pipeline, spec, { start, end, reason: 'request', assay: null })
    if (!started) throw new ConflictError(`an export of pipeline '${pipeline}' is running: wait for it to finish`)
    return started
  }

  /**
   * An assay of the pipeline raised an alert: export the `window_s` before the window's end when the
   * pipeline's settings ask for it, in the background (the assay goes on); what happened is logged.
   */
  onAssayAlert(ws: string, pipeline: string, assay: AlertingAssay): void {
    const started = this.alerted(ws, pipeline, assay)
    this.starting.add(started)
    void started.finally(() => this.starting.delete(started))
  }

  private async alerted(ws: string, pipeline: string, assay: AlertingAssay): Promise<void> {
    try {
      const stored = await this.deps.store.outcomes.getSpec(ws, pipeline)
      const spec = stored ? outcomeSpecSchema.parse(stored.config) : undefined
      if (!spec?.retraining?.on_assay_alert) return
      const end = Date.parse(assay.window.end)
      const start = end - spec.retraining.window_s * 1000
      const started = await this.begin(ws, pipeline, spec, { start, end, reason: 'assay_alert', assay })
      if (!started) this.deps.logger.info('training set not exported on the alert: one is running', { pipeline })
    } catch (e) {
      this.deps.logger.error('training set export on an assay alert failed', { pipeline, error: errorMessage(e) })
    }
  }

  /** A scheduled export (retraining.ts) of the `window_s` before `now`; false when one was running. */
  async scheduled(ws: string, pipeline: string, spec: OutcomeSpec, now: number): Promise<boolean> {
    const windowS = spec.retraining?.window_s ?? 0
    const started = await this.begin(ws, pipeline, spec, {
      start: now - windowS * 1000,
      end: now,
      reason: 'schedule',
      assay: null,
      at: now,
    })
    return started !== undefined
  }

  /** When the newest scheduled export of the pipeline listed here was made (ms), or undefined. */
  async lastScheduled(ws: string, pipeline: string): Promise<number | undefined> {
    const last = (await this.records(ws, pipeline)).find((r) => r.reason === 'schedule')
    return last ? Date.parse(last.created_at) : undefined
  }

  /** The pipeline's exports, newest first: running and failed ones of this process, then the written ones. */
  async list(ws: string, pipeline: string): Promise<TrainingSetRecord[]> {
    const key = `${ws}/${pipeline}`
    const here = [this.running.get(key)?.record, this.failed.get(key)].filter((r) => r !== undefined)
    return [...here, ...(await this.records(ws, pipeline))]
  }

  /** The path of a written export, by its name (checked); NotFoundError when it is not listed. */
  async file(ws: string, pipeline: string, name: string): Promise<{ path: string; bytes: number }> {
    const m = FILE.exec(name)
    const dir = this.folder(ws, pipeline)
    const path = m ? within(dir, name) : undefined
    const record = m ? await readFile(within(dir, `${m[1]}.json`)).catch(() => undefined) : undefined
    const bytes =
      path && record
        ? await stat(path).then(
            (s) => (s.isFile() ? s.size : undefined),
            () => undefined,
          )
        : undefined
    if (path === undefined || bytes === undefined) {
      throw new NotFoundError(`pipeline '${pipeline}' has no training set '${name}'`)
    }
    return { path, bytes }
  }

  /** Resolves when running exports and their webhooks are done (tests, shutdown). */
  async idle(): Promise<void> {
    await Promise.all([...this.starting])
    await Promise.all([...this.running.values()].map((r) => r.done))
    await this.webhooks.idle()
  }

  /** A pipeline's exports folder: both names checked, so that none reaches another's. */
  folder(ws: string, pipeline: string): string {
    return namedPath(this.deps.dir, ['workspace', ws], ['pipeline', pipeline])
  }

  /** The written records, newest first (at most {@link MAX_LISTED}). */
  private async records(ws: string, pipeline: string): Promise<TrainingSetRecord[]> {
    const dir = this.folder(ws, pipeline)
    const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => RECORD.test(n))
    names.sort().reverse()
    const out: TrainingSetRecord[] = []
    for (const name of names.slice(0, MAX_LISTED)) {
      // A record someone damaged by hand is left out rather than fail the list.
      const text = await readFile(join(dir, name), 'utf8').catch(() => undefined)
      const record = text === undefined ? undefined : parsed(text)
      if (record) out.push(record)
    }
    return out
  }

  /**
   * Start an export unless one of the pipeline runs (here, or in another process: its lease);
   * the running record, or undefined when one was running.
   */
  private async begin(
    ws: string,
    pipeline: string,
    spec: OutcomeSpec,
    what: { start: number; end: number; reason: ExportReason; assay: AlertingAssay | null; at?: number },
  ): Promise<TrainingSetRecord | undefined> {
    const key = `${ws}/${pipeline}`
    const dir = this.folder(ws, pipeline)
    if (this.running.has(key)) return undefined
    this.failed.delete(key)
    const lease = `training-set:${key}`
    const { leases } = this.deps.store
    // Marked running before the lease is asked for: a second caller in this process waits for nothing.
    const created = what.at ?? this.now()
    const id = randomBytes(4).toString('hex')
    const record: TrainingSetRecord = {
      file: `${stamp(created)}-${id}.parquet`,
      workspace: ws,
      pipeline,
      status: 'running',
      reason: what.reason,
      assay: what.assay,
      start: iso(what.start),
      end: iso(what.end),
      labeled_only: spec.retraining?.labeled_only ?? true,
      rows: 0,
      labeled_rows: 0,
      read_rows: 0,
      truncated: false,
      last_row_time: null,
      dropped_columns: [],
      schema: freshStats(spec, 1).fields,
      bytes: 0,
      created_at: iso(created),
      finished_at: null,
      url: `/v1/workspaces/${ws}/pipelines/${pipeline}/training-sets/${stamp(created)}-${id}.parquet`,
      error: null,
    }
    const slot = { record, done: Promise.resolve() }
    this.running.set(key, slot)
    if (!(await leases.acquire(lease, this.deps.holder, LEASE_TTL_MS).catch(() => false))) {
      this.running.delete(key)
      return undefined
    }
    const renew = setInterval(
      () => void leases.acquire(lease, this.deps.holder, LEASE_TTL_MS).catch(() => false),
      LEASE_TTL_MS / 3,
    )
    renew.unref()
    slot.done = this.write(dir, spec, what, record)
      .catch((e) => {
        record.status = 'failed'
        record.error = errorMessage(e)
        record.finished_at = iso(this.now())
        this.failed.set(key, record)
        this.deps.logger.error('training set export failed', { workspace: ws, pipeline, error: record.error })
      })
      .finally(async () => {
        clearInterval(renew)
        this.running.delete(key)
        await leases.release(lease, this.deps.holder).catch(() => undefined) // it expires anyway
      })
    return { ...record }
  }

  /** Write the file and its record, then announce it. */
  private async write(
    dir: string,
    spec: OutcomeSpec,
    what: { start: number; end: number },
    record: TrainingSetRecord,
  ): Promise<void> {
    await mkdirPrivate(this.deps.dir)
    await mkdirPrivate(join(this.deps.dir, record.workspace))
    await mkdirPrivate(dir)
    const path = join(dir, record.file)
    const chunkRows = this.deps.chunkRows ?? 65_536
    const stats = freshStats(spec, chunkRows)
    const chunks = trainingChunks(
      this.deps.log,
      this.deps.store.outcomes,
      {
        workspace: record.workspace,
        pipeline: record.pipeline,
        spec,
        start: what.start,
        end: what.end,
        labeledOnly: record.labeled_only,
        maxRows: this.deps.maxRows,
        chunkRows,
      },
      stats,
    )
    const tmp = `${path}.tmp`
    const handle = await open(tmp, 'w', FILE_MODE)
    try {
      await handle.chmod(FILE_MODE) // the open's mode passes through the umask
      const first = await chunks.next()
      if (first.done) await handle.write(this.deps.parquet.empty(emptyChunk(stats.fields)))
      else {
        async function* all() {
          yield first.value
          yield* chunks
        }
        for await (const piece of this.deps.parquet.stream(all(), stats.groupRows)) await handle.write(piece)
      }
      await handle.sync()
    } catch (e) {
      await handle.close()
      await rm(tmp, { force: true })
      throw e
    }
    await handle.close()
    await rename(tmp, path)
    Object.assign(record, {
      status: 'done',
      rows: stats.rows,
      labeled_rows: stats.labeledRows,
      read_rows: stats.read,
      truncated: stats.truncated,
      last_row_time: stats.lastTime === null ? null : iso(stats.lastTime),
      dropped_columns: [...stats.dropped].sort(),
      schema: stats.fields,
      bytes: (await stat(path)).size,
      finished_at: iso(this.now()),
    })
    await writeAtomically(
      join(dir, `${record.file.slice(0, -'.parquet'.length)}.json`),
      Buffer.from(JSON.stringify(record)),
    )
    await syncDir(dir)
    this.announce(spec, record, resolve(path))
  }

  /** POST the export to the pipeline's retraining webhooks (through the outbound policy). */
  private announce(spec: OutcomeSpec, r: TrainingSetRecord, path: string): void {
    const urls = spec.retraining?.webhooks ?? []
    if (urls.length === 0) return
    const payload = JSON.stringify({
      event: 'training_set',
      workspace: r.workspace,
      pipeline: r.pipeline,
      file: r.file,
      location: { path, url: r.url },
      schema: r.schema,
      rows: r.rows,
      labeled_rows: r.labeled_rows,
      truncated: r.truncated,
      start: r.start,
      end: r.end,
      reason: r.reason,
      ...(r.assay ? { assay: r.assay } : {}),
      created_at: r.created_at,
    })
    this.webhooks.post(urls, payload, { workspace: r.workspace, pipeline: r.pipeline, training_set: r.file })
  }
}
