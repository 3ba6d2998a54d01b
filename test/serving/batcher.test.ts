/** The dynamic batcher with a stand-in model that tags each row, so every row can be traced. */
import { describe, expect, it } from 'vitest'
import { type HostTensor, tensor } from '../../src/engine/tensor.js'
import type { Columns } from '../../src/engine/types.js'
import { InvalidInputError, NotReadyError, QueueFullError, TimeoutError } from '../../src/errors.js'
import { DynamicBatcher } from '../../src/serving/batcher.js'
import { type BatchingConfig, batchingSchema } from '../../src/serving/settings.js'

const config = (over: Partial<BatchingConfig> = {}): BatchingConfig => batchingSchema.parse(over)

/** A model whose output row is its input row times 10; records every batch it runs. */
function recorder(opts: { delayMs?: number; msPerRow?: number; fail?: (batch: number[]) => boolean } = {}) {
  const batches: number[][] = []
  const run = async (feeds: Columns) => {
    const ids = Array.from((feeds.id as HostTensor).data as Float32Array)
    batches.push(ids)
    const delay = (opts.delayMs ?? 0) + ids.length * (opts.msPerRow ?? 0)
    if (delay > 0) await new Promise((r) => setTimeout(r, delay))
    if (opts.fail?.(ids)) throw new Error(`batch ${ids.join(',')} failed`)
    return {
      outputs: {
        y: tensor(
          'float32',
          [ids.length],
          ids.map((v) => v * 10),
        ),
      },
      timings: { pre: 0, model: 1, post: 0 },
    }
  }
  return { batches, run }
}

const req = (ids: number[]) => ({ id: tensor('float32', [ids.length], ids) })
const answer = async (p: Promise<{ outputs: Record<string, { data: unknown }> }>) =>
  Array.from((await p).outputs.y?.data as Float32Array)

