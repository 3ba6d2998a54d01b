/**
 * Large inference bodies through the real server (a socket, real fetch): they are decoded and
 * answered in a body worker with the same answers and errors as small ones on the event loop,
 * admitted one at a time here, with 429 once the waiting room is full.
 */
import { request } from 'node:http'
import { fixedSizeList, float32, tableFromArrays, tableFromIPC, tableToIPC } from '@uwdata/flechette'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { type RunningServer, startServer } from '../../src/server/serve.js'
import { doubler, spec, testConfig } from '../helpers/server.js'

const WIDTH = 64
const LARGE = 64 * 1024
/** Row r of the inputs: distinct, exact in float32 (multiples of 1/8), and negative in places. */
const row = (r: number) => Array.from({ length: WIDTH }, (_, j) => (r * WIDTH + j) / 8 - 100)
const rows = (n: number) => Array.from({ length: n }, (_, r) => row(r))

const oip = (n: number, datatype = 'FP32') =>
  JSON.stringify({ inputs: [{ name: 'x', shape: [n, WIDTH], datatype, data: rows(n).flat() }] })
/** Flat answers without metadata (its `elapsed` differs between calls), as Wallaroo's SDK asks. */
const FLAT_INFER =
  '/v1/workspaces/default/pipelines/double/infer?dataset[]=*&dataset.exclude[]=metadata&dataset.separator=.'
const records = (n: number) => JSON.stringify(rows(n).map((x) => ({ x })))
/** An OIP answer's JSON, as far as these tests read it. */
type OipAnswer = { outputs: Array<{ shape: number[]; data: number[] }> } & Record<string, unknown>

const arrow = (n: number) =>
  tableToIPC(
    tableFromArrays({ x: rows(n).map((x) => Float32Array.from(x)) }, { types: { x: fixedSizeList(float32(), WIDTH) } }),
    { format: 'stream' },
  ) as Uint8Array<ArrayBuffer>

