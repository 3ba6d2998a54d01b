/**
 * The body pool in detail: which work goes to a worker (large bodies, answers, JSON, log frames and
 * segments; every log page) and which stays on the calling thread, that a body is moved only when
 * it is all of its buffer, how many large requests are admitted and queued, how the pool closes
 * (admitted work finishes, new work is refused, no worker counts as dead), and what a caller hears
 * when a worker fails. Expected values are written out by hand from each case's inputs.
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { type ColumnSpec, type HostTensor, tensor } from '../../src/engine/tensor.js'
import { InvalidRequestError, NotReadyError, PayloadTooLargeError, QueueFullError } from '../../src/errors.js'
import { pool } from '../helpers/body-pool.js'

const specs: ColumnSpec[] = [{ name: 'x', dtype: 'float32', shape: ['N', 2] }]
const limits = { maxTensorBytes: 2 ** 30 }
const encoder = new TextEncoder()
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)

/** pandas-records rows x = [r + 0.5, -r - 1]: every value names its row. */
const rowsX = (rows: number) => Array.from({ length: rows }, (_, r) => [r + 0.5, -r - 1])
const recordsBody = (rows: number) => encoder.encode(JSON.stringify(rowsX(rows).map((x) => ({ x }))))

/** What `promise` failed with (an error with the fields of a typed error). */
async function failure(promise: Promise<unknown>): Promise<Error & { code?: string; details?: unknown }> {
  try {
    await promise
  } catch (e) {
    return e as Error & { code?: string; details?: unknown }
  }
  throw new Error('expected a failure')
}

const SHUTTING_DOWN = 'the server is shutting down; retry on another replica'

describe('body pool: what is large', () => {
  it('is strictly more than largeBytes', () => {
    const p = pool({ largeBytes: 1000 })
    expect(p.isLarge(999)).toBe(false)
    expect(p.isLarge(1000)).toBe(false)
    expect(p.isLarge(1001)).toBe(true)
  })
})

describe('body pool: admission', () => {
  it('admits workers × perWorker large requests at once', async () => {
    const p = pool({ workers: 2, perWorker: 3, queue: 0 })
    const releases = []
    for (let i = 0; i < 6; i++) releases.push(await p.admit())
    expect(p.stats()).toMatchObject({ admitted: 6, waiting: 0 })
    await expect(p.admit()).rejects.toBeInstanceOf(QueueFullError)
    for (const release of releases) release()
    expect(p.stats()).toMatchObject({ admitted: 0, waiting: 0 })
  })

  it('admits one worker’s worth when there are no workers', async () => {
    const p = pool({ workers: 0, perWorker: 2, queue: 0 })
    const a = await p.admit()
    const b = await p.admit()
    await expect(p.admit()).rejects.toBeInstanceOf(QueueFullError)
    a()
    b()
  })

  it('refuses new large requests once closing, and fails those that wait', async () => {
    const p = pool({ workers: 1, perWorker: 1, queue: 1 })
    const first = await p.admit()
    const waiting = failure(p.admit())
    await p.close()
    const e = await waiting
    expect(e).toBeInstanceOf(NotReadyError)
    expect(e.message).toBe(SHUTTING_DOWN)
    first()
    // A turn is free now, but the pool is closed.
    const late = await failure(p.admit())
    expect(late).toBeInstanceOf(NotReadyError)
    expect(late.message).toBe(SHUTTING_DOWN)
  })
})

