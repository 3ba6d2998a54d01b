/**
 * Pipelines: the latest version of each and its deployment; a new pipeline from a list of steps
 * (JSON, as the API takes it), started from a model chosen in a list. A refused step list shows
 * the server's reason under the editor.
 */
import { useState } from 'preact/hooks'
import type { Caller } from '../../../src/client/client.js'
import { link } from '../app.js'
import { can } from '../session.js'
import { type Ctx, ErrorNote, Field, fmt, Loading, Section, useLoad } from '../ui.js'

export function PipelinesPage({ ctx, caller }: { ctx: Ctx; caller: Caller }) {
  const list = useLoad(() => ctx.client.listPipelines(ctx.ws), [ctx.client, ctx.ws], 5000)
  return (
    <>
      <Section title={`Pipelines of ${ctx.ws}`}>
        <ErrorNote error={list.error} />
        {!list.data ? (
          <Loading what="pipelines" />
        ) : list.data.length === 0 ? (
          <p class="muted">No pipelines yet.</p>
        ) : (
          <table>
            <thead>
              <tr>
                <th>Name</th>
                <th>Latest version</th>
                <th>Deployed</th>
                <th>Backend</th>
                <th>Models</th>
                <th>Created</th>
              </tr>
            </thead>
            <tbody>
              {list.data.map((p) => (
                <tr key={p.name}>
                  <td>
                    <a href={link('w', ctx.ws, 'pipelines', p.name)}>{p.name}</a>
                  </td>
                  <td>{p.version}</td>
                  <td>
                    {p.deployment ? (
                      <a href={link('w', ctx.ws, 'pipelines', p.name, 'live')}>
                        v{p.deployment.pipeline_version} {p.deployment.state}
                      </a>
                    ) : (
                      'no'
                    )}
                  </td>
                  <td>{p.deployment ? p.deployment.active_backend : '–'}</td>
                  <td>{p.deployment?.model ?? '–'}</td>
                  <td>{fmt.time(p.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
      {can(caller, ctx.ws, 'deployer') && <NewPipeline ctx={ctx} done={list.reload} />}
    </>
  )
}

function NewPipeline({ ctx, done }: { ctx: Ctx; done: () => void }) {
  const models = useLoad(() => ctx.client.listModels(ctx.ws), [ctx.client, ctx.ws])
  const [name, setName] = useState('')
  const [steps, setSteps] = useState('')
  const [error, setError] = useState<unknown>(undefined)
  return (
    <Section title="New pipeline">
      <form
        onSubmit={async (e) => {
          e.preventDefault()
          try {
            let parsed: unknown
            try {
              parsed = JSON.parse(steps)
            } catch (err) {
              throw new Error(`the steps are not JSON: ${(err as Error).message}`)
            }
            if (!Array.isArray(parsed)) throw new Error('the steps must be a JSON array, e.g. [{"model": "m"}]')
            await ctx.client.putPipeline(ctx.ws, name, parsed)
            setError(undefined)
            location.hash = link('w', ctx.ws, 'pipelines', name)
            done()
          } catch (err) {
            setError(err)
          }
        }}
      >
        <Field label="Name">
          <input name="pipeline-name" value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </Field>
        <Field label="Start from a model">
          <select
            name="start-model"
            onChange={(e) => {
              const m = e.currentTarget.value
              if (m) setSteps(JSON.stringify([{ model: m }], null, 2))
              if (m && !name) setName(m)
            }}
          >
            <option value="">(choose)</option>
            {models.data?.map((m) => (
              <option key={m.name} value={m.name}>
                {m.name} (v{m.latest.version})
              </option>
            ))}
          </select>
        </Field>
        <Field
          label="Steps (JSON)"
          error={error}
          hint='model, models, pre, post, validations, random_split, key_split, shadow: see the README'
        >
          <textarea name="steps" rows={8} value={steps} onInput={(e) => setSteps(e.currentTarget.value)} />
        </Field>
        <button type="submit" class="primary">
          Create
        </button>
      </form>
    </Section>
  )
}
