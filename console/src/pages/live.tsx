/**
 * A deployment, live: requests, rows and errors per second and p99 latency over the last minute,
 * latency per stage, traffic per split arm, queue depth, backend and GPU adapter — pushed by the
 * server every second (…/live, server-sent events; the stream is reopened when it ends) —
 * and a "try it" panel that builds a request from the pipeline's inputs.
 */
import { useEffect, useMemo, useState } from 'preact/hooks'
import type { DeploymentStatus, LiveSnapshotWire, Pipeline } from '../../../src/client/client.js'
import { TimeChart } from '../chart.js'
import { bigintAsText, templateRow } from '../rows.js'
import { type Ctx, ErrorNote, Field, fmt, Section, useConnection } from '../ui.js'

/** Snapshots of `pipeline` as the server pushes them; reconnects after a dropped stream. */
function useLive(ctx: Ctx, pipeline: string): { snap: LiveSnapshotWire | undefined; error: unknown } {
  const [snap, setSnap] = useState<LiveSnapshotWire | undefined>(undefined)
  const [error, setError] = useState<unknown>(undefined)
  const { epoch } = useConnection()
  // biome-ignore lint/correctness/useExhaustiveDependencies: reopen when the server comes back (epoch)
  useEffect(() => {
    const stop = new AbortController()
    ;(async () => {
      while (!stop.signal.aborted) {
        try {
          for await (const s of ctx.client.live(ctx.ws, pipeline, { intervalMs: 1000, signal: stop.signal })) {
            setSnap(s)
            setError(undefined)
          }
        } catch (e) {
          if (stop.signal.aborted) return
          setError(e)
        }
        await new Promise((r) => setTimeout(r, 2000))
      }
    })()
    return () => stop.abort()
  }, [ctx.client, ctx.ws, pipeline, epoch])
  return { snap, error }
}