describe('dynamic batcher', () => {
  it('batches requests that arrive within max_queue_delay into one run', async () => {
    const r = recorder()
    // A delay far longer than the test: the batch runs when its 4th row fills it, so a stalled
    // machine (a pause between two submits) cannot split it the way a 20 ms delay could.
    const b = new DynamicBatcher(r.run, config({ max_batch_size: 4, max_queue_delay_ms: 10_000 }))
    const answers = await Promise.all([
      answer(b.submit(req([1]))),
      answer(b.submit(req([2, 3]))),
      answer(b.submit(req([4]))),
    ])
    expect(answers).toEqual([[10], [20, 30], [40]])
    expect(r.batches).toEqual([[1, 2, 3, 4]])
  })

  it('with max_queue_delay 0 never waits: the first request runs alone, the rest batch behind it', async () => {
    const r = recorder({ delayMs: 10 })
    const b = new DynamicBatcher(r.run, config({ max_queue_delay_ms: 0 }))
    await Promise.all([1, 2, 3, 4].map((i) => b.submit(req([i]))))
    expect(r.batches).toEqual([[1], [2, 3, 4]])
  })

  it('splits a request larger than max_batch_size across batches and reassembles it in order', async () => {
    const r = recorder()
    const b = new DynamicBatcher(r.run, config({ max_batch_size: 4, max_queue_delay_ms: 0 }))
    const ids = Array.from({ length: 10 }, (_, i) => i)
    expect(await answer(b.submit(req(ids)))).toEqual(ids.map((i) => i * 10))
    expect(r.batches).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [8, 9],
    ])
  })

  it('gives every client exactly its own rows under concurrency (shuffled row ids)', async () => {
    const r = recorder({ delayMs: 1 })
    const b = new DynamicBatcher(r.run, config({ max_batch_size: 16, max_queue_delay_ms: 1 }))
    const ids = Array.from({ length: 2000 }, (_, i) => i).sort(() => Math.random() - 0.5)
    const requests: number[][] = []
    for (let i = 0; i < ids.length; ) {
      const n = 1 + Math.floor(Math.random() * 7)
      requests.push(ids.slice(i, i + n))
      i += n
    }
    const answers = await Promise.all(
      requests.map(async (rows, k) => {
        await new Promise((res) => setTimeout(res, k % 5))
        return answer(b.submit(req(rows)))
      }),
    )
    answers.forEach((a, k) => {
      expect(a).toEqual((requests[k] as number[]).map((v) => v * 10))
    })
    expect(r.batches.length).toBeLessThan(requests.length)
    expect(Math.max(...r.batches.map((x) => x.length))).toBeLessThanOrEqual(16)
  })

  it('dispatches at a preferred batch size without waiting out the delay', async () => {
    const r = recorder()
    const b = new DynamicBatcher(r.run, config({ max_queue_delay_ms: 10_000, preferred_batch_sizes: [3] }))
    const t0 = performance.now()
    await Promise.all([1, 2, 3].map((i) => b.submit(req([i]))))
    expect(performance.now() - t0).toBeLessThan(5_000)
    expect(r.batches).toEqual([[1, 2, 3]])
  })

  it('refuses work beyond max_queue_size with a retryable error, and oversized requests outright', async () => {
    const r = recorder({ delayMs: 50 })
    const b = new DynamicBatcher(r.run, config({ max_queue_size: 4, max_queue_delay_ms: 0 }))
    const first = b.submit(req([1])) // running
    const queued = b.submit(req([2, 3, 4, 5])) // fills the queue
    await expect(b.submit(req([6]))).rejects.toBeInstanceOf(QueueFullError)
    await expect(b.submit(req([1, 2, 3, 4, 5]))).rejects.toBeInstanceOf(InvalidInputError)
    expect(await answer(first)).toEqual([10])
    expect(await answer(queued)).toEqual([20, 30, 40, 50])
    expect(b.queuedRows()).toBe(0)
  })

  it('times out a request that waits too long, and frees its queued rows', async () => {
    const r = recorder({ delayMs: 200 })
    const b = new DynamicBatcher(r.run, config({ timeout_ms: 50, max_queue_delay_ms: 0 }))
    const slow = b.submit(req([1]))
    const waiting = b.submit(req([2, 3]))
    await Promise.all([
      expect(waiting).rejects.toBeInstanceOf(TimeoutError),
      expect(slow).rejects.toBeInstanceOf(TimeoutError),
    ])
    expect(b.queuedRows()).toBe(0)
  })

  it('fails only the batch whose run fails, and keeps serving', async () => {
    const r = recorder({ fail: (ids) => ids.includes(2) })
    const b = new DynamicBatcher(r.run, config({ max_batch_size: 2, max_queue_delay_ms: 0 }))
    const results = await Promise.allSettled([1, 2, 3, 4, 5].map((i) => b.submit(req([i]))))
    const failed = results.map((x) => x.status === 'rejected')
    const failedBatch = r.batches.find((x) => x.includes(2)) as number[]
    expect(failed).toEqual([1, 2, 3, 4, 5].map((i) => failedBatch.includes(i)))
    expect(await answer(b.submit(req([7])))).toEqual([70])
  })

  it('never mixes rows of different shapes in one batch', async () => {
    const batches: string[] = []
    const b = new DynamicBatcher(
      async (feeds) => {
        const t = feeds.x as HostTensor
        batches.push(`[${t.dims.join(',')}]`)
        return { outputs: { y: t }, timings: { pre: 0, model: 0, post: 0 } }
      },
      config({ max_queue_delay_ms: 20 }),
    )
    const a = tensor('float32', [1, 2], [1, 2])
    const c = tensor('float32', [1, 3], [1, 2, 3])
    await Promise.all([b.submit({ x: a }), b.submit({ x: c }), b.submit({ x: a })])
    expect(batches).toEqual(['[1,2]', '[1,3]', '[1,2]'])
  })

  it('runs a bulk request as batches of its own rows, past max_batch_size and max_queue_size, after interactive ones', async () => {
    const r = recorder({ delayMs: 5 })
    const b = new DynamicBatcher(r.run, config({ max_batch_size: 4, max_queue_size: 8, max_queue_delay_ms: 0 }))
    const bulkIds = Array.from({ length: 20 }, (_, i) => 100 + i)
    const first = answer(b.submit(req([1])))
    const bulk = answer(b.submit(req(bulkIds), bulkIds.length, { bulk: true }))
    // The bulk rows do not fill the interactive queue: these still fit max_queue_size.
    const after = [answer(b.submit(req([2, 3]))), answer(b.submit(req([4])))]
    expect(await bulk).toEqual(bulkIds.map((i) => i * 10))
    expect(await Promise.all([first, ...after])).toEqual([[10], [20, 30], [40]])
    // Interactive rows queued behind the bulk request go first, and never inside its batch.
    expect(r.batches).toEqual([[1], [2, 3, 4], bulkIds])
  })

  it('sizes bulk batches to about 50 ms of measured work, and lets interactive requests in between', async () => {
    const msPerRow = 0.1
    const r = recorder({ msPerRow })
    const b = new DynamicBatcher(r.run, config({ max_queue_delay_ms: 0 }))
    const n = 6000
    const bulkIds = Array.from({ length: n }, (_, i) => i)
    const bulk = answer(b.submit(req(bulkIds), n, { bulk: true }))
    await new Promise((r) => setTimeout(r, 20)) // inside the first (probe) batch
    const t0 = performance.now()
    let answeredAt = 0
    const interactive = answer(b.submit(req([-1]))).then((a) => {
      answeredAt = performance.now()
      return a
    })
    expect(await bulk).toEqual(bulkIds.map((i) => i * 10))
    expect(await interactive).toEqual([-10])
    const bulkBatches = r.batches.filter((ids) => ids[0] !== -1)
    expect(bulkBatches[0]).toHaveLength(1024) // the probe batch, before the speed is known
    // After the probe, each bulk batch holds about 50 ms / msPerRow = 500 rows (timers are coarse).
    for (const ids of bulkBatches.slice(1, -1)) {
      expect(ids.length).toBeGreaterThan(125)
      expect(ids.length).toBeLessThan(750)
    }
    expect(bulkBatches.flat()).toEqual(bulkIds)
    // The interactive request ran right after the probe batch, not after the whole bulk request.
    expect(r.batches[1]).toEqual([-1])
    expect(answeredAt - t0).toBeLessThan(n * msPerRow * 0.5)
  })

  it('drains: answers everything queued, then refuses new work', async () => {
    const r = recorder({ delayMs: 5 })
    const b = new DynamicBatcher(r.run, config({ max_queue_delay_ms: 1000, max_batch_size: 2 }))
    const pending = [1, 2, 3, 4, 5].map((i) => answer(b.submit(req([i]))))
    await b.drain()
    expect(await Promise.all(pending)).toEqual([[10], [20], [30], [40], [50]])
    await expect(b.submit(req([9]))).rejects.toBeInstanceOf(NotReadyError)
  })
})
