/**
 * One pipeline: its tabs (overview, live, inference log, explanations, outcomes and tuning). The overview draws the
 * steps as a graph, lists the versions with a diff between any two, deploys, undeploys and rolls
 * back (deployers), and edits a rollout: a split's weights or a shadow's champion, saved as a new
 * version (a deployed pipeline moves to it by hot swap).
 */
import { useState } from 'preact/hooks'
import type { Caller, Pipeline, PipelineVersion } from '../../../src/client/client.js'
import { link } from '../app.js'
import { lineDiff } from '../diff.js'
import { StepsGraph } from '../graph.js'
import { can } from '../session.js'
import { Action, type Ctx, ErrorNote, Field, fmt, Loading, Section, useLoad } from '../ui.js'
import { ComparePanel } from './compare.js'
import { ExplainTab } from './explain.js'
import { GpuPaths } from './gpu-paths.js'
import { LiveTab } from './live.js'
import { LogsTab } from './logs.js'
import { OutcomesTab } from './outcomes.js'

const TABS = [
  ['overview', 'Overview'],
  ['live', 'Live'],
  ['logs', 'Inference log'],
  ['explain', 'Explanations'],
  ['outcomes', 'Outcomes and tuning'],
] as const

export function PipelinePage(props: { ctx: Ctx; caller: Caller; name: string; tab: string }) {
  const { ctx, name, tab } = props
  const p = useLoad(() => ctx.client.getPipeline(ctx.ws, name), [ctx.client, ctx.ws, name], 5000)
  return (
    <>
      <h1>
        <a href={link('w', ctx.ws, 'pipelines')}>Pipelines</a> / {name}
      </h1>
      <nav class="tabs" aria-label="pipeline">
        {TABS.map(([t, label]) => (
          <a key={t} href={link('w', ctx.ws, 'pipelines', name, t)} aria-current={tab === t ? 'page' : undefined}>
            {label}
          </a>
        ))}
      </nav>
      <ErrorNote error={p.error} />
      {!p.data ? (
        <Loading what="the pipeline" />
      ) : tab === 'live' ? (
        <LiveTab ctx={ctx} pipeline={p.data} />
      ) : tab === 'logs' ? (
        <LogsTab ctx={ctx} pipeline={p.data} />
      ) : tab === 'explain' ? (
        <ExplainTab ctx={ctx} pipeline={p.data} />
      ) : tab === 'outcomes' ? (
        <OutcomesTab ctx={ctx} caller={props.caller} pipeline={p.data} />
      ) : (
        <Overview {...props} pipeline={p.data} reload={p.reload} />
      )}
    </>
  )
}

function Overview(props: { ctx: Ctx; caller: Caller; pipeline: Pipeline; reload: () => void }) {
  const { ctx, pipeline, reload } = props
  const latest = pipeline.versions[pipeline.versions.length - 1] as PipelineVersion
  const deployer = can(props.caller, ctx.ws, 'deployer')
  const d = pipeline.deployment
  const [version, setVersion] = useState(latest.version)
  const [backend, setBackend] = useState<'auto' | 'webgpu' | 'cpu' | 'wasm' | ''>('')
  const [replicas, setReplicas] = useState('')
  const [maxReplicas, setMaxReplicas] = useState('')
  const shown = pipeline.versions.find((v) => v.version === (d?.pipeline_version ?? latest.version)) ?? latest
  return (
    <>
      <Section title={`Steps of version ${shown.version}${d ? ' (deployed)' : ''}`}>
        <div class="scroll">
          <StepsGraph steps={shown.steps} />
        </div>
      </Section>
      <Section title="Deployment">
        {d ? (
          <p>
            Version <b>{d.pipeline_version}</b> is <b>{d.state}</b> on <b>{d.active_backend}</b>
            {d.active_backend !== d.backend && ` (asked: ${d.backend})`}, {d.replicas} replica
            {d.replicas === 1 ? '' : 's'}, models {d.model}, {d.queued_rows} rows queued.{' '}
            <a href={link('w', ctx.ws, 'pipelines', pipeline.name, 'live')}>Watch it live</a>
          </p>
        ) : (
          <p>Not deployed.</p>
        )}
        {d && <GpuPaths d={d} />}
        {deployer && (
          <div class="inline">
            <Field label="Version">
              <select name="deploy-version" value={version} onChange={(e) => setVersion(Number(e.currentTarget.value))}>
                {[...pipeline.versions].reverse().map((v) => (
                  <option key={v.version} value={v.version}>
                    {v.version}
                    {v.version === latest.version ? ' (latest)' : ''}
                  </option>
                ))}
              </select>
            </Field>
            <Field label="Backend">
              <select
                name="backend"
                value={backend}
                onChange={(e) => setBackend(e.currentTarget.value as typeof backend)}
              >
                <option value="">(keep)</option>
                <option value="auto">auto</option>
                <option value="webgpu">webgpu</option>
                <option value="cpu">cpu</option>
                <option value="wasm">wasm</option>
              </select>
            </Field>
            <Field label="Replicas">
              <input
                name="replicas"
                type="number"
                min={1}
                placeholder="(keep)"
                value={replicas}
                onInput={(e) => setReplicas(e.currentTarget.value)}
              />
            </Field>
            <Field label="Autoscale up to">
              <input
                name="max-replicas"
                type="number"
                min={1}
                placeholder="(off)"
                value={maxReplicas}
                onInput={(e) => setMaxReplicas(e.currentTarget.value)}
              />
            </Field>
            <Action
              label={d && version < d.pipeline_version ? `Roll back to v${version}` : 'Deploy'}
              kind="primary"
              run={async () => {
                await ctx.client.deploy(ctx.ws, pipeline.name, {
                  version,
                  ...(backend ? { engine: backend } : {}),
                  // With a ceiling, the replicas field is the floor of the autoscaler (the server's defaults otherwise).
                  ...(maxReplicas
                    ? { autoscaling: { min_replicas: Number(replicas || 1), max_replicas: Number(maxReplicas) } }
                    : replicas
                      ? { replicas: Number(replicas) }
                      : {}),
                })
                reload()
              }}
            />
            {d && (
              <Action
                label="Undeploy"
                kind="danger"
                run={async () => {
                  await ctx.client.undeploy(ctx.ws, pipeline.name)
                  reload()
                }}
              />
            )}
          </div>
        )}
      </Section>
      {d && (
        <ComparePanel
          key={shown.version}
          ctx={ctx}
          name={pipeline.name}
          version={shown}
          promote={reload}
          canPromote={deployer}
        />
      )}
      {deployer && <Rollout key={latest.version} ctx={ctx} pipeline={pipeline} latest={latest} done={reload} />}
      <Versions pipeline={pipeline} />
    </>
  )
}

