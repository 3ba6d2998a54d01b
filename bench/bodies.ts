/**
 * bench/bodies: does the event loop keep answering while large bodies arrive? A probe sends
 * `GET /v2/health/ready` and a single-row OIP inference every 20 ms each, on a fixed schedule (a
 * stalled server delays every probe due meanwhile: latency counts from when each was due), while
 * 8 clients POST 60 MiB OIP JSON bodies ([1600, 4096] FP32) back to back to a wide pipeline.
 * Three cases in one run, each on a fresh server: (a) the probe alone (baseline), (b) with the
 * large bodies, body workers on (the default), (c) with the large bodies and LASTMILE_BODY_WORKERS=0
 * (every body parsed on the event loop, as before the workers). Reports p50/p99/max per probe, the
 * server's own event-loop delay over the same window (prom-client's monitorEventLoopDelay: what
 * the server blocked, without the client's side or the network), the large requests answered and
 * the server's peak RSS.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { loadConfig } from '../src/config.js'
import { startChild } from './http.js'
import { fmt, machineInfo, printTable, writeResults } from './lib.js'

const CLIENTS = 8
const ROWS = 1600
const WIDTH = 4096
const PERIOD_MS = 20
const SINGLE = JSON.stringify({
  inputs: [{ name: 'x', shape: [1, 16], datatype: 'FP32', data: Array.from({ length: 16 }, (_, i) => i / 16 - 0.5) }],
})

interface Percentiles {
  n: number
  p50: number
  p99: number
  max: number
  failed: number
}

function percentiles(samples: Array<{ ms: number; ok: boolean }>): Percentiles {
  const ms = samples.map((s) => s.ms).sort((a, b) => a - b)
  const q = (p: number) => ms[Math.min(ms.length - 1, Math.floor(p * ms.length))] ?? Number.NaN
  return {
    n: ms.length,
    p50: q(0.5),
    p99: q(0.99),
    max: ms[ms.length - 1] ?? Number.NaN,
    failed: samples.filter((s) => !s.ok).length,
  }
}

const agent = new Agent({ keepAlive: true })

function send(url: string, body?: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(url, {
      method: body ? 'POST' : 'GET',
      agent,
      headers: body ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } : {},
    })
    req.on('response', (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode === 200))
    })
    req.on('error', () => resolve(false))
    req.end(body)
  })
}

/** Send every `PERIOD_MS` for `seconds`, each request timed from when it was due. */
async function probe(url: string, seconds: number, body?: string): Promise<Percentiles> {
  const samples: Array<{ ms: number; ok: boolean }> = []
  const pending: Promise<void>[] = []
  const start = performance.now()
  for (let k = 0; k * PERIOD_MS < seconds * 1000; k++) {
    const due = start + k * PERIOD_MS
    const wait = due - performance.now()
    if (wait > 0) await new Promise((r) => setTimeout(r, wait))
    pending.push(send(url, body).then((ok) => void samples.push({ ms: performance.now() - due, ok })))
  }
  await Promise.all(pending)
  return percentiles(samples)
}

/** The server's event-loop delay since the previous call (prom-client resets it at each scrape), ms. */
async function loopDelay(url: string): Promise<{ p99: number; max: number }> {
  const text = await (await fetch(`${url}/metrics`)).text()
  const read = (name: string) =>
    1000 * Number(new RegExp(`^lastmile_nodejs_eventloop_lag_${name}_seconds (\\S+)`, 'm').exec(text)?.[1])
  return { p99: read('p99'), max: read('max') }
}

/** Peak resident memory of a process, MiB (Linux). */
function peakRssMiB(pid: number | undefined): number | undefined {
  try {
    const kb = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]
    return kb ? Number(kb) / 1024 : undefined
  } catch {
    return undefined
  }
}

