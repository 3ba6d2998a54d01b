/**
 * One job's loop: read a chunk of rows, feed the usable ones to the deployed pipeline as bulk
 * batches, write input columns plus `out.*` columns as one Arrow chunk file (temp, fsync,
 * rename), with a shared store also store it as a shared file, then commit the chunk in the store
 * with one UPDATE: that is the one point where it counts. A crash before the UPDATE leaves a chunk
 * file (here, or shared) the store does not count: it is removed and redone on resume, by this
 * host or another, so no row is lost and none is written twice.
 */
import { mkdir, readdir, rm } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { DIR_MODE, writeAtomically } from '../durable.js'
import { concatRows, sliceRows, takeRows } from '../engine/rows.js'
import type { AnyTensor } from '../engine/tensor.js'
import type { Columns } from '../engine/types.js'
import { InvalidRequestError } from '../errors.js'
import type { Deployment, DeploymentManager } from '../serving/deployment.js'
import { CorruptRowError } from '../store/schemas.js'
import type { JobRecord, JobRowError, JobStore } from '../store/types.js'
import { type Extracted, extractFeeds, planFeeds } from './features.js'
import { type ChunkReader, encodeChunk, isJobFormat, JOB_FORMATS, type JobFormat, openReader } from './io/index.js'
import { fillOutputs, type OutputColumn, planOutputs } from './outputs.js'
import type { SharedJobFiles } from './shared-files.js'

/** Row errors kept per job (all are counted). */
const MAX_STORED_ERRORS = 1000

/** What a running job exposes for progress. */
export interface RunState {
  cancel: boolean
  stop: boolean
  /** performance.now() at the start, and at the last committed chunk (what the stall guard watches). */
  startedAt: number
  progressAt: number
  rowsAtStart: number
  rowsDone: number
  reader?: ChunkReader
  /** Set when the job was failed as stalled: whatever it does later is not recorded. */
  stalled?: boolean
}

/** The server's limits on a running job (its current settings, also for a resumed job). */
export interface JobLimits {
  /** Most rows a job may score (LASTMILE_JOB_MAX_ROWS). */
  maxRows: number
  /** Longest CSV record or JSONL line (LASTMILE_JOB_MAX_RECORD_BYTES). */
  maxRecordBytes: number
  /** Most columns in the file (LASTMILE_JOB_MAX_COLUMNS). */
  maxColumns: number
  /** Most cells (rows × columns) per chunk (LASTMILE_JOB_CHUNK_CELLS). */
  chunkCells: number
}

/** The name of chunk `k`'s file, in the job's folder and among its shared files. */
export const chunkName = (k: number) => `chunk-${String(k).padStart(6, '0')}.arrow`

/** The number of a chunk file's name, or undefined for any other name. */
function chunkNumber(name: string): number | undefined {
  const m = /^chunk-(\d+)\.arrow$/.exec(name)
  return m ? Number(m[1]) : undefined
}

/** Chunk `k`'s file in the job's folder `dir`. */
export const chunkPath = (dir: string, k: number) => join(dir, chunkName(k))

/**
 * The input format of a stored job, checked against the format list (the store keeps it as text:
 * the list belongs to the jobs module, which the store does not import).
 */
export function formatOf(job: JobRecord): JobFormat {
  if (isJobFormat(job.format)) return job.format
  throw new CorruptRowError(
    'jobs',
    'format',
    `id=${JSON.stringify(job.id)}`,
    [],
    `'${job.format}' is not one of ${JOB_FORMATS.join(', ')}`,
  )
}

/** Chunk files of `dir`, in order. */
export async function chunkFiles(dir: string): Promise<string[]> {
  const files = await readdir(dir).catch(() => [] as string[])
  return files
    .filter((f) => chunkNumber(f) !== undefined)
    .sort()
    .map((f) => join(dir, f))
}

/** Why the share of failed rows stops a job, or undefined. */
function tooManyErrors(errors: number, rows: number, share: number): string | undefined {
  if (rows === 0 || errors <= share * rows) return undefined
  return `${errors} of ${rows} rows failed (${((100 * errors) / rows).toFixed(2)}%), more than max_error_share ${share}; see errors`
}

/** The error for a file of `rows` rows (`known`: the file says so; else: found while reading) past `limit`. */
export function tooManyRows(rows: number, limit: number, known: boolean): InvalidRequestError | undefined {
  if (rows <= limit) return undefined
  return new InvalidRequestError(
    `the file has ${known ? rows : `more than ${limit}`} rows; a job scores at most ${limit} (LASTMILE_JOB_MAX_ROWS)`,
  )
}

/**
 * Move the rows the deployment refuses for NaN or ±Infinity (its `non_finite_inputs`) from the
 * feeds to the row errors: a job reports them by file row and scores the rest.
 */
function withoutNonFinite(ex: Extracted, deployment: Deployment, firstRow: number): void {
  const refused = deployment.nonFiniteRows(ex.feeds)
  if (refused.size === 0) return
  const keep: number[] = []
  for (let i = 0; i < ex.kept.length; i++) {
    const message = refused.get(i)
    if (message === undefined) keep.push(i)
    else ex.errors.push({ row: firstRow + (ex.kept[i] as number), message })
  }
  for (const [name, t] of Object.entries(ex.feeds)) ex.feeds[name] = takeRows(t, keep)
  ex.kept = Int32Array.from(keep, (i) => ex.kept[i] as number)
}