describe('body pool: decoding', () => {
  it('moves a body that is all of its buffer, and copies a view into a larger buffer', async () => {
    const p = pool()
    const body = recordsBody(100) // 100 rows: about 2.5 KiB
    expect(body.byteLength).toBeGreaterThan(1024)
    const whole = body.slice()
    const fromStart = new Uint8Array(body.byteLength + 16)
    fromStart.set(body) // the body at offset 0, with bytes after it
    const atEnd = new Uint8Array(body.byteLength + 16)
    atEnd.set(body, 16) // the body at offset 16, running to the buffer's end
    const expected = rowsX(100).flat()
    for (const bytes of [whole, fromStart.subarray(0, body.byteLength), atEnd.subarray(16)]) {
      const feeds = await p.decode({ kind: 'records', bytes, specs, limits })
      expect((feeds.x as HostTensor).dims).toEqual([100, 2])
      expect(Array.from((feeds.x as HostTensor).data as Float32Array)).toEqual(expected)
    }
    expect(p.stats().workerTasks.decode).toBe(3)
    expect(whole.buffer.byteLength).toBe(0) // moved
    expect(fromStart.buffer.byteLength).toBe(body.byteLength + 16) // copied: the caller's buffer is intact
    expect(atEnd.buffer.byteLength).toBe(body.byteLength + 16)
    expect(fromStart[0]).toBe(body[0])
    expect(atEnd[16]).toBe(body[0])
  })

  it('decodes a body of exactly largeBytes on the calling thread, one byte more in a worker', async () => {
    const body = recordsBody(3)
    const p = pool({ largeBytes: body.byteLength })
    const here = await p.decode({ kind: 'records', bytes: body.slice(), specs, limits })
    expect(p.stats()).toMatchObject({ workers: 0, workerTasks: { decode: 0 } })
    expect(Array.from((here.x as HostTensor).data as Float32Array)).toEqual([0.5, -1, 1.5, -2, 2.5, -3])
    const padded = encoder.encode(`${text(body)} `)
    const there = await p.decode({ kind: 'records', bytes: padded, specs, limits })
    expect(p.stats()).toMatchObject({ workers: 1, workerTasks: { decode: 1 } })
    expect(Array.from((there.x as HostTensor).data as Float32Array)).toEqual([0.5, -1, 1.5, -2, 2.5, -3])
  })

  it('decodes every body on the calling thread when there are no workers', async () => {
    const p = pool({ workers: 0 })
    const feeds = await p.decode({ kind: 'records', bytes: recordsBody(100), specs, limits })
    expect((feeds.x as HostTensor).dims).toEqual([100, 2])
    expect(p.stats()).toMatchObject({ workers: 0, workerTasks: { decode: 0 } })
  })
})

describe('body pool: encoding answers', () => {
  /** A records answer of `rows` rows: in.x = [r + 0.5, -r - 1], out.y = 3r - 7. */
  function answer(rows: number) {
    return {
      kind: 'records' as const,
      feeds: { x: tensor('float32', [rows, 2], rowsX(rows).flat()) },
      outputs: {
        y: tensor(
          'int32',
          [rows],
          Array.from({ length: rows }, (_, r) => 3 * r - 7),
        ),
      },
      meta: {
        time: 1_700_000_000_000,
        rowModels: new Array(rows).fill('m:1'),
        checkFailures: new Int32Array(rows),
        pipelineVersion: 1,
        elapsedNs: [1, 2] as [number, number],
        modelShas: {},
        dataset: {
          fields: [
            { field: 'in' as const, keys: ['x'] },
            { field: 'out' as const, keys: ['y'] },
          ],
        },
      },
    }
  }
  const expectedRows = (rows: number) =>
    Array.from({ length: rows }, (_, r) => ({ in: { x: [r + 0.5, -r - 1] }, out: { y: 3 * r - 7 } }))

  it('encodes a small answer on the calling thread, as text', async () => {
    const p = pool()
    // 2 rows: 6 values, about 60 bytes of JSON.
    const encoded = await p.encode(answer(2))
    expect(encoded).toEqual({
      body: '[{"in":{"x":[0.5,-1]},"out":{"y":-7}},{"in":{"x":[1.5,-2]},"out":{"y":-4}}]',
      type: 'application/json',
    })
    expect(p.stats()).toMatchObject({ workers: 0, workerTasks: { encode: 0 } })
  })

  it('encodes a large answer in a worker, as bytes', async () => {
    const p = pool()
    // 60 rows: 180 values, about 1800 bytes of JSON.
    const encoded = await p.encode(answer(60))
    expect(encoded.type).toBe('application/json')
    expect(encoded.body).toBeInstanceOf(Uint8Array)
    expect(JSON.parse(text(encoded.body as Uint8Array))).toEqual(expectedRows(60))
    expect(p.stats()).toMatchObject({ workers: 1, workerTasks: { encode: 1 } })
  })

  it('encodes a large answer on the calling thread when there are no workers', async () => {
    const p = pool({ workers: 0 })
    const encoded = await p.encode(answer(60))
    expect(typeof encoded.body).toBe('string')
    expect(JSON.parse(encoded.body as string)).toEqual(expectedRows(60))
    expect(p.stats()).toMatchObject({ workers: 0, workerTasks: { encode: 0 } })
  })
})

