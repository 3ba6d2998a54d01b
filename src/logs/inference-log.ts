/**
 * The inference log: every answered request (sampled at `sampleRate`) as rows per pipeline, written
 * off the request path. Each pipeline folder (`<data>/logs/<ws>/<pipeline>/`) holds one open
 * segment, `open-<id>.jsonl` (one JSON line per request, appended and fsynced every `flushMs`),
 * and rolled segments, `seg-<id>-<minTime>-<maxTime>.arrow` (Arrow IPC files, one row per
 * inference row, immutable), rolled from the open one by size or age. A roll writes the Arrow file
 * (temp, fsync, rename) before deleting the open file; at start, an open file whose segment
 * exists is the remains of a roll that crashed and is removed. Retention deletes whole segments.
 * Clean shutdown flushes everything: no answered row is lost.
 */
import { mkdir, open, readdir, readFile, rename, rm, truncate } from 'node:fs/promises'
import { join } from 'node:path'
import type { AnyTensor } from '../engine/tensor.js'
import { errorMessage, InvalidConfigError } from '../errors.js'
import { jsonValues } from '../formats/values.js'
import type { Logger } from '../log.js'
import type { InferenceRecord, InferenceSink } from '../serving/deployment.js'
import { readSegment, readSegmentValues, writeSegment } from './segment.js'

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
}

/** One logged request, as stored in the open segment. */
interface Line {
  t: number
  v: number
  lat: number
  models: string[]
  checks: number[]
  cols: Record<string, { dtype: string; dims: number[]; data: unknown[] }>
}

/** One row of the log, as queries return it. */
export type LogRow = Record<string, unknown> & { time: number }

export interface LogQuery {
  start?: number
  end?: number
  limit?: number
  /** Columns to keep (besides time); all when absent. */
  columns?: string[]
}

interface PipelineLog {
  dir: string
  openId: number
  openPath: string
  openBytes: number
  openSince: number
  pending: string[]
  pendingRows: number
}

const SEGMENT = /^seg-(\d+)-(\d+)-(\d+)\.arrow$/
const OPEN = /^open-(\d+)\.jsonl$/

export class InferenceLog implements InferenceSink {
  private readonly pipelines = new Map<string, PipelineLog>()
  private timer: NodeJS.Timeout | undefined
  private flushing: Promise<void> = Promise.resolve()
  private buffered = 0
  /** Rows not logged because the buffer was full (exposed as a metric). */
  dropped = 0
  private closed = false

  private constructor(
    private readonly root: string,
    private readonly cfg: LogConfig,
  ) {}

  static async open(dataDir: string, cfg: LogConfig, log: Logger): Promise<InferenceLog> {
    const l = new InferenceLog(join(dataDir, 'logs'), cfg)
    await mkdir(l.root, { recursive: true })
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
    if (this.buffered + r.rows > this.cfg.maxBufferedRows) {
      this.dropped += r.rows
      return
    }
    const cols: Line['cols'] = {}
    const add = (prefix: string, tensors: Record<string, AnyTensor>) => {
      for (const [name, t] of Object.entries(tensors))
        cols[`${prefix}${name}`] = { dtype: t.dtype, dims: [...t.dims], data: jsonValues(t) }
    }
    add('in.', r.inputs)
    add('out.', r.outputs)
    add('', r.shadow)
    const line: Line = {
      t: r.time,
      v: r.pipelineVersion,
      lat: r.latencyMs,
      models: r.rowModels,
      checks: Array.from(r.checkFailures),
      cols,
    }
    const p = this.pipelineSync(r.workspace, r.pipeline)
    p.pending.push(`${JSON.stringify(line)}\n`)
    p.pendingRows += r.rows
    this.buffered += r.rows
  }

  private pipelineSync(ws: string, pipeline: string): PipelineLog {
    const key = `${ws}/${pipeline}`
    let p = this.pipelines.get(key)
    if (!p) {
      const dir = join(this.root, ws, pipeline)
      p = { dir, openId: 0, openPath: '', openBytes: 0, openSince: Date.now(), pending: [], pendingRows: 0 }
      this.pipelines.set(key, p)
    }
    return p
  }

