/**
 * bench/workers: `lastmile serve --workers N` for N = 1, 2 and `auto` (one per core), each the
 * real command in its own process tree with a fresh data folder and the 16-feature MLP deployed
 * through the API as bench/http's `eager` pipeline (batching on, no queue delay). Per worker count,
 * autocannon (32 connections, in this process, on the same cores as the servers, as bench/http
 * measures) times (h) a bare Hono hello-world GET in N processes on one port (node:cluster), the
 * ceiling for that count, (l) the server's own trivial route, `GET /v2/health/live`, and (s) a
 * single-row OIP request. Every server stays up for the whole run and the runs are interleaved in
 * rounds over counts and routes, so drift in the machine's load hits all alike; each figure is
 * the median of the rounds. Reports req/s, p50 and p99, single-row ÷ hello-world per count and
 * single-row req/s against one worker.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { request } from 'node:http'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { LastmileClient } from '../src/client/client.js'
import { mlpClassifier } from '../test/fixtures/models.js'
import { load, median, oipBody, type Row } from './http.js'
import { fmt, machineInfo, printTable, writeResults } from './lib.js'

const ROUNDS = 5
const ROUTES = ['hello', 'health', 'single'] as const
type Route = (typeof ROUTES)[number]

interface Server {
  url: string
  child: ChildProcess
  exited: Promise<void>
}

/**
 * Start `node --liftoff-only <script> ...args`; resolves with the URL `urlPattern` finds on its
 * stdout once `ready` (given stdout and stderr so far) holds too.
 */
