/**
 * The Parquet decoder's thread handling (src/jobs/io/parquet-decoder.ts). Most tests put a scripted
 * worker in place of the thread (startWorker mocked): which requests go out, what each reply becomes,
 * one request at a time, the thread's 'error' and 'exit' ending the file with the first reason, the
 * 60 s deadline on opening (fake timers), and the limit of 16 threads at once (a 17th open waits for a
 * close, and each decoder gives its thread back exactly once). Two tests run the real thread on files
 * from test/fuzz/parquet-craft.ts: values as written, and a WebAssembly trap failing that file only.
 * Expected values and messages are written out by hand.
 */
import { EventEmitter } from 'node:events'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { WorkerOptions } from 'node:worker_threads'
import { tableFromIPC } from '@uwdata/flechette'
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { InvalidRequestError } from '../../../src/errors.js'
import { PARQUET_WASM, ParquetDecoder } from '../../../src/jobs/io/parquet-decoder.js'
import type { DecoderReply, DecoderRequest } from '../../../src/jobs/io/parquet-worker.js'
import { craftParquet } from '../../fuzz/parquet-craft.js'

const fake = vi.hoisted(() => ({
  /** Whether startWorker starts a scripted worker (else the real thread). */
  on: false,
  start: undefined as unknown as (entry: URL, options: WorkerOptions) => unknown,
}))

vi.mock('../../../src/workers/start.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../../src/workers/start.js')>()
  return {
    ...real,
    startWorker: (entry: URL, options: WorkerOptions) =>
      fake.on ? fake.start(entry, options) : real.startWorker(entry, options),
  }
})

/** A worker that records requests and answers them with `answer` (none: the test answers). */
class ScriptedWorker extends EventEmitter {
  readonly sent: DecoderRequest[] = []
  terminated = 0
  constructor(
    readonly entry: URL,
    readonly options: WorkerOptions,
    public answer: ((r: DecoderRequest) => DecoderReply | undefined) | undefined,
  ) {
    super()
  }
  postMessage(request: DecoderRequest): void {
    this.sent.push(request)
    const reply = this.answer?.(request)
    if (reply) this.reply(reply)
  }
  reply(reply: DecoderReply): void {
    queueMicrotask(() => this.emit('message', reply))
  }
  async terminate(): Promise<number> {
    this.terminated++
    queueMicrotask(() => this.emit('exit', 1))
    return 1
  }
}

const SCHEMA = Uint8Array.of(1, 2, 3)
/** Answers open with SCHEMA, start with ok, and next with batches [9], [8, 8], then done. */
function script(): (r: DecoderRequest) => DecoderReply {
  const batches = [Uint8Array.of(9), Uint8Array.of(8, 8)]
  return (r) => {
    if (r.op === 'open') return { ok: true, ipc: SCHEMA }
    if (r.op === 'start') return { ok: true }
    const ipc = batches.shift()
    return ipc ? { ok: true, ipc } : { ok: true, done: true }
  }
}

let workers: ScriptedWorker[] = []
let answer: ((r: DecoderRequest) => DecoderReply | undefined) | undefined
let startFails: Error | undefined
fake.start = (entry, options) => {
  if (startFails) throw startFails
  const w = new ScriptedWorker(entry, options, answer)
  workers.push(w)
  return w
}

/** Lets queued replies and waiting opens run. */
const flush = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r))
}

/** What a promise rejected with, or that it did not settle yet. */
async function settled(p: Promise<unknown>): Promise<{ state: 'pending' | 'resolved' | 'rejected'; value?: unknown }> {
  let out: { state: 'pending' | 'resolved' | 'rejected'; value?: unknown } = { state: 'pending' }
  p.then(
    (value) => {
      out = { state: 'resolved', value }
    },
    (value) => {
      out = { state: 'rejected', value }
    },
  )
  await flush()
  return out
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  return p.then(
    () => new Error('expected a refusal'),
    (e: unknown) => e as Error,
  )
}

const open = () => ParquetDecoder.open('/data/f.parquet', 'f.parquet')

/** How many decoders open before the next one waits (all closed again after). */
async function capacity(): Promise<number> {
  const opened: ParquetDecoder[] = []
  const waiting: Array<Promise<unknown>> = []
  for (let i = 0; i < 17; i++) {
    const p = open().then(({ decoder }) => opened.push(decoder))
    waiting.push(p)
  }
  await flush()
  const n = opened.length
  for (let i = 0; i < 17; i++) {
    await opened[i]?.close()
    await flush()
  }
  await Promise.all(waiting)
  return n
}

