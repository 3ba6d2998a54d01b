/**
 * The live view over HTTP: a deployed pipeline's snapshot after real traffic (rates, latency per
 * stage, rows per arm, its deployment), 404 for a missing pipeline, 400 for a bad window, and the
 * event stream on a real socket: snapshots pushed, the server's stream limit, the stream ended by
 * the client and by a shutdown.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ApiError, LastmileClient } from '../../src/client/client.js'
import { type RunningServer, startServer } from '../../src/server/serve.js'
import { doubler, testConfig } from '../helpers/server.js'

/** Read server-sent events from `res` until `count` have come; each as {event, id, data}. */
async function events(res: Response, count: number): Promise<Array<{ event: string; id: string; data: string }>> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader()
  const decoder = new TextDecoder()
  let text = ''
  const out: Array<{ event: string; id: string; data: string }> = []
  while (out.length < count) {
    const { value, done } = await reader.read()
    if (done) break
    text += decoder.decode(value, { stream: true })
    let end = text.indexOf('\n\n')
    while (end >= 0 && out.length < count) {
      const fields = Object.fromEntries(
        text
          .slice(0, end)
          .split('\n')
          .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trimStart()]),
      )
      out.push({ event: fields.event ?? '', id: fields.id ?? '', data: fields.data ?? '' })
      text = text.slice(end + 2)
      end = text.indexOf('\n\n')
    }
  }
  await reader.cancel()
  return out
}

describe('the live view', () => {
  let server: RunningServer
  let lm: LastmileClient
  beforeAll(async () => {
    server = await startServer(testConfig({ live: { maxStreams: 1 } }))
    lm = new LastmileClient({ url: server.url })
    await lm.uploadModel('default', 'a', doubler(2))
    await lm.uploadModel('default', 'b', doubler(3)) // other bytes: another model
    await lm.putPipeline('default', 'm', [{ model: 'a' }])
    await lm.deploy('default', 'm')
  })
  afterAll(() => server?.close())

  it('shows the traffic just sent: rates, latency per stage, the arm, the deployment', async () => {
    for (let i = 0; i < 5; i++) await lm.inferRecords('default', 'm', [{ x: [i, 1] }, { x: [2, i] }, { x: [0, 0] }])
    await lm.inferRecords('default', 'm', [{ y: [1, 2] }]).catch(() => undefined) // a 400
    const s = await lm.liveStats('default', 'm', 60)
    expect(s.window_seconds).toBe(60)
    // 6 requests and 15 rows within the last minute: at least that many per 60 s.
    expect(s.requests_per_second * 60).toBeGreaterThanOrEqual(6 - 1e-9)
    expect(s.rows_per_second / s.requests_per_second).toBeCloseTo(15 / 6, 9)
    expect(s.client_errors_per_second / s.requests_per_second).toBeCloseTo(1 / 6, 9)
    expect(s.server_errors_per_second).toBe(0)
    expect(s.latency.total.count).toBe(5)
    expect(s.latency.queue.count).toBe(5)
    expect(s.latency.model.count).toBeGreaterThanOrEqual(1)
    expect(s.latency.total.p99_ms as number).toBeGreaterThan(0)
    expect(s.arms).toEqual([{ model: 'a:1', rows_per_second: s.rows_per_second, share: 1 }])
    expect(s.series).toHaveLength(60)
    expect(s.series.reduce((n, p) => n + p.rows, 0)).toBe(15)
    expect(s.deployment).toMatchObject({ state: 'ready', pipeline_version: 1, models: ['a:1'] })
  })

  it('answers 404 for a missing pipeline and 400 for a window out of range', async () => {
    const missing = await lm.liveStats('default', 'nope').catch((e: unknown) => e)
    expect((missing as ApiError).status).toBe(404)
    const bad = await lm.liveStats('default', 'm', 61).catch((e: unknown) => e)
    expect(bad).toBeInstanceOf(ApiError)
    expect((bad as ApiError).status).toBe(400)
    expect((bad as ApiError).message).toMatch(/window/)
  })

  it("reads the pushed snapshots with the typed client, and frees the stream's place when the loop stops", async () => {
    const seen: number[] = []
    for await (const snap of lm.live('default', 'm', { intervalMs: 250, window: 5 })) {
      expect(snap.window_seconds).toBe(5)
      expect(snap.deployment?.inputs).toEqual([{ name: 'x', datatype: 'FP32', shape: [-1, 2] }])
      // A server on the cpu backend never opened the GPU, and the live view does not open it.
      expect(snap.gpu).toEqual({ state: 'not_opened', adapter: null })
      seen.push(snap.time)
      if (seen.length === 2) break
    }
    expect(seen[1]).toBeGreaterThan(seen[0] as number)
    // The loop's end cancelled the response: the one stream allowed here is free again.
    let open = server.deps.live.open
    for (let i = 0; open > 0 && i < 100; i++) {
      await new Promise((r) => setTimeout(r, 100))
      open = server.deps.live.open
    }
    expect(open).toBe(0)
  })

  it('pushes snapshots as server-sent events, one stream at a time here', async () => {
    const url = `${server.url}/v1/workspaces/default/pipelines/m/live?interval_ms=250&window=5`
    const ctl = new AbortController()
    const res = await fetch(url, { signal: ctl.signal })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/)
    // The limit is 1: a second stream is refused while this one is open.
    const second = await fetch(url)
    expect(second.status).toBe(429)
    expect(second.headers.get('retry-after')).toBe('5')
    expect(((await second.json()) as { error: { message: string } }).error.message).toMatch(
      /LASTMILE_LIVE_MAX_STREAMS=1/,
    )
    const got = await events(res, 3)
    expect(got.map((e) => [e.event, e.id])).toEqual([
      ['stats', '0'],
      ['stats', '1'],
      ['stats', '2'],
    ])
    const snap = JSON.parse(got[2]?.data ?? '{}')
    expect(snap.window_seconds).toBe(5)
    expect(snap.deployment.state).toBe('ready')
    expect(snap.time).toBeGreaterThan(JSON.parse(got[0]?.data ?? '{}').time)
    ctl.abort()
    // Once the client has gone, its stream's place frees up (within an interval).
    let again = await fetch(url)
    for (let i = 0; again.status === 429 && i < 100; i++) {
      await new Promise((r) => setTimeout(r, 100))
      again = await fetch(url)
    }
    expect(again.status).toBe(200)
    // A shutdown ends open streams rather than waiting on them.
    const reading = events(again, 1000)
    await server.close()
    expect((await reading).length).toBeGreaterThan(0)
  })
})
