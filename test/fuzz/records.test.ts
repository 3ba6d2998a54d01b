/**
 * Fuzzing pandas-records inference through a real HTTP server: records that are valid or one
 * flaw from it (a later record lacking an input or nested differently, hostile values, unknown
 * keys), arbitrary JSON, byte mutations of valid bodies, and hostile dataset queries and Accept
 * headers each answer a 2xx or a 4xx within the case bound, and known-good requests still answer
 * correctly afterwards.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fuzzParams } from './budget.js'
import { acceptHeader, columnFits, datasetQuery, queryString } from './dataset-query.js'
import { DEEP, deepText, serialize } from './deep.js'
import { type FuzzServer, fuzzServer, PIPELINES } from './inference-server.js'
import { mutated } from './mutate.js'

const RECORDS = { 'content-type': 'application/json; format=pandas-records' }
const hostile = fc.oneof(
  fc.constantFrom(null, 1e300, -1, 2 ** 63, 'x', true, [], {}, [[[[]]]], DEEP),
  fc.double(),
  fc.array(fc.integer(), { maxLength: 5 }),
)
/** A valid row value per input of each pipeline. */
const ROW: Record<(typeof PIPELINES)[number], Record<string, fc.Arbitrary<unknown>>> = {
  double: { x: fc.array(fc.float({ noNaN: true }), { minLength: 2, maxLength: 2 }) },
  mixed: {
    a: fc.array(fc.integer({ min: -100, max: 100 }), { minLength: 3, maxLength: 3 }),
    b: fc.integer(),
    c: fc.tuple(fc.boolean(), fc.boolean()),
  },
}

/** Records for a pipeline, then maybe one flaw in a random record: a value, a missing or unknown key. */
const validish = fc.constantFrom(...PIPELINES).chain((name) =>
  fc
    .tuple(
      fc.array(fc.record(ROW[name]), { minLength: 1, maxLength: 5 }),
      fc.constantFrom('none', 'value', 'missing', 'unknown', 'nest'),
      fc.nat(),
      fc.constantFrom(...Object.keys(ROW[name])),
      hostile,
    )
    .map(([records, flaw, r, key, bad]) => {
      const rec = records[r % records.length] as Record<string, unknown>
      if (flaw === 'value') rec[key] = bad
      if (flaw === 'missing') delete rec[key]
      if (flaw === 'unknown') rec[`${key}_extra`] = bad
      if (flaw === 'nest') rec[key] = [rec[key]]
      return [name, records] as const
    }),
)
const anyJson = fc.tuple(fc.constantFrom(...PIPELINES), fc.jsonValue({ maxDepth: 4 }))

describe('fuzz: pandas-records inference through the HTTP server', () => {
  let s: FuzzServer
  beforeAll(async () => {
    s = await fuzzServer()
  })
  afterAll(() => s?.close())

  const infer = (name: string, body: Uint8Array | string) =>
    s.send(`/v1/workspaces/default/pipelines/${name}/infer`, body, RECORDS)

  it('answers a 400 when record 2 of 3 lacks an input, and keeps serving', async () => {
    const res = await fetch(`${s.url}/v1/workspaces/default/pipelines/mixed/infer`, {
      method: 'POST',
      headers: RECORDS,
      body: JSON.stringify([
        { a: [1, 2, 3], b: 1, c: [true, true] },
        { a: [4, 5, 6], b: 2, c: [false, true] },
        { a: [7, 8, 9], b: 3 },
      ]),
    })
    expect(res.status).toBe(400)
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe("record 2: missing input 'c'")
    await s.expectCorrect()
  })

  it('answers values nested 20 000 deep with a 400', async () => {
    const deep = deepText
    for (const [name, body] of [
      ['mixed', `[{"a":${deep},"b":1,"c":[true,false]}]`],
      ['mixed', `[{"a":[1,2,3],"b":${deep},"c":[true,false]}]`],
      ['double', `[{"x":[1,${deep}]}]`],
      ['double', `[{"x":[1,2]},${deep}]`],
    ]) {
      expect((await infer(name as string, body as string)).status).toBe(400)
    }
    await s.expectCorrect()
  })

  it('answers records with one flaw, and arbitrary JSON, with 2xx or 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof({ weight: 3, arbitrary: validish }, anyJson), async ([name, body]) => {
        await infer(name, serialize(body))
      }),
      fuzzParams(150),
    )
    await s.expectCorrect()
  })

  it('answers any dataset query and Accept with 200, 400 or 406, laid out as asked when 200', async () => {
    const body = JSON.stringify([
      { a: [1, 2, 3], b: 4, c: [true, false] },
      { a: [0.5, -1, 2], b: -9, c: [false, false] },
    ])
    await fc.assert(
      fc.asyncProperty(datasetQuery, acceptHeader, async (q, accept) => {
        const answer = await s.send(`/v1/workspaces/default/pipelines/mixed/infer?${queryString(q)}`, body, {
          ...RECORDS,
          ...(accept === null ? {} : { accept }),
        })
        expect([200, 400, 406]).toContain(answer.status)
        if (answer.status !== 200) return
        const text = new TextDecoder().decode(answer.body)
        // Arrow (Accept asked for it): a file's magic, or a stream's first message marker.
        if (text.startsWith('ARROW1') || answer.body[0] === 0xff) return
        const rows = JSON.parse(text) as Array<Record<string, unknown>>
        expect(rows).toHaveLength(2)
        for (const key of Object.keys(rows[0] ?? {})) expect(columnFits(key, q), key).toBe(true)
      }),
      fuzzParams(120),
    )
    await s.expectCorrect()
  })

  it('answers byte mutations of valid records with 2xx or 4xx', async () => {
    const seed = new TextEncoder().encode(
      JSON.stringify([
        { a: [1, 2, 3], b: 4, c: [true, false] },
        { a: [0.5, -1, 2], b: -9, c: [false, false] },
      ]),
    )
    await fc.assert(
      fc.asyncProperty(mutated([seed]), async (body) => {
        await infer('mixed', body)
      }),
      fuzzParams(100),
    )
    await s.expectCorrect()
  })
})
