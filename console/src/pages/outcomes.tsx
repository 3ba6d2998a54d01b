/**
 * A pipeline's model optimization tab: its outcome metrics per window, version and arm (realized
 * beside the CBPE estimate), the champion against its challengers with the sequential test and the
 * promotion rule's decisions, and measured tuning runs with their table and recommendation (a
 * deployer can start a run and deploy the recommended settings).
 */
import { useState } from 'preact/hooks'
import { ApiError, type Caller, type Pipeline } from '../../../src/client/client.js'
import type { TuningRow } from '../../../src/wire/optimize.js'
import type { OutcomeMetrics } from '../../../src/wire/outcomes.js'
import type { ChallengerReportWire } from '../../../src/wire/promotion.js'
import { can } from '../session.js'
import { Action, type Ctx, ErrorNote, Field, fmt, Loading, Section, useLoad } from '../ui.js'

const HOUR = 3_600_000

/** `null` for a 404 (nothing set up yet), the data otherwise; other errors go on. */
const orNone = <T,>(p: Promise<T>): Promise<T | null> =>
  p.catch((e) => {
    if (e instanceof ApiError && e.status === 404) return null
    throw e
  })

type Interval = { value: number | null; low: number | null; high: number | null }
const ci = (i: Interval | null | undefined, digits = 3) =>
  i ? `${fmt.num(i.value, digits)} [${fmt.num(i.low, digits)}, ${fmt.num(i.high, digits)}]` : '–'

export function OutcomesTab(props: { ctx: Ctx; caller: Caller; pipeline: Pipeline }) {
  return (
    <>
      <Metrics {...props} />
      <Challengers {...props} />
      <Tuning {...props} />
    </>
  )
}

function Metrics({ ctx, pipeline }: { ctx: Ctx; pipeline: Pipeline }) {
  const m = useLoad(
    () =>
      orNone(ctx.client.getOutcomeSettings(ctx.ws, pipeline.name)).then((s) =>
        s ? ctx.client.outcomeMetrics(ctx.ws, pipeline.name, { start: Date.now() - 24 * HOUR, window: 3600 }) : null,
      ),
    [ctx.client, ctx.ws, pipeline.name],
    10_000,
  )
  return (
    <Section title="Outcome metrics, last 24 hours">
      <ErrorNote error={m.error} />
      {m.data === undefined ? (
        <Loading what="outcome metrics" />
      ) : m.data === null ? (
        <p class="muted">
          No outcome settings: set them with <code>PUT …/pipelines/{pipeline.name}/outcomes</code>, then send
          outcomes to <code>POST …/feedback</code>.
        </p>
      ) : (
        <MetricsTable m={m.data} />
      )}
    </Section>
  )
}

function MetricsTable({ m }: { m: OutcomeMetrics }) {
  const rows = m.windows.flatMap((w) => w.arms.map((a) => ({ w, a })))
  if (rows.length === 0) return <p class="muted">No rows logged in the last 24 hours.</p>
  const classifier = m.task === 'classification'
  return (
    <div class="scroll">
      <table aria-label="outcome metrics">
        <thead>
          <tr>
            <th>Window</th>
            <th>Version</th>
            <th>Arm</th>
            <th>Labeled / rows</th>
            {classifier ? (
              <>
                <th>Accuracy (95%)</th>
                <th>Estimated accuracy</th>
                <th>AUC (95%)</th>
                <th>Estimated AUC</th>
                <th>Log loss</th>
                <th>ECE</th>
              </>
            ) : (
              <>
                <th>MAE (95%)</th>
                <th>RMSE (95%)</th>
                <th>Bias (95%)</th>
              </>
            )}
          </tr>
        </thead>
        <tbody>
          {rows.map(({ w, a }) => {
            const r = a.realized as Record<string, Interval | null> | null
            const cal = (a.realized as { calibration?: { ece: number } } | null)?.calibration
            return (
              <tr key={`${w.start}-${a.version}-${a.arm}-${a.shadow}`}>
                <td>{fmt.time(w.start)}</td>
                <td>{a.version}</td>
                <td>
                  {a.arm}
                  {a.shadow ? ' (shadow)' : ''}
                </td>
                <td>
                  {a.labeled} / {a.rows}
                </td>
                {classifier ? (
                  <>
                    <td>{ci(r?.accuracy)}</td>
                    <td>{fmt.num(a.estimated?.accuracy, 3)}</td>
                    <td>{ci(r?.auc)}</td>
                    <td>{fmt.num(a.estimated?.auc, 3)}</td>
                    <td>{ci(r?.log_loss)}</td>
                    <td>{fmt.num(cal?.ece, 3)}</td>
                  </>
                ) : (
                  <>
                    <td>{ci(r?.mae)}</td>
                    <td>{ci(r?.rmse)}</td>
                    <td>{ci(r?.bias)}</td>
                  </>
                )}
              </tr>
            )
          })}
        </tbody>
      </table>
    </div>
  )
}

