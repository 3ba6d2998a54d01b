/**
 * The promote panel of a split or shadow: its arms compared over the inference log of the last
 * hour — rows, latency, and the first output's distribution per arm, the challenger's against the
 * champion's scored by the server's assay statistics (KS test, PSI: `…/assays/preview`) — with the
 * verdict those numbers support and a button that promotes the challenger (a new version). Whether
 * a challenger is *better* needs outcomes (ground truth) the server does not take yet; the panel
 * says so rather than guess.
 */
import { useState } from 'preact/hooks'
import type { AssayResult, PipelineVersion } from '../../../src/client/client.js'
import { parseExactJson } from '../../../src/exact-json.js'
import { type ArmStats, armStats, armsOf, type Row } from '../rows.js'
import { Action, type Ctx, fmt, Section } from '../ui.js'

export function ComparePanel(props: {
  ctx: Ctx
  name: string
  version: PipelineVersion
  promote: () => void
  canPromote: boolean
}) {
  const { ctx, name, version } = props
  const found = armsOf(version.steps as Record<string, unknown>[])
  const [stats, setStats] = useState<ArmStats[] | undefined>(undefined)
  const [tests, setTests] = useState<(AssayResult | undefined)[]>([])
  const [output, setOutput] = useState('')
  if (!found) return null
  const compare = async () => {
    const end = Date.now()
    const res = await ctx.client.logs(ctx.ws, name, {
      start: new Date(end - 3600_000).toISOString(),
      end: new Date(end).toISOString(),
      limit: 10_000,
    })
    const rows = (parseExactJson(await res.text()) as Row[]).filter((r) => r.pipeline_version === version.version)
    const out = Object.keys(rows[0] ?? {}).find((k) => k.startsWith('out.'))?.slice(4) ?? ''
    setOutput(out)
    const s = armStats(rows, found.kind, found.arms, out)
    setStats(s)
    const champion = s[0] as ArmStats
    setTests(
      await Promise.all(
        s.slice(1).map((c) =>
          champion.values.length && c.values.length
            ? ctx.client.previewAssay(ctx.ws, { baseline: { values: champion.values }, window: { values: c.values } })
            : Promise.resolve(undefined),
        ),
      ),
    )
  }
  const promote = async (model: string) => {
    const steps = (version.steps as Record<string, unknown>[]).map((s) => {
      if ('random_split' in s) return { model }
      if ('shadow' in s) {
        const sh = s.shadow as { champion: string; challengers: string[] }
        const all = [sh.champion, ...sh.challengers]
        return { shadow: { ...sh, champion: model, challengers: all.filter((m) => m !== model) } }
      }
      return s
    })
    await ctx.client.putPipeline(ctx.ws, name, steps)
    props.promote()
  }
  return (
    <Section title={`Compare the ${found.kind === 'split' ? 'split' : 'shadow'}'s arms`}>
      <p class="muted">
        Champion: {found.arms[0]}. Over the inference log of the last hour for version {version.version}.
      </p>
      <Action label="Compare" run={compare} />
      {stats && (
        <>
          <table aria-label="arms">
            <thead>
              <tr>
                <th>Model</th>
                <th>Rows</th>
                <th>Latency p50 ms</th>
                <th>p99 ms</th>
                <th>Mean of out.{output}</th>
                <th>Against the champion</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {stats.map((a, i) => {
                const t = i > 0 ? tests[i - 1] : undefined
                return (
                  <tr key={a.model}>
                    <td>{a.model}</td>
                    <td>{a.rows}</td>
                    <td>{fmt.num(a.p50)}</td>
                    <td>{fmt.num(a.p99)}</td>
                    <td>{fmt.num(a.mean, 4)}</td>
                    <td>{i === 0 ? 'champion' : t ? <Verdict t={t} /> : 'no rows to compare'}</td>
                    <td>
                      {i > 0 && props.canPromote && (
                        <Action label={`Promote ${a.model}`} run={() => promote(a.model)} title="a new version" />
                      )}
                    </td>
                  </tr>
                )
              })}
            </tbody>
          </table>
          <p class="muted">
            Whether a challenger is better needs outcomes (ground truth) joined to its predictions, which this server does
            not take yet: the verdict covers how its outputs and latency differ, not their accuracy.
          </p>
        </>
      )}
    </Section>
  )
}

function Verdict({ t }: { t: AssayResult }) {
  const p = Number(t.ks.p_value)
  const differs = p < 0.05
  return (
    <span class={differs ? 'status warning' : 'status ok'}>
      {differs ? 'outputs differ' : 'no evidence outputs differ'} (KS D {fmt.num(Number(t.ks.statistic), 3)}, p{' '}
      {fmt.num(p, 3)}; PSI {fmt.num(Number(t.score), 3)}, n {t.baseline_summary.count} vs {t.window_summary.count})
    </span>
  )
}
