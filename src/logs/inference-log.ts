/**
 * The inference log: every answered request (sampled at `sampleRate`) as rows per pipeline, written
 * off the request path. Each pipeline folder (`<data>/logs/<ws>/<pipeline>/`) holds one open
 * segment, `open-<id>.arrows` (frames of Arrow IPC, one per flush, appended and fsynced every
 * `flushMs`; see frames.ts), and rolled segments, `seg-<id>-<minTime>-<maxTime>.arrow` (Arrow IPC
 * files, one row per inference row, immutable), rolled from the open one by size or age. Rows are
 * built column-wise from the tensors: no JSON anywhere on the way. A roll writes the Arrow file
 * (temp, fsync, rename) before deleting the open file; at start, an open file whose segment exists
 * is the remains of a roll that crashed and is removed, and a torn last frame is cut off.
 * Retention deletes whole segments. Clean shutdown flushes everything: no answered row is lost.
 *
 * Several processes may write one folder (`lastmile serve --workers N`): each is a {@link LogWriter}
 * and owns the segment ids congruent to its index modulo {@link WRITER_STRIDE}, so ids never collide
 * and a position stays valid; it recovers and rolls only its own open segments (writer 0 also
 * those of writers a smaller pool no longer has). Reads see every writer's segments, each writer's
 * rows once it has flushed them.
 *
 * With a shared store (PostgreSQL), servers on several hosts share their rolled segments and read
 * each other's ({@link SharedSegments}, shared-segments.ts).
 */
import { mkdir, open, readdir, readFile, rename, rm, truncate } from 'node:fs/promises'
import { join } from 'node:path'
import { DIR_MODE, FILE_MODE } from '../durable.js'
import { type AnyTensor, concatTyped } from '../engine/tensor.js'
import type { Columns } from '../engine/types.js'
import { errorMessage, InvalidConfigError } from '../errors.js'
import type { Logger } from '../logger.js'
import { namedPath } from '../store/names.js'
import type { Store } from '../store/types.js'
import { decodeFrames, schemaKeys } from './frames.js'
import { LEGACY_OPEN, readLegacyRows } from './legacy-jsonl.js'
import {
  type LogFilter,
  type LogPage,
  type LogPageTask,
  type LogPosition,
  type LogRead,
  readLogRows,
  type SegmentFile,
} from './log-query.js'
import { INLINE_LOG_WORK, type LogWork, tensorBytes } from './log-work.js'
import type { InferenceRecord, InferenceSink, LogRow } from './record.js'
import { readSegmentValues, tableValues, writeSegment } from './segment.js'
import {
  FIRST_SHARED_ID,
  type LogWriter,
  nextSegmentId,
  OPEN,
  openName,
  SEGMENT,
  segmentOwner,
  WRITER_STRIDE,
} from './segment-names.js'
import { SharedSegments, scopeOf } from './shared-segments.js'

export interface LogConfig {
  /** Share of requests logged, 0..1. */
  sampleRate: number
  /** Segments whose newest row is older than this are deleted. */
  retentionHours: number
  /** Roll the open segment past this size... */
  rollBytes: number
  /** ...or this age. */
  rollSeconds: number
  /** How often buffered rows are written and fsynced. */
  flushMs: number
  /** Rows buffered at most before new ones are dropped (counted) rather than grow memory unbounded. */
  maxBufferedRows: number
  /** Tensor bytes buffered at most, likewise: rows of a few wide requests can weigh gigabytes. */
  maxBufferedBytes: number
}

export interface LogQuery {
  start?: number
  end?: number
  limit?: number
  /** Where to start reading: the `next` of a previous page. */
  from?: LogPosition
  /** Columns to keep (besides time); all when absent. */
  columns?: string[]
  /** Which rows to take besides the range: a version's, a model's, those with failed checks. */
  where?: LogFilter
}

interface PipelineLog {
  dir: string
  /** Where its segments are shared: `log/<ws>/<pipeline>`. */
  scope: string
  openId: number
  /** The highest segment id in the folder when it was opened or since: the next one goes above it. */
  topId: number
  openPath: string
  openBytes: number
  openSince: number
  /** Column name → type of the open segment's frames: a frame that disagrees rolls it first. */
  openSchema: Map<string, string>
  pending: InferenceRecord[]
  pendingRows: number
  pendingBytes: number
  /** Shared log: the id of the next open segment, drawn ahead of the roll that needs it. */
  spare: number | undefined
  /** Shared log: ids of segments rolled here that are not shared yet. */
  unshared: Set<number>
  /** Shared log: whether the folder was looked through for segments a crash kept from being shared. */
  scanned: boolean
}

