/**
 * Pipeline inference in pandas-records and Arrow (same rows as OIP), metrics, and the HTTP error
 * table: 413, 415, 429 with Retry-After, 503 while draining, 504 on timeout.
 */
import { tableFromArrays, tableFromIPC, tableToIPC } from '@uwdata/flechette'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { torchTabular } from '../fixtures/models.js'
import { doubler, spec, testServer } from '../helpers/server.js'

const RECORDS = 'application/json; format=pandas-records'
/** Every field, flattened with "." (lastmile's client asks the same). */
const FLAT = 'dataset.flatten=true'
type Body = string | Uint8Array
const post = (body: Body, type: string) => ({ method: 'POST', body, headers: { 'content-type': type } })

describe('pipeline inference: pandas-records and Arrow', () => {
  let s: Awaited<ReturnType<typeof testServer>>
  beforeAll(async () => {
    s = await testServer({ server: { bodyLimitBytes: 4096 } })
    await s.deps.manager.deploy(spec('double', doubler(3)))
    await s.deps.manager.deploy(spec('tabular', torchTabular().bytes))
  })
  afterAll(() => s.shutdown())

  it('answers pandas-records nested as the engine does without a dataset query: time, in, out, check_failures, metadata', async () => {
    const t0 = Date.now()
    const res = await s.app.request(
      '/v1/workspaces/default/pipelines/double/infer',
      post(JSON.stringify([{ x: [1, 2, 3] }, { x: [4, 5, 6] }]), RECORDS),
    )
    expect(res.status).toBe(200)
    const rows = (await res.json()) as Array<Record<string, unknown>>
    expect(rows).toHaveLength(2)
    expect(Object.keys(rows[1] ?? {})).toEqual(['time', 'in', 'out', 'check_failures', 'metadata'])
    expect(rows[1]).toMatchObject({
      in: { x: [4, 5, 6] },
      out: { y: [8, 10, 12] },
      check_failures: [],
      // Deployed without the registry: no sha to give.
      metadata: { last_model: '{"model_name":"double"}', pipeline_version: '1', model: 'double:1' },
    })
    const { elapsed } = (rows[1] as { metadata: { elapsed: number[] } }).metadata
    expect(elapsed).toHaveLength(2)
    expect(elapsed.every((ns) => Number.isInteger(ns) && ns >= 0)).toBe(true)
    expect(rows[0]?.time).toBeGreaterThanOrEqual(t0)
    expect(Number.isInteger(rows[0]?.time)).toBe(true)
  })

  it('takes several inputs per record, with scalar rows for [N] inputs', async () => {
    const body = JSON.stringify([
      { num: [0.1, 0.2, 0.3, 0.4], cat: 2 },
      { num: [1, 2, 3, 4], cat: 0 },
    ])
    const res = await s.app.request('/v1/workspaces/default/pipelines/tabular/infer', post(body, RECORDS))
    expect(res.status).toBe(200)
    const rows = (await res.json()) as Array<{ in: { cat: number }; out: { prob: number[] } }>
    expect(rows.map((r) => r.in.cat)).toEqual([2, 0])
    expect(rows.map((r) => r.out.prob.length)).toEqual([1, 1])
    const missing = await s.app.request(
      '/v1/workspaces/default/pipelines/tabular/infer',
      post(JSON.stringify([{ num: [1, 2, 3, 4] }]), RECORDS),
    )
    expect(missing.status).toBe(400)
    expect(((await missing.json()) as { error: { message: string } }).error.message).toMatch(/missing input 'cat'/)
  })

  it('answers Arrow (stream and file) with the rows of pandas-records, flat with a separator and as structs without', async () => {
    const records = (await (
      await s.app.request(
        `/v1/workspaces/default/pipelines/double/infer?${FLAT}`,
        post(JSON.stringify([{ x: [1, 2, 3] }, { x: [7, 8, 9] }]), RECORDS),
      )
    ).json()) as Array<Record<string, unknown>>
    for (const format of ['stream', 'file'] as const) {
      const table = tableFromArrays({ x: [Float32Array.of(1, 2, 3), Float32Array.of(7, 8, 9)] })
      const type = `application/vnd.apache.arrow.${format}`
      const body = tableToIPC(table, { format }) as Uint8Array
      const res = await s.app.request(`/v1/workspaces/default/pipelines/double/infer?${FLAT}`, post(body, type))
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toBe(type)
      const out = tableFromIPC(new Uint8Array(await res.arrayBuffer()))
      expect(out.schema.fields.map((f) => f.name)).toEqual([
        'time',
        'in.x',
        'out.y',
        'check_failures',
        'metadata.last_model',
        'metadata.pipeline_version',
        'metadata.elapsed',
        'metadata.model',
      ])
      const rows = out.toArray().map((r) => ({
        'in.x': Array.from(r['in.x'] as Float32Array),
        'out.y': Array.from(r['out.y'] as Float32Array),
        check_failures: r.check_failures,
        'metadata.model': r['metadata.model'],
      }))
      expect(rows).toEqual(
        records.map((r) => ({
          'in.x': r['in.x'],
          'out.y': r['out.y'],
          check_failures: r.check_failures,
          'metadata.model': r['metadata.model'],
        })),
      )
      // No query: a struct column per nested field.
      const nested = await s.app.request('/v1/workspaces/default/pipelines/double/infer', post(body, type))
      const t = tableFromIPC(new Uint8Array(await nested.arrayBuffer()))
      expect(t.schema.fields.map((f) => f.name)).toEqual(['time', 'in', 'out', 'check_failures', 'metadata'])
      const row = t.toArray()[1] as { in: { x: Float32Array }; out: { y: Float32Array }; metadata: { model: string } }
      expect([Array.from(row.in.x), Array.from(row.out.y), row.metadata.model]).toEqual([
        [7, 8, 9],
        [14, 16, 18],
        'double:1',
      ])
    }
  })

  describe("answers in the format Accept asks for, the request's by default", () => {
    const STREAM = 'application/vnd.apache.arrow.stream'
    const FILE = 'application/vnd.apache.arrow.file'
    const bodies: Record<string, Body> = {
      [RECORDS]: JSON.stringify([{ x: [1, 2, 3] }, { x: [7, 8, 9] }]),
      [STREAM]: tableToIPC(tableFromArrays({ x: [Float32Array.of(1, 2, 3), Float32Array.of(7, 8, 9)] }), {
        format: 'stream',
      }) as Uint8Array,
      [FILE]: tableToIPC(tableFromArrays({ x: [Float32Array.of(1, 2, 3), Float32Array.of(7, 8, 9)] }), {
        format: 'file',
      }) as Uint8Array,
    }
    // [sent as, Accept, answered as]
    const cases: Array<[string, string | undefined, string]> = [
      [RECORDS, undefined, 'application/json'],
      [RECORDS, '*/*', 'application/json'], // curl's, requests' and httpx's default
      [RECORDS, 'application/*', 'application/json'],
      [RECORDS, FILE, FILE],
      [RECORDS, STREAM, STREAM],
      [STREAM, RECORDS, 'application/json'], // the SDK's pandas Accept on an Arrow body
      [FILE, 'application/json; charset=utf-8', 'application/json'],
      [STREAM, '*/*', STREAM],
      [FILE, undefined, FILE],
      [FILE, FILE, FILE], // Wallaroo's SDK: Arrow file both ways
      [RECORDS, `${STREAM};q=0.4, application/json;q=0.8`, 'application/json'],
      [STREAM, 'application/json;q=0, */*', STREAM],
      [RECORDS, `application/json;q=0, ${FILE};q=0.1`, FILE],
      [STREAM, `text/html, ${RECORDS};q=0.2`, 'application/json'],
    ]
    for (const [sent, accept, answered] of cases) {
      it(`${sent.split('/')[1]} with Accept ${accept ?? '(none)'} → ${answered}`, async () => {
        const headers: Record<string, string> = { 'content-type': sent, ...(accept ? { accept } : {}) }
        const res = await s.app.request(`/v1/workspaces/default/pipelines/double/infer?${FLAT}`, {
          method: 'POST',
          body: bodies[sent],
          headers,
        })
        expect(res.status).toBe(200)
        expect(res.headers.get('content-type')).toBe(answered)
        const bytes = new Uint8Array(await res.arrayBuffer())
        const outY =
          answered === 'application/json'
            ? (JSON.parse(new TextDecoder().decode(bytes)) as Array<Record<string, number[]>>).map((r) => r['out.y'])
            : tableFromIPC(bytes)
                .toArray()
                .map((r) => Array.from(r['out.y'] as Float32Array))
        expect(outY).toEqual([
          [2, 4, 6],
          [14, 16, 18],
        ])
        // An Arrow IPC file starts (and ends) with the magic pyarrow's open_file looks for; a stream does not.
        if (answered !== 'application/json')
          expect(new TextDecoder().decode(bytes.subarray(0, 6)) === 'ARROW1').toBe(answered === FILE)
      })
    }

    for (const accept of ['text/html', 'application/json; format=wallaroo', 'application/xml, text/*;q=0.9']) {
      it(`answers 406 naming the formats it writes for Accept ${accept}`, async () => {
        const res = await s.app.request('/v1/workspaces/default/pipelines/double/infer', {
          method: 'POST',
          body: bodies[RECORDS],
          headers: { 'content-type': RECORDS, accept },
        })
        expect(res.status).toBe(406)
        const { error } = (await res.json()) as { error: { code: string; message: string } }
        expect(error.code).toBe('not_acceptable')
        expect(error.message).toContain(`Accept '${accept}' allows none of the formats`)
        expect(error.message).toContain(`${RECORDS}, ${STREAM}, ${FILE}`)
      })
    }
  })

  const bad: Array<[string, Body, string, number, RegExp]> = [
    ['malformed JSON', '[{"x": ', RECORDS, 400, /malformed JSON/],
    ['not an array', '{"x": [1,2,3]}', RECORDS, 400, /non-empty JSON array of objects/],
    ['ragged row', '[{"x": [1,2,3]}, {"x": [1,2]}]', RECORDS, 400, /ragged data at \[1\]: 2 items, expected 3/],
    ['non-numeric', '[{"x": [1,"a",3]}]', RECORDS, 400, /element \[0\]\[1\] is "a"/],
    ['unknown input', '[{"x": [1,2,3], "extra": 1}]', RECORDS, 400, /unknown input 'extra'/],
    [
      'malformed Arrow',
      'definitely not arrow',
      'application/vnd.apache.arrow.stream',
      400,
      /not an Arrow IPC stream or file/,
    ],
    ['unsupported content type', 'x=1', 'application/x-www-form-urlencoded', 415, /is not accepted here/],
    [
      'body over the limit',
      JSON.stringify(Array.from({ length: 400 }, () => ({ x: [1, 2, 3] }))),
      RECORDS,
      413,
      /larger than the limit of 4096 bytes/,
    ],
  ]
  for (const [what, body, type, status, message] of bad) {
    it(`answers ${status} for ${what}`, async () => {
      const res = await s.app.request('/v1/workspaces/default/pipelines/double/infer', post(body, type))
      expect(res.status).toBe(status)
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(message)
    })
  }

  it('exposes Prometheus metrics: requests, rows, stage latencies, batch sizes, queue, backend', async () => {
    const text = await (await s.app.request('/metrics')).text()
    expect(text).toMatch(
      /lastmile_requests_total\{workspace="default",pipeline="double",protocol="records",code="200"\} [1-9]/,
    )
    expect(text).toMatch(
      /lastmile_rows_total\{workspace="default",pipeline="double",protocol="records",code="200"\} [1-9]/,
    )
    for (const stage of ['queue', 'pre', 'model', 'post', 'total']) {
      expect(text).toContain(`lastmile_stage_seconds_count{workspace="default",pipeline="double",stage="${stage}"}`)
    }
    expect(text).toMatch(/lastmile_batch_rows_bucket\{le="1",workspace="default",pipeline="double"\}/)
    expect(text).toContain('lastmile_queue_rows{workspace="default",pipeline="double"} 0')
    expect(text).toContain(
      'lastmile_deployment_info{workspace="default",pipeline="double",version="1",model="double:1",backend="cpu",active_backend="cpu"} 1',
    )
  })
})

