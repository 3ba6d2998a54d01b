/**
 * The inference log of a pipeline: a time range read a page at a time (the server's `Link`
 * rel="next" followed on demand), filtered here by pipeline version, model arm and check
 * failures; the rows shown download as CSV or JSON, and the range as the server's Arrow page.
 */
import { useState } from 'preact/hooks'
import type { Pipeline } from '../../../src/client/client.js'
import { parseExactJson } from '../../../src/exact-json.js'
import { Action, bigintAsText, type Ctx, download, ErrorNote, Field, fmt, Section } from '../ui.js'

type Row = Record<string, unknown>

const cell = (v: unknown): string =>
  v === null || v === undefined
    ? ''
    : typeof v === 'bigint'
      ? v.toString()
      : typeof v === 'object'
        ? JSON.stringify(v, bigintAsText)
        : String(v)

/** Rows as CSV (RFC 4180: fields with a comma, quote or line break are quoted, quotes doubled). */
export function toCsv(rows: Row[]): string {
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))]
  const quote = (s: string) => (/[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s)
  return [columns, ...rows.map((r) => columns.map((c) => cell(r[c])))].map((l) => l.map(quote).join(',')).join('\r\n')
}

const isoOrUndefined = (local: string) => (local ? new Date(local).toISOString() : undefined)

export function LogsTab({ ctx, pipeline }: { ctx: Ctx; pipeline: Pipeline }) {
  const hourAgo = new Date(Date.now() - 3600_000 - new Date().getTimezoneOffset() * 60_000).toISOString().slice(0, 16)
  const [start, setStart] = useState(hourAgo)
  const [end, setEnd] = useState('')
  const [rows, setRows] = useState<Row[] | undefined>(undefined)
  const [next, setNext] = useState<string | undefined>(undefined)
  const [error, setError] = useState<unknown>(undefined)
  const [version, setVersion] = useState('')
  const [model, setModel] = useState('')
  const [failedOnly, setFailedOnly] = useState(false)
  const range = () => ({ start: isoOrUndefined(start), end: isoOrUndefined(end) })
  const read = async (cursor?: string) => {
    const res = await ctx.client.logs(ctx.ws, pipeline.name, { ...range(), limit: 1000, ...(cursor ? { cursor } : {}) })
    const page = parseExactJson(await res.text()) as Row[]
    setNext(/[?&]cursor=([\d.]+)/.exec(res.headers.get('link') ?? '')?.[1])
    setRows((before) => (cursor ? [...(before ?? []), ...page] : page))
    setError(undefined)
  }
  const shown = (rows ?? []).filter(
    (r) =>
      (!version || String(r.pipeline_version) === version) &&
      (!model || r.model === model) &&
      (!failedOnly || (Array.isArray(r.check_failures) && r.check_failures.length > 0)),
  )
  const models = [...new Set((rows ?? []).map((r) => String(r.model ?? '')))].filter(Boolean)
  return (
    <Section title="Inference log">
      <form
        class="inline"
        onSubmit={async (e) => {
          e.preventDefault()
          await read().catch(setError)
        }}
      >
        <Field label="From">
          <input type="datetime-local" name="log-start" value={start} onInput={(e) => setStart(e.currentTarget.value)} />
        </Field>
        <Field label="To (empty: now)">
          <input type="datetime-local" name="log-end" value={end} onInput={(e) => setEnd(e.currentTarget.value)} />
        </Field>
        <button type="submit" class="primary">
          Read
        </button>
      </form>
      <ErrorNote error={error} />
      {rows && (
        <>
          <div class="inline">
            <Field label="Pipeline version">
              <select name="log-version" value={version} onChange={(e) => setVersion(e.currentTarget.value)}>
                <option value="">all</option>
                {pipeline.versions.map((v) => (
                  <option key={v.version} value={String(v.version)}>
                    {v.version}
                  </option>
                ))}
              </select>
            </Field>
            <Field label="Model">
              <select name="log-model" value={model} onChange={(e) => setModel(e.currentTarget.value)}>
                <option value="">all</option>
                {models.map((m) => (
                  <option key={m} value={m}>
                    {m}
                  </option>
                ))}
              </select>
            </Field>
            <label class="check">
              <input type="checkbox" checked={failedOnly} onChange={(e) => setFailedOnly(e.currentTarget.checked)} /> only
              rows with check failures
            </label>
          </div>
          <p>
            {shown.length} of {rows.length} rows read{next ? ' (more in the range)' : ''}.{' '}
            {next && <Action label="Read more" run={() => read(next)} />}{' '}
            <button type="button" onClick={() => download(toCsv(shown), `${pipeline.name}-log.csv`, 'text/csv')}>
              Download CSV
            </button>{' '}
            <button
              type="button"
              onClick={() => download(`${JSON.stringify(shown, bigintAsText)}\n`, `${pipeline.name}-log.json`, 'application/json')}
            >
              Download JSON
            </button>{' '}
            <Action
              label="Download Arrow (the whole page, unfiltered)"
              run={async () => {
                const res = await ctx.client.logs(ctx.ws, pipeline.name, { ...range(), limit: 1000 }, 'arrow')
                download(await res.arrayBuffer(), `${pipeline.name}-log.arrow`, 'application/vnd.apache.arrow.file')
              }}
            />
          </p>
          <div class="scroll">
            <table class="log">
              <thead>
                <tr>
                  {Object.keys(shown[0] ?? rows[0] ?? {}).map((c) => (
                    <th key={c}>{c}</th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {shown.slice(0, 200).map((r, i) => (
                  // biome-ignore lint/suspicious/noArrayIndexKey: log rows have no id; their order is the log's
                  <tr key={i}>
                    {Object.entries(r).map(([k, v]) => (
                      <td key={k}>{k === 'time' ? fmt.time(Number(v)) : cell(v)}</td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {shown.length > 200 && <p class="muted">The first 200 rows are shown; downloads hold them all.</p>}
        </>
      )}
    </Section>
  )
}
