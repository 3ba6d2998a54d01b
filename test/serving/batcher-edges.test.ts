/**
 * The dynamic batcher's edges that batcher.test.ts leaves out: concurrency, the observer and the
 * timings a request reports, the choice among preferred sizes, failures and timeouts of requests
 * that span batches, bulk requests that must not starve, and the accounting of queued rows.
 * Expected values are written out (row ids, batch layouts), not derived from the module.
 */
import { describe, expect, it } from 'vitest'
import { type HostTensor, tensor } from '../../src/engine/tensor.js'
import type { Columns } from '../../src/engine/types.js'
import { InvalidInputError, NotReadyError, QueueFullError, TimeoutError } from '../../src/errors.js'
import { DynamicBatcher } from '../../src/serving/batcher.js'
import { type BatchingConfig, batchingSchema } from '../../src/serving/settings.js'

const config = (over: Partial<BatchingConfig> = {}): BatchingConfig => batchingSchema.parse(over)
const req = (ids: number[]) => ({ id: tensor('float32', [ids.length], ids) })
const ids = (feeds: Columns) => Array.from((feeds.id as HostTensor).data as Float32Array)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
/** Poll `cond` every 5 ms (no deadline: the test's own timeout bounds it). */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await sleep(5)
}

/** A model whose output row is its input row times 10, with the given per-batch delay. */
function model(opts: { delayMs?: number; fail?: (batch: number[]) => boolean; msPerRow?: number } = {}) {
  const batches: number[][] = []
  let inFlight = 0
  let maxInFlight = 0
  const run = async (feeds: Columns) => {
    const rows = ids(feeds)
    batches.push(rows)
    inFlight++
    maxInFlight = Math.max(maxInFlight, inFlight)
    await sleep((opts.delayMs ?? 0) + rows.length * (opts.msPerRow ?? 0))
    inFlight--
    if (opts.fail?.(rows)) throw new Error(`batch ${rows.join(',')} failed`)
    return {
      outputs: {
        y: tensor(
          'float32',
          [rows.length],
          rows.map((v) => v * 10),
        ),
      },
      timings: { pre: rows.length, model: 2 * rows.length, post: 3 },
    }
  }
  return { batches, run, maxInFlight: () => maxInFlight }
}
const answer = async (p: Promise<{ outputs: Record<string, { data: unknown }> }>) =>
  Array.from((await p).outputs.y?.data as Float32Array)