/** Requests encoded per step of a flush (see flushNow). */
const FRAME_RECORDS = 256

/** A private copy of a request's tensors: callers may reuse their buffers once answered. */
function copyTensors(tensors: Columns | Record<string, AnyTensor>): Record<string, AnyTensor> {
  const out: Record<string, AnyTensor> = {}
  for (const [name, t] of Object.entries(tensors)) out[name] = { ...t, data: t.data.slice() } as AnyTensor
  return out
}

export class InferenceLog implements InferenceSink {
  private readonly pipelines = new Map<string, PipelineLog>()
  private timer: NodeJS.Timeout | undefined
  private flushing: Promise<void> = Promise.resolve()
  private buffered = 0
  private bufferedBytes = 0
  /** Rows not logged because the buffer was full (exposed as a metric). */
  dropped = 0
  private closed = false

  private constructor(
    private readonly root: string,
    private readonly cfg: LogConfig,
    private readonly work: LogWork,
    private readonly writer: LogWriter,
    private readonly log: Logger,
    private readonly shared: SharedSegments | undefined,
  ) {}

  /**
   * `work`: where frames are encoded and segments rolled (the server passes its body workers);
   * `writer`: which of the processes writing this data folder's log this one is; `store`: the
   * server's store, whose `blobs` and `files` (PostgreSQL) make the log shared by every host.
   */
  static async open(
    dataDir: string,
    cfg: LogConfig,
    log: Logger,
    work = INLINE_LOG_WORK,
    writer: LogWriter = { index: 0, count: 1 },
    store: Pick<Store, 'blobs' | 'files'> = {},
  ): Promise<InferenceLog> {
    const shared = store.blobs && store.files ? new SharedSegments(store.blobs, store.files, writer, log) : undefined
    const l = new InferenceLog(join(dataDir, 'logs'), cfg, work, writer, log, shared)
    await mkdir(l.root, { recursive: true, mode: DIR_MODE })
    l.timer = setInterval(
      () => void l.flush().catch((e) => log.error('inference log flush failed', { error: errorMessage(e) })),
      cfg.flushMs,
    )
    l.timer.unref()
    return l
  }

  /** Hand a request to the log (never blocks, never throws). */
  append(r: InferenceRecord): void {
    if (this.closed || (this.cfg.sampleRate < 1 && Math.random() >= this.cfg.sampleRate)) return
    const bytes = tensorBytes(r.inputs, r.outputs, r.shadow)
    if (this.buffered + r.rows > this.cfg.maxBufferedRows || this.bufferedBytes + bytes > this.cfg.maxBufferedBytes) {
      this.dropped += r.rows
      return
    }
    const p = this.pipelineSync(r.workspace, r.pipeline)
    p.pendingBytes += bytes
    p.pending.push({
      ...r,
      inputs: copyTensors(r.inputs) as Columns,
      outputs: copyTensors(r.outputs),
      shadow: copyTensors(r.shadow),
      rowModels: [...r.rowModels],
      checkFailures: r.checkFailures.slice(),
    })
    p.pendingRows += r.rows
    this.buffered += r.rows
    this.bufferedBytes += bytes
  }

  private pipelineSync(ws: string, pipeline: string): PipelineLog {
    const key = `${ws}/${pipeline}`
    let p = this.pipelines.get(key)
    if (!p) {
      const dir = this.dir(ws, pipeline)
      p = {
        dir,
        scope: scopeOf(ws, pipeline),
        openId: 0,
        topId: 0,
        openPath: '',
        openBytes: 0,
        openSince: Date.now(),
        openSchema: new Map(),
        pending: [],
        pendingRows: 0,
        pendingBytes: 0,
        spare: undefined,
        unshared: new Set(),
        scanned: false,
      }
      this.pipelines.set(key, p)
    }
    return p
  }

