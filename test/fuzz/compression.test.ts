/**
 * Fuzzing compressed request bodies (Content-Encoding: gzip and deflate) through a real HTTP
 * server: valid requests compressed at any level answer exactly what they answer uncompressed;
 * byte mutations of compressed bodies (headers, lengths, checksums, deflate blocks), wrong codings
 * and bombs of several members that inflate past the body limit answer a 2xx, 400, 413 or 415 in
 * the case bound — never a 5xx or a dropped connection — and the server answers correctly after.
 */
import { deflateSync, gzipSync } from 'node:zlib'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fuzzParams } from './budget.js'
import { type FuzzServer, fuzzServer } from './inference-server.js'
import { mutated } from './mutate.js'

const encoder = new TextEncoder()
const LIMIT = 256 * 1024
const compress = { gzip: gzipSync, deflate: deflateSync }
const coding = fc.constantFrom('gzip', 'deflate') as fc.Arbitrary<keyof typeof compress>

/** A valid request for the `double` pipeline (x float32 [N,2]). */
const request = fc
  .array(
    fc.tuple(fc.float({ noNaN: true, noDefaultInfinity: true }), fc.float({ noNaN: true, noDefaultInfinity: true })),
    {
      minLength: 1,
      maxLength: 64,
    },
  )
  .map((rows) =>
    encoder.encode(
      JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [rows.length, 2], data: rows.flat() }] }),
    ),
  )

const SEED = encoder.encode(
  JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 2], data: [1, 2, 3, 4] }] }),
)

describe('fuzz: compressed request bodies through the HTTP server', () => {
  let s: FuzzServer
  beforeAll(async () => {
    s = await fuzzServer({ server: { bodyLimitBytes: LIMIT } })
  })
  afterAll(() => s?.close())

  const infer = (body: Uint8Array, headers: Record<string, string>) =>
    s.send('/v2/models/double/infer', body, { 'content-type': 'application/json', ...headers })

  it('answers a compressed request exactly as the same request uncompressed', async () => {
    await fc.assert(
      fc.asyncProperty(request, coding, fc.integer({ min: 0, max: 9 }), async (json, c, level) => {
        const plain = await infer(json, {})
        const packed = await infer(compress[c](json, { level }), { 'content-encoding': c })
        expect(packed.status).toBe(200)
        expect(new TextDecoder().decode(packed.body)).toBe(new TextDecoder().decode(plain.body))
      }),
      fuzzParams(60),
    )
    await s.expectCorrect()
  })

  it('answers byte mutations of compressed bodies, and mislabelled codings, with 2xx or 4xx', async () => {
    const seeds = [gzipSync(SEED), deflateSync(SEED), gzipSync(SEED, { level: 0 }), deflateSync(SEED, { level: 1 })]
    await fc.assert(
      fc.asyncProperty(
        mutated(seeds.map((b) => new Uint8Array(b))),
        fc.constantFrom('gzip', 'deflate', 'x-gzip', 'GZIP', 'br', 'gzip, deflate', ''),
        async (body, c) => {
          const { status } = await infer(body, c ? { 'content-encoding': c } : {})
          expect([200, 400, 413, 415]).toContain(status)
        },
      ),
      fuzzParams(200),
    )
    await s.expectCorrect()
  })

  it('answers bombs of several members, whole or cut, with 413 past the limit (400 within it) and keeps serving', async () => {
    const member = (bytes: number) => gzipSync(new Uint8Array(bytes), { level: 9 })
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 4 * 1024 * 1024 }), { minLength: 1, maxLength: 8 }),
        fc.boolean(),
        async (sizes, cut) => {
          const members = sizes.map(member)
          const body = new Uint8Array(members.reduce((n, m) => n + m.length, 0))
          let at = 0
          for (const m of members) {
            body.set(m, at)
            at += m.length
          }
          const sent = cut ? body.subarray(0, Math.max(1, body.length - 5)) : body
          const { status } = await infer(sent, { 'content-encoding': 'gzip' })
          const inflated = sizes.reduce((n, b) => n + b, 0)
          // Zeros are no JSON: within the limit a 400 (or a 400 for the cut), past it a 413 first.
          expect(status).toBe(inflated > LIMIT ? 413 : 400)
        },
      ),
      fuzzParams(40),
    )
    await s.expectCorrect()
  })
})
