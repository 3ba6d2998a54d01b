/**
 * The review's body and query findings through the real server (a socket, real fetch):
 * - compressed bodies only on the inference routes (a gzip model upload or JSON body is a 415);
 *   a JSON body of names and settings is capped at 64 KiB (413); a large JSON body of a data route
 *   is parsed in a body worker, its values counted (400 past LASTMILE_JSON_BODY_MAX_VALUES);
 * - the inference log answers at most LASTMILE_INFERENCE_LOG_QUERY_MAX_ROWS rows (a larger
 *   `limit` is a 400 naming it), a page at a time with Link rel="next", read in a body worker;
 * - a large body that does not send its first bytes within the grace, or falls behind the pace
 *   once admitted, is a 408 with Connection: close, its turn passes on, and the next is served.
 */
import { connect } from 'node:net'
import { gzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RunningServer, startServer } from '../../src/server/serve.js'
import { doubler, spec, testConfig } from '../helpers/server.js'

const WIDTH = 4
const LARGE = 64 * 1024
/** An OIP request of `n` rows of x float32 [n, WIDTH]: row r holds r·WIDTH … r·WIDTH + 3. */
const oip = (n: number) =>
  JSON.stringify({
    inputs: [{ name: 'x', shape: [n, WIDTH], datatype: 'FP32', data: Array.from({ length: n * WIDTH }, (_, i) => i) }],
  })

/** What a raw HTTP/1.1 exchange got: the status line's code, the head (lower case) and the body. */
interface RawAnswer {
  status: number
  head: string
  body: string
}

/**
 * Send `head` (request line and headers, no blank line) and `body` on a fresh socket, then nothing
 * more: the answer, once the server closes the connection (a test that waits forever fails).
 */
function raw(url: string, head: string, body: string): Promise<RawAnswer> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname)
    let got = ''
    socket.setEncoding('latin1')
    socket.on('data', (d: string) => {
      got += d
    })
    socket.on('error', reject)
    socket.on('close', () => {
      const [top = '', ...body] = got.split('\r\n\r\n')
      const [first = '', ...rest] = top.split('\r\n')
      resolve({ status: Number(first.split(' ')[1]), head: rest.join('\n').toLowerCase(), body: body.join('\r\n\r\n') })
    })
    socket.write(`${head}\r\nHost: ${hostname}:${port}\r\n\r\n${body}`)
  })
}

