/** Workspaces: every one the key sees (a server admin: all), with counts; create and delete (server admin). */
import { useState } from 'preact/hooks'
import type { Caller } from '../../../src/client/client.js'
import { link } from '../app.js'
import { Action, type Ctx, ErrorNote, Field, fmt, Loading, Section, useLoad } from '../ui.js'

export function WorkspacesPage({ ctx, caller }: { ctx: Ctx; caller: Caller }) {
  const list = useLoad(async () => {
    const all = await ctx.client.listWorkspaces()
    return Promise.all(all.map((w) => ctx.client.getWorkspace(w.name)))
  }, [ctx.client])
  const [name, setName] = useState('')
  const [error, setError] = useState<unknown>(undefined)
  const admin = caller.server_admin
  return (
    <Section title="Workspaces">
      <ErrorNote error={list.error} />
      {!list.data ? (
        <Loading what="workspaces" />
      ) : (
        <table>
          <thead>
            <tr>
              <th>Name</th>
              <th>Models</th>
              <th>Pipelines</th>
              <th>Deployed</th>
              <th>Created</th>
              {admin && <th />}
            </tr>
          </thead>
          <tbody>
            {list.data.map((w) => (
              <tr key={w.name}>
                <td>
                  <a href={link('w', w.name, 'pipelines')}>{w.name}</a>
                </td>
                <td>{w.models}</td>
                <td>{w.pipelines}</td>
                <td>{w.deployed.join(', ') || '–'}</td>
                <td>{fmt.time(w.created_at)}</td>
                {admin && (
                  <td>
                    {w.name !== 'default' && (
                      <Action
                        label="Delete"
                        kind="danger"
                        run={async () => {
                          if (!confirm(`Delete workspace ${w.name} with its models and pipelines?`)) return
                          await ctx.client.deleteWorkspace(w.name)
                          list.reload()
                        }}
                      />
                    )}
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {admin && (
        <form
          class="inline"
          onSubmit={async (e) => {
            e.preventDefault()
            try {
              await ctx.client.createWorkspace(name)
              setName('')
              setError(undefined)
              list.reload()
            } catch (err) {
              setError(err)
            }
          }}
        >
          <Field label="New workspace" error={error}>
            <input name="workspace" value={name} onInput={(e) => setName(e.currentTarget.value)} />
          </Field>
          <button type="submit">Create</button>
        </form>
      )}
    </Section>
  )
}
