/**
 * Batch scoring jobs end to end on real data (flights from vega-datasets): a file uploaded to a
 * deployed pipeline scores to a correct result in every format, with progress; bad rows are
 * reported by row number and fail the job past the allowed share; jobs cancel; a job stopped by a
 * shutdown resumes after a restart with no row lost or written twice.
 */
import { createReadStream, createWriteStream, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { tableFromIPC, tableToIPC } from '@uwdata/flechette'
import * as pw from 'parquet-wasm/esm'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { LastmileClient } from '../../src/client/client.js'
import { openReader } from '../../src/jobs/io/index.js'
import { silentLogger } from '../../src/logger.js'
import { buildServer } from '../../src/server/serve.js'
import { SqliteStore } from '../../src/store/sqlite-store.js'
import type { JobRecord } from '../../src/store/types.js'
import { expectClose } from '../helpers/compare.js'
import { expectedDelay, FLIGHTS_200K, flights200k, flightsModel } from '../helpers/flights.js'
import { clientFor, finishedJob, tempDir, testConfig } from '../helpers/server.js'

const model = flightsModel()
const flights = flights200k()
const arrowBytes = readFileSync(FLIGHTS_200K)

/** out.y of a result must be the model's answer for each input row, in input order. */
function expectScored(table: ReturnType<typeof tableFromIPC>, first = 0) {
  const distance = table.getChild('distance')?.toArray() as ArrayLike<number>
  const time = table.getChild('time')?.toArray() as ArrayLike<number>
  const y = table.getChild('out.y')?.toArray() as ArrayLike<number>
  for (let i = 0; i < table.numRows; i += 997) {
    expect(distance[i]).toBe(flights.distance[first + i])
    expect(time[i]).toBe(Math.fround(flights.time[first + i] as number))
  }
  const expected = Array.from({ length: table.numRows }, (_, i) =>
    expectedDelay(model.params, [distance[i] as number, time[i] as number]),
  )
  expectClose(Float64Array.from(y), expected, 'out.y', 1e-4, 1)
}

describe('batch scoring jobs', () => {
  const dataDir = tempDir()
  const config = testConfig({ dataDir, jobs: { chunkRows: 2_000 } })
  let s: Awaited<ReturnType<typeof buildServer>>
  let lm: LastmileClient

  beforeAll(async () => {
    s = await buildServer(config, { log: silentLogger })
    lm = clientFor(s.app)
    await lm.uploadModel('default', 'delays', model.bytes)
    await lm.putPipeline('default', 'delays', [{ model: 'delays' }])
    await lm.deploy('default', 'delays', { engine: 'cpu' })
  })
  afterAll(async () => {
    await s.shutdown()
  })

  it('scores the 200k-flight Arrow file with progress, and serves the result in every format', async () => {
    const created = await lm.createJob('default', 'delays', arrowBytes, {
      format: 'arrow',
      features: ['distance', 'time'],
    })
    expect(created.status).toBe('queued')
    expect(created.rows_total).toBe(200_000) // an Arrow file says its size up front
    const seen: number[] = []
    const done = await vi.waitFor(
      async () => {
        const j = await lm.job(created.id)
        seen.push(j.rows_done)
        if (j.status !== 'succeeded') throw new Error(j.status)
        return j
      },
      { timeout: 60_000, interval: 20 },
    )
    expect(done).toMatchObject({ rows_done: 200_000, rows_total: 200_000, progress: 1, error_count: 0 })
    expect(done.rows_per_second).toBeGreaterThan(0)
    const arrowResult = await lm.jobResult(created.id, 'arrow')
    expect(arrowResult.headers.get('content-type')).toBe('application/vnd.apache.arrow.stream')
    expect(arrowResult.headers.get('content-disposition')).toBe(`attachment; filename="${created.id}.arrows"`)
    const arrow = tableFromIPC(new Uint8Array(await arrowResult.arrayBuffer()))
    expect(arrow.numRows).toBe(200_000)
    expect(arrow.schema.fields.map((f) => f.name)).toEqual(['delay', 'distance', 'time', 'out.y'])
    expectScored(arrow)
    const csvResult = await lm.jobResult(created.id, 'csv')
    // Each result format's media type and file name, as the route answers them (CSV is UTF-8).
    expect(csvResult.headers.get('content-type')).toBe('text/csv; charset=utf-8')
    expect(csvResult.headers.get('content-disposition')).toBe(`attachment; filename="${created.id}.csv"`)
    const csv = (await csvResult.text()).trimEnd().split('\n')
    expect(csv).toHaveLength(200_001)
    expect(csv[0]).toBe('delay,distance,time,out.y')
    const jsonlResult = await lm.jobResult(created.id, 'jsonl')
    expect(jsonlResult.headers.get('content-type')).toBe('application/x-ndjson')
    expect(jsonlResult.headers.get('content-disposition')).toBe(`attachment; filename="${created.id}.jsonl"`)
    const jsonl = (await jsonlResult.text()).trimEnd().split('\n')
    expect(JSON.parse(jsonl[123] as string)).toMatchObject({ distance: flights.distance[123] })
    const parquet = await lm.jobResult(created.id, 'parquet')
    expect(parquet.headers.get('content-type')).toBe('application/vnd.apache.parquet')
    expect(parquet.headers.get('content-disposition')).toBe(`attachment; filename="${created.id}.parquet"`)
    const pq = new Uint8Array(await parquet.arrayBuffer())
    expect(new TextDecoder().decode(pq.subarray(0, 4))).toBe('PAR1')
  })

  it('scores a Parquet file uploaded as a stream, to a Parquet result correct on every row', async () => {
    // The 200k flights rewritten as Parquet (ZSTD, four row groups). The 3M-row file is scored by
    // `npm run bench -- jobs`: its time depends on the machine, and a suite must not.
    const path = join(tempDir(), 'flights.parquet')
    const ipc = tableToIPC(tableFromIPC(arrowBytes), { format: 'stream' }) as Uint8Array
    const props = new pw.WriterPropertiesBuilder().setCompression(pw.Compression.ZSTD).setMaxRowGroupSize(50_000)
    writeFileSync(path, pw.writeParquet(pw.Table.fromIPCStream(ipc), props.build()))
    const upload = Readable.toWeb(createReadStream(path)) as unknown as ReadableStream<Uint8Array>
    const job = await lm.createJob('default', 'delays', upload, { format: 'parquet', features: ['distance', 'time'] })
    expect(job.rows_total).toBe(200_000) // from the Parquet footer, before the 202
    expect(await finishedJob(lm, job.id)).toMatchObject({ status: 'succeeded', rows_done: 200_000, error_count: 0 })
    const out = join(tempDir(), 'scored.parquet')
    await pipeline(Readable.fromWeb((await lm.jobResult(job.id)).body as never), createWriteStream(out))
    const reader = await openReader(out, 'parquet')
    expect(reader.schema.map((f) => f.name)).toEqual(['delay', 'distance', 'time', 'out.y'])
    let rows = 0
    const wrong: string[] = []
    for (let c = await reader.next(30_000); c; c = await reader.next(30_000)) {
      const y = c.columns['out.y'] as ArrayLike<number>
      const d = c.columns.distance as ArrayLike<number>
      for (let i = 0; i < c.rows; i++) {
        const row = c.firstRow + i
        const want = expectedDelay(model.params, [flights.distance[row] as number, flights.time[row] as number])
        const ok = d[i] === flights.distance[row] && Math.abs((y[i] as number) - want) <= 1e-4 * (1 + Math.abs(want))
        if (!ok) wrong.push(`row ${row}: distance ${d[i]}, out.y ${y[i]}, expected ${want}`)
      }
      rows += c.rows
    }
    await reader.close()
    expect(wrong.slice(0, 5)).toEqual([])
    expect(rows).toBe(200_000)
  })

  it('reports bad rows by row number, keeps their place, and fails past max_error_share', async () => {
    const lines = ['distance,time']
    for (let i = 0; i < 100; i++) lines.push(`${flights.distance[i]},${flights.time[i]}`)
    lines[1 + 10] = 'abc,12.5' // row 10: not a number
    lines[1 + 42] = '500,' // row 42: empty
    const csv = new TextEncoder().encode(`${lines.join('\n')}\n`)
    const ok = await finishedJob(
      lm,
      (
        await lm.createJob('default', 'delays', csv, {
          format: 'csv',
          features: ['distance', 'time'],
          maxErrorShare: 0.05,
        })
      ).id,
    )
    expect(ok.status).toBe('succeeded')
    expect(ok.errors.map((e) => e.row)).toEqual([10, 42])
    expect(ok.errors[0]?.message).toMatch(/distance/)
    const rows = (await (await lm.jobResult(ok.id, 'jsonl')).text())
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l))
    expect(rows).toHaveLength(100)
    expect(rows[10]['out.y']).toBeNull()
    expect(rows[11]['out.y']).toBeCloseTo(
      expectedDelay(model.params, [flights.distance[11] as number, flights.time[11] as number]),
      3,
    )

    const strict = await finishedJob(
      lm,
      (
        await lm.createJob('default', 'delays', csv, {
          format: 'csv',
          features: ['distance', 'time'],
          maxErrorShare: 0.01,
        })
      ).id,
    )
    expect(strict.status).toBe('failed')
    expect(strict.error).toMatch(/2 of 100 rows failed .* max_error_share 0.01/)
    await expect(lm.jobResult(strict.id)).rejects.toMatchObject({ status: 409 })
  })

  it('refuses what cannot work before accepting the job', async () => {
    const csv = new TextEncoder().encode('a,b\n1,2\n')
    await expect(
      lm.createJob('default', 'delays', csv, { format: 'csv', features: ['distance', 'time'] }),
    ).rejects.toMatchObject({
      status: 400,
      message: expect.stringMatching(/column 'distance' is not in the file; it has 'a', 'b'/),
    })
    await expect(lm.createJob('default', 'delays', csv, { format: 'csv', features: ['a'] })).rejects.toMatchObject({
      status: 400,
      message: expect.stringMatching(/needs 2 features, got 1/),
    })
    await expect(lm.createJob('default', 'nope', csv, { format: 'csv' })).rejects.toMatchObject({ status: 404 })
    const res = await s.app.request('/v1/workspaces/default/pipelines/delays/jobs', {
      method: 'POST',
      body: csv,
      headers: { 'content-type': 'application/pdf' },
    })
    expect(res.status).toBe(415)
    // The answer lists what would have named a format.
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe(
      "cannot tell the file's format from Content-Type 'application/pdf': send one of text/csv, application/x-ndjson, application/jsonl, application/jsonlines, application/vnd.apache.arrow.file, application/vnd.apache.arrow.stream, application/vnd.apache.parquet, application/x-parquet, or add ?format=csv|jsonl|arrow|parquet",
    )
    await expect(lm.createJob('default', 'delays', csv.subarray(0, 3), { format: 'parquet' })).rejects.toMatchObject({
      status: 400,
    })
  })

  it('cancels a running job, and deletes a finished one', async () => {
    const id = (
      await lm.createJob('default', 'delays', arrowBytes, { format: 'arrow', features: ['distance', 'time'] })
    ).id
    const cancelled = await lm.cancelJob(id)
    expect(cancelled?.status === 'cancelled' || cancelled?.status === 'running').toBe(true)
    expect((await finishedJob(lm, id)).status).toBe('cancelled')
    expect(await lm.cancelJob(id)).toBeUndefined() // deleted
    await expect(lm.job(id)).rejects.toMatchObject({ status: 404 })
  })

  it('resumes after a restart from its last committed chunk: no row lost, none twice', async () => {
    const id = (
      await lm.createJob('default', 'delays', arrowBytes, { format: 'arrow', features: ['distance', 'time'] })
    ).id
    await vi.waitFor(
      async () => {
        if ((await lm.job(id)).rows_done === 0) throw new Error('no chunk yet')
      },
      { timeout: 30_000, interval: 5 },
    )
    await s.shutdown() // stops after the chunk in progress; the job stays "running" in the store
    // Simulate a crash between a chunk file's rename and its commit: the store forgets the last
    // chunk, whose file is still on disk. The resumed job must redo it, not keep both.
    const store = SqliteStore.open(dataDir)
    const job = (await store.jobs.get(id)) as JobRecord
    expect(job).toMatchObject({ status: 'running' })
    expect(job.chunksDone).toBeGreaterThan(0)
    expect(existsSync(join(dataDir, 'jobs', id, `chunk-${String(job.chunksDone - 1).padStart(6, '0')}.arrow`))).toBe(
      true,
    )
    await store.jobs.update(id, { chunksDone: job.chunksDone - 1, rowsDone: job.rowsDone - 2_000 })
    await store.close()
    s = await buildServer(config, { log: silentLogger })
    lm = clientFor(s.app)
    const j = await finishedJob(lm, id)
    expect(j).toMatchObject({ status: 'succeeded', rows_done: 200_000 })
    const table = tableFromIPC(new Uint8Array(await (await lm.jobResult(id, 'arrow')).arrayBuffer()))
    expect(table.numRows).toBe(200_000)
    expectScored(table)
  })
})
