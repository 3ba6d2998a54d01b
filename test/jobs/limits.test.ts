/**
 * Bounded job readers and job size limits: a JSONL line or CSV record past
 * LASTMILE_JOB_MAX_RECORD_BYTES is a row error or a failed read naming the setting, without
 * holding the line; a chunk of very long records ends at the text budget rather than at maxRows;
 * a file past LASTMILE_JOB_MAX_ROWS is refused before the 202 when it says its size, and fails
 * when reading finds it.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tableFromArrays, tableToIPC } from '@uwdata/flechette'
import * as pw from 'parquet-wasm/esm'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { JobStatus, LastmileClient } from '../../src/client/client.js'
import type { ConfigOverrides } from '../../src/config.js'
import { type ChunkReader, openReader } from '../../src/jobs/io/index.js'
import { clientFor, doubler, tempDir, testServer } from '../helpers/server.js'

const KiB = 1024
const MiB = 1024 * KiB

function write(name: string, content: string | Uint8Array): string {
  const path = join(tempDir(), name)
  writeFileSync(path, content)
  return path
}

/** A JSON line of exactly `bytes` bytes. */
function jsonLine(x: number, bytes: number): string {
  const head = `{"x":${x},"pad":"`
  return `${head}${'p'.repeat(bytes - head.length - 2)}"}`
}

async function rows(reader: ChunkReader, maxRows: number) {
  const chunks = []
  for (let c = await reader.next(maxRows); c; c = await reader.next(maxRows)) chunks.push(c)
  await reader.close()
  return chunks
}

describe('record size limits', () => {
  it('turns a JSONL line past the limit into a row error, whatever reads it spans', async () => {
    const lines = [
      jsonLine(0, 100),
      `{"x":1,"pad":"${'q'.repeat(3 * MiB)}"}`, // spans several 1 MiB reads
      jsonLine(2, 1024), // exactly the limit: kept
      jsonLine(3, 1025),
      jsonLine(4, 50),
      `{"x":5,"pad":"${'r'.repeat(2000)}"}`, // the last line, without a newline
    ]
    const path = write('long.jsonl', lines.join('\n'))
    const chunks = await rows(await openReader(path, 'jsonl', { maxRecordBytes: 1024 }), 10)
    expect(chunks.map((c) => c.rows)).toEqual([6])
    const [chunk] = chunks
    expect(Array.from(chunk?.columns.x as ArrayLike<unknown>)).toEqual([0, null, 2, null, 4, null])
    const problem = 'the line is longer than 1024 bytes (LASTMILE_JOB_MAX_RECORD_BYTES)'
    expect(chunk?.errors).toEqual([
      { row: 1, message: `line 2: ${problem}` },
      { row: 3, message: `line 4: ${problem}` },
      { row: 5, message: `line 6: ${problem}` },
    ])
  })

  it('fails a CSV read at a record past the limit, naming its line', async () => {
    const head = ['a,b', '1,2', '3,4', '5,6']
    const early = write('early.csv', [...head, `7,${'x'.repeat(2000)}`, '9,10'].join('\n'))
    await expect(openReader(early, 'csv', { maxRecordBytes: 1024 })).rejects.toThrow(
      /'early.csv' has a record longer than 1024 bytes at line 5 \(LASTMILE_JOB_MAX_RECORD_BYTES\)/,
    )
    const many = Array.from({ length: 3000 }, (_, i) => `${i},${i * 2}`)
    // A quote never closed: without the limit the parser would hold the rest of the file.
    const late = write('late.csv', ['a,b', ...many, `1,"${'y'.repeat(3 * MiB)}`].join('\n'))
    // Opening reads only the rows it infers types from (the parser never runs ahead of the rows
    // used): the read that reaches the record fails, naming its line.
    const reader = await openReader(late, 'csv', { maxRecordBytes: 4096, inferRows: 10 })
    try {
      await expect(rows(reader, 1000)).rejects.toThrow(
        /record longer than 4096 bytes at line 3002 .*quote never closed/,
      )
    } finally {
      await reader.close()
    }
  })

  it('ends a chunk of very long records at the text budget, and loses no row', async () => {
    // 17 lines of 4 MiB: a chunk holds 64 MiB of text, 16 of them, however many rows were asked for.
    const lines = Array.from({ length: 17 }, (_, i) => jsonLine(i, 4 * MiB))
    const path = write('wide.jsonl', `${lines.join('\n')}\n`)
    const chunks = await rows(await openReader(path, 'jsonl'), 1000)
    expect(chunks.map((c) => [c.firstRow, c.rows])).toEqual([
      [0, 16],
      [16, 1],
    ])
    expect(chunks.flatMap((c) => Array.from(c.columns.x as ArrayLike<unknown>))).toEqual(
      Array.from({ length: 17 }, (_, i) => i),
    )
  })
})

