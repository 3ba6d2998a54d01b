/**
 * Drift assays of a workspace: each with its latest windows and its score chart (the server's SVG);
 * a new assay is previewed before it is saved — baseline and window values read from the
 * inference log over the chosen ranges and scored by the server (`…/assays/preview`, the function
 * the scheduler runs), bins and score shown — then defined with the same settings.
 */
import { useState } from 'preact/hooks'
import type { Assay, AssayResult, Caller } from '../../../src/client/client.js'
import { parseExactJson } from '../../../src/exact-json.js'
import { pick } from '../rows.js'
import { can } from '../session.js'
import { Action, type Ctx, ErrorNote, Field, fmt, Loading, Section, useLoad } from '../ui.js'

export function AssaysPage({ ctx, caller }: { ctx: Ctx; caller: Caller }) {
  const list = useLoad(() => ctx.client.listAssays(ctx.ws), [ctx.client, ctx.ws], 10_000)
  return (
    <>
      <Section title={`Assays of ${ctx.ws}`}>
        <ErrorNote error={list.error} />
        {!list.data ? (
          <Loading what="assays" />
        ) : list.data.length === 0 ? (
          <p class="muted">No assays yet.</p>
        ) : (
          list.data.map((a) => <AssayCard key={a.id} ctx={ctx} assay={a} caller={caller} done={list.reload} />)
        )}
      </Section>
      {can(caller, ctx.ws, 'deployer') && <NewAssay ctx={ctx} done={list.reload} />}
    </>
  )
}

function AssayCard(props: { ctx: Ctx; assay: Assay; caller: Caller; done: () => void }) {
  const { ctx, assay } = props
  const results = useLoad(() => ctx.client.assayResults(ctx.ws, assay.id), [ctx.client, assay.id], 10_000)
  const chart = useLoad(
    async () => URL.createObjectURL(new Blob([await ctx.client.assayChart(ctx.ws, assay.id)], { type: 'image/svg+xml' })),
    [ctx.client, assay.id, results.data?.length],
  )
  const alerts = (results.data ?? []).filter((w) => w.status === 'alert')
  return (
    <article class="card" aria-label={`assay ${assay.name}`}>
      <header class="section-head">
        <h3>
          {assay.name} <small class="muted">{`${assay.pipeline} · ${assay.iopath}`}</small>
        </h3>
        {can(props.caller, ctx.ws, 'deployer') && (
          <Action
            label="Delete"
            kind="danger"
            run={async () => {
              await ctx.client.deleteAssay(ctx.ws, assay.id)
              props.done()
            }}
          />
        )}
      </header>
      <p>
        Thresholds: warning {assay.warning_threshold ?? '–'}, alert {assay.alert_threshold}; window{' '}
        {String(assay.window.width)} every {String(assay.window.interval ?? assay.window.width)};{' '}
        {results.data ? `${results.data.length} windows scored, ${alerts.length} alerts` : 'loading results…'}
        {assay.webhooks.length ? `; alerts go to ${assay.webhooks.join(', ')}` : '; no webhooks'}.
      </p>
      {chart.data && <img src={chart.data} alt={`score of ${assay.name} per window, with its thresholds`} />}
      {alerts.length > 0 && (
        <ul aria-label="alerts">
          {alerts.slice(-5).map((w) => (
            <li key={String(w.window_start)}>
              alert: score {fmt.num(w.score, 4)} in the window from {fmt.time(w.window_start)}
            </li>
          ))}
        </ul>
      )}
    </article>
  )
}

const SUMMARIZER = { bin_mode: 'quantile', num_bins: 5, add_outlier_edges: true, aggregation: 'density', metric: 'psi' }