describe('request bodies outside inference, and the inference log query, bounded', () => {
  let server: RunningServer
  const url = (path: string) => `${server.url}${path}`
  const tasks = () => server.deps.bodies.stats().workerTasks

  beforeAll(async () => {
    server = await startServer(
      testConfig({
        bodies: { largeBytes: LARGE, workers: 1 },
        server: { jsonMaxValues: 1000 },
        inferenceLog: { queryMaxRows: 5 },
      }),
    )
    await server.deps.manager.deploy(spec('double', doubler(WIDTH)))
  })
  afterAll(() => server.close())

  it('refuses a gzip model upload with 415 before inflating it, and stores nothing', async () => {
    // 64 MiB of zeros in 64 KiB: before, inflated in full and parsed as a model.
    const body = gzipSync(new Uint8Array(64 * 2 ** 20), { level: 9 })
    expect(body.byteLength).toBeLessThan(128 * 1024)
    const res = await fetch(url('/v1/workspaces/default/models/bomb'), {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/octet-stream', 'content-encoding': 'gzip' },
    })
    expect(res.status).toBe(415)
    expect(res.headers.get('accept-encoding')).toBe('identity')
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain(
      "Content-Encoding 'gzip' is not accepted on this route",
    )
    expect((await fetch(url('/v1/workspaces/default/models/bomb'))).status).toBe(404)
  })

  it('refuses compressed JSON bodies on data and control routes alike (415)', async () => {
    const preview = JSON.stringify({ baseline: { values: [1, 2, 3] }, window: { values: [1, 2] } })
    for (const path of ['/v1/workspaces/default/assays/preview', '/v1/workspaces']) {
      const res = await fetch(url(path), {
        method: 'POST',
        body: gzipSync(preview),
        headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      })
      expect({ path, status: res.status }).toEqual({ path, status: 415 })
    }
    // The same body uncompressed is read.
    const ok = await fetch(url('/v1/workspaces/default/assays/preview'), {
      method: 'POST',
      body: preview,
      headers: { 'content-type': 'application/json' },
    })
    expect(ok.status).toBe(200)
  })

  it('caps a JSON body of names and settings at 64 KiB (413)', async () => {
    const padded = (bytes: number) => `{"name": "team-x"${' '.repeat(bytes)}}`
    const res = await fetch(url('/v1/workspaces'), {
      method: 'POST',
      body: padded(64 * 1024),
      headers: { 'content-type': 'application/json' },
    })
    expect(res.status).toBe(413)
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain('65536 bytes')
    const small = await fetch(url('/v1/workspaces'), {
      method: 'POST',
      body: padded(60 * 1024),
      headers: { 'content-type': 'application/json' },
    })
    expect(small.status).toBe(201)
  })

  it('parses a large data body in a body worker and counts its values (400 past LASTMILE_JSON_BODY_MAX_VALUES)', async () => {
    const preview = (n: number, pad: number) =>
      `{"baseline": {"values": [${Array.from({ length: n }, (_, i) => i % 7).join(',')}]}, "window": {"values": [1, 2, 3]}}${' '.repeat(pad)}`
    const post = (body: string) =>
      fetch(url('/v1/workspaces/default/assays/preview'), {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json' },
      })
    // 900 values (+ the objects and arrays holding them) in a body past the large size: parsed in a worker.
    const within = preview(900, LARGE)
    const before = tasks().json
    const ok = await post(within)
    expect(ok.status).toBe(200)
    expect(tasks().json).toBe(before + 1)
    // 1001 numbers are more values than 1000 by themselves; 100 KiB of them, well past the large size.
    const over = await post(preview(1001, LARGE))
    expect(over.status).toBe(400)
    const message = ((await over.json()) as { error: { message: string } }).error.message
    expect(message).toContain('more than 1000 JSON values (LASTMILE_JSON_BODY_MAX_VALUES)')
    expect(tasks().json).toBe(before + 2)
  })

  it('answers the log a page of at most LASTMILE_INFERENCE_LOG_QUERY_MAX_ROWS rows, linking to the rest', async () => {
    const infer = await fetch(url('/v2/models/double/infer'), {
      method: 'POST',
      body: oip(12),
      headers: { 'content-type': 'application/json' },
    })
    expect(infer.status).toBe(200)
    const logs = '/v1/workspaces/default/pipelines/double/logs'
    const over = await fetch(url(`${logs}?limit=6`))
    expect(over.status).toBe(400)
    expect(((await over.json()) as { error: { message: string } }).error.message).toContain(
      'at most 5 rows per request (LASTMILE_INFERENCE_LOG_QUERY_MAX_ROWS)',
    )
    // Page through with the Link header: 5 + 5 + 2 rows, in order, each read in a body worker.
    const firsts: number[] = []
    let next: string | undefined = `${logs}?limit=5&columns=in.x`
    const pages: number[] = []
    const before = tasks().page
    while (next) {
      const res = await fetch(url(next))
      expect(res.status).toBe(200)
      const rows = (await res.json()) as Array<{ 'in.x': number[] }>
      pages.push(rows.length)
      for (const r of rows) firsts.push(r['in.x'][0] as number)
      next = /^<([^>]+)>; rel="next"$/.exec(res.headers.get('link') ?? '')?.[1]
    }
    expect(pages).toEqual([5, 5, 2])
    expect(firsts).toEqual(Array.from({ length: 12 }, (_, r) => r * WIDTH))
    expect(tasks().page).toBe(before + 3)
    // No limit: the default, at most the maximum.
    expect(((await (await fetch(url(logs))).json()) as unknown[]).length).toBe(5)
  })
})

describe('large bodies held to a pace', () => {
  let server: RunningServer
  const infer = '/v2/models/double/infer'
  const declared = 2_000_000
  const head = `POST ${infer} HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: ${declared}`

  beforeAll(async () => {
    server = await startServer(
      testConfig({
        // A grace and a pace no sending client misses, loaded machine or not, and a client that stops does.
        bodies: { largeBytes: LARGE, workers: 1, perWorker: 1, queue: 1, graceMs: 3000, minBytesPerSecond: 1024 },
      }),
    )
    await server.deps.manager.deploy(spec('double', doubler(WIDTH)))
  })
  afterAll(() => server.close())

  const served = async () => {
    const body = oip(5000)
    expect(body.length).toBeGreaterThan(LARGE)
    const res = await fetch(`${server.url}${infer}`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
    })
    expect(res.status).toBe(200)
    expect(((await res.json()) as { outputs: Array<{ data: number[] }> }).outputs[0]?.data[4999 * WIDTH]).toBe(
      2 * 4999 * WIDTH,
    )
  }

  it('answers 408 and closes when a large body sends nothing after its headers, never admitting it', async () => {
    const answer = await raw(server.url, head, '{')
    expect(answer.status).toBe(408)
    expect(answer.head).toContain('connection: close')
    expect(answer.body).toContain('(LASTMILE_LARGE_BODY_GRACE_MS), 1 did; it was not admitted')
    expect(server.deps.bodies.stats()).toMatchObject({ admitted: 0, waiting: 0 })
    await served()
  })

  it('answers 408 and passes the turn on when an admitted body stops', async () => {
    // The first 64 KiB and more (so it is admitted), then nothing: it falls behind 1 KiB/s after 3 s.
    const answer = await raw(server.url, head, `{"inputs": ${' '.repeat(80 * 1024)}`)
    expect(answer.status).toBe(408)
    expect(answer.head).toContain('connection: close')
    expect(answer.body).toContain('the body arrived too slowly')
    expect(answer.body).toContain('LASTMILE_LARGE_BODY_MIN_BYTES_PER_SECOND')
    expect(server.deps.bodies.stats()).toMatchObject({ admitted: 0, waiting: 0 })
    await served()
  })
})
