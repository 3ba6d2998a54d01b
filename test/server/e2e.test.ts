/**
 * End to end over real sockets: many concurrent clients get exactly their own rows back (and are
 * batched together), a hot swap under load fails no request, a graceful shutdown answers what is
 * queued, and `lastmile serve` exits cleanly on SIGTERM.
 */
import { describe, expect, it, vi } from 'vitest'
import { LastmileClient } from '../../src/client/client.js'
import { GraphBuilder } from '../../src/onnx/builder.js'
import { startServer } from '../../src/server/serve.js'
import { checkedFetch, cliBuilt, doubler, spawnServer, spec, tempDir, testConfig } from '../helpers/server.js'

/** y = k·x for x float32 [N, 1]. */
function times(k: number): Uint8Array {
  const g = new GraphBuilder(`times${k}`)
  const x = g.input('x', 'float32', ['N', 1])
  g.output(g.node('Mul', [x, g.constant('k', 'float32', [1], [k])]), 'float32', ['N', 1], 'y')
  return g.toModel()
}

/** Count one more `answer` in `seen`. */
function count(seen: Map<number, number>, answer: number): void {
  seen.set(answer, (seen.get(answer) ?? 0) + 1)
}

/**
 * Resolves once `seen` holds 20 answers of `answer`: enough that the clients are running through
 * the version that gives it. Bounded only by a generous timeout, never by how fast the machine is.
 */
function answered(seen: Map<number, number>, answer: number): Promise<void> {
  return vi.waitFor(() => expect(seen.get(answer) ?? 0).toBeGreaterThanOrEqual(20), { timeout: 30_000, interval: 5 })
}

/** Each server's fetch, its answers checked against the server's OpenAPI document. */
const fetchers = new Map<string, ReturnType<typeof checkedFetch>>()