describe('body pool: JSON bodies', () => {
  /** A JSON array of `n` distinct numbers, written to about `n` × 5 bytes. */
  const numbers = (n: number) => Array.from({ length: n }, (_, i) => i * 7 - 1000)

  it('parses a small body on the calling thread', async () => {
    const p = pool()
    expect(await p.json(encoder.encode('{"a":[1,-2.5],"b":null}'), 10, 'LASTMILE_X')).toEqual({ a: [1, -2.5], b: null })
    expect(p.stats()).toMatchObject({ workers: 0, workerTasks: { json: 0 } })
  })

  it('parses a large body in a worker, moving it when it is all of its buffer', async () => {
    const p = pool()
    const bytes = encoder.encode(JSON.stringify(numbers(300)))
    expect(bytes.byteLength).toBeGreaterThan(1024)
    expect(await p.json(bytes, 301, 'LASTMILE_X')).toEqual(numbers(300))
    expect(bytes.buffer.byteLength).toBe(0) // moved
    expect(p.stats()).toMatchObject({ workers: 1, workerTasks: { json: 1 } })
  })

  it('parses a view into a larger buffer in a worker, leaving the buffer intact', async () => {
    const p = pool()
    const body = encoder.encode(JSON.stringify(numbers(300)))
    const fromStart = new Uint8Array(body.byteLength + 8)
    fromStart.set(body)
    const atEnd = new Uint8Array(body.byteLength + 8)
    atEnd.set(body, 8)
    expect(await p.json(fromStart.subarray(0, body.byteLength), 301, 'LASTMILE_X')).toEqual(numbers(300))
    expect(await p.json(atEnd.subarray(8), 301, 'LASTMILE_X')).toEqual(numbers(300))
    expect(fromStart.buffer.byteLength).toBe(body.byteLength + 8)
    expect(atEnd.buffer.byteLength).toBe(body.byteLength + 8)
    expect(p.stats().workerTasks.json).toBe(2)
  })

  it('counts the values in a worker against the limit the route names', async () => {
    const p = pool()
    // 300 numbers and their array: 301 values.
    const e = await failure(p.json(encoder.encode(JSON.stringify(numbers(300))), 300, 'LASTMILE_ASSAY_VALUES'))
    expect(e).toBeInstanceOf(InvalidRequestError)
    expect(e.message).toBe(
      'the body holds more than 300 JSON values (LASTMILE_ASSAY_VALUES); send fewer rows or values per request',
    )
    expect(e.details).toEqual({ limit: 300 })
    expect(p.stats().workerTasks.json).toBe(1)
  })

  it('parses a large body on the calling thread when there are no workers', async () => {
    const p = pool({ workers: 0 })
    const bytes = encoder.encode(JSON.stringify(numbers(300)))
    expect(await p.json(bytes, 301, 'LASTMILE_X')).toEqual(numbers(300))
    expect(bytes.buffer.byteLength).toBeGreaterThan(1024) // not moved anywhere
    expect(p.stats()).toMatchObject({ workers: 0, workerTasks: { json: 0 } })
  })
})

