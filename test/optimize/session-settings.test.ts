/**
 * The deploy setting measured tuning applies: `session` ({threads, graph_optimization}) reaches
 * the sessions (a model loaded at each level and thread count answers as the default load does,
 * on cpu and wasm), shows in the deployment's status, is kept through a redeploy that leaves it
 * out, replaced whole by one that gives it, reset by `"reset": true`, and refused when invalid.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { LastmileClient } from '../../src/client/client.js'
import { Engine } from '../../src/engine/engine.js'
import { GRAPH_OPTIMIZATION_LEVELS } from '../../src/engine/types.js'
import { mulberry32 } from '../../src/random.js'
import { mlpClassifier } from '../fixtures/models.js'
import { clientFor, testConfig, testServer } from '../helpers/server.js'

describe('session settings', () => {
  it('load a model at every graph optimization level and thread count, answering as the default load', async () => {
    const engine = new Engine(testConfig())
    try {
      const fx = mlpClassifier({ seed: 3 })
      const x = fx.randomInputs(5, mulberry32(11))
      for (const backend of ['cpu', 'wasm'] as const) {
        const plain = await engine.load(fx.bytes, { backend })
        const expected = (await plain.run(x)).probs?.data as Float32Array
        for (const graphOptimization of GRAPH_OPTIMIZATION_LEVELS) {
          for (const threads of [1, 2]) {
            const s = await engine.load(fx.bytes, { backend, threads, graphOptimization })
            const got = (await s.run(x)).probs?.data as Float32Array
            expect(got.length).toBe(expected.length)
            for (let i = 0; i < got.length; i++) expect(got[i]).toBeCloseTo(expected[i] as number, 5)
            await s.release()
          }
        }
        await plain.release()
      }
    } finally {
      await engine.close()
    }
  })

  describe('as a deploy setting', () => {
    let s: Awaited<ReturnType<typeof testServer>>
    let lm: LastmileClient
    beforeAll(async () => {
      s = await testServer()
      lm = clientFor(s.app)
      await lm.uploadModel('default', 'mlp', mlpClassifier().bytes)
      await lm.putPipeline('default', 'mlp', [{ model: 'mlp' }])
    })
    afterAll(() => s.shutdown())

    it('shows, is kept when left out, replaced whole when given, reset by reset, and refused when invalid', async () => {
      expect((await lm.deploy('default', 'mlp')).session).toEqual({})
      const first = await lm.deploy('default', 'mlp', { session: { threads: 1, graph_optimization: 'basic' } })
      expect(first.session).toEqual({ threads: 1, graph_optimization: 'basic' })
      expect((await lm.deploy('default', 'mlp', { replicas: 2 })).session).toEqual({
        threads: 1,
        graph_optimization: 'basic',
      })
      expect((await lm.deploy('default', 'mlp', { session: { graph_optimization: 'extended' } })).session).toEqual({
        graph_optimization: 'extended',
      })
      const rows = await lm.inferRecords('default', 'mlp', [{ x: Array.from({ length: 16 }, (_, i) => i / 8 - 1) }])
      expect(rows).toHaveLength(1)
      expect((await lm.deploy('default', 'mlp', { reset: true })).session).toEqual({})
      for (const session of [{ threads: 0 }, { graph_optimization: 'most' }, { threads: 2, fast: true }]) {
        const res = await s.app.request('/v1/workspaces/default/pipelines/mlp/deploy', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ session }),
        })
        expect(res.status).toBe(400)
        expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/session/)
      }
    })
  })
})