function NewAssay({ ctx, done }: { ctx: Ctx; done: () => void }) {
  const pipelines = useLoad(() => ctx.client.listPipelines(ctx.ws), [ctx.client, ctx.ws])
  const now = Date.now()
  const local = (t: number) => new Date(t - new Date().getTimezoneOffset() * 60_000).toISOString().slice(0, 16)
  const [form, setForm] = useState({
    name: '',
    pipeline: '',
    iopath: 'out.y[0]',
    baselineStart: local(now - 2 * 3600_000),
    baselineEnd: local(now - 3600_000),
    windowStart: local(now - 3600_000),
    windowEnd: local(now),
    width: '1h',
    warning: '0.1',
    alert: '0.25',
    webhooks: '',
  })
  const [preview, setPreview] = useState<AssayResult | undefined>(undefined)
  const [error, setError] = useState<unknown>(undefined)
  const set = (k: keyof typeof form) => (e: { currentTarget: { value: string } }) =>
    setForm({ ...form, [k]: e.currentTarget.value })
  const iso = (v: string) => new Date(v).toISOString()
  const values = async (start: string, end: string) => {
    const res = await ctx.client.logs(ctx.ws, form.pipeline, { start: iso(start), end: iso(end), limit: 100_000 })
    return (parseExactJson(await res.text()) as Record<string, unknown>[]).map((r) => pick(r, form.iopath))
  }
  const thresholds = { warning_threshold: Number(form.warning), alert_threshold: Number(form.alert) }
  return (
    <Section title="New assay">
      <div class="grid">
        <Field label="Name">
          <input name="assay-name" value={form.name} onInput={set('name')} />
        </Field>
        <Field label="Pipeline">
          <select name="assay-pipeline" value={form.pipeline} onChange={set('pipeline')}>
            <option value="">(choose)</option>
            {pipelines.data?.map((p) => (
              <option key={p.name} value={p.name}>
                {p.name}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Value (iopath)" hint="in.<input>[i] or out.<output>[i]">
          <input name="iopath" value={form.iopath} onInput={set('iopath')} />
        </Field>
        <Field label="Baseline from">
          <input type="datetime-local" name="baseline-start" value={form.baselineStart} onInput={set('baselineStart')} />
        </Field>
        <Field label="Baseline to">
          <input type="datetime-local" name="baseline-end" value={form.baselineEnd} onInput={set('baselineEnd')} />
        </Field>
        <Field label="Preview window from">
          <input type="datetime-local" name="window-start" value={form.windowStart} onInput={set('windowStart')} />
        </Field>
        <Field label="Preview window to">
          <input type="datetime-local" name="window-end" value={form.windowEnd} onInput={set('windowEnd')} />
        </Field>
        <Field label="Window width" hint="e.g. 30s, 15m, 24h">
          <input name="width" value={form.width} onInput={set('width')} />
        </Field>
        <Field label="Warning threshold">
          <input name="warning" value={form.warning} onInput={set('warning')} />
        </Field>
        <Field label="Alert threshold">
          <input name="alert" value={form.alert} onInput={set('alert')} />
        </Field>
        <Field label="Webhooks (one per line)">
          <textarea name="webhooks" rows={2} value={form.webhooks} onInput={set('webhooks')} />
        </Field>
      </div>
      <ErrorNote error={error} />
      <div class="inline">
        <Action
          label="Preview"
          run={async () => {
            setError(undefined)
            const [baseline, window] = await Promise.all([
              values(form.baselineStart, form.baselineEnd),
              values(form.windowStart, form.windowEnd),
            ])
            setPreview(
              await ctx.client.previewAssay(ctx.ws, {
                baseline: { values: baseline },
                window: { values: window },
                summarizer: SUMMARIZER,
                ...thresholds,
              }),
            )
          }}
        />
        <Action
          label="Save the assay"
          kind="primary"
          run={async () => {
            await ctx.client.createAssay(ctx.ws, {
              name: form.name,
              pipeline: form.pipeline,
              iopath: form.iopath,
              baseline: { start: iso(form.baselineStart), end: iso(form.baselineEnd) },
              summarizer: SUMMARIZER,
              ...thresholds,
              window: { width: form.width },
              webhooks: form.webhooks.split('\n').map((w) => w.trim()).filter(Boolean),
            })
            setPreview(undefined)
            done()
          }}
        />
      </div>
      {preview && <Preview result={preview} />}
    </Section>
  )
}

function Preview({ result }: { result: AssayResult }) {
  const top = Math.max(1e-9, ...result.bins.baseline.map(Number), ...result.bins.window.map(Number))
  return (
    <div class="card" aria-label="preview">
      <p>
        Score (PSI) <b>{fmt.num(result.score, 4)}</b>: <b class={`status ${result.status}`}>{result.status}</b>; KS D{' '}
        {fmt.num(result.ks.statistic, 3)} (p {fmt.num(result.ks.p_value, 3)}); baseline {result.baseline_summary.count}{' '}
        values, window {result.window_summary.count}.
      </p>
      <table class="bins">
        <thead>
          <tr>
            <th>Bin</th>
            <th>Baseline</th>
            <th>Window</th>
          </tr>
        </thead>
        <tbody>
          {result.bins.labels.map((label, i) => {
            const b = Number(result.bins.baseline[i])
            const w = Number(result.bins.window[i])
            return (
              <tr key={label}>
                <td>{label}</td>
                <td>
                  <meter min={0} max={top} value={b} aria-label={`baseline share of ${label}`} /> {(100 * b).toFixed(1)}%
                </td>
                <td>
                  <meter min={0} max={top} value={w} aria-label={`window share of ${label}`} /> {(100 * w).toFixed(1)}%
                </td>
              </tr>
            )
          })}
        </tbody>
      </table>
    </div>
  )
}