function startLoad(url: string): Promise<{ child: ChildProcess; bodyBytes: number }> {
  const script = new URL('./bodies-load.js', import.meta.url).pathname
  const child = spawn(process.execPath, [script, url, String(CLIENTS), String(ROWS), String(WIDTH)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  return new Promise((resolve, reject) => {
    let out = ''
    child.stdout?.on('data', (b) => {
      out += b
      const m = /ready (\d+)/.exec(out)
      if (m) resolve({ child, bodyBytes: Number(m[1]) })
    })
    child.on('exit', (code) => reject(new Error(`bench load exited with ${code}`)))
  })
}

function stopLoad(child: ChildProcess): Promise<Array<{ status: number; ms: number }>> {
  return new Promise((resolve) => {
    let out = ''
    child.stdout?.removeAllListeners('data')
    child.stdout?.on('data', (b) => {
      out += b
    })
    child.removeAllListeners('exit')
    child.on('exit', () => resolve((JSON.parse(out.trim().split('\n').pop() ?? '{}').answers ?? []) as never))
    child.kill('SIGTERM')
  })
}

export interface BodiesCase {
  case: string
  /** Body worker threads of the server. */
  workers: number
  health: Percentiles
  single: Percentiles
  /** The server's event-loop delay during the probes, ms. */
  loop: { p99: number; max: number }
  large?: { answered: number; statuses: Record<string, number>; p50Ms: number; mibPerSec: number }
  peakRssMiB?: number
}

async function runCase(name: string, seconds: number, env: Record<string, string>, load: boolean): Promise<BodiesCase> {
  const server = await startChild('bodies', env)
  try {
    const health = `${server.url}/v2/health/ready`
    const single = `${server.url}/v2/models/mlp/infer`
    for (let i = 0; i < 20; i++) await send(single, SINGLE) // warm the small path
    let loader: Awaited<ReturnType<typeof startLoad>> | undefined
    if (load) {
      loader = await startLoad(`${server.url}/v2/models/wide/infer`)
      await new Promise((r) => setTimeout(r, 3000)) // every client has a body on its way
    }
    await loopDelay(server.url) // starts the window
    const started = performance.now()
    const [h, s] = await Promise.all([probe(health, seconds), probe(single, seconds, SINGLE)])
    const elapsed = (performance.now() - started) / 1000
    const loop = await loopDelay(server.url)
    const answers = loader ? await stopLoad(loader.child) : []
    const statuses: Record<string, number> = {}
    for (const a of answers) statuses[a.status] = (statuses[a.status] ?? 0) + 1
    const ok = answers.filter((a) => a.status === 200).map((a) => a.ms)
    ok.sort((a, b) => a - b)
    return {
      case: name,
      workers: Number(env.LASTMILE_BODY_WORKERS ?? loadConfig({}).bodies.workers),
      health: h,
      single: s,
      loop,
      ...(loader
        ? {
            large: {
              answered: answers.length,
              statuses,
              p50Ms: ok[Math.floor(ok.length / 2)] ?? Number.NaN,
              mibPerSec: (ok.length * loader.bodyBytes) / 2 ** 20 / (elapsed + 3),
            },
          }
        : {}),
      peakRssMiB: peakRssMiB(server.child.pid),
    }
  } finally {
    server.child.kill('SIGTERM')
    await new Promise((r) => server.child.once('exit', r))
  }
}

export async function benchBodies(opts: { seconds: number }): Promise<void> {
  const seconds = Math.max(5, Math.round(opts.seconds * 20))
  const cases: BodiesCase[] = []
  cases.push(await runCase('(a) probe alone (baseline)', seconds, {}, false))
  cases.push(await runCase(`(b) ${CLIENTS} clients × 60 MiB bodies, body workers on`, seconds, {}, true))
  cases.push(
    await runCase(`(c) ${CLIENTS} clients × 60 MiB bodies, workers off`, seconds, { LASTMILE_BODY_WORKERS: '0' }, true),
  )
  const ms = (v: number) => fmt.ms(v)
  printTable(
    `bodies: probes every ${PERIOD_MS} ms for ${seconds} s; large = OIP JSON [${ROWS}, ${WIDTH}] FP32 (~60 MiB) to an MLP ${WIDTH}→16→3`,
    [
      [
        'case',
        'health p50',
        'p99',
        'max',
        '1-row p50',
        'p99',
        'max',
        'failed',
        'loop delay p99',
        'max',
        'large answered',
        'MiB/s',
        'peak RSS MiB',
      ],
      ...cases.map((c) => [
        c.case,
        ms(c.health.p50),
        ms(c.health.p99),
        ms(c.health.max),
        ms(c.single.p50),
        ms(c.single.p99),
        ms(c.single.max),
        c.health.failed + c.single.failed,
        ms(c.loop.p99),
        ms(c.loop.max),
        c.large ? `${c.large.answered} ${JSON.stringify(c.large.statuses)}` : '-',
        c.large ? c.large.mibPerSec.toFixed(1) : '-',
        c.peakRssMiB?.toFixed(0) ?? '?',
      ]),
    ],
  )
  const path = await writeResults('bodies', {
    suite: 'bodies',
    machine: await machineInfo(),
    seconds,
    periodMs: PERIOD_MS,
    clients: CLIENTS,
    shape: [ROWS, WIDTH],
    cases,
  })
  process.stdout.write(`results: ${path}\n`)
}
