/**
 * The one way worker threads start (src/workers/start.ts): a TypeScript worker module from the
 * sources, its `.js` imports resolved to `.ts` and transpiled; a JavaScript one as it is; options
 * handed to the thread either way.
 */
import type { Worker } from 'node:worker_threads'
import { afterEach, describe, expect, it } from 'vitest'
import { startWorker, workerModule } from '../../src/workers/start.js'

const started: Worker[] = []
afterEach(async () => {
  await Promise.all(started.splice(0).map((w) => w.terminate()))
})

function firstMessage(worker: Worker): Promise<unknown> {
  started.push(worker)
  return new Promise((resolve, reject) => {
    worker.once('message', resolve)
    worker.once('error', reject)
  })
}

describe('startWorker', () => {
  it('runs a TypeScript module from the sources, with its workerData and resource limits', async () => {
    const entry = new URL('../helpers/echo-worker.ts', import.meta.url)
    const options = { workerData: { asked: 'échos', n: 7 }, resourceLimits: { maxOldGenerationSizeMb: 96 } }
    expect(await firstMessage(startWorker(entry, options))).toEqual({
      workerData: { asked: 'échos', n: 7 },
      heapMb: 96,
      typed: 24, // 2·3·4, from src/engine/tensor.ts imported as tensor.js
    })
    // A second thread of the same module (the transpiled sources are kept): the same answer.
    expect(await firstMessage(startWorker(entry, { workerData: 3 }))).toMatchObject({ workerData: 3, typed: 24 })
  })

  it('runs a JavaScript module as it is', async () => {
    const entry = new URL('../helpers/plain-worker.mjs', import.meta.url)
    expect(await firstMessage(startWorker(entry, { workerData: [1, 'b'] }))).toEqual({
      workerData: [1, 'b'],
      plain: true,
    })
  })
})

describe('workerModule', () => {
  it("names a worker's TypeScript source when lastmile runs from its sources", () => {
    const base = new URL('../../src/formats/decode-pool.ts', import.meta.url).href
    expect(workerModule('./decode-worker.js', base).href).toBe(
      new URL('../../src/formats/decode-worker.ts', import.meta.url).href,
    )
  })
})
