/**
 * `lastmile score --pipeline p --input in.parquet --output out.parquet`: score a file as a batch
 * job with a live progress bar (rows, rows/s, ETA), against a server (the file is streamed up,
 * the result streamed down) or, with `--in-process`, on this machine's data folder without one.
 */
import { createReadStream, createWriteStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { resolve } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { type JobStatus, LastmileClient } from '../client/client.js'
import type { Config } from '../config.js'
import { InvalidConfigError } from '../errors.js'
import { formatFromPath, isJobFormat, JOB_FORMATS, type JobFormat } from '../jobs/io/index.js'
import { silentLogger } from '../logger.js'
import { buildServer } from '../server/serve.js'

export interface ScoreArgs {
  pipeline?: string
  input?: string
  output?: string
  workspace: string
  format?: string
  outputFormat?: string
  features?: string
  maxErrorShare?: string
  inProcess?: boolean
}

function formatOf(path: string, given: string | undefined, what: string): JobFormat {
  const f = given ?? formatFromPath(path)
  if (!f || !isJobFormat(f)) {
    throw new InvalidConfigError(
      `cannot tell the ${what} format of '${path}' from its extension: pass --${what === 'input' ? 'format' : 'output-format'} ${JOB_FORMATS.join('|')}`,
    )
  }
  return f
}

const human = (n: number) =>
  n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : `${Math.round(n)}`

/** One progress line: a bar when the total is known, rows, rows/s and ETA. */
function progressLine(j: JobStatus): string {
  const width = 24
  const p = j.progress ?? 0
  const bar =
    j.progress === null ? '' : `[${'#'.repeat(Math.round(p * width)).padEnd(width, '.')}] ${(100 * p).toFixed(1)}% `
  const rows = `${human(j.rows_done)}${j.rows_total ? `/${human(j.rows_total)}` : ''} rows`
  const rate = j.rows_per_second ? `, ${human(j.rows_per_second)} rows/s` : ''
  const eta = j.eta_seconds !== null && j.status === 'running' ? `, ETA ${Math.ceil(j.eta_seconds)} s` : ''
  const errors = j.error_count ? `, ${j.error_count} row errors` : ''
  return `${j.status} ${bar}${rows}${rate}${eta}${errors}`
}

export async function runScore(config: Config, a: ScoreArgs): Promise<number> {
  if (!a.pipeline || !a.input || !a.output) {
    throw new InvalidConfigError('score needs --pipeline <name> --input <file> --output <file>')
  }
  const format = formatOf(a.input, a.format, 'input')
  const outFormat = formatOf(a.output, a.outputFormat, 'output')
  const size = (await stat(a.input)).size
  const opts = {
    format,
    ...(a.features ? { features: a.features.split(',').map((s) => s.trim()) } : {}),
    ...(a.maxErrorShare !== undefined ? { maxErrorShare: Number(a.maxErrorShare) } : {}),
  }
  let client: LastmileClient
  let close = async () => {}
  let jobId: string
  if (a.inProcess) {
    // The server's services on this data folder, without listening; the file is read in place.
    const built = await buildServer({ ...config, server: { ...config.server, demo: false } }, { log: silentLogger })
    close = built.shutdown
    client = new LastmileClient({ url: 'http://in-process', fetch: async (url, init) => built.app.request(url, init) })
    const job = await built.deps.jobs.create(a.workspace, a.pipeline, { path: resolve(a.input) }, opts)
    jobId = job.id
  } else {
    client = new LastmileClient({
      url: config.client.url,
      ...(config.client.apiKey ? { apiKey: config.client.apiKey } : {}),
    })
    const upload = Readable.toWeb(createReadStream(a.input)) as unknown as ReadableStream<Uint8Array>
    process.stderr.write(`uploading ${a.input} (${human(size)}B) to ${config.client.url}...\n`)
    jobId = (await client.createJob(a.workspace, a.pipeline, upload, opts)).id
  }
  try {
    const tty = process.stderr.isTTY
    let last = ''
    let lastPrinted = 0
    let j: JobStatus
    for (;;) {
      j = await client.job(jobId)
      const line = progressLine(j)
      if (tty) process.stderr.write(`\r${line.padEnd(last.length)}`)
      else if (Date.now() - lastPrinted > 5000 || !['queued', 'running'].includes(j.status)) {
        process.stderr.write(`${line}\n`)
        lastPrinted = Date.now()
      }
      last = line
      if (!['queued', 'running'].includes(j.status)) break
      await new Promise((r) => setTimeout(r, 250))
    }
    if (tty) process.stderr.write('\n')
    for (const e of j.errors.slice(0, 5)) process.stderr.write(`  row ${e.row}: ${e.message}\n`)
    if (j.error_count > 5) process.stderr.write(`  ... ${j.error_count - 5} more (GET /v1/jobs/${jobId})\n`)
    if (j.status !== 'succeeded') {
      process.stderr.write(`job ${jobId} ${j.status}${j.error ? `: ${j.error}` : ''}\n`)
      return 1
    }
    const res = await client.jobResult(jobId, outFormat)
    await pipeline(Readable.fromWeb(res.body as never), createWriteStream(a.output))
    process.stdout.write(`${a.output}: ${j.rows_done} rows (${outFormat}), job ${jobId}\n`)
    return 0
  } finally {
    await close()
  }
}
