/**
 * Stalled jobs: a job that commits no chunk for LASTMILE_JOB_STALL_SECONDS is failed with the
 * reason and gives its slot to the next job, and the server keeps serving, even when the call
 * it is stuck in never returns.
 */
import { afterAll, describe, expect, it, vi } from 'vitest'
import type { LastmileClient } from '../../src/client/client.js'
import { clientFor, doubler, testServer } from '../helpers/server.js'

describe('stalled jobs', () => {
  let s: Awaited<ReturnType<typeof testServer>>
  afterAll(async () => {
    await s.shutdown() // must not wait for the calls that never return
  })

  it('fails a job stuck in a call that never returns, runs the next one, and keeps serving', async () => {
    s = await testServer({ jobs: { stallSeconds: 0.5, concurrency: 1 } })
    const lm: LastmileClient = clientFor(s.app)
    await lm.uploadModel('default', 'd', doubler(2))
    await lm.putPipeline('default', 'd', [{ model: 'd' }])
    await lm.deploy('default', 'd', { engine: 'cpu' })
    const deployment = s.deps.manager.require('default', 'd')
    // The model call of a job never comes back (a stuck decoder or device would look the same).
    deployment.infer = () => new Promise(() => {})
    const csv = new TextEncoder().encode('a,b\n1,2\n3,4\n')
    const first = await lm.createJob('default', 'd', csv, { format: 'csv', features: ['a', 'b'] })
    const second = await lm.createJob('default', 'd', csv, { format: 'csv', features: ['a', 'b'] })
    const failed = async (id: string) =>
      vi.waitFor(
        async () => {
          const j = await lm.job(id)
          if (j.status !== 'failed') throw new Error(j.status)
          return j
        },
        { timeout: 30_000, interval: 25 },
      )
    const one = await failed(first.id)
    expect(one.error).toMatch(
      /committed no chunk for \d+ s \(LASTMILE_JOB_STALL_SECONDS is 0.5\); it was stopped as stalled/,
    )
    // One job at a time: the second could only run, and stall, once the guard freed the slot the
    // first one, stuck for good, still held.
    expect((await failed(second.id)).error).toMatch(/stopped as stalled/)

    Reflect.deleteProperty(deployment, 'infer') // the model answers again
    const [out] = await lm.inferRecords('default', 'd', [{ x: [1.5, -2] }])
    expect(out?.['out.y']).toEqual([3, -4])
    expect((await lm.job(first.id)).status).toBe('failed') // a stalled job stays failed
  })
})
