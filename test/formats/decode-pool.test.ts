import { describe, expect, it } from 'vitest'
import type { ColumnSpec, HostTensor } from '../../src/engine/tensor.js'
import { InvalidInputError, InvalidRequestError, NotReadyError, QueueFullError } from '../../src/errors.js'
import { pool } from '../helpers/body-pool.js'

const specs: ColumnSpec[] = [{ name: 'x', dtype: 'float32', shape: ['N', 3] }]
const limits = { maxTensorBytes: 2 ** 30 }

/** An OIP body of `rows` rows [r + 0.5, -r - 1, r / 4]: every value names its row. */
function oipBytes(rows: number): { bytes: Uint8Array; values: number[] } {
  const values = Array.from({ length: rows }, (_, r) => [r + 0.5, -r - 1, r / 4]).flat()
  const body = { inputs: [{ name: 'x', shape: [rows, 3], datatype: 'FP32', data: values }] }
  return { bytes: new TextEncoder().encode(JSON.stringify(body)), values }
}

describe('body pool', () => {
  it('decodes a large body in a worker into the typed arrays it describes', async () => {
    const p = pool()
    const { bytes, values } = oipBytes(2000)
    const decoded = await p.decode({ kind: 'oip', bytes, specs, limits })
    expect(p.stats().workerTasks.decode).toBe(1)
    expect(bytes.byteLength).toBe(0) // moved to the worker, not copied
    const x = decoded.feeds.x as HostTensor
    expect(x.dims).toEqual([2000, 3])
    expect(x.data).toEqual(Float32Array.from(values))
  })

  it('keeps small bodies on the calling thread', async () => {
    const p = pool()
    const { bytes } = oipBytes(2)
    const decoded = await p.decode({ kind: 'oip', bytes, specs, limits })
    expect(p.stats()).toMatchObject({ workerTasks: { decode: 0 }, workers: 0 })
    expect(decoded.feeds.x?.dims).toEqual([2, 3])
  })

  it("revives a worker's typed error as the same class, code and message", async () => {
    const body = JSON.stringify({ inputs: [{ name: 'x', shape: [400, 3], datatype: 'FP32', data: [1, 2, 3] }] })
    const inline = await pool({ workers: 0 })
      .decode({ kind: 'oip', bytes: new TextEncoder().encode(body), specs, limits })
      .catch((e) => e)
    const viaWorker = await pool()
      .decode({ kind: 'oip', bytes: new TextEncoder().encode(body.padEnd(4096)), specs, limits })
      .catch((e) => e)
    expect(inline).toBeInstanceOf(InvalidInputError)
    expect(viaWorker).toBeInstanceOf(InvalidInputError)
    expect(viaWorker.code).toBe('invalid_input')
    expect(viaWorker.message).toBe(inline.message)
    const malformed = await pool()
      .decode({ kind: 'records', bytes: new TextEncoder().encode(`[${'{"x":[1,2,3]},'.repeat(200)}`), specs, limits })
      .catch((e) => e)
    expect(malformed).toBeInstanceOf(InvalidRequestError)
    expect(malformed.message).toMatch(/^malformed JSON: /)
  })

  it('admits perWorker large requests per worker, queues `queue` more and refuses the rest', async () => {
    const p = pool({ workers: 2, perWorker: 1, queue: 1 })
    const first = await p.admit()
    const second = await p.admit()
    let thirdIn = false
    const third = p.admit().then((release) => {
      thirdIn = true
      return release
    })
    await expect(p.admit()).rejects.toBeInstanceOf(QueueFullError)
    expect(p.stats()).toMatchObject({ admitted: 2, waiting: 1 })
    first()
    first() // releasing twice gives back one turn only
    const release = await third
    expect(thirdIn).toBe(true)
    expect(p.stats()).toMatchObject({ admitted: 2, waiting: 0 })
    second()
    release()
    expect(p.stats()).toMatchObject({ admitted: 0, waiting: 0 })
  })

  it('takes a waiting request out of the queue when its signal aborts, the turn going to the next', async () => {
    const p = pool({ workers: 1, perWorker: 1, queue: 1 })
    const first = await p.admit()
    const gone = new AbortController()
    const waiting = p.admit(gone.signal)
    expect(p.stats()).toMatchObject({ admitted: 1, waiting: 1 })
    gone.abort(new Error('client left'))
    await expect(waiting).rejects.toThrow('client left')
    expect(p.stats()).toMatchObject({ admitted: 1, waiting: 0 })
    const next = p.admit() // its place is free again: waits, not 429
    expect(p.stats()).toMatchObject({ admitted: 1, waiting: 1 })
    await expect(p.admit(AbortSignal.abort(new Error('already gone')))).rejects.toThrow('already gone')
    first()
    const release = await next
    expect(p.stats()).toMatchObject({ admitted: 1, waiting: 0 })
    release()
    expect(p.stats()).toMatchObject({ admitted: 0, waiting: 0 })
  })

  it('fails only the task of a worker that dies, and starts a new worker for the next', async () => {
    const p = pool({ entry: new URL('../helpers/dying-body-worker.ts', import.meta.url) })
    const died = await p
      .decode({ kind: 'oip', bytes: new TextEncoder().encode(`die${' '.repeat(2000)}`), specs, limits })
      .catch((e) => e)
    expect(died).toBeInstanceOf(NotReadyError)
    expect(died.message).toMatch(/^the body worker stopped while working on this request/)
    const { bytes, values } = oipBytes(1000)
    const decoded = await p.decode({ kind: 'oip', bytes, specs, limits })
    expect((decoded.feeds.x as HostTensor).data).toEqual(Float32Array.from(values))
    expect(p.stats()).toMatchObject({ workerDeaths: 1, workers: 1, workerTasks: { decode: 2 } })
  })
})
