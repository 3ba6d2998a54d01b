/**
 * Batch jobs of a workspace: score a file (CSV, JSON Lines, Arrow, Parquet) through a deployed
 * pipeline, watch its progress (rows, rows/s, ETA), read its bad rows, download its result, cancel
 * or delete it. The list refreshes every two seconds while a job is active.
 */
import { useState } from 'preact/hooks'
import type { Caller, JobFormatName, JobStatus } from '../../../src/client/client.js'
import { Action, type Ctx, download, ErrorNote, Field, fmt, Loading, Section, useLoad } from '../ui.js'

const FORMATS: Record<string, JobFormatName> = {
  csv: 'csv',
  jsonl: 'jsonl',
  ndjson: 'jsonl',
  arrow: 'arrow',
  arrows: 'arrow',
  feather: 'arrow',
  parquet: 'parquet',
}

export function JobsPage({ ctx }: { ctx: Ctx; caller: Caller }) {
  const jobs = useLoad(() => ctx.client.listJobs(ctx.ws), [ctx.client, ctx.ws], 2000)
  return (
    <>
      <NewJob ctx={ctx} done={jobs.reload} />
      <Section title={`Jobs of ${ctx.ws}`}>
        <ErrorNote error={jobs.error} />
        {!jobs.data ? (
          <Loading what="jobs" />
        ) : jobs.data.length === 0 ? (
          <p class="muted">No jobs yet.</p>
        ) : (
          jobs.data.map((j) => <JobCard key={j.id} ctx={ctx} job={j} done={jobs.reload} />)
        )}
      </Section>
    </>
  )
}

function JobCard({ ctx, job, done }: { ctx: Ctx; job: JobStatus; done: () => void }) {
  const active = job.status === 'queued' || job.status === 'running'
  const progress = job.progress ?? 0
  return (
    <article class="card" aria-label={`job ${job.id}`}>
      <header class="section-head">
        <h3>
          {job.pipeline} · {job.format} · <span class={`status ${job.status}`}>{job.status}</span>
        </h3>
        <span>
          {job.status === 'succeeded' && (
            <Action
              label="Download result"
              kind="primary"
              run={async () => {
                const res = await ctx.client.jobResult(job.id)
                download(await res.arrayBuffer(), `${job.pipeline}-${job.id}.${job.format}`, 'application/octet-stream')
              }}
            />
          )}
          <Action
            label={active ? 'Cancel' : 'Delete'}
            kind="danger"
            run={async () => {
              await ctx.client.cancelJob(job.id)
              done()
            }}
          />
        </span>
      </header>
      <progress max={1} value={progress} aria-label={`progress of job ${job.id}`} /> {(100 * progress).toFixed(0)}% ·{' '}
      {job.rows_done.toLocaleString()}
      {job.rows_total !== null && ` of ${job.rows_total.toLocaleString()}`} rows
      {job.rows_per_second !== null && ` · ${fmt.num(job.rows_per_second, 0)} rows/s`}
      {active && job.eta_seconds !== null && ` · about ${Math.ceil(job.eta_seconds)} s left`}
      {` · started ${fmt.time(job.created_at)}`}
      {job.error && (
        <p class="error" role="alert">
          {job.error}
        </p>
      )}
      {job.error_count > 0 && (
        <details>
          <summary>
            {job.error_count} bad row{job.error_count === 1 ? '' : 's'}
          </summary>
          <ul>
            {job.errors.map((e) => (
              <li key={e.row}>
                row {e.row}: {e.message}
              </li>
            ))}
          </ul>
        </details>
      )}
    </article>
  )
}

function NewJob({ ctx, done }: { ctx: Ctx; done: () => void }) {
  const pipelines = useLoad(() => ctx.client.listPipelines(ctx.ws), [ctx.client, ctx.ws])
  const deployed = (pipelines.data ?? []).filter((p) => p.deployment)
  const [pipeline, setPipeline] = useState('')
  const [file, setFile] = useState<File | undefined>(undefined)
  const [format, setFormat] = useState<JobFormatName | ''>('')
  const [error, setError] = useState<unknown>(undefined)
  return (
    <Section title="Score a file">
      <form
        class="inline"
        onSubmit={async (e) => {
          e.preventDefault()
          try {
            if (!file) throw new Error('choose a file to score')
            if (!format) throw new Error('choose the file format: csv, jsonl, arrow or parquet')
            const chosen = pipeline || deployed[0]?.name
            if (!chosen) throw new Error('no pipeline of this workspace is deployed')
            // Bytes, not file.stream(): browsers stream request bodies only over HTTP/2.
            await ctx.client.createJob(ctx.ws, chosen, new Uint8Array(await file.arrayBuffer()), { format })
            setError(undefined)
            done()
          } catch (err) {
            setError(err)
          }
        }}
      >
        <Field label="Pipeline (deployed)">
          <select name="job-pipeline" value={pipeline} onChange={(e) => setPipeline(e.currentTarget.value)}>
            {deployed.map((p) => (
              <option key={p.name} value={p.name}>
                {p.name}
              </option>
            ))}
          </select>
        </Field>
        <Field label="File">
          <input
            type="file"
            name="job-file"
            onChange={(e) => {
              const f = e.currentTarget.files?.[0]
              setFile(f)
              const ext = f?.name.split('.').pop()?.toLowerCase() ?? ''
              if (FORMATS[ext]) setFormat(FORMATS[ext])
            }}
          />
        </Field>
        <Field label="Format" error={error}>
          <select name="job-format" value={format} onChange={(e) => setFormat(e.currentTarget.value as JobFormatName)}>
            <option value="">(from the file name)</option>
            <option value="csv">CSV</option>
            <option value="jsonl">JSON Lines</option>
            <option value="arrow">Arrow IPC</option>
            <option value="parquet">Parquet</option>
          </select>
        </Field>
        <button type="submit" class="primary">
          Start
        </button>
      </form>
    </Section>
  )
}
