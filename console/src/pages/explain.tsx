/**
 * Explanations of a deployed pipeline: start one as a job (permutation importance, PDP/ICE,
 * KernelSHAP, permutation SHAP) over reference rows from the inference log, watch its progress in
 * model rows, then read the report: importances as bars, PDP over ICE curves, local attributions
 * per feature.
 */
import { useState } from 'preact/hooks'
import type { ExplainReport, ExplanationJob, Pipeline } from '../../../src/client/client.js'
import { Action, type Ctx, ErrorNote, Field, fmt, Section, useLoad } from '../ui.js'

const METHODS = ['permutation', 'pdp', 'kernel_shap', 'permutation_shap'] as const

export function ExplainTab({ ctx, pipeline }: { ctx: Ctx; pipeline: Pipeline }) {
  const [method, setMethod] = useState<(typeof METHODS)[number]>('permutation')
  const [hours, setHours] = useState('24')
  const [rows, setRows] = useState('')
  const [id, setId] = useState<string | undefined>(undefined)
  const local = method === 'kernel_shap' || method === 'permutation_shap'
  return (
    <>
      <Section title="Explain this pipeline">
        {!pipeline.deployment && <p class="error">Deploy the pipeline first: explanations run through its deployment.</p>}
        <div class="inline">
          <Field label="Method">
            <select name="method" value={method} onChange={(e) => setMethod(e.currentTarget.value as typeof method)}>
              <option value="permutation">permutation importance (global)</option>
              <option value="pdp">partial dependence, ICE (global)</option>
              <option value="kernel_shap">KernelSHAP (local)</option>
              <option value="permutation_shap">permutation SHAP (local)</option>
            </select>
          </Field>
          <Field label="Reference: the log's last hours">
            <input name="ref-hours" type="number" min={1} value={hours} onInput={(e) => setHours(e.currentTarget.value)} />
          </Field>
        </div>
        {local && (
          <Field label="Rows to explain (pandas-records JSON)">
            <textarea name="explain-rows" rows={3} value={rows} onInput={(e) => setRows(e.currentTarget.value)} />
          </Field>
        )}
        <Action
          label="Start"
          kind="primary"
          run={async () => {
            const end = Date.now()
            const request: Record<string, unknown> = {
              method,
              reference: { start: new Date(end - Number(hours) * 3600_000).toISOString(), end: new Date(end).toISOString() },
            }
            if (local) {
              try {
                request.rows = JSON.parse(rows)
              } catch (e) {
                throw new Error(`the rows are not JSON: ${(e as Error).message}`)
              }
            }
            setId((await ctx.client.explainJob(ctx.ws, pipeline.name, request)).id)
          }}
        />
      </Section>
      {id && <ExplanationJobView ctx={ctx} id={id} />}
    </>
  )
}

/** An explanation job: its progress, then its report. */
export function ExplanationJobView({ ctx, id }: { ctx: Ctx; id: string }) {
  const job = useLoad(() => ctx.client.explanation(ctx.ws, id), [ctx.client, id], 1500)
  const j: ExplanationJob | undefined = job.data
  return (
    <Section title="Explanation">
      <ErrorNote error={job.error} />
      {j && (
        <>
          <p>
            {j.method}: <span class={`status ${j.status}`}>{j.status}</span>{' '}
            <progress max={1} value={j.progress} aria-label="explanation progress" /> {(100 * j.progress).toFixed(0)}% (
            {j.evaluated_rows.toLocaleString()} of {j.planned_rows.toLocaleString()} model rows)
          </p>
          {j.error && (
            <p class="error" role="alert">
              {j.error}
            </p>
          )}
          {j.report && <Report report={j.report} />}
        </>
      )}
    </Section>
  )
}

function Bars({ items }: { items: { label: string; value: number; sd?: number }[] }) {
  const top = Math.max(1e-12, ...items.map((i) => Math.abs(i.value)))
  return (
    <table class="bars">
      <tbody>
        {items.map((i) => (
          <tr key={i.label}>
            <td>{i.label}</td>
            <td>
              <span class={`barfill ${i.value < 0 ? 'neg' : ''}`} style={{ width: `${(100 * Math.abs(i.value)) / top}%` }} />
            </td>
            <td>
              {fmt.num(i.value, 4)}
              {i.sd !== undefined && ` ± ${fmt.num(i.sd, 4)}`}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

/** A PDP (thick) over its ICE curves (thin), as an SVG of `grid` against values. */
function Curves({ grid, pdp, ice, feature }: { grid: number[]; pdp: number[]; ice: number[][]; feature: string }) {
  const all = [...pdp, ...ice.flat()].filter(Number.isFinite)
  const [lo, hi] = [Math.min(...all), Math.max(...all)]
  const [x0, x1] = [grid[0] ?? 0, grid[grid.length - 1] ?? 1]
  const px = (x: number) => 10 + (280 * (x - x0)) / (x1 - x0 || 1)
  const py = (y: number) => 150 - (140 * (y - lo)) / (hi - lo || 1)
  const path = (ys: number[]) => ys.map((y, i) => `${i ? 'L' : 'M'}${px(grid[i] as number)},${py(y)}`).join('')
  return (
    <figure>
      <svg viewBox="0 0 300 160" width={300} height={160} role="img" aria-label={`partial dependence on ${feature}`}>
        {ice.map((c, i) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: ICE curves are the reference rows in order
          <path key={i} d={path(c)} class="ice" />
        ))}
        <path d={path(pdp)} class="pdp" />
      </svg>
      <figcaption>
        {feature}: {fmt.num(x0)} … {fmt.num(x1)}
      </figcaption>
    </figure>
  )
}

function Report({ report }: { report: ExplainReport }) {
  const head = (
    <p class="muted">
      Output {report.output}, {report.reference_rows} reference rows, {report.evaluated_rows.toLocaleString()} model
      rows in {fmt.num(report.seconds)} s.
    </p>
  )
  if (report.method === 'permutation')
    return (
      <>
        {head}
        <p>Importance: {report.measure}</p>
        <Bars
          items={report.importances.map((i) => ({
            label: i.feature,
            value: Number(i.importance_mean),
            sd: Number(i.importance_std),
          }))}
        />
      </>
    )
  if (report.method === 'pdp')
    return (
      <>
        {head}
        <div class="columns">
          {report.curves.map((c) => (
            <Curves
              key={c.feature}
              feature={c.feature}
              grid={c.grid.map(Number)}
              pdp={c.pdp.map(Number)}
              ice={c.ice.map((r) => r.map(Number))}
            />
          ))}
        </div>
      </>
    )
  return (
    <>
      {head}
      <p>Base value (mean prediction over the background): {fmt.num(Number(report.base_value), 4)}</p>
      {report.rows.map((r) => (
        <div key={r.row}>
          <h4>
            Row {r.row}: prediction {fmt.num(Number(r.prediction), 4)}
          </h4>
          <Bars items={report.features.map((f, i) => ({ label: f, value: Number(r.attributions[i]) }))} />
        </div>
      ))}
    </>
  )
}
