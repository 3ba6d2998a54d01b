/**
 * Fuzzing the feedback decoders (src/outcomes/feedback*.ts) in process: CSV written from random
 * rows (commas, quotes, line breaks, non-ASCII in the values) reads back as the values written;
 * mutated CSV, mutated and lying Arrow tables (counts replaced, several at once) and random JSON
 * values either decode or throw lastmile's typed error (a 400), never anything else (a 500); and
 * what decodes passes or fails the checks against the settings with a typed error too, and what
 * passes can be stored (no key with a NUL or an unpaired surrogate, whatever the id or key sent).
 */
import { dictionary, float64, int64, tableFromArrays, tableToIPC, utf8 } from '@uwdata/flechette'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { LastmileError } from '../../src/errors.js'
import { type FeedbackItems, feedbackFromJson, feedbackOutcomes } from '../../src/outcomes/feedback.js'
import { feedbackFromArrow } from '../../src/outcomes/feedback-arrow.js'
import { feedbackFromCsv } from '../../src/outcomes/feedback-csv.js'
import type { OutcomeSpec } from '../../src/outcomes/spec.js'
import { withLies } from './arrow-craft.js'
import { fuzzParams } from './budget.js'
import { mutated } from './mutate.js'

const SPECS: OutcomeSpec[] = [
  { task: 'classification', output: 'p', labels: ['a', 'b'] },
  { task: 'regression', output: 'p', key: 'k' },
]

/** A NUL (PostgreSQL's text refuses it) or an unpaired surrogate (UTF-8 cannot hold it). */
const UNSTORABLE = /\0|\p{Cs}/u

/**
 * Decode and check: the result, or a typed error; anything else fails the property. What the
 * checks accept can be stored: no key holds a NUL or an unpaired surrogate.
 */
function decodeOrRefuse(decode: () => FeedbackItems): void {
  try {
    const items = decode()
    for (const spec of SPECS) {
      try {
        for (const o of feedbackOutcomes(items, spec, 0)) expect(o.key).not.toMatch(UNSTORABLE)
      } catch (e) {
        if (!(e instanceof LastmileError)) throw e
      }
    }
  } catch (e) {
    if (!(e instanceof LastmileError)) throw e
  }
}

/** A CSV field as RFC 4180 writes it: quoted when it holds a comma, a quote or a line break. */
const field = (v: string) => (/[",\r\n]/.test(v) || v === '' ? `"${v.replaceAll('"', '""')}"` : v)
const value = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.constantFrom('a,b', 'say "hi"', 'two\nlines', 'cr\r\nlf', 'ünï', '1', '-2.5', 'nul\u0000', '😀'),
)

const SEEDS = [
  tableToIPC(
    tableFromArrays(
      { id: ['r1', 'r2', 'r1'], row: [0, 1, 2], outcome: ['a', 'b', '1'] },
      { types: { id: dictionary(utf8()), outcome: utf8() }, maxBatchRows: 2 },
    ),
    { format: 'stream' },
  ) as Uint8Array,
  tableToIPC(
    tableFromArrays({ key: [7n, 8n], outcome: [1.5, null] }, { types: { key: int64(), outcome: float64() } }),
    { format: 'file' },
  ) as Uint8Array,
]
const LIES = [0, 1, 2, 7, 8, 255, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 1e9, 2 ** 53 - 1, -1]

describe('fuzz: feedback decoders', () => {
  it('reads back every value of CSV written from random rows', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(value, value, value), { minLength: 1, maxLength: 20 }),
        fc.constantFrom('\n', '\r\n'),
        (rows, eol) => {
          const text = ['id,key,outcome', ...rows.map((r) => r.map(field).join(','))].join(eol)
          const { items } = feedbackFromCsv(new TextEncoder().encode(text))
          const want = rows.map(([id, key, outcome]) =>
            Object.fromEntries(
              Object.entries({ id, key, outcome }).filter(([, v]) => v !== ''), // an empty field is missing
            ),
          )
          expect(items).toEqual(want)
        },
      ),
      fuzzParams(300),
    )
  })

  it('decodes or refuses (typed) mutated CSV and JSON', () => {
    const csv = new TextEncoder().encode('id,row,outcome\r\nr1,0,a\n"r,2",1,"b"\nr3,,1\n')
    fc.assert(
      fc.property(mutated([csv], 6), (bytes) => decodeOrRefuse(() => feedbackFromCsv(bytes))),
      fuzzParams(1000),
    )
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), fc.jsonValue({ maxDepth: 3 }), (v, row) => {
        decodeOrRefuse(() => feedbackFromJson(v))
        decodeOrRefuse(() =>
          feedbackFromJson({ outcomes: [row, { id: 'x', row, outcome: row }, { key: row, outcome: 1 }] }),
        )
      }),
      fuzzParams(1000),
    )
    // Ids and keys of any UTF-16, unpaired surrogates and NULs included: refused or storable.
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 6 }), fc.string({ unit: value, maxLength: 3 }), (a, b) => {
        decodeOrRefuse(() =>
          feedbackFromJson({
            outcomes: [
              { id: a + b, outcome: 1 },
              { key: b + a, outcome: 1 },
            ],
          }),
        )
        const csv = `id,outcome\n${field(a + b)},1\n`
        decodeOrRefuse(() => feedbackFromCsv(new TextEncoder().encode(csv)))
      }),
      fuzzParams(1000),
    )
  })

  it('decodes or refuses (typed) mutated and lying Arrow tables', () => {
    for (const seed of SEEDS) expect(feedbackFromArrow(seed).items.length).toBeGreaterThan(0)
    const lying = fc
      .tuple(
        fc.nat(SEEDS.length - 1),
        fc.array(fc.tuple(fc.nat(), fc.nat(), fc.constantFrom(...LIES)), { minLength: 1, maxLength: 3 }),
      )
      .map(([k, lies]) => withLies(SEEDS[k] as Uint8Array, lies))
    fc.assert(
      fc.property(fc.oneof(lying, mutated(SEEDS, 6)), (bytes) => decodeOrRefuse(() => feedbackFromArrow(bytes))),
      fuzzParams(2000),
    )
  })
})
