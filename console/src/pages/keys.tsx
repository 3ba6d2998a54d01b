/**
 * API keys of a workspace (admins): list, create (the secret shown once), revoke; and the
 * workspace's audit trail: every change made through the API, by which key, and how it ended.
 */
import { useState } from 'preact/hooks'
import type { Caller, CreatedApiKey } from '../../../src/client/client.js'
import { can } from '../session.js'
import { Action, type Ctx, ErrorNote, Field, fmt, Loading, Section, useLoad } from '../ui.js'

export function KeysPage({ ctx, caller }: { ctx: Ctx; caller: Caller }) {
  const keys = useLoad(() => ctx.client.listKeys(ctx.ws), [ctx.client, ctx.ws])
  const [name, setName] = useState('')
  const [role, setRole] = useState<'viewer' | 'deployer' | 'admin'>('viewer')
  const [created, setCreated] = useState<CreatedApiKey | undefined>(undefined)
  const [error, setError] = useState<unknown>(undefined)
  if (!can(caller, ctx.ws, 'admin')) return <p>Only an admin of workspace {ctx.ws} manages its keys.</p>
  return (
    <>
    <Section title={`API keys of ${ctx.ws}`}>
      <ErrorNote error={keys.error} />
      {!caller.auth && (
        <p class="muted">
          Keys are off on this server (a loopback address): keys made here are stored, and required once keys are on.
        </p>
      )}
      {!keys.data ? (
        <Loading what="keys" />
      ) : (
        <table>
          <thead>
            <tr>
              <th>Name</th>
              <th>Role</th>
              <th>Id</th>
              <th>Created</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {keys.data.map((k) => (
              <tr key={k.id}>
                <td>{k.name}</td>
                <td>{k.role}</td>
                <td>
                  <code>{k.id}</code>
                </td>
                <td>{fmt.time(k.created_at)}</td>
                <td>
                  <Action
                    label="Revoke"
                    kind="danger"
                    disabled={caller.key?.id === k.id}
                    title={caller.key?.id === k.id ? 'the key you are signed in with' : undefined}
                    run={async () => {
                      await ctx.client.revokeKey(ctx.ws, k.id)
                      keys.reload()
                    }}
                  />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form
        class="inline"
        onSubmit={async (e) => {
          e.preventDefault()
          try {
            setCreated(await ctx.client.createKey(ctx.ws, name, role))
            setError(undefined)
            setName('')
            keys.reload()
          } catch (err) {
            setError(err)
          }
        }}
      >
        <Field label="Key name" error={error}>
          <input name="key-name" value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </Field>
        <Field label="Role">
          <select name="role" value={role} onChange={(e) => setRole(e.currentTarget.value as typeof role)}>
            <option value="viewer">viewer: infer, read</option>
            <option value="deployer">deployer: models, pipelines, assays</option>
            <option value="admin">admin: the workspace's keys</option>
          </select>
        </Field>
        <button type="submit">Create key</button>
      </form>
      {created && (
        <p class="notice" role="status">
          Key <b>{created.name}</b> ({created.role}): <code class="secret">{created.key}</code> — copy it now: it is not
          shown again.
        </p>
      )}
    </Section>
    <Activity ctx={ctx} />
    </>
  )
}

/** The workspace's audit trail, newest first, a page of 100 at a time. */
function Activity({ ctx }: { ctx: Ctx }) {
  const [pages, setPages] = useState(1)
  const rows = useLoad(async () => {
    const out = await ctx.client.audit(ctx.ws, { limit: 100 })
    for (let p = 1; p < pages && out.length === 100 * p; p++)
      out.push(...(await ctx.client.audit(ctx.ws, { limit: 100, before: out.at(-1)?.id })))
    return out
  }, [ctx.client, ctx.ws, pages], 10_000)
  return (
    <Section title="Activity">
      <ErrorNote error={rows.error} />
      {!rows.data ? (
        <Loading what="the audit trail" />
      ) : (
        <table aria-label="audit trail">
          <thead>
            <tr>
              <th>When</th>
              <th>Key</th>
              <th>Change</th>
              <th>Answer</th>
            </tr>
          </thead>
          <tbody>
            {rows.data.map((r) => (
              <tr key={r.id}>
                <td>{fmt.time(r.time)}</td>
                <td>{r.key ? `${r.key.name} (${r.key.role})` : 'no key (keys off)'}</td>
                <td>
                  <code>
                    {r.method} {r.path}
                  </code>
                </td>
                <td class={r.status < 300 ? 'status ok' : 'status failed'}>{r.status}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {rows.data?.length === 100 * pages && (
        <button type="button" onClick={() => setPages(pages + 1)}>
          Older
        </button>
      )}
    </Section>
  )
}
