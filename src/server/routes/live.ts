/**
 * Live routes: what a deployed pipeline is doing right now — a snapshot (`…/stats`) and the same
 * pushed every interval as server-sent events (`…/live`), for the console and for `curl -N`.
 */
import { setTimeout as wait } from 'node:timers/promises'
import type { Context, Hono } from 'hono'
import { streamSSE } from 'hono/streaming'
import { z } from 'zod'
import { QueueFullError } from '../../errors.js'
import { HISTORY_SECONDS, MIN_WINDOW_SECONDS } from '../../live/stats.js'
import { type LiveSnapshotWire, liveSnapshotSchema } from '../../wire/live.js'
import type { ServerDeps } from '../deps.js'
import type { RouteTable } from '../route-table.js'

const param = (c: Context, name: string) => c.req.param(name) as string

const window = z.coerce
  .number()
  .int()
  .min(MIN_WINDOW_SECONDS)
  .max(HISTORY_SECONDS)
  .default(10)
  .describe(`seconds the rates and latencies cover, ${MIN_WINDOW_SECONDS} to ${HISTORY_SECONDS}`)

export function liveRoutes(app: Hono, routes: RouteTable, deps: ServerDeps): void {
  const { live, manager, registry } = deps
  const tag = 'Live'
  const P = '/v1/workspaces/{ws}/pipelines/{name}'

  /** The pipeline's snapshot with its deployment (404 for a pipeline that does not exist). */
  async function snapshot(ws: string, name: string, seconds: number): Promise<LiveSnapshotWire> {
    await registry.getPipeline(ws, name)
    const gpu = await deps.engine.gpuStatus()
    const adapter =
      'adapter' in gpu
        ? { description: gpu.adapter.description, backend: gpu.adapter.backend, software: gpu.adapter.software }
        : null
    return {
      ...live.stats.snapshot(ws, name, seconds),
      deployment: manager.get(ws, name)?.status() ?? null,
      gpu: { state: gpu.state, adapter },
    }
  }

  routes.add(
    app,
    {
      method: 'get',
      path: `${P}/stats`,
      summary: 'What the pipeline is doing now: requests, rows and errors per second, latency per stage, rows per arm',
      tag,
      access: 'viewer',
      query: z.object({ window }),
      responses: { 200: { description: 'the snapshot', json: liveSnapshotSchema }, 404: 'no such pipeline' },
    },
    async (c, { query }) => c.json(await snapshot(param(c, 'ws'), param(c, 'name'), query.window)),
  )
  routes.add(
    app,
    {
      method: 'get',
      path: `${P}/live`,
      summary: 'The snapshot of …/stats pushed every interval, as server-sent events (event "stats")',
      tag,
      access: 'viewer',
      query: z.object({
        window,
        interval_ms: z.coerce
          .number()
          .int()
          .min(250)
          .max(60_000)
          .default(1000)
          .describe('how often a snapshot is sent, 250 ms to 60 s'),
      }),
      responses: {
        200: {
          description: 'an event stream: `event: stats`, `data: <the snapshot as JSON>`',
          media: ['text/event-stream'],
        },
        404: 'no such pipeline',
        429: 'every live stream the server allows is open (LASTMILE_LIVE_MAX_STREAMS)',
      },
    },
    async (c, { query }) => {
      const ws = param(c, 'ws')
      const name = param(c, 'name')
      const first = await snapshot(ws, name, query.window) // a missing pipeline is a 404 before the stream opens
      if (live.open >= live.maxStreams)
        throw new QueueFullError(
          `${live.open} live streams are open, the most this server allows (LASTMILE_LIVE_MAX_STREAMS=${live.maxStreams}); close one, or poll ${P.replace('{ws}', ws).replace('{name}', name)}/stats`,
          5,
        )
      live.open++
      return streamSSE(c, async (stream) => {
        // Ends when the client goes or a shutdown begins, each of which also cuts the wait short.
        const ended = new AbortController()
        const end = () => ended.abort()
        stream.onAbort(end)
        live.closing.addEventListener('abort', end, { once: true })
        try {
          let next: LiveSnapshotWire | undefined = first
          for (let id = 0; !ended.signal.aborted && !live.closing.aborted; id++) {
            next ??= await snapshot(ws, name, query.window).catch(() => undefined)
            if (!next) break // the pipeline was deleted
            await stream.writeSSE({ event: 'stats', id: String(id), data: JSON.stringify(next) })
            next = undefined
            await wait(query.interval_ms, undefined, { signal: ended.signal }).catch(() => undefined) // cut short by `end`
          }
        } finally {
          live.closing.removeEventListener('abort', end)
          live.open--
        }
      })
    },
  )
}