  /** Recover a pipeline folder: finish or discard half-done rolls, cut a torn frame, pick up the open segment. */
  private async ready(p: PipelineLog): Promise<void> {
    if (p.openPath) return
    await mkdir(p.dir, { recursive: true, mode: DIR_MODE })
    const files = await readdir(p.dir)
    const rolled = new Set(files.flatMap((f) => SEGMENT.exec(f)?.[1] ?? []))
    const ids = (re: RegExp) =>
      files
        .flatMap((f) => re.exec(f)?.[1] ?? [])
        .map(Number)
        .sort((a, b) => a - b)
    const { index, count } = this.writer
    if (index === 0) for (const id of ids(LEGACY_OPEN)) await this.rollLegacy(p.dir, id, rolled.has(String(id)))
    const all = ids(OPEN)
    const opens = all.filter((id) => segmentOwner(id, count) === index)
    for (const id of opens) if (rolled.has(String(id))) await rm(join(p.dir, openName(id)), { force: true })
    const live = opens.filter((id) => !rolled.has(String(id)))
    // This writer carries on with its newest open segment. Others are left only by an unclean stop
    // mid-roll, or by a writer a smaller pool no longer has: rolled, as large ones (size unknown).
    const own = live.filter((id) => count === 1 || id % WRITER_STRIDE === index)
    const current = own[own.length - 1]
    for (const id of live) {
      if (id === current) continue
      await this.work.roll({
        dir: p.dir,
        openId: id,
        openPath: join(p.dir, openName(id)),
        bytes: Number.POSITIVE_INFINITY,
      })
    }
    const known = [...rolled].map(Number).concat(ids(LEGACY_OPEN), all)
    p.topId = Math.max(0, ...known)
    p.openId = current ?? (await this.nextId(p))
    p.openPath = join(p.dir, openName(p.openId))
    const bytes = await readFile(p.openPath).catch(() => new Uint8Array(0))
    const { tables, end } = decodeFrames(bytes)
    if (end < bytes.length) await truncate(p.openPath, end)
    p.openBytes = end
    p.openSchema = new Map(tables.flatMap((t) => [...schemaKeys(t)]))
    p.openSince = Date.now()
  }

  /** Roll a legacy JSON-lines open segment into an Arrow segment (or drop it if that exists). */
  private async rollLegacy(dir: string, id: number, alreadyRolled: boolean): Promise<void> {
    const path = join(dir, `open-${id}.jsonl`)
    const rows = alreadyRolled ? [] : await readLegacyRows(path)
    if (rows.length > 0) {
      const times = rows.map((r) => r.time)
      const name = `seg-${id}-${Math.min(...times)}-${Math.max(...times)}.arrow`
      await writeSegment(join(dir, `${name}.tmp`), rows)
      await rename(join(dir, `${name}.tmp`), join(dir, name))
    }
    await rm(path, { force: true })
  }

  /** Write buffered rows (fsynced), roll segments that are due, apply retention. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.flushNow())
    return this.flushing
  }

  private async flushNow(): Promise<void> {
    // A pipeline that fails (its folder, the store) holds up neither the others nor retention.
    let failed: { error: unknown } | undefined
    for (const p of this.pipelines.values()) {
      try {
        await this.flushPipeline(p)
      } catch (error) {
        failed ??= { error }
      }
    }
    await this.applyRetention()
    if (failed) throw failed.error
  }

  /** Write a pipeline's buffered rows, roll its open segment when due, share what it rolled. */
  private async flushPipeline(p: PipelineLog): Promise<void> {
    if (p.pending.length > 0) {
      await this.ready(p)
      await this.drawSpare(p) // before the rows are taken: a roll for a column that changes type needs no store then
      const records = p.pending
      const rows = p.pendingRows
      const bytes = p.pendingBytes
      p.pending = []
      p.pendingRows = 0
      p.pendingBytes = 0
      try {
        // Encode a slice at a time, yielding between them: one burst of thousands of requests
        // would hold the event loop (and every request's latency) for tens of ms.
        const frames: Uint8Array[] = []
        for (let i = 0; i < records.length; i += FRAME_RECORDS) {
          if (i > 0) await new Promise(setImmediate)
          for (const frame of await this.work.frames(records.slice(i, i + FRAME_RECORDS))) {
            if (frame.keys.some(([name, key]) => (p.openSchema.get(name) ?? key) !== key)) {
              await appendSynced(p.openPath, frames.splice(0))
              await this.rollOpen(p)
            }
            frames.push(frame.bytes)
            p.openBytes += frame.bytes.length
            for (const [name, key] of frame.keys) p.openSchema.set(name, key)
          }
        }
        await appendSynced(p.openPath, frames)
      } finally {
        this.buffered -= rows
        this.bufferedBytes -= bytes
      }
    }
    if (
      p.openPath &&
      p.openBytes > 0 &&
      (p.openBytes >= this.cfg.rollBytes || Date.now() - p.openSince >= this.cfg.rollSeconds * 1000) &&
      (await this.drawSpare(p))
    ) {
      await this.rollOpen(p)
    }
    if (this.shared && p.openPath) await this.shared.share(p, this.cutoff())
  }

