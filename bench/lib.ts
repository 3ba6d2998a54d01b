/**
 * Shared bench helpers: timing loops (medians over repeated runs, never one-shot timings),
 * machine description, a plain-text table and JSON results under bench/results/.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import os from 'node:os'
import { join } from 'node:path'

/** Options every suite gets from bench/run.ts; suites ignore the ones they have no use for. */
export interface BenchOptions {
  /** Seconds of timed runs per contender and case. */
  seconds: number
  /** `--models`: which models the engine suite measures (all when absent). */
  models?: string[]
  /** `--backends`: which contenders the engine suite times besides raw onnxruntime-node (all when absent). */
  backends?: string[]
  /** `--batches`: the batch sizes the capture suite measures (each model's own when absent). */
  batches?: number[]
  /** `--python`: the interpreter for the PyTorch peer (else the first of python3, /usr/bin/python3 with torch). */
  python?: string
}

export interface Timing {
  iterations: number
  medianMs: number
  p10Ms: number
  p90Ms: number
}

/** Run `fn` for `warmup` calls, then until both `minIters` calls and `minSeconds` have passed. */
export async function timeIt(
  fn: () => Promise<unknown>,
  opts: { warmup?: number; minIters?: number; minSeconds?: number; maxIters?: number } = {},
): Promise<Timing> {
  const { warmup = 3, minIters = 10, minSeconds = 1, maxIters = 100_000 } = opts
  for (let i = 0; i < warmup; i++) await fn()
  const samples: number[] = []
  const start = performance.now()
  while (samples.length < maxIters && (samples.length < minIters || performance.now() - start < minSeconds * 1000)) {
    const t0 = performance.now()
    await fn()
    samples.push(performance.now() - t0)
  }
  return summarize(samples)
}

/**
 * Time several contenders fairly on a noisy machine: `rounds` rounds, each giving every contender
 * a slice of `minSeconds / rounds` in rotating order, so drift in machine load hits all alike.
 */
export async function timeInterleaved(
  contenders: Record<string, () => Promise<unknown>>,
  opts: { warmup?: number; minSeconds?: number; rounds?: number; minIters?: number } = {},
): Promise<Record<string, Timing>> {
  const { warmup = 3, minSeconds = 1, rounds = 5, minIters = 10 } = opts
  const names = Object.keys(contenders)
  const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]))
  for (const n of names) for (let i = 0; i < warmup; i++) await contenders[n]?.()
  for (let r = 0; r < rounds; r++) {
    const order = names.map((_, i) => names[(i + r) % names.length] as string)
    for (const n of order) {
      const fn = contenders[n] as () => Promise<unknown>
      const out = samples[n] as number[]
      const start = performance.now()
      let k = 0
      while (k < Math.ceil(minIters / rounds) || performance.now() - start < (minSeconds * 1000) / rounds) {
        const t0 = performance.now()
        await fn()
        out.push(performance.now() - t0)
        k++
      }
    }
  }
  return Object.fromEntries(names.map((n) => [n, summarize(samples[n] as number[])]))
}

function summarize(samples: number[]): Timing {
  samples.sort((a, b) => a - b)
  const q = (p: number) => samples[Math.min(samples.length - 1, Math.floor(p * samples.length))] as number
  return { iterations: samples.length, medianMs: q(0.5), p10Ms: q(0.1), p90Ms: q(0.9) }
}

/** What the numbers were measured on. */
export async function machineInfo(): Promise<Record<string, unknown>> {
  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8'))
  const cpus = os.cpus()
  return {
    date: new Date().toISOString(),
    host: os.hostname(),
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    lastmile: pkg.version,
    dependencies: pkg.dependencies,
  }
}

/** Print rows as an aligned table (first row = header). */
export function printTable(title: string, rows: (string | number)[][]): void {
  const cells = rows.map((r) => r.map(String))
  const widths = (cells[0] ?? []).map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)))
  const line = (r: string[]) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ')
  process.stdout.write(`\n${title}\n${line(cells[0] ?? [])}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n`)
  for (const r of cells.slice(1)) process.stdout.write(`${line(r)}\n`)
}

let resultsDir = join(process.cwd(), 'bench', 'results')

/** Where {@link writeResults} writes (`--out`; bench/results/ under the working directory by default). */
export function setResultsDir(dir: string): void {
  resultsDir = dir
}

/** Write `data` to <results>/<suite>-<date>.json and <suite>-latest.json; returns the path. */
export async function writeResults(suite: string, data: unknown): Promise<string> {
  const dir = resultsDir
  await mkdir(dir, { recursive: true })
  const stamp = new Date().toISOString().replace(/[:.]/g, '-')
  const path = join(dir, `${suite}-${stamp}.json`)
  const text = `${JSON.stringify(data, null, 2)}\n`
  await writeFile(path, text)
  await writeFile(join(dir, `${suite}-latest.json`), text)
  return path
}

export const fmt = {
  ms: (v: number) => (v < 1 ? v.toFixed(3) : v < 100 ? v.toFixed(2) : v.toFixed(0)),
  rate: (v: number) =>
    v >= 1e9
      ? `${(v / 1e9).toFixed(1)}G`
      : v >= 1e6
        ? `${(v / 1e6).toFixed(2)}M`
        : v >= 1e3
          ? `${(v / 1e3).toFixed(1)}k`
          : v.toFixed(v < 10 ? 1 : 0),
}

/** The objectives bench/http measures on its `eager_slo` pipeline: one of each kind, arms too. */
export const BENCH_SLO = {
  per_arm: true,
  objectives: [
    { name: 'fast', indicator: 'latency', value: 50, target: 0.99 },
    { name: 'up', indicator: 'availability', target: 0.999 },
    { name: 'floor', indicator: 'throughput', value: 100, target: 0.95 },
  ],
}