describe('body pool: the inference log’s work', () => {
  /** A request of `rows` rows at `time`: in.x float32 [rows, 2] = [r / 2, -r - 1], out.y int32 = r - 5. */
  function record(time: number, rows: number) {
    return {
      time,
      workspace: 'w',
      pipeline: 'p',
      pipelineVersion: 3,
      model: 'm:1',
      rows,
      inputs: { x: tensor('float32', [rows, 2], Array.from({ length: rows }, (_, r) => [r / 2, -r - 1]).flat()) },
      outputs: {
        y: tensor(
          'int32',
          [rows],
          Array.from({ length: rows }, (_, r) => r - 5),
        ),
      },
      rowModels: new Array(rows).fill('m:1'),
      checkFailures: new Int32Array(rows),
      shadow: {},
      latencyMs: 12,
    }
  }
  const KEYS = [
    ['time', '10'],
    ['pipeline_version', '3'],
    ['model', '5'],
    ['check_failures', '3'],
    ['latency_ms', '3'],
    ['request_id', '5'],
    ['request_row', '3'],
    ['in.x', '12<3>'],
    ['out.y', '3'],
  ]

  const dirs: string[] = []
  afterEach(async () => {
    await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })))
  })
  async function tempDir(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'lastmile-pool-'))
    dirs.push(dir)
    return dir
  }

  it('encodes frames on the calling thread while the records hold up to largeBytes as float64', async () => {
    const p = pool()
    // 20 rows: x 160 bytes + y 80 bytes = 240 bytes, 480 as float64: small.
    const frames = await p.frames([record(1_700_000_000_000, 20)])
    expect(p.stats()).toMatchObject({ workers: 0, workerTasks: { frames: 0 } })
    expect(frames).toHaveLength(1)
    expect(frames[0]?.keys).toEqual(KEYS)
  })

  it('encodes frames in a worker once the records pass largeBytes as float64', async () => {
    const p = pool()
    // 30 + 20 rows: x 400 bytes + y 200 bytes = 600 bytes of tensors, 1200 as float64: large
    // (though the tensors alone are not).
    const frames = await p.frames([record(1_700_000_000_000, 30), record(1_700_000_000_500, 20)])
    expect(p.stats()).toMatchObject({ workers: 1, workerTasks: { frames: 1 } })
    expect(frames).toHaveLength(1)
    expect(frames[0]?.keys).toEqual(KEYS)
    expect(frames[0]?.bytes).toBeInstanceOf(Uint8Array)
    // The frame is read back through a page of an open segment (on the calling thread).
    const dir = await tempDir()
    await writeFile(join(dir, 'open-7'), frames[0]?.bytes as Uint8Array)
    const inline = pool({ workers: 0 })
    const page = await inline.page({
      segments: [{ id: 7, path: join(dir, 'open-7'), open: true }],
      start: 1_700_000_000_000,
      end: 1_700_000_000_501,
      limit: 100,
      columns: ['in.x', 'out.y'],
      format: 'json',
    })
    expect(page.rows).toBe(50)
    const rows = JSON.parse(text(page.body)) as Array<Record<string, unknown>>
    expect(rows[0]).toEqual({ time: 1_700_000_000_000, 'in.x': [0, -1], 'out.y': -5 })
    expect(rows[29]).toEqual({ time: 1_700_000_000_000, 'in.x': [14.5, -30], 'out.y': 24 })
    expect(rows[30]).toEqual({ time: 1_700_000_000_500, 'in.x': [0, -1], 'out.y': -5 })
    expect(rows[49]).toEqual({ time: 1_700_000_000_500, 'in.x': [9.5, -20], 'out.y': 14 })
  })

  it('encodes frames on the calling thread when there are no workers', async () => {
    const p = pool({ workers: 0 })
    const frames = await p.frames([record(1_700_000_000_000, 30), record(1_700_000_000_500, 20)])
    expect(frames).toHaveLength(1)
    expect(frames[0]?.keys).toEqual(KEYS)
    expect(p.stats()).toMatchObject({ workers: 0, workerTasks: { frames: 0 } })
  })

  /** An open segment of two requests (2 rows at …000, 1 at …500) in a fresh folder, `bytes` long as the log counts it. */
  async function openSegment(bytes: number) {
    const dir = await tempDir()
    const inline = pool({ workers: 0 })
    const [frame] = await inline.frames([record(1_700_000_000_000, 2), record(1_700_000_000_500, 1)])
    const openPath = join(dir, 'open-7')
    await writeFile(openPath, frame?.bytes as Uint8Array)
    return { dir, openId: 7, openPath, bytes }
  }

  for (const [how, over, bytes, inWorker] of [
    ['a small segment on the calling thread', {}, 1024, 0],
    ['a large segment in a worker', {}, 1025, 1],
    ['a large segment on the calling thread when there are no workers', { workers: 0 }, 1025, 0],
  ] as const) {
    it(`rolls ${how}`, async () => {
      const segment = await openSegment(bytes)
      const p = pool(over)
      await p.roll(segment)
      expect(p.stats().workerTasks.roll).toBe(inWorker)
      expect(p.stats().workers).toBe(inWorker)
      expect(await readdir(segment.dir)).toEqual(['seg-7-1700000000000-1700000000500.arrow'])
      const page = await pool({ workers: 0 }).page({
        segments: [{ id: 7, path: join(segment.dir, 'seg-7-1700000000000-1700000000500.arrow'), open: false }],
        start: 0,
        end: 2e12,
        limit: 10,
        columns: ['out.y'],
        format: 'json',
      })
      expect(JSON.parse(text(page.body))).toEqual([
        { time: 1_700_000_000_000, 'out.y': -5 },
        { time: 1_700_000_000_000, 'out.y': -4 },
        { time: 1_700_000_000_500, 'out.y': -5 },
      ])
    })
  }

  for (const [how, workers] of [
    ['in a worker whenever there is one, however small', 1],
    ['on the calling thread when there are no workers', 0],
  ] as const) {
    it(`reads a page of the log ${how}`, async () => {
      const segment = await openSegment(0)
      const p = pool({ workers })
      const page = await p.page({
        segments: [{ id: 7, path: segment.openPath, open: true }],
        start: 0,
        end: 2e12,
        limit: 2,
        columns: ['in.x', 'model'],
        format: 'json',
      })
      expect(p.stats()).toMatchObject({ workers, workerTasks: { page: workers } })
      expect(page.rows).toBe(2)
      expect(page.next).toEqual({ segment: 7, row: 2 })
      expect(JSON.parse(text(page.body))).toEqual([
        { time: 1_700_000_000_000, model: 'm:1', 'in.x': [0, -1] },
        { time: 1_700_000_000_000, model: 'm:1', 'in.x': [0.5, -2] },
      ])
    })
  }
})

