/**
 * Explanation rows nested deeper than their input allows (review F8): a reference row
 * `{"x": [[[…1…]]]}` 200,000 deep was a 500 in both modes (the stack overflowed in `Array.flat`
 * answering now, in `JSON.stringify` storing a job). Now a value nested past the input's rank
 * (plus one wrapping array) is a 400 naming the row and the input, a request nested past 64 levels
 * anywhere (a key no input reads too) a 400 before anything walks it, and no job is stored.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { mlpClassifier } from '../fixtures/models.js'
import { clientFor, testServer } from '../helpers/server.js'

/** `inner` inside `depth` arrays, as JSON text. */
const nested = (depth: number, inner: string) => `${'['.repeat(depth)}${inner}${']'.repeat(depth)}`

describe('explanation rows nested too deep', () => {
  let s: Awaited<ReturnType<typeof testServer>>
  const mlp = mlpClassifier({ features: 4, hidden: [4], classes: 2, seed: 3, name: 'm4' })

  beforeAll(async () => {
    s = await testServer()
    const lm = clientFor(s.app)
    await lm.uploadModel('default', 'm4', mlp.bytes)
    await lm.putPipeline('default', 'm4', [{ model: 'm4' }])
    await lm.deploy('default', 'm4', { engine: 'cpu' })
  })
  afterAll(() => s.shutdown())

  const explain = async (body: string, query = '') => {
    const res = await s.app.request(`/v1/workspaces/default/pipelines/m4/explain${query}`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
    })
    return { status: res.status, body: (await res.json()) as Record<string, unknown> }
  }
  const permutation = (row: string) => `{"method":"permutation","repeats":1,"reference":{"rows":[${row},${row}]}}`
  /** Explanation jobs stored from now on. */
  const stored = () => vi.spyOn(s.deps.store.explanations, 'add')

  it('answers rows flat, nested by the dimensions or wrapped once', async () => {
    for (const x of ['[1,2,3,4]', '[[1,2,3,4]]', '[[1,2],[3,4]]']) {
      const { status, body } = await explain(permutation(`{"x":${x}}`))
      expect(status, JSON.stringify(body)).toBe(200)
      expect(body.features).toEqual(['x[0]', 'x[1]', 'x[2]', 'x[3]'])
    }
  })

  it("refuses a row nested past the input's rank, now or as a job, naming row and input", async () => {
    const added = stored()
    for (const query of ['', '?async=true']) {
      const { status, body } = await explain(permutation(`{"x":${nested(2, '[1,2,3,4]')}}`), query)
      expect(status, query).toBe(400)
      expect(body).toEqual({
        error: {
          code: 'invalid_request',
          message:
            "reference.rows[0].x nests arrays more than 2 deep; input 'x' [N,4] takes a row's 4 values, flat or nested by its dimensions",
        },
      })
    }
    expect(added).not.toHaveBeenCalled()
    added.mockRestore()
  })

  it('refuses a row 200,000 deep, in the input or in a key no input reads, now and as a job', async () => {
    const added = stored()
    for (const row of [`{"x":${nested(200_000, '1')}}`, `{"x":[1,2,3,4],"note":${nested(200_000, '1')}}`]) {
      for (const query of ['', '?async=true']) {
        const { status, body } = await explain(permutation(row), query)
        expect(status, query).toBe(400)
        expect(body).toEqual({
          error: { code: 'invalid_request', message: 'the request nests arrays or objects more than 64 deep' },
        })
      }
    }
    // Rows to explain (local methods) are checked as the reference is.
    const local = `{"method":"kernel_shap","nsamples":8,"reference":{"rows":[{"x":[0,0,0,0]}]},"rows":[{"x":${nested(3, '1')}}]}`
    const { status, body } = await explain(local, '?async=true')
    expect(status).toBe(400)
    expect(JSON.stringify(body)).toMatch(/rows\[0\]\.x nests arrays more than 2 deep/)
    expect(added).not.toHaveBeenCalled()
    added.mockRestore()
    expect((await explain(permutation('{"x":[1,2,3,4]}'))).status).toBe(200) // still serving
  })
})