  /** Recover a pipeline folder: finish or discard half-done rolls, pick up the open segment. */
  private async ready(p: PipelineLog): Promise<void> {
    if (p.openPath) return
    await mkdir(p.dir, { recursive: true })
    const files = await readdir(p.dir)
    const rolled = new Set(files.flatMap((f) => SEGMENT.exec(f)?.[1] ?? []))
    const opens = files
      .flatMap((f) => OPEN.exec(f)?.[1] ?? [])
      .map(Number)
      .sort((a, b) => a - b)
    for (const id of opens) if (rolled.has(String(id))) await rm(join(p.dir, `open-${id}.jsonl`), { force: true })
    const live = opens.filter((id) => !rolled.has(String(id)))
    // More than one live open file only after an unclean stop mid-roll: roll all but the newest.
    for (const id of live.slice(0, -1)) await this.roll({ ...p, openId: id, openPath: join(p.dir, `open-${id}.jsonl`) })
    const ids = [...rolled].map(Number)
    p.openId = live[live.length - 1] ?? Math.max(0, ...ids) + 1
    p.openPath = join(p.dir, `open-${p.openId}.jsonl`)
    p.openBytes = await dropTornTail(p.openPath)
    p.openSince = Date.now()
  }

  /** Write buffered lines (fsynced), roll segments that are due, apply retention. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.flushNow())
    return this.flushing
  }

  private async flushNow(): Promise<void> {
    for (const p of this.pipelines.values()) {
      if (p.pending.length > 0) {
        await this.ready(p)
        const text = p.pending.join('')
        const rows = p.pendingRows
        p.pending = []
        p.pendingRows = 0
        const f = await open(p.openPath, 'a')
        try {
          await f.appendFile(text)
          await f.sync()
        } finally {
          await f.close()
        }
        p.openBytes += Buffer.byteLength(text)
        this.buffered -= rows
      }
      if (
        p.openPath &&
        p.openBytes > 0 &&
        (p.openBytes >= this.cfg.rollBytes || Date.now() - p.openSince >= this.cfg.rollSeconds * 1000)
      ) {
        await this.roll(p)
        p.openId += 1
        p.openPath = join(p.dir, `open-${p.openId}.jsonl`)
        p.openBytes = 0
        p.openSince = Date.now()
      }
    }
    await this.applyRetention()
  }

  /** Turn an open segment into an Arrow segment, then delete the open file. */
  private async roll(p: Pick<PipelineLog, 'dir' | 'openId' | 'openPath'>): Promise<void> {
    const lines = await readLines(p.openPath)
    if (lines.length > 0) {
      const rows = lines.flatMap(linesToRows)
      const min = Math.min(...lines.map((l) => l.t))
      const max = Math.max(...lines.map((l) => l.t))
      const name = `seg-${p.openId}-${min}-${max}.arrow`
      const tmp = join(p.dir, `${name}.tmp`)
      await writeSegment(tmp, rows)
      await rename(tmp, join(p.dir, name))
    }
    await rm(p.openPath, { force: true })
  }

  private async applyRetention(): Promise<void> {
    const cutoff = Date.now() - this.cfg.retentionHours * 3600_000
    for (const p of this.pipelines.values()) {
      if (!p.openPath) continue
      for (const f of await readdir(p.dir)) {
        const m = SEGMENT.exec(f)
        if (m && Number(m[3]) < cutoff) await rm(join(p.dir, f), { force: true })
      }
    }
  }

  /** A pipeline's rolled segments overlapping `[start, end)` and its open files, oldest first. */
  private async files(ws: string, pipeline: string, start: number, end: number) {
    const dir = join(this.root, ws, pipeline)
    const files = await readdir(dir).catch(() => [] as string[])
    const segments = files
      .flatMap((f) => {
        const m = SEGMENT.exec(f)
        return m ? [{ path: join(dir, f), id: Number(m[1]), min: Number(m[2]), max: Number(m[3]) }] : []
      })
      .filter((s) => s.max >= start && s.min < end)
      .sort((a, b) => a.id - b.id)
      .map((s) => s.path)
    const open = files
      .filter((f) => OPEN.test(f))
      .sort((a, b) => Number(OPEN.exec(a)?.[1]) - Number(OPEN.exec(b)?.[1]))
      .map((f) => join(dir, f))
    return { segments, open }
  }