/** A server with pipeline `d` (y = 2x, x [N, 2]) deployed and jobs limited by `jobs`. */
function deployed(jobs: ConfigOverrides['jobs']) {
  const ctx = {} as { s: Awaited<ReturnType<typeof testServer>>; lm: LastmileClient }
  beforeAll(async () => {
    ctx.s = await testServer({ jobs })
    ctx.lm = clientFor(ctx.s.app)
    await ctx.lm.uploadModel('default', 'd', doubler(2))
    await ctx.lm.putPipeline('default', 'd', [{ model: 'd' }])
    await ctx.lm.deploy('default', 'd', { engine: 'cpu' })
  })
  afterAll(() => ctx.s.shutdown())
  const finished = (id: string) =>
    vi.waitFor(
      async () => {
        const j = await ctx.lm.job(id)
        if (j.status === 'queued' || j.status === 'running') throw new Error(j.status)
        return j
      },
      { timeout: 30_000, interval: 20 },
    ) as Promise<JobStatus>
  return { ctx, finished }
}

describe('job row limit', () => {
  const { ctx, finished } = deployed({ maxRows: 1000 })
  const table = (n: number) =>
    tableFromArrays({
      a: Float64Array.from({ length: n }, (_, i) => i),
      b: Float64Array.from({ length: n }, (_, i) => -i),
    })

  it('refuses a Parquet or Arrow file that says it has too many rows, before the 202', async () => {
    const ipc = tableToIPC(table(1001), { format: 'stream' }) as Uint8Array
    const parquet = pw.writeParquet(pw.Table.fromIPCStream(ipc))
    const arrow = tableToIPC(table(1001), { format: 'file' }) as Uint8Array
    for (const [format, bytes] of [
      ['parquet', parquet],
      ['arrow', arrow],
    ] as const) {
      await expect(
        ctx.lm.createJob('default', 'd', bytes, { format, features: ['a', 'b'] }),
        format,
      ).rejects.toMatchObject({
        status: 400,
        message: 'the file has 1001 rows; a job scores at most 1000 (LASTMILE_JOB_MAX_ROWS)',
      })
    }
    expect(await ctx.lm.listJobs('default')).toEqual([])
  })

  it('fails a CSV job when reading passes the row limit, and takes one at the limit', async () => {
    const csv = (n: number) => `a,b\n${Array.from({ length: n }, (_, i) => `${i},${2 * i}`).join('\n')}\n`
    const over = await ctx.lm.createJob('default', 'd', new TextEncoder().encode(csv(1001)), {
      format: 'csv',
      features: ['a', 'b'],
    })
    const failed = await finished(over.id)
    expect(failed.status).toBe('failed')
    expect(failed.error).toBe('the file has more than 1000 rows; a job scores at most 1000 (LASTMILE_JOB_MAX_ROWS)')
    const at = await ctx.lm.createJob('default', 'd', new TextEncoder().encode(csv(1000)), {
      format: 'csv',
      features: ['a', 'b'],
    })
    expect(await finished(at.id)).toMatchObject({ status: 'succeeded', rows_done: 1000 })
  })
})

describe('job record limit', () => {
  const { ctx, finished } = deployed({ maxRecordBytes: 4096 })

  it('fails a CSV job at a record past the limit, far into the file, with the reason', async () => {
    const note = 'n'.repeat(3000)
    const rows = Array.from({ length: 2000 }, (_, i) => `${i},${i % 7},${note}`) // 6 MB: past what opening reads
    const csv = `a,b,note\n${rows.join('\n')}\n1,2,"${'z'.repeat(5000)}\n2,3,x\n`
    const job = await ctx.lm.createJob('default', 'd', new TextEncoder().encode(csv), {
      format: 'csv',
      features: ['a', 'b'],
    })
    const failed = await finished(job.id)
    expect(failed.status).toBe('failed')
    expect(failed.error).toMatch(/record longer than 4096 bytes at line 2002 \(LASTMILE_JOB_MAX_RECORD_BYTES\)/)
  })

  it('scores a JSONL file around a line past the record limit, listing it as a row error', async () => {
    const text = [
      JSON.stringify({ x: [1, 2] }),
      JSON.stringify({ x: [3, 4], note: 'n'.repeat(5000) }),
      JSON.stringify({ x: [5, 6] }),
    ].join('\n')
    const job = await ctx.lm.createJob('default', 'd', new TextEncoder().encode(text), {
      format: 'jsonl',
      maxErrorShare: 0.5,
    })
    const done = await finished(job.id)
    expect(done).toMatchObject({ status: 'succeeded', rows_done: 3, error_count: 1 })
    expect(done.errors[0]).toEqual({
      row: 1,
      message: 'line 2: the line is longer than 4096 bytes (LASTMILE_JOB_MAX_RECORD_BYTES)',
    })
    const out = (await (await ctx.lm.jobResult(job.id, 'jsonl')).text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    expect(out.map((r) => r['out.y'])).toEqual([[2, 4], null, [10, 12]])
  })
})