  /** The id of `p`'s next open segment: above every id its folder has held; drawn from the store's sequence when shared. */
  private async nextId(p: PipelineLog): Promise<number> {
    return this.shared ? this.shared.nextId(p.topId) : nextSegmentId([p.topId], this.writer)
  }

  /**
   * A shared log draws the id a roll gives the next open segment ahead of the roll; false (logged)
   * when the store cannot give one now: the open segment then rolls at a later flush, and rows
   * are written to it meanwhile.
   */
  private async drawSpare(p: PipelineLog): Promise<boolean> {
    if (!this.shared || p.spare !== undefined) return true
    try {
      p.spare = await this.nextId(p)
      return true
    } catch (e) {
      this.log.error('inference log: no segment id from the store, the open segment rolls later', {
        scope: p.scope,
        error: errorMessage(e),
      })
      return false
    }
  }

  /** Roll the open segment and start the next one. */
  private async rollOpen(p: PipelineLog): Promise<void> {
    p.topId = Math.max(p.topId, p.openId)
    p.spare ??= await this.nextId(p) // drawn before the roll: a store out of reach leaves the open segment as it is
    await this.work.roll({ dir: p.dir, openId: p.openId, openPath: p.openPath, bytes: p.openBytes })
    if (this.shared && p.openId >= FIRST_SHARED_ID) p.unshared.add(p.openId)
    p.openId = p.spare
    p.spare = undefined
    p.openPath = join(p.dir, openName(p.openId))
    p.openBytes = 0
    p.openSchema = new Map()
    p.openSince = Date.now()
  }

  /** Rows older than this are past retention. */
  private cutoff(): number {
    return Date.now() - this.cfg.retentionHours * 3600_000
  }

  /**
   * Delete the segments past retention of the folders this log writes or copied shared segments
   * into, and forget them in the shared scope. Every host does it, for the segments it holds; and
   * every {@link SWEEP_MS}, for every expired name of the scopes it writes (a segment no surviving
   * host holds). Forgetting a name twice is no error.
   */
  private async applyRetention(): Promise<void> {
    const cutoff = this.cutoff()
    const expired = (names: string[]) => names.filter((f) => Number(SEGMENT.exec(f)?.[3] ?? cutoff) < cutoff)
    const folders = new Map(this.shared?.fetchedInto)
    for (const p of this.pipelines.values()) if (p.openPath) folders.set(p.dir, p.scope)
    const sweep = this.shared?.sweepDue() ?? false
    for (const [dir, scope] of folders) {
      const gone = expired(await readdir(dir).catch(() => []))
      for (const f of gone) await rm(join(dir, f), { force: true })
      await this.shared?.forgetExpired(scope, gone, expired, sweep)
    }
  }

  /** A pipeline's log folder: both names checked, so that none reaches another workspace's log. */
  private dir(ws: string, pipeline: string): string {
    return namedPath(this.root, ['workspace', ws], ['pipeline', pipeline])
  }

  /**
   * A pipeline's segments that may hold rows in `[start, end)`, oldest first: rolled ones by their
   * names' times, open ones all; with a shared store, the shared ones too, copied here first (the
   * ids below `from` are not read, nor copied).
   */
  private async files(ws: string, pipeline: string, start: number, end: number, from = 0): Promise<SegmentFile[]> {
    const dir = this.dir(ws, pipeline)
    const files = await readdir(dir).catch(() => [] as string[])
    if (this.shared)
      files.push(
        ...(await this.shared.fetchMissing(dir, scopeOf(ws, pipeline), files, start, end, from, this.cutoff())),
      )
    return files
      .flatMap((f): SegmentFile[] => {
        const m = SEGMENT.exec(f)
        if (m)
          return Number(m[3]) >= start && Number(m[2]) < end
            ? [{ id: Number(m[1]), path: join(dir, f), open: false }]
            : []
        const o = OPEN.exec(f)
        return o ? [{ id: Number(o[1]), path: join(dir, f), open: true }] : []
      })
      .sort((a, b) => a.id - b.id || Number(a.open) - Number(b.open))
  }