describe('with a scripted decoder thread', () => {
  beforeEach(() => {
    fake.on = true
    workers = []
    answer = script()
    startFails = undefined
  })
  afterEach(() => {
    vi.useRealTimers()
    fake.on = false
  })

  it('starts the thread on parquet-worker with the compiled module and a 256 MiB heap', async () => {
    const { decoder } = await open()
    expect(workers).toHaveLength(1)
    const w = workers[0] as ScriptedWorker
    expect(w.entry.href.endsWith('/src/jobs/io/parquet-worker.ts')).toBe(true)
    expect(w.options).toEqual({ workerData: { module: PARQUET_WASM }, resourceLimits: { maxOldGenerationSizeMb: 256 } })
    expect(w.options.workerData.module).toBe(PARQUET_WASM)
    await decoder.close()
  })

  it('sends each request in turn and turns replies into schema, batches and the end', async () => {
    const { decoder, schema } = await open()
    expect(schema).toEqual(SCHEMA)
    expect(await decoder.start(2, 5, 100)).toBeUndefined()
    expect(await decoder.next()).toEqual(Uint8Array.of(9))
    expect(await decoder.next()).toEqual(Uint8Array.of(8, 8))
    expect(await decoder.next()).toBeUndefined()
    expect(workers[0]?.sent).toEqual([
      { op: 'open', path: '/data/f.parquet' },
      { op: 'start', group: 2, offset: 5, batchRows: 100 },
      { op: 'next' },
      { op: 'next' },
      { op: 'next' },
    ])
    await decoder.close()
  })

  it('refuses a failed request with its reason, and takes the next request after it', async () => {
    const { decoder } = await open()
    const w = workers[0] as ScriptedWorker
    w.answer = () => ({ ok: false, error: 'no such row group' })
    const e = await rejection(decoder.start(7, 0, 10))
    expect(e).toBeInstanceOf(InvalidRequestError)
    expect(e.message).toBe("'f.parquet' cannot be read as Parquet: no such row group")
    w.answer = () => ({ ok: true, ipc: Uint8Array.of(4) })
    expect(await decoder.next()).toEqual(Uint8Array.of(4))
    await decoder.close()
  })

  it('takes one request at a time', async () => {
    const { decoder } = await open()
    const w = workers[0] as ScriptedWorker
    w.answer = undefined
    const first = decoder.next()
    const e = await rejection(decoder.next())
    expect(e.constructor).toBe(Error)
    expect(e.message).toBe('a Parquet decoder takes one request at a time')
    w.reply({ ok: true, ipc: Uint8Array.of(5) })
    expect(await first).toEqual(Uint8Array.of(5))
    expect(w.sent).toEqual([{ op: 'open', path: '/data/f.parquet' }, { op: 'next' }])
    await decoder.close()
  })

  it('fails the request in progress and every later one when the thread fails, with the first reason', async () => {
    const { decoder } = await open()
    const w = workers[0] as ScriptedWorker
    w.answer = undefined
    const pending = decoder.next()
    w.emit('error', new Error('unreachable'))
    w.emit('exit', 1)
    const message = "'f.parquet' cannot be read as Parquet: the Parquet decoder failed on it (unreachable)"
    const e = await rejection(pending)
    expect(e).toBeInstanceOf(InvalidRequestError)
    expect(e.message).toBe(message)
    expect((await rejection(decoder.next())).message).toBe(message)
    expect((await rejection(decoder.start(0, 0, 1))).message).toBe(message)
    expect(w.sent).toEqual([{ op: 'open', path: '/data/f.parquet' }, { op: 'next' }])
    // A late reply finds nothing waiting.
    w.emit('message', { ok: true, ipc: Uint8Array.of(1) })
    await decoder.close()
    expect((await rejection(decoder.next())).message).toBe(message)
  })

  it('fails the file when the thread stops, with its exit code', async () => {
    const { decoder } = await open()
    const w = workers[0] as ScriptedWorker
    w.emit('exit', 134)
    const e = await rejection(decoder.next())
    expect(e).toBeInstanceOf(InvalidRequestError)
    expect(e.message).toBe("'f.parquet' cannot be read as Parquet: the Parquet decoder stopped (exit code 134)")
    await decoder.close()
  })

  it('closes: the request in progress and later ones fail, the thread ends, and closing twice is safe', async () => {
    const { decoder } = await open()
    const w = workers[0] as ScriptedWorker
    w.answer = undefined
    const pending = decoder.next()
    await decoder.close()
    const message = "'f.parquet' cannot be read as Parquet: the file was closed"
    expect((await rejection(pending)).message).toBe(message)
    expect((await rejection(decoder.next())).message).toBe(message)
    expect(w.terminated).toBe(1)
    await decoder.close()
    expect(w.terminated).toBe(2)
    expect(await capacity()).toBe(16)
  })

  it('runs 16 threads at once: a 17th open waits for a close, and a decoder closed twice frees one thread', async () => {
    const first = await Promise.all(Array.from({ length: 16 }, () => open()))
    expect(workers).toHaveLength(16)
    const seventeenth = open()
    expect((await settled(seventeenth)).state).toBe('pending')
    expect(workers).toHaveLength(16) // its thread is not started while it waits
    await first[0]?.decoder.close()
    const s = await settled(seventeenth)
    expect(s.state).toBe('resolved')
    expect(workers).toHaveLength(17)
    await first[0]?.decoder.close()
    const eighteenth = open()
    expect((await settled(eighteenth)).state).toBe('pending')
    await first[1]?.decoder.close()
    expect((await settled(eighteenth)).state).toBe('resolved')
    for (const o of [...first.slice(2), await seventeenth, await eighteenth]) await o.decoder.close()
    expect(await capacity()).toBe(16)
  })

  it('refuses an open the thread fails, ending the thread and giving it back', async () => {
    answer = () => ({ ok: false, error: 'Parquet magic bytes not found in footer' })
    const e = await rejection(open())
    expect(e).toBeInstanceOf(InvalidRequestError)
    expect(e.message).toBe("'f.parquet' cannot be read as Parquet: Parquet magic bytes not found in footer")
    expect(workers[0]?.terminated).toBe(1)
    answer = script()
    expect(await capacity()).toBe(16)
  })

  it('gives the thread back when it cannot be started', async () => {
    startFails = new Error('too many threads')
    const e = await rejection(open())
    expect(e).toBe(startFails)
    startFails = undefined
    expect(await capacity()).toBe(16)
  })

  it('gives up opening after 60 s, and not after an open that finished in time', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    answer = undefined
    const slow = open()
    await flush()
    vi.advanceTimersByTime(59_999)
    expect((await settled(slow)).state).toBe('pending')
    vi.advanceTimersByTime(1)
    const e = await rejection(slow)
    expect(e).toBeInstanceOf(InvalidRequestError)
    expect(e.message).toBe("'f.parquet' cannot be read as Parquet: reading its metadata took longer than 60 s")
    expect(workers[0]?.terminated).toBe(1)
    answer = script()
    const { decoder } = await open()
    vi.advanceTimersByTime(120_000)
    expect(await decoder.next()).toEqual(Uint8Array.of(9))
    await decoder.close()
    vi.useRealTimers()
    expect(await capacity()).toBe(16)
  })
})

