/**
 * The console's small parts: loading data (reloaded when the server comes back), errors shown where
 * they happened with the server's own message, buttons that run a call and show its failure beside
 * them, and number and time formats.
 */
import type { ComponentChildren } from 'preact'
import { useCallback, useEffect, useState } from 'preact/hooks'
import { ApiError, type LastmileClient } from '../../src/client/client.js'
import { connection, onConnection } from './session.js'

/** What the page's current workspace and client are. */
export interface Ctx {
  client: LastmileClient
  ws: string
}

/** Re-render when the connection comes and goes; the epoch changes each time it comes back. */
export function useConnection(): { online: boolean; epoch: number } {
  const [state, setState] = useState(connection())
  useEffect(() => onConnection(() => setState(connection())), [])
  return state
}

export interface Loaded<T> {
  data: T | undefined
  error: unknown
  reload: () => void
}

/**
 * `load()` now, again when `deps` change, when the server comes back, on `reload()`, and every
 * `everyMs` when given. Keeps the last data while a reload runs.
 */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[], everyMs?: number): Loaded<T> {
  const { epoch } = useConnection()
  const [data, setData] = useState<T | undefined>(undefined)
  const [error, setError] = useState<unknown>(undefined)
  const [tick, setTick] = useState(0)
  const reload = useCallback(() => setTick((t) => t + 1), [])
  // biome-ignore lint/correctness/useExhaustiveDependencies: the caller's deps decide when `load` changes
  useEffect(() => {
    let live = true
    load().then(
      (d) => live && (setData(d), setError(undefined)),
      (e) => live && setError(e),
    )
    return () => {
      live = false
    }
  }, [...deps, epoch, tick])
  useEffect(() => {
    if (!everyMs) return
    const t = setInterval(reload, everyMs)
    return () => clearInterval(t)
  }, [everyMs, reload])
  return { data, error, reload }
}

/** An error's message as the server wrote it (its code too), or the browser's for a lost connection. */
export function describe(e: unknown): string {
  if (e instanceof ApiError) return `${e.message} (${e.status} ${e.code})`
  if (e instanceof TypeError) return 'cannot reach the server'
  return e instanceof Error ? e.message : String(e)
}

export function ErrorNote({ error }: { error: unknown }) {
  if (error === undefined || error === null) return null
  return (
    <p class="error" role="alert">
      {describe(error)}
    </p>
  )
}

/** A button that runs `run`, disabled while it runs, with its failure shown beside it. */
export function Action(props: {
  label: string
  run: () => Promise<unknown>
  disabled?: boolean
  kind?: 'primary' | 'danger'
  title?: string
}) {
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<unknown>(undefined)
  const click = async () => {
    setBusy(true)
    setError(undefined)
    try {
      await props.run()
    } catch (e) {
      setError(e)
    } finally {
      setBusy(false)
    }
  }
  return (
    <span class="action">
      <button
        type="button"
        class={props.kind ?? ''}
        disabled={busy || props.disabled}
        onClick={click}
        title={props.title}
      >
        {busy ? `${props.label}…` : props.label}
      </button>
      <ErrorNote error={error} />
    </span>
  )
}

export function Section(props: { title: string; children: ComponentChildren; actions?: ComponentChildren }) {
  return (
    <section>
      <header class="section-head">
        <h2>{props.title}</h2>
        {props.actions}
      </header>
      {props.children}
    </section>
  )
}

/** A labelled form field with its error (the server's message) under it. */
export function Field(props: { label: string; error?: unknown; children: ComponentChildren; hint?: string }) {
  return (
    <label class="field">
      <span>{props.label}</span>
      {props.children}
      {props.hint && <small>{props.hint}</small>}
      <ErrorNote error={props.error} />
    </label>
  )
}

export function Loading({ what }: { what: string }) {
  return <p class="muted">Loading {what}…</p>
}

export const fmt = {
  bytes(n: number): string {
    if (n < 1024) return `${n} B`
    const units = ['KiB', 'MiB', 'GiB']
    let v = n / 1024
    let i = 0
    while (v >= 1024 && i < units.length - 1) {
      v /= 1024
      i++
    }
    return `${v.toFixed(1)} ${units[i]}`
  },
  time(t: string | number): string {
    return new Date(t).toLocaleString()
  },
  num(v: number | null | undefined, digits = 2): string {
    if (v === null || v === undefined || Number.isNaN(v)) return '–'
    return Math.abs(v) >= 1000 ? Math.round(v).toLocaleString() : v.toFixed(digits)
  },
}

/** Save bytes as a file the browser downloads. */
export function download(bytes: BlobPart, name: string, type: string): void {
  const url = URL.createObjectURL(new Blob([bytes], { type }))
  const a = document.createElement('a')
  a.href = url
  a.download = name
  a.click()
  setTimeout(() => URL.revokeObjectURL(url), 1000)
}
