/**
 * The console's frame: sign-in when the server requires keys, the workspace and page navigation
 * (hash routes, so the server serves one page), and the banner shown while the server cannot be
 * reached. Pages see only what the key's role allows: actions a role may not take are not shown.
 */
import { useEffect, useMemo, useState } from 'preact/hooks'
import { ApiError, type Caller } from '../../src/client/client.js'
import { AssaysPage } from './pages/assays.js'
import { JobsPage } from './pages/jobs.js'
import { KeysPage } from './pages/keys.js'
import { ModelsPage } from './pages/models.js'
import { PipelinePage } from './pages/pipeline.js'
import { PipelinesPage } from './pages/pipelines.js'
import { WorkspacesPage } from './pages/workspaces.js'
import { can, clientFor, storedKey, storeKey } from './session.js'
import { describe, ErrorNote, useConnection } from './ui.js'

/** `#/w/<ws>/<page>/<name>/<tab>` split into its parts (decoded). */
function route(hash: string): string[] {
  return hash
    .replace(/^#\/?/, '')
    .split('/')
    .filter(Boolean)
    .map((p) => decodeURIComponent(p))
}

export function useHash(): string[] {
  const [hash, setHash] = useState(location.hash)
  useEffect(() => {
    const on = () => setHash(location.hash)
    addEventListener('hashchange', on)
    return () => removeEventListener('hashchange', on)
  }, [])
  return route(hash)
}

export const link = (...parts: string[]) => `#/${parts.map(encodeURIComponent).join('/')}`

export function App() {
  const [key, setKey] = useState(storedKey())
  const client = useMemo(() => clientFor(key), [key])
  const [caller, setCaller] = useState<Caller | undefined>(undefined)
  const [error, setError] = useState<unknown>(undefined)
  const { online, epoch } = useConnection()
  // biome-ignore lint/correctness/useExhaustiveDependencies: ask again when the server comes back
  useEffect(() => {
    client.me().then(
      (c) => (setCaller(c), setError(undefined)),
      (e) => (setCaller(undefined), setError(e)),
    )
  }, [client, epoch])
  const signOut = () => {
    storeKey(undefined)
    setKey(undefined)
  }
  const banner = !online && (
    <div class="banner" role="status">
      The server cannot be reached: retrying every 2 seconds. What you see is from before it went away.
    </div>
  )
  if (!caller) {
    const needKey = error instanceof ApiError && error.status === 401
    return (
      <main class="signin">
        {banner}
        <h1>lastmile</h1>
        {needKey ? (
          <SignIn
            rejected={key !== undefined}
            onKey={(k) => {
              storeKey(k)
              setKey(k)
            }}
          />
        ) : error ? (
          <p class="error" role="alert">
            {describe(error)}
          </p>
        ) : (
          <p class="muted">Connecting…</p>
        )}
      </main>
    )
  }
  return <Signed caller={caller} client={client} banner={banner} signOut={signOut} />
}

function SignIn({ onKey, rejected }: { onKey: (key: string) => void; rejected: boolean }) {
  const [value, setValue] = useState('')
  return (
    <form
      class="card"
      onSubmit={(e) => {
        e.preventDefault()
        if (value.trim()) onKey(value.trim())
      }}
    >
      <h2>Sign in</h2>
      <p>This server requires an API key. It is kept for this browser tab only (session storage).</p>
      <label class="field">
        <span>API key</span>
        <input
          type="password"
          name="key"
          autocomplete="off"
          placeholder="lm_…"
          value={value}
          onInput={(e) => setValue(e.currentTarget.value)}
        />
      </label>
      {rejected && <ErrorNote error={new Error('that key was not accepted (401): check it, or ask an admin for one')} />}
      <button type="submit" class="primary">
        Sign in
      </button>
    </form>
  )
}

const PAGES = [
  ['pipelines', 'Pipelines'],
  ['models', 'Models'],
  ['assays', 'Assays'],
  ['jobs', 'Batch jobs'],
  ['keys', 'Keys and activity'],
] as const

function Signed(props: {
  caller: Caller
  client: ReturnType<typeof clientFor>
  banner: preact.ComponentChildren
  signOut: () => void
}) {
  const { caller, client } = props
  const parts = useHash()
  const home = caller.key && !caller.server_admin ? caller.key.workspace : 'default'
  const [w = 'w', ws = home, page = 'pipelines', name, tab] = parts
  const ctx = { client, ws }
  const content =
    w !== 'w' ? (
      <WorkspacesPage ctx={ctx} caller={caller} />
    ) : page === 'models' ? (
      <ModelsPage ctx={ctx} caller={caller} />
    ) : page === 'pipelines' && name ? (
      <PipelinePage ctx={ctx} caller={caller} name={name} tab={tab ?? 'overview'} />
    ) : page === 'assays' ? (
      <AssaysPage ctx={ctx} caller={caller} />
    ) : page === 'jobs' ? (
      <JobsPage ctx={ctx} caller={caller} />
    ) : page === 'keys' ? (
      <KeysPage ctx={ctx} caller={caller} />
    ) : (
      <PipelinesPage ctx={ctx} caller={caller} />
    )
  return (
    <>
      {props.banner}
      <header class="top">
        <a class="brand" href={link('w', ws, 'pipelines')}>
          lastmile
        </a>
        <nav aria-label="pages">
          {PAGES.filter(([p]) => p !== 'keys' || can(caller, ws, 'admin')).map(([p, label]) => (
            <a key={p} href={link('w', ws, p)} aria-current={w === 'w' && page === p ? 'page' : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <span class="who">
          <a href={link('workspaces')} title="workspaces">
            workspace <b>{ws}</b>
          </a>
          {caller.key ? (
            <>
              {' · '}
              {caller.key.name} ({caller.key.role})
              <button type="button" class="link" onClick={props.signOut}>
                Sign out
              </button>
            </>
          ) : (
            ' · keys off'
          )}
        </span>
      </header>
      <main>{content}</main>
    </>
  )
}
