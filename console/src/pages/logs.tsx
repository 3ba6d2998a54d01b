/**
 * The inference log of a pipeline: a time range read a page at a time (the server's `Link`
 * rel="next" followed on demand), filtered by the server by pipeline version, model arm and check
 * failures; the rows read download as CSV or JSON, and the same page as the server's Arrow.
 */
import { useEffect, useState } from 'preact/hooks'
import type { Pipeline } from '../../../src/client/client.js'
import { parseExactJson } from '../../../src/exact-json.js'
import { bigintAsText, cell, failedChecks, type Row, toCsv } from '../rows.js'
import { ExplanationJobView } from './explain.js'
import { Action, type Ctx, download, ErrorNote, Field, fmt, Section } from '../ui.js'


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
  const [open, setOpen] = useState<Row | undefined>(undefined)
  // The filters go to the server: pages, and the Arrow download, hold only the rows they name.
  const range = () => ({
    start: isoOrUndefined(start),
    end: isoOrUndefined(end),
    ...(version ? { pipeline_version: Number(version) } : {}),
    ...(model ? { model } : {}),
    ...(failedOnly ? { check_failures: true } : {}),
  })
  const read = async (cursor?: string) => {
    const res = await ctx.client.logs(ctx.ws, pipeline.name, { ...range(), limit: 1000, ...(cursor ? { cursor } : {}) })
    const page = parseExactJson(await res.text()) as Row[]
    setNext(/[?&]cursor=([\d.]+)/.exec(res.headers.get('link') ?? '')?.[1])
    setRows((before) => (cursor ? [...(before ?? []), ...page] : page))
    setError(undefined)
  }
  const shown = rows ?? []
  const [models, setModels] = useState<string[]>(pipeline.deployment?.models ?? [])
  // biome-ignore lint/correctness/useExhaustiveDependencies: read again when a filter changes, once a range was read
  useEffect(() => {
    if (rows) read().catch(setError)
  }, [version, model, failedOnly])
  useEffect(() => {
    const seen = (rows ?? []).map((r) => String(r.model ?? '')).filter((m) => m && !models.includes(m))
    if (seen.length) setModels([...models, ...new Set(seen)])
  }, [rows, models])
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
            {rows.length} rows read{next ? ' (more in the range)' : ''}.{' '}
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
              label="Download Arrow (first page)"
              run={async () => {
                const res = await ctx.client.logs(ctx.ws, pipeline.name, { ...range(), limit: 1000 }, 'arrow')
                download(await res.arrayBuffer(), `${pipeline.name}-log.arrows`, 'application/vnd.apache.arrow.stream')
              }}
            />
          </p>
          <div class="scroll">
            <table class="log">
              <thead>
                <tr>
                  <th />
                  {Object.keys(shown[0] ?? rows[0] ?? {}).map((c) => (
                    <th key={c}>{c}</th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {shown.slice(0, 200).map((r, i) => (
                  // biome-ignore lint/suspicious/noArrayIndexKey: log rows have no id; their order is the log's
                  <tr key={i} class={r === open ? 'selected' : ''}>
                    <td>
                      <button type="button" class="link" onClick={() => setOpen(r)} aria-label={`open row ${i}`}>
                        open
                      </button>
                    </td>
                    {Object.entries(r).map(([k, v]) => (
                      <td key={k}>{k === 'time' ? fmt.time(Number(v)) : cell(v)}</td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {shown.length > 200 && <p class="muted">The first 200 rows are shown; downloads hold them all.</p>}
          {open && <RequestView key={String(open.time)} ctx={ctx} pipeline={pipeline} row={open} />}
        </>
      )}
    </Section>
  )
}

/**
 * One logged row on its own: when, which version and model answered it, how long it took, its
 * checks, its inputs and outputs (a shadow's challengers' too), and an explanation of it on demand
 * (KernelSHAP against the log's last hour). Its outcome will join it once the server takes ground truth.
 */
function RequestView({ ctx, pipeline, row }: { ctx: Ctx; pipeline: Pipeline; row: Row }) {
  const [job, setJob] = useState<string | undefined>(undefined)
  const inputs = Object.entries(row).filter(([k]) => k.startsWith('in.'))
  const outputs = Object.entries(row).filter(([k]) => k.startsWith('out'))
  return (
    <article class="card" aria-label="request">
      <h3>
        Row of {fmt.time(Number(row.time))}: version {cell(row.pipeline_version)}, model {cell(row.model)},{' '}
        {fmt.num(Number(row.latency_ms))} ms, {failedChecks(row)} failed check{failedChecks(row) === 1 ? '' : 's'}
      </h3>
      <table>
        <tbody>
          {[...inputs, ...outputs].map(([k, v]) => (
            <tr key={k}>
              <th>{k}</th>
              <td>
                <code>{cell(v)}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <p class="muted">Outcome: none (the server does not take ground truth yet).</p>
      {pipeline.deployment && (
        <Action
          label="Explain this row"
          run={async () => {
            const end = Date.now()
            const request = {
              method: 'kernel_shap',
              rows: [Object.fromEntries(inputs.map(([k, v]) => [k.slice(3), JSON.parse(JSON.stringify(v, bigintAsText))]))],
              reference: { start: new Date(end - 3600_000).toISOString(), end: new Date(end).toISOString() },
            }
            setJob((await ctx.client.explainJob(ctx.ws, pipeline.name, request)).id)
          }}
        />
      )}
      {job && <ExplanationJobView ctx={ctx} id={job} />}
    </article>
  )
}
