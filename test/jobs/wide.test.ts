/**
 * Wide job files through a listening server (review F3): a ~260 KB CSV of a 20 001-column header
 * and 65 536 one-field rows, or a JSONL file whose first line has 5 000 keys, held the event loop
 * for minutes (every row became one value per column, at once) and then ran out of memory, again
 * at each restart. Now a file with more than LASTMILE_JOB_MAX_COLUMNS columns is a 400 before the
 * 202, and one under it is read in chunks of at most LASTMILE_JOB_CHUNK_CELLS cells with turns for
 * the event loop: health answers while it runs. And a JSONL line nested past the exact parser's
 * depth (review F8: a 100 000-deep array failed the whole job) is a row error naming its line.
 */
import { readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { type JobStatus, LastmileClient } from '../../src/client/client.js'
import { type RunningServer, startServer } from '../../src/server/serve.js'
import { doubler, testConfig } from '../helpers/server.js'

const text = (s: string) => new TextEncoder().encode(s)
const names = (n: number) => Array.from({ length: n }, (_, i) => `c${i}`)

// Jobs of thousands of columns take seconds; a loaded machine may take several times that.
describe('wide job files', { timeout: 180_000 }, () => {
  let server: RunningServer
  let lm: LastmileClient
  const config = testConfig()

  beforeAll(async () => {
    server = await startServer(config)
    lm = new LastmileClient({ url: server.url })
    await lm.uploadModel('default', 'd', doubler(2))
    await lm.putPipeline('default', 'd', [{ model: 'd' }])
    await lm.deploy('default', 'd', { engine: 'cpu' })
  })
  afterAll(async () => {
    await server?.close()
    rmSync(config.dataDir, { recursive: true, force: true })
  })

  /** The job's status once it has ended, polling health meanwhile: the slowest health answer, in ms. */
  async function finishWatchingHealth(id: string): Promise<{ job: JobStatus; slowestHealthMs: number }> {
    let slowestHealthMs = 0
    let done = false
    const watch = (async () => {
      while (!done) {
        const t0 = performance.now()
        const r = await fetch(`${server.url}/v2/health/live`)
        expect(r.status).toBe(200)
        slowestHealthMs = Math.max(slowestHealthMs, performance.now() - t0)
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    })()
    try {
      const job = await vi.waitFor(
        async () => {
          const j = await lm.job(id)
          if (j.status === 'queued' || j.status === 'running') throw new Error(`still ${j.status}`)
          return j
        },
        { timeout: 120_000, interval: 100 },
      )
      return { job, slowestHealthMs }
    } finally {
      done = true
      await watch
    }
  }

  it('refuses a CSV header or JSONL keys past LASTMILE_JOB_MAX_COLUMNS with a 400, before the 202', async () => {
    const csv = `x,${names(20_000).join(',')}\n${'1\n'.repeat(65_536)}`
    expect(csv.length).toBeGreaterThan(250_000) // the review's file: 260 KB
    await expect(lm.createJob('default', 'd', text(csv), { format: 'csv' })).rejects.toMatchObject({
      status: 400,
      message: expect.stringMatching(
        // Counted as the header's bytes are read: refused at the first 16 KiB slice past the limit.
        /has at least \d{4} columns; a job file may have at most 4096 \(LASTMILE_JOB_MAX_COLUMNS\)/,
      ),
    })
    const first = `{${names(5000)
      .map((k) => `"${k}":1`)
      .join(',')}}`
    await expect(
      lm.createJob('default', 'd', text(`${first}\n${'{}\n'.repeat(65_536)}`), { format: 'jsonl' }),
    ).rejects.toMatchObject({
      status: 400,
      message: expect.stringMatching(
        /has at least 5000 columns \(distinct keys by line 1\); .*LASTMILE_JOB_MAX_COLUMNS/,
      ),
    })
    // Keys spread over lines count too: 100 lines of 50 new keys each.
    const spread = Array.from({ length: 100 }, (_, l) => `{"x":[1,2],${names(50).map((k) => `"${k}_${l}":1`)}}`).join(
      '\n',
    )
    await expect(lm.createJob('default', 'd', text(spread), { format: 'jsonl' })).rejects.toMatchObject({
      status: 400,
      message: expect.stringMatching(/has at least 4101 columns \(distinct keys by line 82\)/),
    })
    expect(await lm.listJobs('default')).toEqual([]) // nothing was accepted
  })

  /** Rows per chunk of a 4 000-column file: LASTMILE_JOB_CHUNK_CELLS' default over the columns. */
  const chunkRows = Math.floor(2 ** 20 / 4000)

  it('reads a 4 000-column file of bad rows a bounded chunk at a time: it fails at its first, health answering', async () => {
    // 65 536 short rows: before, all of them became 4 000 values each at once (262M cells) on the
    // event loop, before the error share could stop the job.
    const csv = `x,${names(3999).join(',')}\n${'"[1,2]"\n'.repeat(65_536)}`
    const head = `{"x":[0,1],${names(3999)
      .map((k) => `"${k}":1`)
      .join(',')}}`
    const jsonl = `${head}\n${'{"x":"a"}\n'.repeat(65_536)}`
    for (const [format, file] of [
      ['csv', csv],
      ['jsonl', jsonl],
    ] as const) {
      const job = await lm.createJob('default', 'd', text(file), { format })
      const { job: done, slowestHealthMs } = await finishWatchingHealth(job.id)
      // Every CSV row has 1 field where the header has 4 000; every JSONL line but the first an x of text.
      const errors = format === 'csv' ? chunkRows : chunkRows - 1
      expect(done, format).toMatchObject({ status: 'failed', rows_done: chunkRows, error_count: errors })
      expect(done.error, format).toMatch(/more than max_error_share 0.01/)
      // A loaded machine may stall a few seconds; before, the loop was held for minutes.
      expect(slowestHealthMs, format).toBeLessThan(10_000)
    }
  })

  it('scores a 4 000-column JSONL file in chunks of bounded cells while health keeps answering', async () => {
    const rows = 5000
    const first = `{"x":[0,1],${names(3999)
      .map((k) => `"${k}":1`)
      .join(',')}}`
    const lines = Array.from({ length: rows - 1 }, (_, i) => `{"x":[${i + 1},${-i}]}`)
    const job = await lm.createJob('default', 'd', text(`${first}\n${lines.join('\n')}\n`), { format: 'jsonl' })
    const { job: done, slowestHealthMs } = await finishWatchingHealth(job.id)
    expect(done).toMatchObject({ status: 'succeeded', rows_done: rows, error_count: 0 })
    const chunks = readdirSync(join(config.dataDir, 'jobs'), { recursive: true }).filter((f) =>
      new RegExp(`${done.id}/chunk-\\d+\\.arrow$`).test(String(f)),
    )
    expect(chunks).toHaveLength(Math.ceil(rows / chunkRows))
    expect(slowestHealthMs).toBeLessThan(10_000)
  })

  it('makes a JSONL line nested 100 000 deep a row error naming its line, and scores the others', async () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`
    const file = `{"x":[1,2],"y":${deep}}\n{"x":[3,4],"y":1}\n{"x":[5,6],"y":${'['.repeat(70)}${']'.repeat(70)}}\n`
    const job = await lm.createJob('default', 'd', text(file), { format: 'jsonl', maxErrorShare: 1 })
    const { job: done } = await finishWatchingHealth(job.id)
    expect(done).toMatchObject({ status: 'succeeded', rows_done: 3, error_count: 2 })
    expect(done.errors).toEqual([
      { row: 0, message: expect.stringMatching(/^line 1: nests arrays or objects more than 64 deep/) },
      { row: 2, message: expect.stringMatching(/^line 3: nests arrays or objects more than 64 deep/) },
    ])
    const result = await (await lm.jobResult(job.id, 'jsonl')).text()
    expect(result.split('\n')[1]).toBe('{"x":[3,4],"y":1,"out.y":[6,8]}')
  })
})