describe('with the real decoder thread', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lastmile-decoder-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  const file = (name: string, bytes: Uint8Array) => {
    const path = join(dir, name)
    writeFileSync(path, bytes)
    return path
  }
  const values = (ipc: Uint8Array | undefined) => (ipc ? Array.from(tableFromIPC(ipc).getChild('x').toArray()) : ipc)

  it('reads the schema, then a row group from an offset in batches, as written', async () => {
    const { decoder, schema } = await ParquetDecoder.open(
      file(
        'a.parquet',
        craftParquet([
          [1, 2.5, -3],
          [4, 1e300],
        ]),
      ),
      'a.parquet',
    )
    try {
      expect(tableFromIPC(schema).schema.fields.map((f) => f.name)).toEqual(['x'])
      await decoder.start(0, 1, 1)
      expect(values(await decoder.next())).toEqual([2.5])
      expect(values(await decoder.next())).toEqual([-3])
      expect(await decoder.next()).toBeUndefined()
      await decoder.start(1, 0, 5)
      expect(values(await decoder.next())).toEqual([4, 1e300])
      expect(await decoder.next()).toBeUndefined()
    } finally {
      await decoder.close()
    }
  })

  it('fails a file the decoder traps on, for good', async () => {
    // A snappy page whose header claims fewer bytes than its block holds: parquet-wasm panics.
    const trap = craftParquet([[1, 2.5, -3]], { pageUncompressed: [8] }, 'snappy')
    const { decoder } = await ParquetDecoder.open(file('t.parquet', trap), 't.parquet')
    try {
      const message = "'t.parquet' cannot be read as Parquet: the Parquet decoder failed on it (unreachable)"
      const e = await rejection(decoder.start(0, 0, 10).then(() => decoder.next()))
      expect(e).toBeInstanceOf(InvalidRequestError)
      expect(e.message).toBe(message)
      expect((await rejection(decoder.next())).message).toBe(message)
    } finally {
      await decoder.close()
    }
  })
})