describe('body pool: workers and closing', () => {
  it('runs at most `workers` workers: a task beyond waits for one to be free', async () => {
    const p = pool({ workers: 1 })
    const bodies = [70, 150, 151, 152].map((rows) => recordsBody(rows))
    const all = await Promise.all(bodies.map((bytes) => p.decode({ kind: 'records', bytes, specs, limits })))
    expect(all.map((feeds) => (feeds.x as HostTensor).dims)).toEqual([
      [70, 2],
      [150, 2],
      [151, 2],
      [152, 2],
    ])
    const last = all[3]?.x as HostTensor
    expect(Array.from(last.data.slice(-2) as Float32Array)).toEqual([151.5, -152])
    expect(p.stats()).toMatchObject({ workers: 1, workerTasks: { decode: 4 }, workerDeaths: 0 })
  })

  it('starts up to `workers` workers for tasks at once', async () => {
    const p = pool({ workers: 2 })
    const bodies = [70, 71, 72].map((rows) => recordsBody(rows))
    const all = await Promise.all(bodies.map((bytes) => p.decode({ kind: 'records', bytes, specs, limits })))
    expect(all.map((feeds) => (feeds.x as HostTensor).dims[0])).toEqual([70, 71, 72])
    expect(p.stats()).toMatchObject({ workers: 2, workerTasks: { decode: 3 } })
  })

  it('lets the tasks in flight and queued finish when it closes, then stops its workers', async () => {
    const p = pool({ workers: 1 })
    const first = p.decode({ kind: 'records', bytes: recordsBody(70), specs, limits })
    const second = p.decode({ kind: 'records', bytes: recordsBody(80), specs, limits }) // queued behind the first
    const closed = p.close()
    const [a, b] = await Promise.all([first, second])
    await closed
    expect((a.x as HostTensor).dims).toEqual([70, 2])
    expect((b.x as HostTensor).dims).toEqual([80, 2])
    // Stopped workers are gone, and none of them counts as a death.
    expect(p.stats()).toMatchObject({ workers: 0, workerDeaths: 0, workerTasks: { decode: 2 } })
  })

  it('refuses work for a worker once closed, and does small work on the calling thread still', async () => {
    const p = pool({ workers: 1 })
    await p.decode({ kind: 'records', bytes: recordsBody(70), specs, limits })
    await p.close()
    expect(p.stats()).toMatchObject({ workers: 0, workerDeaths: 0 })
    const e = await failure(p.decode({ kind: 'records', bytes: recordsBody(70), specs, limits }))
    expect(e).toBeInstanceOf(NotReadyError)
    expect(e.message).toBe(SHUTTING_DOWN)
    const pageError = await failure(p.page({ segments: [], start: 0, end: 1, limit: 1, format: 'json' }))
    expect(pageError).toBeInstanceOf(NotReadyError)
    expect(p.stats()).toMatchObject({ workers: 0, workerTasks: { decode: 1, page: 0 } })
    const small = await p.decode({ kind: 'records', bytes: recordsBody(2), specs, limits })
    expect(Array.from((small.x as HostTensor).data as Float32Array)).toEqual([0.5, -1, 1.5, -2])
  })

  it('fails a task its worker cannot be sent, and sends the next to the same worker', async () => {
    const p = pool({ workers: 1 })
    await p.decode({ kind: 'records', bytes: recordsBody(70), specs, limits }) // the worker is started
    // A function cannot be cloned to a worker.
    const uncloneable = [{ ...specs[0], check: () => true }] as unknown as ColumnSpec[]
    const e = await failure(p.decode({ kind: 'records', bytes: recordsBody(71), specs: uncloneable, limits }))
    expect(e).toBeInstanceOf(Error)
    expect(e.name).toBe('DataCloneError')
    const next = await p.decode({ kind: 'records', bytes: recordsBody(72), specs, limits })
    expect((next.x as HostTensor).dims).toEqual([72, 2])
    expect(p.stats()).toMatchObject({ workers: 1, workerDeaths: 0, workerTasks: { decode: 2 } })
  })
})

