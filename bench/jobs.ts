/**
 * bench/jobs: rows/s scoring flights-3m.parquet end to end (file in → job → Parquet file out) per
 * backend, through the job service of a server built in-process (no HTTP upload: the file is read
 * in place), with the peak RSS of the process. The model: a linear regression of the delay on
 * distance and date, fitted on the first row group. Baseline in the same run: the same file read
 * and written back as Parquet with no model (the I/O ceiling of a job).
 */
import { createWriteStream } from 'node:fs'
import { mkdir, rm, stat, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { loadConfig } from '../src/config.js'
import { Engine } from '../src/engine/engine.js'
import { encodeChunk, openReader, writeOutput } from '../src/jobs/io/index.js'
import { silentLogger } from '../src/logger.js'
import { buildServer } from '../src/server/serve.js'
import { fitStandardizedLinear, standardizedLinear } from '../test/fixtures/models.js'
import { fmt, machineInfo, printTable, writeResults } from './lib.js'

const FLIGHTS = join(createRequire(import.meta.url).resolve('vega-datasets'), '..', '..', 'data', 'flights-3m.parquet')

/** Sample the process RSS every 50 ms while `fn` runs; the peak in MiB. */
async function withPeakRss<T>(fn: () => Promise<T>): Promise<{ value: T; peakMiB: number }> {
  let peak = process.memoryUsage().rss
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss)
  }, 50)
  try {
    const value = await fn()
    return { value, peakMiB: Math.max(peak, process.memoryUsage().rss) / 2 ** 20 }
  } finally {
    clearInterval(timer)
  }
}

async function fitModel(): Promise<Uint8Array> {
  const reader = await openReader(FLIGHTS, 'parquet')
  const chunk = await reader.next(100_000)
  await reader.close()
  if (!chunk) throw new Error('flights-3m.parquet is empty')
  const col = (n: string) => Array.from(chunk.columns[n] as ArrayLike<number>, Number)
  return standardizedLinear(fitStandardizedLinear([col('distance'), col('date')], col('delay'))).bytes
}

/** Read every chunk and write it back as Parquet, no model: what a job cannot beat. */
async function copyOnly(out: string): Promise<number> {
  const dir = join(tmpdir(), `lastmile-bench-copy-${process.pid}`)
  await mkdir(dir, { recursive: true })
  const reader = await openReader(FLIGHTS, 'parquet')
  const paths: string[] = []
  let rows = 0
  for (let c = await reader.next(65_536); c; c = await reader.next(65_536)) {
    const p = join(dir, `chunk-${paths.length}.arrow`)
    await writeFile(p, encodeChunk(reader.schema, c.columns, c.rows))
    paths.push(p)
    rows += c.rows
  }
  await reader.close()
  await pipeline(Readable.from(writeOutput(paths, 'parquet')), createWriteStream(out))
  await rm(dir, { recursive: true, force: true })
  return rows
}

export async function benchJobs(_opts: { seconds: number }): Promise<void> {
  const bytes = await fitModel()
  const rows: (string | number)[][] = [['case', 'rows', 'seconds', 'rows/s', 'vs copy', 'peak RSS MiB']]
  const results: Record<string, unknown>[] = []
  const out = join(tmpdir(), `lastmile-bench-jobs-${process.pid}.parquet`)
  const copy = await withPeakRss(async () => {
    const t0 = performance.now()
    const n = await copyOnly(out)
    return { n, s: (performance.now() - t0) / 1000 }
  })
  rows.push([
    'read + write Parquet, no model (baseline)',
    fmt.rate(copy.value.n),
    copy.value.s.toFixed(2),
    fmt.rate(copy.value.n / copy.value.s),
    '1.00×',
    copy.peakMiB.toFixed(0),
  ])
  results.push({ case: 'copy', rows: copy.value.n, seconds: copy.value.s, peakRssMiB: copy.peakMiB })
  const probe = new Engine(loadConfig({}, { logLevel: 'error' }))
  const hardwareGpu = (await probe.resolveBackend('auto')) === 'webgpu'
  await probe.close()
  const backends: Array<'cpu' | 'wasm' | 'webgpu'> = ['cpu', 'wasm']
  if (hardwareGpu) backends.push('webgpu')
  else console.log('webgpu: skipped here (no hardware adapter; a software one is for correctness, not speed)')
  for (const backend of backends) {
    const dataDir = join(tmpdir(), `lastmile-bench-jobs-${backend}-${process.pid}`)
    const config = loadConfig({}, { dataDir, backend, logLevel: 'error', server: { demo: false } })
    const server = await buildServer(config, { log: silentLogger })
    try {
      const { registry, jobs } = server.deps
      await registry.uploadModel('default', 'delays', bytes)
      await registry.putPipeline('default', 'delays', [{ model: 'delays' }])
      await registry.deploy('default', 'delays', { engine: backend })
      const run = await withPeakRss(async () => {
        const t0 = performance.now()
        const job = await jobs.create(
          'default',
          'delays',
          { path: FLIGHTS },
          { format: 'parquet', features: ['distance', 'date'] },
        )
        await jobs.idle()
        const done = await jobs.get(job.id)
        if (done.status !== 'succeeded') throw new Error(`job ${done.status}: ${done.error}`)
        const { body } = await jobs.result(job.id, 'parquet')
        await pipeline(Readable.from(body), createWriteStream(out))
        return { n: done.rowsDone, s: (performance.now() - t0) / 1000 }
      })
      const ratio = copy.value.s / run.value.s
      rows.push([
        `job on ${backend} (Parquet in → Parquet out)`,
        fmt.rate(run.value.n),
        run.value.s.toFixed(2),
        fmt.rate(run.value.n / run.value.s),
        `${ratio.toFixed(2)}×`,
        run.peakMiB.toFixed(0),
      ])
      results.push({
        case: `job ${backend}`,
        backend,
        rows: run.value.n,
        seconds: run.value.s,
        rowsPerSecond: run.value.n / run.value.s,
        peakRssMiB: run.peakMiB,
        outputBytes: (await stat(out)).size,
      })
    } finally {
      await server.shutdown()
      await rm(dataDir, { recursive: true, force: true })
    }
  }
  await rm(out, { force: true })
  printTable('jobs: flights-3m.parquet (3M rows × 5 columns) scored end to end, file to file', rows)
  const path = await writeResults('jobs', {
    machine: await machineInfo(),
    file: 'vega-datasets flights-3m.parquet',
    results,
  })
  console.log(`\nwritten to ${path}`)
}