function Challengers({ ctx, pipeline }: { ctx: Ctx; pipeline: Pipeline }) {
  const load = () =>
    Promise.all([
      pipeline.deployment ? ctx.client.challengers(ctx.ws, pipeline.name) : Promise.resolve(null),
      orNone(ctx.client.getPromotion(ctx.ws, pipeline.name)),
      ctx.client.decisions(ctx.ws, pipeline.name, { limit: 10 }),
    ])
  const c = useLoad(load, [ctx.client, ctx.ws, pipeline.name, pipeline.deployment?.pipeline_version], 10_000)
  if (!c.data)
    return (
      <Section title="Champion vs challenger">
        <ErrorNote error={c.error} />
        {!c.error && <Loading what="the challengers" />}
      </Section>
    )
  const [report, rule, decisions] = c.data
  return (
    <Section title="Champion vs challenger">
      <ErrorNote error={c.error} />
      <p>
        {rule
          ? `Promotion rule: ${rule.rule.action} on ${rule.rule.metric} at ${rule.rule.confidence} confidence, checked every ${rule.rule.interval_s} s.`
          : 'No promotion rule: the report below is for reading only.'}{' '}
        {rule?.evaluation && `Last check: ${rule.evaluation.state}${rule.evaluation.note ? `, ${rule.evaluation.note}` : ''}.`}
      </p>
      {report ? <Report r={report} /> : <p class="muted">Not deployed.</p>}
      <h3>Decisions</h3>
      {decisions.length === 0 ? (
        <p class="muted">None yet.</p>
      ) : (
        <table aria-label="decisions">
          <thead>
            <tr>
              <th>Time</th>
              <th>Action</th>
              <th>Why</th>
              <th>Kept</th>
              <th>New version</th>
            </tr>
          </thead>
          <tbody>
            {decisions.map((d) => (
              <tr key={d.id}>
                <td>{fmt.time(d.time)}</td>
                <td>
                  {d.action}
                  {d.applied ? '' : ' (not applied)'}
                </td>
                <td>
                  {d.reason}
                  {d.test && `, p = ${fmt.num(d.test.p_value, 4)}, difference ${ci(d.test.difference)}`}
                  {d.error && `: ${d.error}`}
                </td>
                <td>{d.kept}</td>
                <td>{d.new_version ?? '–'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Section>
  )
}

function Report({ r }: { r: ChallengerReportWire }) {
  if (!r.contest) return <p class="muted">{r.note ?? `Version ${r.version} has no split or shadow step.`}</p>
  return (
    <>
      <p>
        Version {r.version}: <b>{r.contest.champion}</b> (champion) against <b>{r.contest.challenger}</b> in a{' '}
        {r.contest.kind.replace('_', ' ')}, {r.rows} rows{r.truncated ? ' (the newest only)' : ''}.
      </p>
      <table aria-label="champion and challengers">
        <thead>
          <tr>
            <th>Model</th>
            <th>Role</th>
            <th>Labeled / rows</th>
            <th>{r.metric} (95%)</th>
            <th>p50 / p99 ms</th>
          </tr>
        </thead>
        <tbody>
          {r.arms.map((a) => (
            <tr key={`${a.model}-${a.shadow}`}>
              <td>
                {a.model}
                {a.shadow ? ' (shadow)' : ''}
              </td>
              <td>{a.role}</td>
              <td>
                {a.labeled} / {a.rows}
              </td>
              <td>{ci((a.metrics as Record<string, Interval> | null)?.[r.metric]) || a.note}</td>
              <td>
                {fmt.num(a.latency.p50_ms)} / {fmt.num(a.latency.p99_ms)}
                {a.latency.shared ? ' (whole request)' : ''}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {r.comparisons.map((c) => (
        <p key={c.model}>
          {c.model} − {c.champion}
          {c.paired ? ' (paired rows)' : ''}:{' '}
          {c.test
            ? `difference ${ci(c.test.difference)}, always-valid p = ${fmt.num(c.test.p_value, 4)}: ${c.test.verdict.replace('_', ' ')}`
            : (c.note ?? 'no test yet')}
          {c.drift && `; output drift PSI ${fmt.num(c.drift.psi, 3)}`}
        </p>
      ))}
    </>
  )
}

function Tuning({ ctx, caller, pipeline }: { ctx: Ctx; caller: Caller; pipeline: Pipeline }) {
  const deployer = can(caller, ctx.ws, 'deployer')
  const runs = useLoad(() => ctx.client.optimizations(ctx.ws, pipeline.name, 5), [ctx.client, ctx.ws, pipeline.name], 2000)
  const [target, setTarget] = useState('100')
  const latest = runs.data?.[0]
  const report = latest?.report
  const best = report?.recommendation
  const same = (row: TuningRow) =>
    best &&
    (['backend', 'max_batch_size', 'max_queue_delay_ms', 'threads', 'graph_optimization', 'gpu_path'] as const).every(
      (k) => row[k] === best[k],
    )
  return (
    <Section title="Measured tuning">
      <ErrorNote error={runs.error} />
      {deployer && (
        <div class="inline">
          <Field label="Target p99 per request (ms)">
            <input name="target-p99" inputMode="decimal" value={target} onInput={(e) => setTarget(e.currentTarget.value)} />
          </Field>
          <Action
            label="Measure on this server"
            disabled={!pipeline.deployment || latest?.status === 'running'}
            run={async () => {
              await ctx.client.optimize(ctx.ws, pipeline.name, { target_p99_ms: Number(target) })
              runs.reload()
            }}
          />
        </div>
      )}
      {!latest ? (
        <p class="muted">{runs.data ? 'No run yet.' : 'Loading…'}</p>
      ) : (
        <p>
          Run {latest.id} of version {latest.pipeline_version}: <b>{latest.status}</b>, {latest.measured_points} of at most{' '}
          {latest.max_points} points{latest.error ? `: ${latest.error}` : ''}.{' '}
          {report &&
            (best
              ? `Recommended: ${best.backend}${best.gpu_path ? ` (${best.gpu_path})` : ''}, batches of ${best.max_batch_size}, ${best.max_queue_delay_ms} ms delay, ${fmt.num(best.rows_per_s, 0)} rows/s at p99 ${fmt.num(best.p99_ms)} ms.`
              : `No point met p99 ≤ ${report.target_p99_ms} ms.`)}
        </p>
      )}
      {deployer && best && (
        <Action
          label="Deploy the recommended settings"
          kind="primary"
          run={() => ctx.client.deploy(ctx.ws, pipeline.name, best.settings)}
        />
      )}
      {report && report.table.length > 0 && (
        <div class="scroll">
          <table aria-label="tuning table">
            <thead>
              <tr>
                <th>Backend</th>
                <th>Batch</th>
                <th>Delay ms</th>
                <th>Threads</th>
                <th>Graph opt.</th>
                <th>GPU path</th>
                <th>Rows/s</th>
                <th>p50 / p99 ms</th>
                <th>Memory</th>
                <th>Meets target</th>
              </tr>
            </thead>
            <tbody>
              {report.table.map((row) => (
                <tr
                  key={`${row.backend}-${row.max_batch_size}-${row.max_queue_delay_ms}-${row.threads}-${row.graph_optimization}-${row.gpu_path}`}
                  class={same(row) ? 'chosen' : ''}
                >
                  <td>{row.backend}</td>
                  <td>{row.max_batch_size}</td>
                  <td>{row.max_queue_delay_ms}</td>
                  <td>{row.threads ?? '–'}</td>
                  <td>{row.graph_optimization}</td>
                  <td>{row.gpu_path ?? '–'}</td>
                  <td>{fmt.num(row.rows_per_s, 0)}</td>
                  <td>
                    {fmt.num(row.p50_ms)} / {fmt.num(row.p99_ms)}
                  </td>
                  <td>{fmt.bytes(Math.max(0, row.memory_bytes))}</td>
                  <td>{row.meets_target ? 'yes' : 'no'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Section>
  )
}
