/** Body pools for tests: closed after each test of the file that imports this. */
import { afterEach } from 'vitest'
import { BodyPool, type BodyPoolOptions } from '../../src/formats/decode-pool.js'

const pools: BodyPool[] = []
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()))
})

/** A pool of one worker taking bodies past 1024 bytes, one at a time, one waiting. */
export function pool(over: Partial<BodyPoolOptions> = {}): BodyPool {
  const p = new BodyPool({ workers: 1, largeBytes: 1024, perWorker: 1, queue: 1, ...over })
  pools.push(p)
  return p
}