function Versions({ pipeline }: { pipeline: Pipeline }) {
  const n = pipeline.versions.length
  const [a, setA] = useState(Math.max(1, n - 1))
  const [b, setB] = useState(n)
  const text = (v: number) => JSON.stringify(pipeline.versions.find((x) => x.version === v)?.steps ?? [], null, 2)
  const pick = (value: number, set: (v: number) => void, label: string) => (
    <Field label={label}>
      <select value={value} onChange={(e) => set(Number(e.currentTarget.value))}>
        {pipeline.versions.map((v) => (
          <option key={v.version} value={v.version}>
            {v.version} ({fmt.time(v.created_at)})
          </option>
        ))}
      </select>
    </Field>
  )
  return (
    <Section title={`Versions (${n})`}>
      <div class="inline">
        {pick(a, setA, 'From')}
        {pick(b, setB, 'To')}
      </div>
      <pre class="diff" aria-label="steps diff">
        {lineDiff(text(a), text(b)).map((l, i) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: lines of a diff have no identity but their place
          <div key={i} class={l.op === '+' ? 'add' : l.op === '-' ? 'del' : ''}>
            {l.op} {l.line}
          </div>
        ))}
      </pre>
    </Section>
  )
}

type Split = { weights: [number, string][] } & Record<string, unknown>
type Shadow = { champion: string; challengers: string[] } & Record<string, unknown>

/** The rollout editor: the first random split's weights, or the first shadow's champion. */
function Rollout(props: { ctx: Ctx; pipeline: Pipeline; latest: PipelineVersion; done: () => void }) {
  const steps = props.latest.steps as Record<string, unknown>[]
  const at = steps.findIndex((s) => 'random_split' in s || 'shadow' in s)
  const step = steps[at]
  const [weights, setWeights] = useState<[number, string][]>(
    step && 'random_split' in step ? (step.random_split as Split).weights.map(([w, m]) => [w, m]) : [],
  )
  const shadow = step && 'shadow' in step ? (step.shadow as Shadow) : undefined
  const [champion, setChampion] = useState(shadow?.champion ?? '')
  const [error, setError] = useState<unknown>(undefined)
  if (!step) return null
  const total = weights.reduce((a, [w]) => a + (Number.isFinite(w) ? w : 0), 0)
  const save = async () => {
    const next = steps.map((s, i) => {
      if (i !== at) return s
      if ('random_split' in s) return { random_split: { ...(s.random_split as Split), weights } }
      const sh = s.shadow as Shadow
      const all = [sh.champion, ...sh.challengers]
      return { shadow: { ...sh, champion, challengers: all.filter((m) => m !== champion) } }
    })
    try {
      await props.ctx.client.putPipeline(props.ctx.ws, props.pipeline.name, next)
      setError(undefined)
      props.done()
    } catch (e) {
      setError(e)
    }
  }
  return (
    <Section title="Rollout">
      {shadow ? (
        <Field label="Champion (answers requests; the others shadow it)" error={error}>
          <select name="champion" value={champion} onChange={(e) => setChampion(e.currentTarget.value)}>
            {[shadow.champion, ...shadow.challengers].map((m) => (
              <option key={m} value={m}>
                {m}
              </option>
            ))}
          </select>
        </Field>
      ) : (
        <>
          <table>
            <thead>
              <tr>
                <th>Model</th>
                <th>Weight</th>
                <th>Share</th>
              </tr>
            </thead>
            <tbody>
              {weights.map(([w, m], i) => (
                <tr key={m}>
                  <td>{m}</td>
                  <td>
                    <input
                      type="number"
                      min={0}
                      aria-label={`weight of ${m}`}
                      value={Number.isFinite(w) ? w : ''}
                      onInput={(e) => {
                        const v = e.currentTarget.valueAsNumber
                        setWeights(weights.map((x, j) => (j === i ? [v, x[1]] : x)))
                      }}
                    />
                  </td>
                  <td>{total > 0 && Number.isFinite(w) ? `${((100 * w) / total).toFixed(1)}%` : '–'}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <ErrorNote error={error} />
        </>
      )}
      <button type="button" class="primary" onClick={save}>
        Save as a new version
      </button>
    </Section>
  )
}
