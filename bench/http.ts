/**
 * bench/http: autocannon against the server in a separate process, in one run: (a) single-row
 * OIP requests with batching on (default queue delay, and none), (b) batching off, (c) 1000-row
 * requests, (d) a bare Hono hello-world GET as the ceiling, (e) a bare POST route that parses
 * the same JSON body (the HTTP share of the work), and (a'') the no-delay case again with
 * onnxruntime's thread pool spinning between runs (LASTMILE_CPU_SPIN=1), and (f) the no-delay case
 * with and without service-level objectives measured, interleaved, and (g) the no-delay case with and
 * without an open console: the live stream the console reads (one snapshot a second), interleaved.
 * Reports req/s, rows/s, p50 and p99 latency, the on/off ratios and what counting one request costs
 * in process.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { LiveStats } from '../src/live/stats.js'
import { mulberry32, uniform } from '../src/random.js'
import { PipelineAccount } from '../src/slo/accounting.js'
import { parseSlo } from '../src/slo/spec.js'
import { BENCH_SLO, fmt, machineInfo, printTable, writeResults } from './lib.js'

/** Start bench/http-server.js `kind` in its own process with a fresh data folder; resolves with its URL. */
export async function startChild(
  kind: string,
  env: Record<string, string> = {},
): Promise<{ url: string; child: ChildProcess }> {
  const script = new URL('./http-server.js', import.meta.url).pathname
  const child = spawn(
    process.execPath,
    ['--liftoff-only', script, kind, mkdtempSync(join(tmpdir(), 'lastmile-bench-'))],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } },
  )
  const url = await new Promise<string>((resolve, reject) => {
    let out = ''
    child.stdout?.on('data', (b) => {
      out += b
      const m = /listening (\S+)/.exec(out)
      if (m) resolve(m[1] as string)
    })
    child.on('exit', (code) => reject(new Error(`bench server (${kind}) exited with ${code}`)))
  })
  return { url, child }
}

/** An OIP request body of `rows` rows of 16 features, the same values every run. */
export function oipBody(rows: number): string {
  const data = Array.from(uniform(mulberry32(rows), rows * 16, -2, 2), (v) => Math.round(v * 1000) / 1000)
  return JSON.stringify({ inputs: [{ name: 'x', shape: [rows, 16], datatype: 'FP32', data }] })
}

export interface Row {
  scenario: string
  rowsPerRequest: number
  reqPerSec: number
  rowsPerSec: number
  p50: number
  p99: number
  non2xx: number
  errors: number
}

/** `seconds` of autocannon (32 connections) against `url`: GET, or POST of `body` as JSON. */
export async function load(
  scenario: string,
  url: string,
  rowsPerRequest: number,
  seconds: number,
  body?: string,
): Promise<Row> {
  const r = await autocannon({
    url,
    connections: 32,
    duration: seconds,
    ...(body ? { method: 'POST', body, headers: { 'content-type': 'application/json' } } : {}),
  })
  return {
    scenario,
    rowsPerRequest,
    reqPerSec: r.requests.average,
    rowsPerSec: r.requests.average * rowsPerRequest,
    p50: r.latency.p50,
    p99: r.latency.p99,
    non2xx: r.non2xx,
    errors: r.errors,
  }
}

const SLO_ROUNDS = 5

export function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] as number
}

/** ns per counted request: the accounting of BENCH_SLO alone, in this process (median of 5 × 200k). */
function accountingCost(): number {
  const account = new PipelineAccount('default', 'bench', parseSlo(BENCH_SLO))
  const rowModels = ['mlp:1']
  const runs: number[] = []
  const t = Date.now()
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < 200_000; i++)
      account.record({ code: i % 1000 === 0 ? 503 : 200, ms: (i % 97) * 0.7, rows: 1, rowModels }, t + i)
    runs.push(Number(process.hrtime.bigint() - t0) / 200_000)
    account.take()
  }
  return median(runs)
}

