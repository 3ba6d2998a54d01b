/** A job as the API shows it: the stored record plus live progress, rate and ETA. */
import type { JobRecord } from '../store/types.js'
import type { Job } from '../wire/jobs.js'
import { formatOf, type RunState } from './runner.js'

/** A job as the API shows it: the record plus live progress (its wire schema is `jobSchema`). */
export type JobView = Job

/** The view of `job`; `state` is its live state when it runs in this process. */
export function jobView(job: JobRecord, state: RunState | undefined): JobView {
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
    format: formatOf(job),
    rows_done: rowsDone,
    rows_total: job.rowsTotal,
    progress,
    rows_per_second: rate,
    eta_seconds: eta,
    error_count: job.errorCount,
    errors: job.errors,
    error: job.error,
    attempts: job.attempts,
    created_at: job.createdAt,
    started_at: job.startedAt,
    finished_at: job.finishedAt,
  }
}
