/**
 * Arrow files as batch jobs through a real HTTP server. A file whose batch headers lie (rows,
 * node lengths, buffer ranges, metadata or body lengths) is refused with a 400 before the 202;
 * a lie only a body shows (offsets) fails the job with the reason. Fuzzed: lying and mutated
 * files each answer 202 or a 4xx in time, every accepted job ends succeeded or failed with a
 * reason, and inference still answers correctly afterwards.
 */
import { fixedSizeList, float32, list, tableFromArrays, tableToIPC } from '@uwdata/flechette'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { claimingRows, firstBatch, messagesOf, withInt64 } from './arrow-craft.js'
import { CASE_TIMEOUT_MS, fuzzParams } from './budget.js'
import { type FuzzServer, fuzzServer } from './inference-server.js'
import { mutated } from './mutate.js'

const STREAM = { 'content-type': 'application/vnd.apache.arrow.stream' }

/** A job file for `double`: x, two float32s a row, in batches of `batchRows`. */
function file(rows: number, batchRows: number, format: 'stream' | 'file' = 'stream', fixed = true): Uint8Array {
  const x = Array.from({ length: rows }, (_, i) => Float32Array.of(i, i / 4))
  const type = fixed ? fixedSizeList(float32(), 2) : list(float32())
  return tableToIPC(tableFromArrays({ x }, { types: { x: type }, maxBatchRows: batchRows }), { format }) as Uint8Array
}

interface Job {
  status: string
  error: string | null
  rows_done: number
}

describe('Arrow job files through the HTTP server', () => {
  let s: FuzzServer
  const accepted: string[] = []
  beforeAll(async () => {
    s = await fuzzServer({ jobs: { chunkRows: 64 } })
  })
  afterAll(() => s?.close())

  async function upload(
    bytes: Uint8Array,
  ): Promise<{ status: number; body: { id?: string; error?: { message: string } } }> {
    const res = await fetch(`${s.url}/v1/workspaces/default/pipelines/double/jobs?max_error_share=1`, {
      method: 'POST',
      body: bytes,
      headers: STREAM,
      signal: AbortSignal.timeout(CASE_TIMEOUT_MS),
    })
    const body = (await res.json()) as { id?: string; error?: { message: string } }
    expect(
      res.status === 202 || (res.status >= 400 && res.status < 500),
      `${res.status}: ${JSON.stringify(body)}`,
    ).toBe(true)
    if (res.status === 202) accepted.push(body.id as string)
    return { status: res.status, body }
  }

  const finished = (id: string) =>
    vi.waitFor(
      async () => {
        const j = (await (await fetch(`${s.url}/v1/jobs/${id}`)).json()) as Job
        if (j.status === 'queued' || j.status === 'running') throw new Error(`${id} is still ${j.status}`)
        return j
      },
      { timeout: 60_000, interval: 25 },
    )

  /** Every accepted job ends succeeded, or failed with a reason; then inference is still right. */
  async function settled(): Promise<void> {
    for (const id of accepted.splice(0)) {
      const job = await finished(id)
      expect(['succeeded', 'failed'], `${id}: ${JSON.stringify(job)}`).toContain(job.status)
      if (job.status === 'failed') expect(job.error, id).toMatch(/\w/)
    }
    await s.expectCorrect()
  }

  it('refuses before the 202 a file whose third batch claims 1e9 rows, and keeps serving', async () => {
    for (const format of ['stream', 'file'] as const) {
      const bytes = file(300, 100, format)
      const third = messagesOf(bytes).filter((m) => m.type === 3)[2]
      for (const lie of [withInt64(bytes, third?.lengthAt as number, 1e9), claimingRows(bytes, third as never, 1e9)]) {
        const { status, body } = await upload(lie)
        expect(status).toBe(400)
        expect(body.error?.message).toMatch(/message 3: column 'x(\[\])?' has \d+ values, expected (at least )?\d+/)
      }
    }
    const ok = await upload(file(300, 100))
    expect(ok.status).toBe(202)
    const job = await finished(ok.body.id as string)
    expect(job).toMatchObject({ status: 'succeeded', rows_done: 300 })
    await settled()
  })

  it('fails the job, with the reason, when a batch body holds offsets past its values', async () => {
    const bytes = file(4, 4, 'stream', false)
    const batch = firstBatch(bytes)
    // Buffers in pre-order: x validity, x offsets, then its child's validity and values.
    const offsets = batch.bodyStart + Number(new DataView(bytes.buffer).getBigInt64(batch.buffersAt[1] as number, true))
    const lie = bytes.slice()
    new DataView(lie.buffer).setInt32(offsets + 4 * 4, 1000, true)
    const { status, body } = await upload(lie)
    expect(status).toBe(202)
    const job = await finished(body.id as string)
    expect(job.status).toBe('failed')
    expect(job.error).toMatch(/column 'x' has a last offset 1000, past the 8 values of its child/)
    await settled()
  })

  it('answers lying and mutated Arrow files with 202 or a 4xx, and every job ends with a reason', async () => {
    const seeds = [file(40, 16), file(10, 3, 'file'), file(5, 5, 'stream', false)]
    const LIES = [0, 1, 3, 8, 255, 2 ** 31 - 1, 2e7, 1e9, -1]
    const lying = fc
      .tuple(fc.constantFrom(...seeds), fc.nat(), fc.nat(), fc.constantFrom(...LIES))
      .map(([seed, m, k, value]) => {
        const messages = messagesOf(seed).filter((x) => x.type === 3)
        const message = messages[m % messages.length]
        if (!message) return seed
        const fields = [
          message.lengthAt,
          ...message.nodesAt,
          ...message.buffersAt.map((b) => b + (k % 2) * 8),
          message.bodyLengthAt,
        ]
        const at = fields[k % fields.length]
        return at === undefined ? seed : withInt64(seed, at, value)
      })
    await fc.assert(
      fc.asyncProperty(fc.oneof(lying, mutated(seeds)), async (bytes) => {
        await upload(bytes)
      }),
      fuzzParams(40),
    )
    await settled()
  })
})