function startProcess(
  name: string,
  args: string[],
  env: Record<string, string>,
  urlPattern: RegExp,
  ready: (stdout: string, stderr: string) => boolean = () => true,
): Promise<Server> {
  const { LASTMILE_WORKERS: _, ...inherited } = process.env
  const child = spawn(process.execPath, ['--liftoff-only', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...inherited, ...env },
  })
  const exited = new Promise<void>((r) => child.once('exit', () => r()))
  let out = ''
  let err = ''
  return new Promise<Server>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${name} did not start within 120 s`))
    }, 120_000)
    const check = () => {
      const url = urlPattern.exec(out)?.[1]
      if (url && ready(out, err)) {
        clearTimeout(timer)
        resolve({ url, child, exited })
      }
    }
    child.stdout?.on('data', (b) => {
      out += b
      check()
    })
    child.stderr?.on('data', (b) => {
      const text = String(b)
      err += text
      // Pass on what is not routine (warnings, errors); info lines only mark the start.
      for (const line of text.split('\n'))
        if (line && !line.startsWith('[lastmile] info')) process.stderr.write(`${line}\n`)
      check()
    })
    void exited.then(() => {
      clearTimeout(timer)
      reject(new Error(`${name} exited before it served`))
    })
  })
}

async function stopProcess(s: Server): Promise<void> {
  if (s.child.exitCode !== null || s.child.signalCode !== null) return
  s.child.kill('SIGTERM')
  const timer = setTimeout(() => s.child.kill('SIGKILL'), 20_000)
  await s.exited
  clearTimeout(timer)
}

/** POST `body` on a connection of its own (a new one each time: node:cluster hands them out in turn). */
function postFresh(url: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

interface Count {
  /** What `--workers` was given. */
  arg: string
  /** The processes that serve (auto: os.availableParallelism()). */
  processes: number
  data: string
  lastmile?: Server
  hello?: Server
  runs: Record<Route, Row[]>
}

/** The real command with `count.arg` workers, the MLP deployed and answering on every worker. */
async function startLastmile(count: Count, single: string): Promise<Server> {
  const bin = new URL('../../bin/lastmile.js', import.meta.url).pathname
  const args = [bin, 'serve', '--workers', count.arg, '--port', '0', '--no-demo', '--backend', 'cpu']
  const server = await startProcess(
    `lastmile serve --workers ${count.arg}`,
    [...args, '--data', count.data],
    { LASTMILE_LOG_LEVEL: 'info' },
    /serving on (http:\/\/\S+)/,
    // One worker is the process itself; with more, the primary says when every one serves.
    (_, err) => count.processes === 1 || err.includes('workers serving'),
  )
  const lm = new LastmileClient({ url: server.url })
  await lm.uploadModel('default', 'mlp', mlpClassifier().bytes)
  await lm.putPipeline('default', 'eager', [{ model: 'mlp' }])
  await lm.deploy('default', 'eager', { batching: { max_batch_size: 256, max_queue_delay_ms: 0 } })
  // The other workers follow the deploy through the store's change feed: wait until 4 fresh
  // connections per worker in a row are answered.
  const deadline = Date.now() + 60_000
  for (let ok = 0; ok < 4 * count.processes; ) {
    const status = await postFresh(`${server.url}/v2/models/eager/infer`, single).catch(() => 0)
    ok = status === 200 ? ok + 1 : 0
    if (ok === 0) {
      if (Date.now() > deadline) throw new Error(`not every worker of ${count.arg} serves the pipeline after 60 s`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  return server
}

function url(count: Count, route: Route): string {
  if (route === 'hello') return `${count.hello?.url}/hello`
  if (route === 'health') return `${count.lastmile?.url}/v2/health/live`
  return `${count.lastmile?.url}/v2/models/eager/infer`
}

export async function benchWorkers(opts: { seconds: number }): Promise<void> {
  const seconds = Math.max(2, Math.round(opts.seconds * 5))
  const cores = availableParallelism()
  const single = oipBody(1)
  const counts: Count[] = [
    { arg: '1', processes: 1 },
    { arg: '2', processes: 2 },
    { arg: 'auto', processes: cores },
  ].map((c) => ({
    ...c,
    data: mkdtempSync(join(tmpdir(), 'lastmile-bench-workers-')),
    runs: { hello: [], health: [], single: [] },
  }))
  process.stdout.write(
    `workers: --workers 1, 2 and auto (= os.availableParallelism() = ${cores} on this machine); autocannon runs in this process on the same ${cores} cores\n`,
  )
  const load1m: number[] = [loadavg()[0] as number]
  try {
    for (const c of counts) {
      c.hello = await startProcess(
        `hello-world in ${c.processes} processes`,
        [new URL('./http-server.js', import.meta.url).pathname, 'hello'],
        { BENCH_HELLO_WORKERS: String(c.processes) },
        /listening (\S+)/,
      )
      c.lastmile = await startLastmile(c, single)
    }
    for (const c of counts) {
      await load('warm-up', url(c, 'hello'), 0, 1)
      await load('warm-up', url(c, 'health'), 0, 1)
      await load('warm-up', url(c, 'single'), 1, 2, single)
    }
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < counts.length; i++) {
        const c = counts[(i + round) % counts.length] as Count
        for (let k = 0; k < ROUTES.length; k++) {
          const route = ROUTES[(k + round + i) % ROUTES.length] as Route
          const body = route === 'single' ? single : undefined
          c.runs[route].push(await load(route, url(c, route), route === 'single' ? 1 : 0, seconds, body))
        }
      }
      load1m.push(loadavg()[0] as number)
    }
  } finally {
    for (const c of counts) {
      for (const s of [c.lastmile, c.hello]) if (s) await stopProcess(s)
      rmSync(c.data, { recursive: true, force: true })
    }
  }
  const summary = (runs: Row[]) => ({
    reqPerSec: median(runs.map((r) => r.reqPerSec)),
    p50: median(runs.map((r) => r.p50)),
    p99: median(runs.map((r) => r.p99)),
    non2xx: runs.reduce((a, r) => a + r.non2xx, 0),
    errors: runs.reduce((a, r) => a + r.errors, 0),
    runs: runs.map((r) => Math.round(r.reqPerSec)),
  })
  const results = counts.map((c) => {
    const [hello, health, one] = [summary(c.runs.hello), summary(c.runs.health), summary(c.runs.single)]
    return {
      workers: c.arg,
      processes: c.processes,
      hello,
      health,
      single: one,
      singleOverHello: one.reqPerSec / hello.reqPerSec,
      singleOverHealth: one.reqPerSec / health.reqPerSec,
    }
  })
  const base = results[0]?.single.reqPerSec ?? Number.NaN
  const label = (r: (typeof results)[number]) => (r.workers === 'auto' ? `auto (${r.processes})` : r.workers)
  printTable(
    `workers: autocannon, 32 connections, ${seconds} s each, medians of ${ROUNDS} interleaved rounds; model MLP 16→64→64→3 on the cpu backend`,
    [
      [
        'workers',
        'hello req/s',
        'p99',
        'health req/s',
        'p99',
        'single req/s',
        'p50',
        'p99',
        'single÷hello',
        'single÷health',
        'vs 1 worker',
        'non-2xx',
        'errors',
      ],
      ...results.map((r) => [
        label(r),
        fmt.rate(r.hello.reqPerSec),
        r.hello.p99,
        fmt.rate(r.health.reqPerSec),
        r.health.p99,
        fmt.rate(r.single.reqPerSec),
        r.single.p50,
        r.single.p99,
        `${r.singleOverHello.toFixed(2)}×`,
        `${r.singleOverHealth.toFixed(2)}×`,
        `${(r.single.reqPerSec / base).toFixed(2)}×`,
        r.hello.non2xx + r.health.non2xx + r.single.non2xx,
        r.hello.errors + r.health.errors + r.single.errors,
      ]),
    ],
  )
  for (const r of results) {
    process.stdout.write(
      `  ${label(r)}: single-row req/s of each round ${r.single.runs.join(' ')}; hello-world ${r.hello.runs.join(' ')}\n`,
    )
  }
  process.stdout.write(
    `load average (1 min) at the start and after each round: ${load1m.map((l) => l.toFixed(2)).join(' ')}\n`,
  )
  const path = await writeResults('workers', {
    suite: 'workers',
    machine: await machineInfo(),
    seconds,
    rounds: ROUNDS,
    connections: 32,
    availableParallelism: cores,
    load1m,
    results,
  })
  process.stdout.write(`results: ${path}\n`)
}
