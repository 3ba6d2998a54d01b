/**
 * How each model of a deployment runs on the GPU: the path serving it, how it was chosen, every
 * candidate's median ms per batch size (or why it could not serve), and on the captured path the
 * padding and memory it costs. Nothing is shown for models on cpu or wasm.
 */
import type { DeploymentStatus } from '../../../src/client/client.js'
import { fmt } from '../ui.js'

type ModelStatus = DeploymentStatus['stages'][number]['models'][number]

export function GpuPaths(props: { d: DeploymentStatus }) {
  const models = props.d.stages.flatMap((s) => s.models).filter((m) => m.gpu_path)
  return models.length === 0 ? null : <>{models.map((m) => <ModelPath key={m.model} m={m} />)}</>
}

function ModelPath({ m }: { m: ModelStatus }) {
  const g = m.gpu_path
  if (!g) return null
  const timed = g.candidates.filter((c) => c.ms || c.error)
  const c = m.capture
  return (
    <div class="gpu-path">
      <p>
        Model {m.model} runs on the GPU by <b>{g.chosen}</b> ({g.how}): {g.reason}.
        {c &&
          ` Buckets ${c.buckets.join(', ')}: ${c.padded_rows} padding rows for ${c.rows} rows (${
            c.rows + c.padded_rows === 0 ? 0 : Math.round((100 * c.padded_rows) / (c.rows + c.padded_rows))
          }%), ${c.sessions} captured sessions, ${fmt.bytes(c.buffer_bytes)} of buffers, ${c.fallbacks} fallbacks.`}
      </p>
      {timed.length > 0 && (
        <table>
          <thead>
            <tr>
              <th>path</th>
              {g.batches.map((b) => (
                <th key={b}>ms at {b}</th>
              ))}
              <th>note</th>
            </tr>
          </thead>
          <tbody>
            {timed.map((t) => (
              <tr key={t.path}>
                <td>{t.path === g.chosen ? <b>{t.path}</b> : t.path}</td>
                {g.batches.map((b) => (
                  <td key={b}>{t.ms?.[String(b)]?.toFixed(3) ?? '–'}</td>
                ))}
                <td>{t.error ?? (t.path === g.baseline ? 'baseline' : '')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  )
}