  /** Rows of a pipeline's log with `start <= time < end`, oldest first, up to `limit`. */
  async query(ws: string, pipeline: string, q: LogQuery = {}): Promise<LogRow[]> {
    await this.flush()
    const start = q.start ?? Number.NEGATIVE_INFINITY
    const end = q.end ?? Number.POSITIVE_INFINITY
    const limit = q.limit ?? Number.POSITIVE_INFINITY
    const { segments, open } = await this.files(ws, pipeline, start, end)
    const out: LogRow[] = []
    const keep = (row: LogRow) => {
      if (row.time < start || row.time >= end || out.length >= limit) return
      if (!q.columns) out.push(row)
      else
        out.push(
          Object.fromEntries(Object.entries(row).filter(([k]) => k === 'time' || q.columns?.includes(k))) as LogRow,
        )
    }
    for (const path of segments) for (const row of await readSegment(path)) keep(row)
    for (const path of open) for (const row of (await readLines(path)).flatMap(linesToRows)) keep(row)
    return out
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
    const { segments, open } = await this.files(ws, pipeline, from, to)
    const parts: Float64Array[] = []
    for (const path of segments) parts.push(await readSegmentValues(path, column, index, from, to))
    for (const path of open) {
      const picked: number[] = []
      for (const line of await readLines(path)) {
        const c = line.cols[column]
        if (!c || line.t < from || line.t >= to) continue
        const width = c.dims.slice(1).reduce((a, b) => a * b, 1)
        for (let r = 0; r < line.models.length; r++) {
          const x =
            c.dims.length <= 1
              ? index === 0
                ? c.data[r]
                : undefined
              : index < width
                ? c.data[r * width + index]
                : undefined
          picked.push(typeof x === 'number' ? x : x === null || x === undefined ? Number.NaN : Number(x))
        }
      }
      parts.push(Float64Array.from(picked))
    }
    const out = new Float64Array(parts.reduce((a, p) => a + p.length, 0))
    let at = 0
    for (const p of parts) {
      out.set(p, at)
      at += p.length
    }
    return out
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

/**
 * A crash mid-append can leave a line without its newline; appending after it would glue the next
 * line onto it. Cut the file back to its last complete line; returns the resulting size.
 */
async function dropTornTail(path: string): Promise<number> {
  const text = await readFile(path).catch(() => undefined)
  if (!text || text.length === 0) return 0
  const end = text.lastIndexOf(0x0a) + 1
  if (end < text.length) await truncate(path, end)
  return end
}

async function readLines(path: string): Promise<Line[]> {
  const text = await readFile(path, 'utf8').catch(() => '')
  const lines: Line[] = []
  for (const l of text.split('\n')) {
    if (!l) continue
    try {
      lines.push(JSON.parse(l) as Line)
    } catch {
      // A torn last line from a crash mid-append: the request it held was not fsynced yet.
    }
  }
  return lines
}

/** One log row per inference row of a line. */
function linesToRows(line: Line): LogRow[] {
  const rows = line.models.length
  const out: LogRow[] = []
  for (let r = 0; r < rows; r++) {
    const row: LogRow = {
      time: line.t,
      pipeline_version: line.v,
      model: line.models[r],
      check_failures: line.checks[r] ?? 0,
      latency_ms: line.lat,
    }
    for (const [name, c] of Object.entries(line.cols)) {
      const width = c.dims.slice(1).reduce((a, b) => a * b, 1)
      row[name] = c.dims.length <= 1 ? c.data[r] : c.data.slice(r * width, (r + 1) * width)
    }
    out.push(row)
  }
  return out
}
