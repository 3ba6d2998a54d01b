/**
 * Fuzzing the body workers: byte mutations of valid OIP JSON, pandas-records and Arrow bodies,
 * each large enough for a worker, decode there to exactly what they decode to on the calling
 * thread: the same tensors, or the same typed error (class, code and message).
 */
import { fixedSizeList, float32, tableFromArrays, tableToIPC } from '@uwdata/flechette'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import type { ColumnSpec } from '../../src/engine/tensor.js'
import type { DecodeTask } from '../../src/formats/body-codec.js'
import { BodyPool } from '../../src/formats/decode-pool.js'
import { CASE_TIMEOUT_MS, fuzzParams } from './budget.js'
import { mutated } from './mutate.js'

const specs: ColumnSpec[] = [{ name: 'x', dtype: 'float32', shape: ['N', 3] }]
const limits = { maxTensorBytes: 1024 * 1024 }
/** 150 rows: each seed body is a few KiB, past the pools' 1 KiB threshold. */
const rows = Array.from({ length: 150 }, (_, r) => [r / 4, -r - 0.5, r % 7])
const encode = (v: unknown) => new TextEncoder().encode(JSON.stringify(v))
const SEEDS: Record<DecodeTask['kind'], Uint8Array> = {
  oip: encode({ id: 'a', inputs: [{ name: 'x', shape: [rows.length, 3], datatype: 'FP32', data: rows.flat() }] }),
  records: encode(rows.map((x) => ({ x }))),
  arrow: tableToIPC(
    tableFromArrays({ x: rows.map((x) => Float32Array.from(x)) }, { types: { x: fixedSizeList(float32(), 3) } }),
    { format: 'stream' },
  ) as Uint8Array,
}

const worker = new BodyPool({ workers: 1, largeBytes: 1024, perWorker: 1, queue: 0 })
const inline = new BodyPool({ workers: 0, largeBytes: 1024, perWorker: 1, queue: 0 })

/** What decoding gives, comparable across threads: the value, or the error's class, code and message. */
async function outcome(pool: BodyPool, kind: DecodeTask['kind'], bytes: Uint8Array): Promise<unknown> {
  try {
    return { value: await pool.decode({ kind, bytes, specs, limits } as DecodeTask) }
  } catch (e) {
    const err = e as Error & { code?: string }
    return { error: { class: err.constructor.name, name: err.name, code: err.code, message: err.message } }
  }
}

describe('fuzz: body workers decode as the event loop does', () => {
  afterAll(() => worker.close())

  for (const kind of Object.keys(SEEDS) as Array<DecodeTask['kind']>) {
    it(`${kind}: a mutated body gives the same tensors or the same typed error in a worker`, async () => {
      expect(SEEDS[kind].length).toBeGreaterThan(1024)
      await fc.assert(
        fc.asyncProperty(mutated([SEEDS[kind]]), async (bytes) => {
          const here = await outcome(inline, kind, bytes.slice())
          const there = await outcome(worker, kind, bytes.slice()) // its bytes move to the worker
          expect(there).toEqual(here)
        }),
        { ...fuzzParams(40), timeout: CASE_TIMEOUT_MS },
      )
      expect(worker.stats().workerTasks.decode).toBeGreaterThan(0)
    })
  }
})