  /** What to read for `q`: the segments, the range and the limit. */
  private async read(ws: string, pipeline: string, q: LogQuery): Promise<LogRead> {
    await this.flush()
    const start = q.start ?? Number.NEGATIVE_INFINITY
    const end = q.end ?? Number.POSITIVE_INFINITY
    return {
      segments: await this.files(ws, pipeline, start, end, q.from?.segment),
      start,
      end,
      limit: q.limit ?? Number.POSITIVE_INFINITY,
      ...(q.from ? { from: q.from } : {}),
      ...(q.columns ? { columns: q.columns } : {}),
      ...(q.where ? { where: q.where } : {}),
    }
  }

  /**
   * Rows of a pipeline's log with `start <= time < end`, oldest first, up to `limit` (and the
   * values one read takes, see log-query.ts), read here: for callers that want rows (explanations).
   */
  async query(ws: string, pipeline: string, q: LogQuery = {}): Promise<LogRow[]> {
    return (await readLogRows(await this.read(ws, pipeline, q))).rows
  }

  /**
   * A page of the log as an answer (JSON rows or an Arrow stream), read and encoded where the
   * log's heavy steps run (a body worker in the server), with the position of the next page when
   * it stopped short of the range's end.
   */
  async page(ws: string, pipeline: string, q: LogQuery & { format: LogPageTask['format'] }): Promise<LogPage> {
    return this.work.page({ ...(await this.read(ws, pipeline, q)), format: q.format })
  }

  /**
   * The values an assay reads: one number per logged row in `[start, end)`, from `iopath`
   * (`in.<input>[i]`, `out.<output>[i]`, or `out.<output>` for one value per row), read column-wise
   * (no row objects: windows of millions of rows). Rows without the column are skipped; a missing
   * element or a logged NaN reads as NaN.
   */
  async values(ws: string, pipeline: string, iopath: string, start?: number, end?: number): Promise<Float64Array> {
    const { column, index } = parseIopath(iopath)
    await this.flush()
    const from = start ?? Number.NEGATIVE_INFINITY
    const to = end ?? Number.POSITIVE_INFINITY
    const parts: Float64Array[] = []
    for (const segment of await this.files(ws, pipeline, from, to)) {
      if (!segment.open) parts.push(await readSegmentValues(segment.path, column, index, from, to))
      else {
        const bytes = await readFile(segment.path).catch(() => new Uint8Array(0))
        for (const table of decodeFrames(bytes).tables) parts.push(tableValues(table, column, index, from, to))
      }
    }
    return concatTyped(Float64Array, parts)
  }

  /**
   * The segments of a pipeline's log that may hold rows in `[start, end)`, oldest first, once
   * buffered rows are written: for readers of their own, column-wise (`segmentTables`, log-query.ts).
   */
  async segments(ws: string, pipeline: string, start: number, end: number): Promise<SegmentFile[]> {
    await this.flush()
    return this.files(ws, pipeline, start, end)
  }

  /** Flush, stop the timer. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return
    clearInterval(this.timer)
    await this.flush()
    this.closed = true
  }
}

/** `in.x[3]` → column `in.x`, element 3; `out.y` → element 0. */
export function parseIopath(iopath: string): { column: string; index: number } {
  const m = /^((?:in|out)\.[^[\]]+?)(?:\[(\d+)\])?$/.exec(iopath)
  if (!m) throw new InvalidConfigError(`iopath '${iopath}' is not in.<input>[i] or out.<output>[i]`)
  return { column: m[1] as string, index: Number(m[2] ?? 0) }
}

/** Append `chunks` to `path` and fsync before returning. */
async function appendSynced(path: string, chunks: Uint8Array[]): Promise<void> {
  if (chunks.length === 0) return
  const f = await open(path, 'a', FILE_MODE)
  try {
    await f.appendFile(chunks.length === 1 ? (chunks[0] as Uint8Array) : Buffer.concat(chunks))
    await f.sync()
  } finally {
    await f.close()
  }
}