describe('body pool: workers that fail', () => {
  const unruly = new URL('../helpers/unruly-body-worker.ts', import.meta.url)
  const dying = new URL('../helpers/dying-body-worker.ts', import.meta.url)
  /** JSON text past 1 KiB that starts with `head`. */
  const large = (head: string) => encoder.encode(head.padEnd(1100))

  it('tells the caller a worker stopped, and retries nothing', async () => {
    const p = pool({ entry: dying })
    const e = await failure(p.json(large('die'), 10, 'LASTMILE_X'))
    expect(e).toBeInstanceOf(NotReadyError)
    expect(e.code).toBe('not_ready')
    expect(e.message).toBe('the body worker stopped while working on this request; retry')
    expect(p.stats()).toMatchObject({ workers: 0, workerDeaths: 1, workerTasks: { json: 1 } })
  })

  it('tells the caller what a worker failed with', async () => {
    const p = pool({ entry: unruly })
    const e = await failure(p.json(large('crash: the parser tripped'), 10, 'LASTMILE_X'))
    expect(e).toBeInstanceOf(NotReadyError)
    expect(e.message).toBe('the body worker stopped while working on this request (the parser tripped); retry')
    expect(p.stats()).toMatchObject({ workers: 0, workerDeaths: 1, workerTasks: { json: 1 } })
    // The next task gets a new worker.
    expect(await p.json(large('[3, -4]'), 10, 'LASTMILE_X')).toEqual([3, -4])
    expect(p.stats()).toMatchObject({ workers: 1, workerDeaths: 1, workerTasks: { json: 2 } })
  })

  it('refuses a body whose worker ran out of memory as too large', async () => {
    const p = pool({ entry: unruly })
    const e = await failure(p.json(large('oom'), 10, 'LASTMILE_X'))
    expect(e).toBeInstanceOf(PayloadTooLargeError)
    expect(e.code).toBe('payload_too_large')
    expect(e.message).toBe(
      'decoding or encoding this body needed more memory than a body worker has; send it in smaller requests',
    )
  })

  it('ignores a message no task asked for, and replaces a worker that ends while idle', async () => {
    const p = pool({ entry: unruly })
    // The worker answers, posts once more and ends its thread: the extra message settles nothing.
    expect(await p.json(large('leave:{"a": 1}'), 10, 'LASTMILE_X')).toEqual({ a: 1 })
    await vi.waitFor(() => expect(p.stats().workerDeaths).toBe(1), { timeout: 30_000, interval: 20 })
    expect(p.stats()).toMatchObject({ workers: 0, workerTasks: { json: 1 } })
    // The next task goes to a new worker, not to the one that ended.
    expect(await p.json(large('{"b": [true, null]}'), 10, 'LASTMILE_X')).toEqual({ b: [true, null] })
    expect(p.stats()).toMatchObject({ workers: 1, workerDeaths: 1, workerTasks: { json: 2 } })
  })

  it('fails only the task of a worker that dies while another worker is idle', async () => {
    const p = pool({ workers: 2, entry: dying })
    // Two tasks at once start both workers.
    expect(await Promise.all([p.json(large('[1]'), 10, 'LASTMILE_X'), p.json(large('[2]'), 10, 'LASTMILE_X')])).toEqual(
      [[1], [2]],
    )
    expect(p.stats().workers).toBe(2)
    const e = await failure(p.json(large('die'), 10, 'LASTMILE_X'))
    expect(e).toBeInstanceOf(NotReadyError)
    expect(p.stats()).toMatchObject({ workers: 1, workerDeaths: 1 })
    // The idle worker takes the next task and a new one the other: both die, and no worker is left.
    const both = await Promise.all([
      failure(p.json(large('die'), 10, 'LASTMILE_X')),
      failure(p.json(large('die'), 10, 'LASTMILE_X')),
    ])
    expect(both.map((e) => e.constructor)).toEqual([NotReadyError, NotReadyError])
    expect(p.stats()).toMatchObject({ workers: 0, workerDeaths: 3, workerTasks: { json: 5 } })
    expect(await p.json(large('[5, 6]'), 10, 'LASTMILE_X')).toEqual([5, 6])
    expect(p.stats()).toMatchObject({ workers: 1, workerDeaths: 3, workerTasks: { json: 6 } })
  })
})