/**
 * What the live view costs a request, in process: ns per LiveStats.request of an answered 1-row
 * request (a 503 in a thousand) and its batch, median of 5 runs of 200k.
 */
function liveCost(): number {
  const live = new LiveStats()
  const rowModels = ['mlp:1']
  const runs: number[] = []
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < 200_000; i++) {
      const ms = (i % 97) * 0.7
      live.request('default', 'bench', {
        code: i % 1000 === 0 ? 503 : 200,
        rows: 1,
        timings: { queue: ms / 4, total: ms },
        rowModels,
      })
      live.batch('default', 'bench', { pre: 0.01, model: ms / 2, post: 0.01 })
    }
    runs.push(Number(process.hrtime.bigint() - t0) / 200_000)
  }
  return median(runs)
}

export async function benchHttp(opts: { seconds: number }): Promise<void> {
  const seconds = Math.max(2, Math.round(opts.seconds * 5))
  const rows: Row[] = []
  const hello = await startChild('hello')
  await load('warm-up', `${hello.url}/hello`, 0, 1)
  rows.push(await load('(d) hello-world GET (ceiling)', `${hello.url}/hello`, 0, seconds))
  rows.push(await load('(e) POST parsing a 1-row OIP body, no model', `${hello.url}/echo`, 0, seconds, oipBody(1)))
  hello.child.kill('SIGTERM')
  const server = await startChild('lastmile')
  const pair: Record<string, Row[]> = { off: [], on: [] }
  const watched: Record<string, Row[]> = { closed: [], open: [] }
  try {
    const single = oipBody(1)
    await load('warm-up', `${server.url}/v2/models/batched/infer`, 1, 1, single)
    rows.push(await load('(a) 1-row OIP, batching on', `${server.url}/v2/models/batched/infer`, 1, seconds, single))
    rows.push(
      await load(
        "(a') 1-row OIP, batching on, no queue delay",
        `${server.url}/v2/models/eager/infer`,
        1,
        seconds,
        single,
      ),
    )
    rows.push(await load('(b) 1-row OIP, batching off', `${server.url}/v2/models/unbatched/infer`, 1, seconds, single))
    rows.push(await load('(c) 1000-row OIP', `${server.url}/v2/models/bulk/infer`, 1000, seconds, oipBody(1000)))
    // Objectives' accounting on and off, interleaved in rounds so drift in load hits both alike.
    for (let round = 0; round < SLO_ROUNDS; round++) {
      for (const side of round % 2 === 0 ? ['off', 'on'] : ['on', 'off']) {
        const path = side === 'on' ? 'eager_slo' : 'eager'
        pair[side]?.push(await load(side, `${server.url}/v2/models/${path}/infer`, 1, seconds, single))
      }
    }
    // An open console: its live stream of the same pipeline, read (and dropped) as it comes.
    const eager = `${server.url}/v2/models/eager/infer`
    for (let round = 0; round < SLO_ROUNDS; round++) {
      for (const side of round % 2 === 0 ? ['closed', 'open'] : ['open', 'closed']) {
        const stream = new AbortController()
        if (side === 'open') {
          const res = await fetch(`${server.url}/v1/workspaces/default/pipelines/eager/live?interval_ms=1000`, {
            signal: stream.signal,
          })
          void res.body?.pipeTo(new WritableStream()).catch(() => {})
        }
        watched[side]?.push(await load(side, eager, 1, seconds, single))
        stream.abort()
      }
    }
    for (const side of ['closed', 'open']) {
      const runs = watched[side] as Row[]
      const best = median(runs.map((r) => r.reqPerSec))
      const label = side === 'open' ? "(g) as (a'), a console open on it" : "(g) as (a'), no console"
      rows.push({ ...(runs.find((r) => r.reqPerSec === best) as Row), scenario: `${label}, median of ${SLO_ROUNDS}` })
    }
    for (const side of ['off', 'on']) {
      const runs = pair[side] as Row[]
      const best = median(runs.map((r) => r.reqPerSec))
      const label = side === 'on' ? "(f) as (a'), objectives measured" : "(f) as (a'), no objectives"
      rows.push({ ...(runs.find((r) => r.reqPerSec === best) as Row), scenario: `${label}, median of ${SLO_ROUNDS}` })
    }
  } finally {
    server.child.kill('SIGTERM')
  }
  // The same server with onnxruntime's thread pool spinning between runs (its default, our opt-in).
  const spinning = await startChild('lastmile', { LASTMILE_CPU_SPIN: '1' })
  try {
    const url = `${spinning.url}/v2/models/eager/infer`
    await load('warm-up', url, 1, 1, oipBody(1))
    rows.push(await load("(a'') as (a'), CPU pool spinning (LASTMILE_CPU_SPIN=1)", url, 1, seconds, oipBody(1)))
  } finally {
    spinning.child.kill('SIGTERM')
  }
  const ceiling = rows[0]?.reqPerSec ?? Number.NaN
  const recordNs = accountingCost()
  const liveNs = liveCost()
  const [sloOff, sloOn] = rows.filter((r) => r.scenario.startsWith('(f)')).map((r) => r.reqPerSec) as [number, number]
  printTable(`http: autocannon, 32 connections, ${seconds} s each; model MLP 16→64→64→3 on the cpu backend`, [
    ['scenario', 'req/s', 'rows/s', 'p50 ms', 'p99 ms', 'vs hello', 'non-2xx', 'errors'],
    ...rows.map((r) => [
      r.scenario,
      fmt.rate(r.reqPerSec),
      r.rowsPerRequest ? fmt.rate(r.rowsPerSec) : '-',
      r.p50,
      r.p99,
      `${(r.reqPerSec / ceiling).toFixed(2)}×`,
      r.non2xx,
      r.errors,
    ]),
  ])
  const perRequestNs = 1e9 / sloOn
  process.stdout.write(
    `objectives on/off: ${(sloOn / sloOff).toFixed(3)}× single-row req/s (median of ${SLO_ROUNDS} interleaved runs each); ` +
      `counting one request costs ${recordNs.toFixed(0)} ns in process, ${((100 * recordNs) / perRequestNs).toFixed(2)}% of a request at ${fmt.rate(sloOn)} req/s\n`,
  )
  process.stdout.write(
    `live view: recording one request and its batch costs ${liveNs.toFixed(0)} ns in process, ${((100 * liveNs) / perRequestNs).toFixed(2)}% of a request at ${fmt.rate(sloOn)} req/s\n`,
  )
  const [closed, open] = rows.filter((r) => r.scenario.startsWith('(g)')).map((r) => r.reqPerSec) as [number, number]
  process.stdout.write(
    `console open/closed: ${(open / closed).toFixed(3)}× single-row req/s (median of ${SLO_ROUNDS} interleaved runs each; goal ≥ 0.98×)\n`,
  )
  const runs = (side: string) => (pair[side] as Row[]).map((r) => Math.round(r.reqPerSec))
  process.stdout.write(`  req/s of each run, off: ${runs('off').join(' ')}; on: ${runs('on').join(' ')}\n`)
  const slo = {
    onOverOff: sloOn / sloOff,
    recordNs,
    recordShareOfRequest: recordNs / perRequestNs,
    runs: { off: runs('off'), on: runs('on') },
  }
  const live = {
    recordNs: liveNs,
    recordShareOfRequest: liveNs / perRequestNs,
    consoleOpenOverClosed: open / closed,
    consoleRuns: Object.fromEntries(
      Object.entries(watched).map(([side, r]) => [side, r.map((x) => Math.round(x.reqPerSec))]),
    ),
  }
  const path = await writeResults('http', { suite: 'http', machine: await machineInfo(), seconds, rows, slo, live })
  process.stdout.write(`results: ${path}\n`)
}