describe('back-pressure and deadlines', () => {
  it('answers 429 with Retry-After when the queue is full, 504 past the deadline, 503 while draining', async () => {
    const s = await testServer()
    // A long queue delay keeps the first request queued while the next ones arrive.
    await s.deps.manager.deploy(
      spec('q', doubler(1), { batching: { max_queue_size: 2, max_queue_delay_ms: 300, max_batch_size: 64 } }),
    )
    await s.deps.manager.deploy(spec('slow', doubler(1), { batching: { timeout_ms: 20, max_queue_delay_ms: 200 } }))
    const req = (pipeline: string, rows: number) =>
      s.app.request(
        `/v1/workspaces/default/pipelines/${pipeline}/infer`,
        post(JSON.stringify(Array.from({ length: rows }, () => ({ x: [1] }))), RECORDS),
      )
    const first = req('q', 2)
    const second = await req('q', 1)
    expect(second.status).toBe(429)
    expect(second.headers.get('retry-after')).toBe('1')
    expect(((await second.json()) as { error: { code: string } }).error.code).toBe('queue_full')
    expect((await first).status).toBe(200)

    const late = await req('slow', 1)
    expect(late.status).toBe(504)
    expect(((await late.json()) as { error: { message: string } }).error.message).toMatch(/no answer within 20 ms/)

    const queued = req('q', 1)
    await vi.waitFor(() => expect(s.deps.manager.require('default', 'q').queuedRows()).toBe(1))
    const shutdown = s.shutdown()
    const during = await req('q', 1)
    expect(during.status).toBe(503) // refused while draining, with a reason
    expect(((await during.json()) as { error: { message: string } }).error.message).toMatch(/shutting down/)
    expect((await s.app.request('/v2/health/ready')).status).toBe(503)
    expect((await queued).status).toBe(200) // queued before the drain: answered
    await shutdown
    expect((await req('q', 1)).status).toBe(503) // still refused after shutdown: the server is going, the pipeline is not missing
  })
})