export function LiveTab({ ctx, pipeline }: { ctx: Ctx; pipeline: Pipeline }) {
  const { snap, error } = useLive(ctx, pipeline.name)
  const data = useMemo(() => {
    const s = snap?.series ?? []
    return [
      s.map((p) => p.time / 1000),
      s.map((p) => p.requests),
      s.map((p) => p.rows),
      s.map((p) => p.errors),
      s.map((p) => p.p99_ms),
    ]
  }, [snap])
  const d = snap?.deployment ?? null
  return (
    <>
      <ErrorNote error={error} />
      {!snap ? (
        <p class="muted">Waiting for the first snapshot…</p>
      ) : (
        <>
          <div class="tiles" aria-label="live figures">
            <Tile label="requests/s" value={fmt.num(snap.requests_per_second)} />
            <Tile label="rows/s" value={fmt.num(snap.rows_per_second)} />
            <Tile label="p50 ms" value={fmt.num(snap.latency.total.p50_ms)} />
            <Tile label="p99 ms" value={fmt.num(snap.latency.total.p99_ms)} />
            <Tile label="errors/s" value={fmt.num(snap.client_errors_per_second + snap.server_errors_per_second)} />
            <Tile label="queued rows" value={d ? String(d.queued_rows) : '–'} />
          </div>
          <p>
            {d ? (
              <>
                Version {d.pipeline_version}, {d.state}, on <b>{d.active_backend}</b> ({d.path})
              </>
            ) : (
              'Not deployed'
            )}
            {snap.gpu.adapter &&
              ` · GPU: ${snap.gpu.adapter.description}${snap.gpu.adapter.software ? ' (software)' : ''}, ${snap.gpu.state}`}
            {` · over the last ${snap.window_seconds} s`}
          </p>
          <TimeChart
            title="Last minute"
            series={[
              { label: 'requests', color: '#2563eb', scale: 'rate' },
              { label: 'rows', color: '#16a34a', scale: 'rate' },
              { label: 'errors', color: '#dc2626', scale: 'rate' },
              { label: 'p99 ms', color: '#9333ea', scale: 'ms' },
            ]}
            data={data}
          />
          <div class="columns">
            <Section title="Latency per stage">
              <table>
                <thead>
                  <tr>
                    <th>Stage</th>
                    <th>Count</th>
                    <th>p50 ms</th>
                    <th>p99 ms</th>
                  </tr>
                </thead>
                <tbody>
                  {(['total', 'queue', 'pre', 'model', 'post'] as const).map((k) => (
                    <tr key={k}>
                      <td>{k}</td>
                      <td>{snap.latency[k].count}</td>
                      <td>{fmt.num(snap.latency[k].p50_ms)}</td>
                      <td>{fmt.num(snap.latency[k].p99_ms)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </Section>
            <Section title="Rows per model">
              {snap.arms.length === 0 ? (
                <p class="muted">No rows in the window.</p>
              ) : (
                snap.arms.map((a) => (
                  <div key={a.model} class="bar" title={`${a.model}: ${fmt.num(a.rows_per_second)} rows/s`}>
                    <span>{a.model}</span>
                    <meter min={0} max={1} value={a.share} aria-label={`share of ${a.model}`} />
                    <span>{(100 * a.share).toFixed(1)}%</span>
                  </div>
                ))
              )}
            </Section>
          </div>
          {d?.autoscaling && <Autoscaling replicas={d.replicas} status={d.autoscaling} />}
        </>
      )}
      {d && <TryIt ctx={ctx} pipeline={pipeline.name} deployment={d} />}
    </>
  )
}

/** An autoscaled deployment: replicas now and wanted, what the autoscaler sees, its decisions as a timeline. */
function Autoscaling({
  replicas,
  status,
}: {
  replicas: number
  status: NonNullable<DeploymentStatus['autoscaling']>
}) {
  const c = status.config
  return (
    <Section title="Autoscaling">
      <p>
        <b>{replicas}</b> replicas serving, {status.desired_replicas} wanted (from {c.min_replicas} to{' '}
        {c.max_replicas}; target {c.target_in_flight} in flight per replica at {Math.round(100 * c.target_utilization)}
        %){status.panic ? ' · panic mode: scaling up only' : ''}. In flight now {status.in_flight}; mean{' '}
        {fmt.num(status.stable_in_flight)} over {c.stable_window_s} s, {fmt.num(status.panic_in_flight)} over{' '}
        {c.panic_window_s} s.
      </p>
      {status.decisions.length === 0 ? (
        <p class="muted">No scaling decision yet.</p>
      ) : (
        <table aria-label="scaling decisions">
          <thead>
            <tr>
              <th>When</th>
              <th>Replicas</th>
              <th>Why</th>
            </tr>
          </thead>
          <tbody>
            {[...status.decisions].reverse().map((x) => (
              <tr key={x.time}>
                <td>{new Date(x.time).toLocaleTimeString()}</td>
                <td>
                  {x.from} → {x.to}
                </td>
                <td>{x.reason}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Section>
  )
}

function Tile({ label, value }: { label: string; value: string }) {
  return (
    <div class="tile">
      <div class="value">{value}</div>
      <div class="label">{label}</div>
    </div>
  )
}

function TryIt({ ctx, pipeline, deployment }: { ctx: Ctx; pipeline: string; deployment: DeploymentStatus }) {
  const [body, setBody] = useState(() => JSON.stringify([templateRow(deployment.inputs)]))
  const [answer, setAnswer] = useState<string | undefined>(undefined)
  const [error, setError] = useState<unknown>(undefined)
  return (
    <Section title="Try it">
      <p class="muted">
        Inputs:{' '}
        {deployment.inputs.map((t) => `${t.name} ${t.datatype} [${t.shape.join(',')}]`).join('; ')}. Rows as
        pandas-records, one object per row.
      </p>
      <form
        onSubmit={async (e) => {
          e.preventDefault()
          try {
            let rows: unknown
            try {
              rows = JSON.parse(body)
            } catch (err) {
              throw new Error(`the request is not JSON: ${(err as Error).message}`)
            }
            const out = await ctx.client.inferRecords(ctx.ws, pipeline, rows as Record<string, unknown>[])
            setAnswer(JSON.stringify(out, bigintAsText, 2))
            setError(undefined)
          } catch (err) {
            setError(err)
            setAnswer(undefined)
          }
        }}
      >
        <Field label="Request rows (JSON)" error={error}>
          <textarea name="try-body" rows={4} value={body} onInput={(e) => setBody(e.currentTarget.value)} />
        </Field>
        <button type="submit" class="primary">
          Send
        </button>
      </form>
      {answer && (
        <pre class="answer" aria-label="answer">
          {answer}
        </pre>
      )}
    </Section>
  )
}