/**
 * Run (or resume) `job` until it ends, is cancelled, or the server stops (`state.stop`); `shared`:
 * the shared store's files, for a job whose chunks every host must see.
 */
export async function runJob(
  job: JobRecord,
  dir: string,
  store: JobStore,
  manager: DeploymentManager,
  state: RunState,
  limits: JobLimits,
  shared?: SharedJobFiles,
): Promise<'done' | 'cancelled' | 'stopped'> {
  const opts = job.options
  const reader = await openReader(job.inputPath, formatOf(job), limits)
  state.reader = reader
  try {
    let deployment = manager.require(job.workspace, job.pipeline)
    const plan = planFeeds(
      deployment.inputs,
      reader.schema.map((f) => f.name),
      opts.features,
    )
    await mkdir(dir, { recursive: true, mode: DIR_MODE })
    for (const f of await chunkFiles(dir)) {
      const k = chunkNumber(basename(f)) as number
      if (k >= job.chunksDone) await rm(f, { force: true }) // written, never committed: redo it
    }
    if (shared) {
      // Stored, never committed (the store's commit did not follow): forgotten, and redone.
      const names = [...(await shared.list(job.id)).keys()]
      const leftovers = names.filter((n) => (chunkNumber(n) ?? -1) >= job.chunksDone)
      if (leftovers.length > 0) await shared.forget(job.id, leftovers)
    }
    if (job.rowsDone > 0) await reader.skip(job.rowsDone)
    let { rowsDone, chunksDone, errorCount } = job
    let errors: JobRowError[] = job.errors
    let outCols: OutputColumn[] | undefined
    // A wide file's chunks hold fewer rows: what a chunk costs follows its cells, not its row count.
    const chunkRows = Math.max(1, Math.min(opts.chunkRows, Math.floor(limits.chunkCells / reader.schema.length)))
    for (;;) {
      if (state.cancel) return 'cancelled'
      if (state.stop) return 'stopped'
      const chunk = await reader.next(chunkRows)
      if (!chunk) break
      const pastLimit = tooManyRows(rowsDone + chunk.rows, limits.maxRows, false)
      if (pastLimit) throw pastLimit
      const readErrors = chunk.errors ?? []
      const ex = extractFeeds(
        plan,
        chunk.columns,
        chunk.rows,
        chunk.firstRow,
        new Set(readErrors.map((e) => e.row - chunk.firstRow)),
      )
      deployment = manager.require(job.workspace, job.pipeline) // a hot swap may have replaced it
      withoutNonFinite(ex, deployment, chunk.firstRow)
      const parts: Array<Record<string, AnyTensor>> = []
      for (let s = 0; s < ex.kept.length; s += opts.batchRows) {
        const e = Math.min(ex.kept.length, s + opts.batchRows)
        const feeds: Columns = {}
        for (const [name, t] of Object.entries(ex.feeds))
          feeds[name] = s === 0 && e === ex.kept.length ? t : sliceRows(t, s, e)
        const r = await deployment.infer(feeds, { bulk: true })
        outCols ??= planOutputs(deployment.outputs, r.outputs, e - s)
        parts.push(r.outputs)
      }
      outCols ??= planOutputs(deployment.outputs, undefined, 0)
      const out: Record<string, ArrayLike<unknown>> = {}
      if (parts.length > 0) {
        const merged: Record<string, AnyTensor> = {}
        for (const name of Object.keys(parts[0] as Record<string, AnyTensor>)) {
          merged[name] =
            parts.length === 1 ? (parts[0]?.[name] as AnyTensor) : concatRows(parts.map((p) => p[name] as AnyTensor))
        }
        fillOutputs(outCols, merged, ex.kept, out, chunk.rows)
      }
      for (const c of outCols) out[c.name] ??= new Array(chunk.rows).fill(null)
      const schema = [...reader.schema, ...outCols.map((c) => ({ name: c.name, type: c.type }))]
      const bytes = encodeChunk(schema, { ...chunk.columns, ...out }, chunk.rows)
      await writeAtomically(chunkPath(dir, chunksDone), bytes)
      // Every host's before it counts: a crash between the two leaves a shared chunk not counted.
      await shared?.putChunk(job.id, chunkName(chunksDone), bytes)
      const chunkErrors = [...readErrors, ...ex.errors].sort((a, b) => a.row - b.row)
      rowsDone += chunk.rows
      chunksDone++
      errorCount += chunkErrors.length
      if (errors.length < MAX_STORED_ERRORS) errors = [...errors, ...chunkErrors].slice(0, MAX_STORED_ERRORS)
      await store.update(job.id, { rowsDone, chunksDone, errorCount, errors })
      state.rowsDone = rowsDone
      state.progressAt = performance.now()
      const tooMany = tooManyErrors(errorCount, rowsDone, opts.maxErrorShare)
      if (tooMany) throw new InvalidRequestError(tooMany)
    }
    await store.update(job.id, { rowsTotal: rowsDone })
    return 'done'
  } finally {
    state.reader = undefined
    await reader.close()
  }
}