async function infer(url: string, pipeline: string, ids: number[]): Promise<{ status: number; y?: number[] }> {
  const get = fetchers.get(url) ?? checkedFetch(url)
  fetchers.set(url, get)
  const res = await (await get)(`${url}/v2/models/${pipeline}/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputs: [{ name: 'x', shape: [ids.length, 1], datatype: 'FP32', data: ids }] }),
  })
  if (res.status !== 200) return { status: res.status }
  const body = (await res.json()) as { outputs: Array<{ data: number[] }> }
  return { status: 200, y: body.outputs[0]?.data }
}

describe('server over real sockets', () => {
  it('gives 40 concurrent clients exactly their own rows (shuffled ids), batched together', async () => {
    const server = await startServer(testConfig())
    await server.deps.manager.deploy(
      spec('double', doubler(1), { batching: { max_queue_delay_ms: 2, max_batch_size: 64 } }),
    )
    const ids = Array.from({ length: 3000 }, (_, i) => i).sort(() => Math.random() - 0.5)
    let next = 0
    const client = async () => {
      while (next < ids.length) {
        const n = 1 + Math.floor(Math.random() * 8)
        const mine = ids.slice(next, next + n)
        next += n
        const r = await infer(server.url, 'double', mine)
        expect(r.status).toBe(200)
        expect(r.y).toEqual(mine.map((v) => v * 2))
      }
    }
    await Promise.all(Array.from({ length: 40 }, client))
    const metrics = await (await fetch(`${server.url}/metrics`)).text()
    const requests = Number(/lastmile_requests_total\{[^}]*pipeline="double"[^}]*code="200"\} (\d+)/.exec(metrics)?.[1])
    const batches = Number(/lastmile_batch_rows_count\{[^}]*pipeline="double"\} (\d+)/.exec(metrics)?.[1])
    expect(batches).toBeGreaterThan(0)
    expect(batches).toBeLessThan(requests) // requests shared batches
    await server.close()
  })

  it('hot-swaps a deployed pipeline under load without failing a request', async () => {
    const server = await startServer(testConfig())
    await server.deps.manager.deploy(spec('model', times(2)))
    let stop = false
    const seen = new Map<number, number>() // answer → how many came
    const failures: number[] = []
    const client = async () => {
      while (!stop) {
        const r = await infer(server.url, 'model', [1, 2])
        if (r.status !== 200) failures.push(r.status)
        else count(seen, (r.y as number[])[0] as number)
      }
    }
    const clients = Array.from({ length: 16 }, client)
    // Swap once the old version is answering under load, stop once the new one is: conditions, not
    // times, so a loaded machine only makes the test slower.
    await answered(seen, 2)
    await server.deps.manager.deploy(spec('model', times(3), { pipelineVersion: 2 }))
    await answered(seen, 3)
    stop = true
    await Promise.all(clients)
    expect(failures).toEqual([])
    expect([...seen.keys()].sort((a, b) => a - b)).toEqual([2, 3]) // answers from both versions, none failed
    expect((await infer(server.url, 'model', [1])).y).toEqual([3])
    await server.close()
  })

  it('refuses bodies over the limit with 413, declared or chunked, and keeps serving', async () => {
    const server = await startServer(testConfig({ server: { bodyLimitBytes: 2048 } }))
    await server.deps.manager.deploy(spec('double', doubler(1)))
    const big = JSON.stringify({
      inputs: [{ name: 'x', shape: [1000, 1], datatype: 'FP32', data: new Array(1000).fill(1.5) }],
    })
    const declared = await fetch(`${server.url}/v2/models/double/infer`, {
      method: 'POST',
      body: big,
      headers: { 'content-type': 'application/json' },
    })
    expect(declared.status).toBe(413)
    const chunks = new ReadableStream<Uint8Array>({
      start(controller) {
        const bytes = new TextEncoder().encode(big)
        for (let i = 0; i < bytes.length; i += 500) controller.enqueue(bytes.subarray(i, i + 500))
        controller.close()
      },
    })
    const chunked = await fetch(`${server.url}/v2/models/double/infer`, {
      method: 'POST',
      body: chunks,
      headers: { 'content-type': 'application/json' },
      duplex: 'half',
    } as RequestInit)
    expect(chunked.status).toBe(413)
    expect(chunked.headers.get('lastmile-error-code')).toBe('payload_too_large')
    expect(((await chunked.json()) as { error: string }).error).toMatch(/larger than the limit of 2048 bytes/)
    expect((await infer(server.url, 'double', [1, 2])).y).toEqual([2, 4])
    await server.close()
  })

  it('hot-swaps through the registry (PUT a new version) under load without failing a request', async () => {
    const server = await startServer(testConfig())
    const lm = new LastmileClient({ url: server.url })
    await lm.uploadModel('default', 'model', times(2))
    await lm.uploadModel('default', 'model', times(3))
    await lm.putPipeline('default', 'swap', [{ model: 'model:1' }])
    await lm.deploy('default', 'swap')
    let stop = false
    const failures: string[] = []
    const seen = new Map<number, number>()
    const client = async () => {
      while (!stop) {
        const r = await infer(server.url, 'swap', [1])
        if (r.status !== 200) failures.push(String(r.status))
        else count(seen, (r.y as number[])[0] as number)
      }
    }
    const clients = Array.from({ length: 12 }, client)
    await answered(seen, 2)
    expect((await lm.putPipeline('default', 'swap', [{ model: 'model:2' }])).deployed).toBe(true)
    await answered(seen, 3)
    stop = true
    await Promise.all(clients)
    expect(failures).toEqual([])
    expect([...seen.keys()].sort((a, b) => a - b)).toEqual([2, 3])
    expect((await lm.deployment('default', 'swap')).stages).toEqual([
      { routing: 'single', models: [{ model: 'model:2', backend: 'cpu', active_backend: 'cpu', path: 'cpu' }] },
    ])
    await server.close()
  })

  it('graceful close answers every queued request, then refuses connections', async () => {
    const server = await startServer(testConfig())
    const d = await server.deps.manager.deploy(
      spec('double', doubler(1), { batching: { max_queue_delay_ms: 1000, max_batch_size: 1000 } }),
    )
    const pending = Array.from({ length: 20 }, (_, i) => infer(server.url, 'double', [i]))
    await vi.waitFor(() => expect(d.queuedRows()).toBe(20), { timeout: 5000 })
    await server.close()
    const answers = await Promise.all(pending)
    expect(answers.map((a) => a.y)).toEqual(Array.from({ length: 20 }, (_, i) => [i * 2]))
    await expect(fetch(`${server.url}/v2/health/live`)).rejects.toThrow()
  })
})

const built = cliBuilt
describe.runIf(built)(`lastmile serve${built ? '' : ' (skipped: run `npm run build` first; `npm test` does)'}`, () => {
  it('serves the demo pipeline, prints how to call it, and exits 0 on SIGTERM', async () => {
    const { url, child, output } = await spawnServer(['--data', tempDir(), '--backend', 'cpu'])
    const fetch = await checkedFetch(url)
    const out = output()
    expect(out).toContain(`curl -s ${url}/v2/models/demo/infer`)
    const res = await fetch(`${url}/v1/workspaces/default/pipelines/demo/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json; format=pandas-records' },
      body: JSON.stringify([{ x: [0.5, -1.2, 3.3, 0.7] }]),
    })
    const rows = (await res.json()) as Array<Record<string, unknown>>
    expect(['class_a', 'class_b', 'class_c']).toContain((rows[0]?.out as Record<string, unknown>)?.label_name)
    // The demo's drift assay is defined, and its chart link printed.
    const assays = (await (await fetch(`${url}/v1/workspaces/default/assays`)).json()) as Array<{
      id: number
      iopath?: string
    }>
    expect(assays).toHaveLength(1)
    expect(out).toContain(`${url}/v1/workspaces/default/assays/${assays[0]?.id}/chart.svg`)
    expect((await fetch(`${url}/v1/workspaces/default/assays/${assays[0]?.id}/chart.svg`)).status).toBe(200)
    const exit = new Promise<number | null>((r) => child.on('exit', (code: number | null) => r(code)))
    child.kill('SIGTERM')
    expect(await exit).toBe(0)
  })
})