describe('large inference bodies', () => {
  let server: RunningServer
  const post = (path: string, body: string | Uint8Array<ArrayBuffer>, type = 'application/json') =>
    fetch(`${server.url}${path}`, { method: 'POST', body, headers: { 'content-type': type } })
  /** Bodies decoded and answers encoded in a worker so far (the log's frames are counted apart). */
  const workerTasks = () => {
    const { decode, encode } = server.deps.bodies.stats().workerTasks
    return decode + encode
  }

  beforeAll(async () => {
    server = await startServer(
      testConfig({
        // A generous pace: the test holds bodies half sent on purpose, for as long as a loaded machine takes.
        bodies: { largeBytes: LARGE, workers: 1, perWorker: 1, queue: 1, graceMs: 600_000 },
        inferenceLog: { rollBytes: 1024 }, // every flush rolls its segment
      }),
    )
    await server.deps.manager.deploy(spec('double', doubler(WIDTH), { batching: { max_batch_size: 128 } }))
  })
  afterAll(() => server.close())

  it('answers a large OIP body in a worker as a small one on the event loop', async () => {
    expect(oip(400).length).toBeGreaterThan(LARGE)
    expect(oip(3).length).toBeLessThan(LARGE)
    const before = workerTasks()
    const small = (await (await post('/v2/models/double/infer', oip(3))).json()) as OipAnswer
    expect(workerTasks()).toBe(before)
    const res = await post('/v2/models/double/infer', oip(400))
    expect(res.status).toBe(200)
    expect(workerTasks()).toBe(before + 2) // decoded there, and the answer encoded there
    const big = (await res.json()) as OipAnswer
    expect(big.outputs[0]?.shape).toEqual([400, WIDTH])
    expect(big.outputs[0]?.data).toEqual(
      rows(400)
        .flat()
        .map((v) => 2 * v),
    )
    expect(big.outputs[0]?.data.slice(0, 3 * WIDTH)).toEqual(small.outputs[0]?.data)
    expect({ ...big, outputs: undefined, parameters: undefined }).toEqual({
      ...small,
      outputs: undefined,
      parameters: undefined,
    })
  })

  it("logs a large request's rows, its frames encoded and its segment rolled in a worker", async () => {
    const { frames, roll } = server.deps.bodies.stats().workerTasks
    const since = Date.now()
    expect((await post('/v2/models/double/infer', oip(500))).status).toBe(200)
    const logged = await server.deps.inferenceLog.query('default', 'double', { start: since, columns: ['in.x'] })
    const after = server.deps.bodies.stats().workerTasks // the log's timer may have flushed earlier requests too
    expect(after.frames).toBeGreaterThan(frames)
    expect(after.roll).toBeGreaterThan(roll)
    expect(logged).toHaveLength(500)
    expect(logged[499]?.['in.x']).toEqual(row(499))
  })

  it('answers a large pandas-records body in a worker as a small one', async () => {
    const type = 'application/json; format=pandas-records'
    const before = workerTasks()
    const small = (await (await post(FLAT_INFER, records(2), type)).json()) as Array<Record<string, unknown>>
    const res = await post(FLAT_INFER, records(300), type)
    expect(res.status).toBe(200)
    expect(workerTasks()).toBe(before + 2)
    const big = (await res.json()) as Array<Record<string, unknown>>
    expect(big).toHaveLength(300)
    big.forEach((rec, r) => {
      expect(rec['out.y']).toEqual(row(r).map((v) => 2 * v))
    })
    const untimed = (recs: Array<Record<string, unknown>>) => recs.map(({ time: _t, ...rest }) => rest)
    expect(untimed(big.slice(0, 2))).toEqual(untimed(small))
  })

  it('answers a large Arrow body in a worker as a small one', async () => {
    const type = 'application/vnd.apache.arrow.stream'
    const before = workerTasks()
    const small = tableFromIPC(new Uint8Array(await (await post(FLAT_INFER, arrow(2), type)).arrayBuffer()))
    const res = await post(FLAT_INFER, arrow(300), type)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe(type)
    expect(workerTasks()).toBe(before + 2)
    const big = tableFromIPC(new Uint8Array(await res.arrayBuffer()))
    expect(big.numRows).toBe(300)
    const out = big.getChild('out.y')
    for (let r = 0; r < 300; r++) expect(Array.from(out?.at(r) as Float32Array)).toEqual(row(r).map((v) => 2 * v))
    expect(Array.from(out?.at(1) as Float32Array)).toEqual(Array.from(small.getChild('out.y')?.at(1) as Float32Array))
  })

  it("answers a worker's typed error with the same 400 and message as the event loop's", async () => {
    const before = workerTasks()
    const small = await post('/v2/models/double/infer', oip(3, 'FP64'))
    const large = await post('/v2/models/double/infer', oip(400, 'FP64'))
    expect(workerTasks()).toBe(before + 1)
    expect([small.status, large.status]).toEqual([400, 400])
    const [a, b] = [await small.json(), await large.json()]
    expect(b).toEqual(a)
    expect(JSON.stringify(b)).toContain("input 'x' has datatype FP64, the model expects FP32")
  })

  /**
   * A large OIP request on a socket of its own that sends its first 64 KiB and a little more (a
   * large body waits for its turn only once they came); the rest comes with `finish`.
   */
  const open = (body = oip(400)) => {
    const req = request(`${server.url}/v2/models/double/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': String(body.length) },
    })
    const answered = new Promise<{ status: number; text: string }>((resolve, reject) => {
      req.on('response', (res) => {
        let text = ''
        res.on('data', (b) => {
          text += b
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }))
      })
      req.on('error', reject)
    })
    const sent = 64 * 1024 + 1000
    req.write(body.slice(0, sent))
    return { finish: () => req.end(body.slice(sent)), answered, req }
  }

  it('reads one large body at a time, holds one more unread, and refuses the next with 429', async () => {
    const body = oip(400)
    const first = open()
    await vi.waitFor(() => expect(server.deps.bodies.stats()).toMatchObject({ admitted: 1, waiting: 0 }))
    const second = open()
    await vi.waitFor(() => expect(server.deps.bodies.stats()).toMatchObject({ admitted: 1, waiting: 1 }))
    const refused = await post('/v2/models/double/infer', body)
    expect(refused.status).toBe(429)
    expect(refused.headers.get('retry-after')).toBe('1')
    expect(await refused.text()).toContain('LASTMILE_LARGE_BODY_QUEUE')
    // A chunked body (no Content-Length) is refused once it grows past the threshold, the answer intact.
    const chunked = await new Promise<number>((resolve, reject) => {
      const req = request(`${server.url}/v2/models/double/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
      })
      req.on('response', (res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
      })
      req.on('error', reject)
      req.end(body)
    })
    expect(chunked).toBe(429)
    first.finish()
    expect((await first.answered).status).toBe(200)
    second.finish()
    const answer = await second.answered
    expect(answer.status).toBe(200)
    expect((JSON.parse(answer.text) as OipAnswer).outputs[0]?.data[WIDTH + 1]).toBe(2 * (row(1)[1] as number))
    expect(server.deps.bodies.stats()).toMatchObject({ admitted: 0, waiting: 0 })
  })
  it('takes a waiting request out of the queue when its client leaves', async () => {
    const first = open()
    await vi.waitFor(() => expect(server.deps.bodies.stats()).toMatchObject({ admitted: 1, waiting: 0 }))
    const gone = open()
    gone.answered.catch(() => {}) // its socket is destroyed below
    await vi.waitFor(() => expect(server.deps.bodies.stats()).toMatchObject({ admitted: 1, waiting: 1 }))
    gone.req.destroy()
    // Before, it kept its place until its turn came, and the next request was refused with 429.
    await vi.waitFor(() => expect(server.deps.bodies.stats()).toMatchObject({ admitted: 1, waiting: 0 }))
    const next = open()
    await vi.waitFor(() => expect(server.deps.bodies.stats()).toMatchObject({ admitted: 1, waiting: 1 }))
    first.finish()
    expect((await first.answered).status).toBe(200)
    next.finish()
    expect((await next.answered).status).toBe(200)
    expect(server.deps.bodies.stats()).toMatchObject({ admitted: 0, waiting: 0 })
  })
})