describe('dynamic batcher: edges', () => {
  it('runs up to `concurrency` batches at once, and no more', async () => {
    for (const [concurrency, expected] of [
      [1, 1],
      [2, 2],
    ] as const) {
      const m = model({ delayMs: 40 })
      const b = new DynamicBatcher(m.run, config({ max_batch_size: 1, max_queue_delay_ms: 0 }), {}, concurrency)
      await Promise.all([1, 2, 3, 4].map((i) => b.submit(req([i]))))
      expect(m.maxInFlight()).toBe(expected)
      expect(m.batches).toEqual([[1], [2], [3], [4]])
    }
  })

  it('tells the observer each batch (rows, distinct requests, timings) and each request its own timings and queue time', async () => {
    const seen: Array<[number, number, number]> = []
    const m = model({ delayMs: 30 })
    const b = new DynamicBatcher(m.run, config({ max_batch_size: 3, max_queue_delay_ms: 0 }), {
      onBatch: (rows, requests, t) => seen.push([rows, requests, t.model]),
    })
    const first = b.submit(req([1]))
    const second = b.submit(req([2, 3, 4, 5])) // queues behind the first; spans two batches
    const [r1, r2] = await Promise.all([first, second])
    expect(m.batches).toEqual([[1], [2, 3, 4], [5]])
    expect(seen).toEqual([
      [1, 1, 2],
      [3, 1, 6],
      [1, 1, 2],
    ])
    // A request that spans batches reports the timings of the last batch that carried it.
    expect(r2.timings).toEqual({ pre: 1, model: 2, post: 3 })
    expect(r1.timings).toEqual({ pre: 1, model: 2, post: 3 })
    // The first ran at once; the second waited for the first batch (~30 ms) before its first batch.
    expect(r1.queueMs).toBeGreaterThanOrEqual(0)
    expect(r1.queueMs).toBeLessThan(r2.queueMs)
    expect(r2.queueMs).toBeGreaterThanOrEqual(20)
  })

  it('dispatches the largest preferred size that the queue can fill, ignoring sizes above max_batch_size', async () => {
    const m = model({ delayMs: 30 })
    // 16 is above max_batch_size: ignored. With 7 rows queued, 4 is the largest that fits.
    const b = new DynamicBatcher(
      m.run,
      config({ max_batch_size: 8, max_queue_delay_ms: 10_000, preferred_batch_sizes: [2, 16, 4] }),
    )
    const blocker = b.submit(req([0, 0, 0, 0, 0, 0, 0, 0])) // a full batch: runs at once
    await sleep(5)
    const rest = [b.submit(req([1, 2, 3])), b.submit(req([4, 5, 6, 7]))]
    await blocker
    // While the blocker ran, 7 rows queued: the batch after it takes 4 (preferred), then 2, then
    // the last row would wait for the 10 s delay: drain releases it.
    await until(() => m.batches.length >= 3)
    await sleep(20) // a fourth batch, if one came without waiting, would have started by now
    expect(m.batches.slice(0, 3)).toEqual([
      [0, 0, 0, 0, 0, 0, 0, 0],
      [1, 2, 3, 4],
      [5, 6],
    ])
    await b.drain()
    expect(await Promise.all(rest.map(answer))).toEqual([
      [10, 20, 30],
      [40, 50, 60, 70],
    ])
    expect(m.batches).toEqual([[0, 0, 0, 0, 0, 0, 0, 0], [1, 2, 3, 4], [5, 6], [7]])
  })

  it('a full batch does not wait for the queue delay', async () => {
    const m = model()
    const b = new DynamicBatcher(m.run, config({ max_batch_size: 3, max_queue_delay_ms: 10_000 }))
    const all = Promise.all([b.submit(req([1, 2])), b.submit(req([3]))])
    // Both answered long before the 10 s delay: the batch was full at 3 rows.
    const winner = await Promise.race([all.then(() => 'answered'), sleep(8000).then(() => 'waited')])
    expect(winner).toBe('answered')
    expect(m.batches).toEqual([[1, 2, 3]])
  })

  it("a failed batch fails the request it belongs to and drops that request's rows not yet run", async () => {
    const m = model({ fail: (rows) => rows.includes(1) })
    const b = new DynamicBatcher(m.run, config({ max_batch_size: 2, max_queue_delay_ms: 0 }))
    const spanning = b.submit(req([0, 1, 2, 3, 4]))
    await expect(spanning).rejects.toThrow('batch 0,1 failed')
    await b.drain()
    // Rows 2, 3, 4 never ran: they would have failed the request again.
    expect(m.batches).toEqual([[0, 1]])
    expect(b.queuedRows()).toBe(0)
  })

  it("a timed-out request's rows that no batch took leave the queue; other requests still run", async () => {
    const m = model({ delayMs: 150 })
    const b = new DynamicBatcher(m.run, config({ max_batch_size: 2, max_queue_delay_ms: 0, timeout_ms: 60 }))
    const spanning = b.submit(req([0, 1, 2, 3, 4]))
    await expect(spanning).rejects.toBeInstanceOf(TimeoutError)
    await expect(spanning).rejects.toThrow('no answer within 60 ms (timeout_ms)')
    expect(b.queuedRows()).toBe(0) // rows 2, 3, 4 left the queue
    await b.drain()
    expect(m.batches).toEqual([[0, 1]])
  })

  it('refuses a request with no rows, and says how full the queue is', async () => {
    const m = model({ delayMs: 50 })
    const b = new DynamicBatcher(m.run, config({ max_queue_size: 3, max_queue_delay_ms: 0 }))
    await expect(b.submit(req([]), 0)).rejects.toBeInstanceOf(InvalidInputError)
    await expect(b.submit(req([]), 0)).rejects.toThrow('the request has no rows')
    await expect(b.submit(req([1, 2, 3, 4]))).rejects.toThrow(
      'the request has 4 rows, more than this deployment queues (max_queue_size 3); split it',
    )
    const running = b.submit(req([1, 2]))
    const queued = b.submit(req([3, 4, 5]))
    expect(b.queuedRows()).toBe(3)
    const refused = b.submit(req([6]))
    await expect(refused).rejects.toBeInstanceOf(QueueFullError)
    await expect(refused).rejects.toThrow("the deployment's queue is full (3 of 3 rows)")
    await Promise.all([running, queued])
  })

  it('counts bulk rows as queued but not against max_queue_size', async () => {
    const m = model({ delayMs: 40 })
    const b = new DynamicBatcher(m.run, config({ max_queue_size: 2, max_queue_delay_ms: 0 }))
    const running = b.submit(req([1]))
    const bulk = b.submit(req([100, 101, 102]), 3, { bulk: true })
    expect(b.queuedRows()).toBe(3)
    const fits = b.submit(req([2, 3])) // 2 interactive rows queued: at the limit, not over it
    expect(b.queuedRows()).toBe(5)
    await expect(b.submit(req([4]))).rejects.toBeInstanceOf(QueueFullError)
    await Promise.all([running, bulk, fits])
    expect(b.queuedRows()).toBe(0)
    expect(m.batches).toEqual([[1], [2, 3], [100, 101, 102]])
  })

  it('a bulk request gets a batch within about 250 ms even while interactive requests keep coming', async () => {
    const m = model({ delayMs: 10 })
    const b = new DynamicBatcher(m.run, config({ max_batch_size: 1, max_queue_delay_ms: 0 }))
    // Two clients each keep one request outstanding for 1 s, so an interactive request is always
    // queued when a batch ends: without the bulk request's maximum wait it would run only after.
    const start = performance.now()
    const client = async () => {
      while (performance.now() - start < 1000) await b.submit(req([1]))
    }
    const clients = Promise.all([client(), client()])
    await until(() => m.batches.length >= 3) // the stream is under way: the bulk request queues behind it
    const bulk = b.submit(req([100, 101]), 2, { bulk: true })
    let bulkDoneAt = Number.POSITIVE_INFINITY
    void bulk.then(() => {
      bulkDoneAt = performance.now()
    })
    await clients
    const streamEnd = performance.now()
    await bulk
    expect(bulkDoneAt).toBeLessThan(streamEnd)
    expect(m.batches.findIndex((r) => r[0] === 100)).toBeLessThan(m.batches.length - 1)
  })

  it('hands a single whole request to the model as it came (no copy), and its output back as it left', async () => {
    const feeds = req([1, 2, 3])
    const out = tensor('float32', [3], [7, 8, 9])
    let received: Columns | undefined
    const b = new DynamicBatcher(
      async (f) => {
        received = f
        return { outputs: { y: out }, timings: { pre: 0, model: 0, post: 0 } }
      },
      config({ max_queue_delay_ms: 0 }),
    )
    const r = await b.submit(feeds)
    expect(received).toBe(feeds)
    expect(r.outputs.y).toBe(out)
  })

  it('a bulk request spanning batches is answered in order, sized from the measured speed', async () => {
    const m = model({ msPerRow: 0.2 })
    const b = new DynamicBatcher(m.run, config({ max_queue_delay_ms: 0 }))
    const rows = Array.from({ length: 1500 }, (_, i) => i)
    expect(await answer(b.submit(req(rows), rows.length, { bulk: true }))).toEqual(rows.map((i) => i * 10))
    // The first (probe) batch is 1024 rows; at ~0.2 ms a row the next is about 50 ms / 0.2 = 250
    // rows (timers are coarse, and a loaded machine runs slower: never more than the 476 left).
    expect(m.batches[0]).toHaveLength(1024)
    expect(m.batches[1]?.length).toBeLessThan(476)
    expect(m.batches.flat()).toEqual(rows)
  })
  it('refuses new work while draining, saying why', async () => {
    const m = model({ delayMs: 20 })
    const b = new DynamicBatcher(m.run, config({ max_queue_delay_ms: 0 }))
    const running = b.submit(req([1]))
    const draining = b.drain()
    const refused = b.submit(req([2]))
    await expect(refused).rejects.toBeInstanceOf(NotReadyError)
    await expect(refused).rejects.toThrow('the deployment is shutting down; retry on another replica')
    await draining
    expect(await answer(running)).toEqual([10])
  })

  it('drain resolves only once every queued and running request is answered', async () => {
    const m = model({ delayMs: 30 })
    const b = new DynamicBatcher(m.run, config({ max_batch_size: 1, max_queue_delay_ms: 0 }))
    const answered: number[] = []
    const pending = [1, 2, 3].map((i) => b.submit(req([i])).then(() => answered.push(i)))
    await b.drain()
    expect(answered).toEqual([1, 2, 3]) // all answered before drain resolved, not after
    await Promise.all(pending)
    await b.drain() // idle: resolves at once
  })

  it("keeps the interactive queue's room right after a timed-out or failed request leaves it", async () => {
    // A 5-row request whose first batch (2 rows) is running when it times out: its 3 rows that no
    // batch took leave the queue, and the whole max_queue_size (6) is free again for others.
    const slow = model({ delayMs: 150 })
    const b = new DynamicBatcher(
      slow.run,
      config({ max_batch_size: 2, max_queue_size: 6, max_queue_delay_ms: 0, timeout_ms: 60 }),
    )
    await expect(b.submit(req([0, 1, 2, 3, 4]))).rejects.toBeInstanceOf(TimeoutError)
    // Taken in (it then times out behind the slow batches), not refused as a full queue.
    await expect(b.submit(req([5, 6, 7, 8, 9, 10]))).rejects.toBeInstanceOf(TimeoutError)
    const failing = model({ fail: (rows) => rows.includes(1) })
    const c = new DynamicBatcher(failing.run, config({ max_batch_size: 2, max_queue_size: 6, max_queue_delay_ms: 0 }))
    await expect(c.submit(req([0, 1, 2, 3, 4]))).rejects.toThrow('batch 0,1 failed')
    expect(await answer(c.submit(req([5, 6, 7, 8, 9, 10])))).toEqual([50, 60, 70, 80, 90, 100])
  })

  it("a failed bulk request's rows leave the queue without changing the interactive queue's limit", async () => {
    const m = model({ delayMs: 20, fail: (rows) => rows.includes(100) })
    const b = new DynamicBatcher(m.run, config({ max_batch_size: 2, max_queue_size: 2, max_queue_delay_ms: 0 }))
    // 1100 rows: the probe batch (1024 rows) fails, and the 76 rows no batch took leave the queue.
    const bulkRows = Array.from({ length: 1100 }, (_, i) => 100 + i)
    await expect(b.submit(req(bulkRows), bulkRows.length, { bulk: true })).rejects.toThrow(/failed/)
    expect(b.queuedRows()).toBe(0)
    const running = b.submit(req([1, 2]))
    const queued = b.submit(req([3, 4])) // the interactive queue is full again at 2 rows
    await expect(b.submit(req([5]))).rejects.toBeInstanceOf(QueueFullError)
    expect(await Promise.all([answer(running), answer(queued)])).toEqual([
      [10, 20],
      [30, 40],
    ])
  })

  it('gives each bulk request batches of its own rows, never shared with the next', async () => {
    const m = model()
    const b = new DynamicBatcher(m.run, config({ max_queue_delay_ms: 0 }))
    const a = Array.from({ length: 1500 }, (_, i) => i)
    const c = Array.from({ length: 100 }, (_, i) => 5000 + i)
    await Promise.all([b.submit(req(a), a.length, { bulk: true }), b.submit(req(c), c.length, { bulk: true })])
    // The fast model makes the next slice larger than what is left of the first request: it still
    // ends at that request's last row.
    expect(m.batches.map((x) => [x[0], x.length])).toEqual([
      [0, 1024],
      [1024, 476],
      [5000, 100],
    ])
  })

  it('fills every free replica at once: the slices of one large request run side by side', async () => {
    const cases: Array<Partial<BatchingConfig>> = [
      { max_batch_size: 2, max_queue_delay_ms: 0 }, // a full batch's worth twice over
      { max_batch_size: 8, max_queue_delay_ms: 10_000, preferred_batch_sizes: [2] }, // a preferred size twice over
    ]
    for (const opts of cases) {
      const m = model({ delayMs: 40 })
      const b = new DynamicBatcher(m.run, config(opts), {}, 2)
      expect(await answer(b.submit(req([1, 2, 3, 4])))).toEqual([10, 20, 30, 40])
      expect(m.maxInFlight()).toBe(2)
    }
    const m = model({ delayMs: 40 })
    const b = new DynamicBatcher(m.run, config({ max_queue_delay_ms: 0 }), {}, 2)
    const bulk = Array.from({ length: 1500 }, (_, i) => i)
    await b.submit(req(bulk), bulk.length, { bulk: true })
    expect(m.maxInFlight()).toBe(2) // the probe slice and the rest, both in flight
  })

  it('counts rows once when a timed-out request then fails, or when two of its batches fail', async () => {
    const timedOut = model({ delayMs: 120, fail: () => true })
    const b = new DynamicBatcher(timedOut.run, config({ max_batch_size: 2, max_queue_delay_ms: 0, timeout_ms: 40 }))
    await expect(b.submit(req([0, 1, 2, 3, 4]))).rejects.toBeInstanceOf(TimeoutError)
    await b.drain() // its running batch fails after the timeout
    expect(b.queuedRows()).toBe(0)
    const twice = model({ delayMs: 30, fail: () => true })
    const c = new DynamicBatcher(twice.run, config({ max_batch_size: 2, max_queue_delay_ms: 0 }), {}, 2)
    await expect(c.submit(req([0, 1, 2, 3, 4]))).rejects.toThrow(/failed/)
    await c.drain() // both of its batches were running; both fail
    expect(twice.batches).toEqual([
      [0, 1],
      [2, 3],
    ])
    expect(c.queuedRows()).toBe(0)
  })

  it('waits out the queue delay from the first request, so a request a little later joins its batch', async () => {
    const m = model()
    const b = new DynamicBatcher(m.run, config({ max_queue_delay_ms: 300 }))
    const first = b.submit(req([1]))
    await sleep(30)
    const second = b.submit(req([2]))
    await Promise.all([first, second])
    expect(m.batches).toEqual([[1, 2]])
  })

  it('tells the observer how many requests shared a batch, and each its queue time from its own arrival', async () => {
    const seen: number[] = []
    const m = model()
    const b = new DynamicBatcher(m.run, config({ max_queue_delay_ms: 20 }), {
      onBatch: (_rows, requests) => seen.push(requests),
    })
    const [r1, r2] = await Promise.all([b.submit(req([1, 2])), b.submit(req([3]))])
    expect(m.batches).toEqual([[1, 2, 3]])
    expect(seen).toEqual([2])
    // Both waited the ~20 ms delay: a queue time, not a timestamp.
    for (const r of [r1, r2]) {
      expect(r.queueMs).toBeGreaterThanOrEqual(15)
      expect(r.queueMs).toBeLessThan(10_000)
    }
  })

  it('lets an interactive request in between bulk slices long after the bulk request arrived', async () => {
    const m = model({ msPerRow: 0.1 })
    const b = new DynamicBatcher(m.run, config({ max_queue_delay_ms: 0 }))
    const rows = Array.from({ length: 8000 }, (_, i) => i) // about 0.8 s of work in ~50 ms slices
    let bulkDoneAt = 0
    const bulk = b.submit(req(rows), rows.length, { bulk: true }).then(() => {
      bulkDoneAt = performance.now()
    })
    await until(() => m.batches.length >= 6) // ~350 ms in: past the 250 ms a bulk request may wait
    const interactive = b.submit(req([-1])).then(() => performance.now())
    const answeredAt = await interactive
    await bulk
    expect(answeredAt).toBeLessThan(bulkDoneAt)
    // Slices after the probe hold about 500 rows: several of them, not one for all that is left.
    expect(m.batches.filter((x) => x[0] !== -1).length).toBeGreaterThanOrEqual(6)
  })
})
