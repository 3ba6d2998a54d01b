/**
 * Feedback decoders and checks: JSON, CSV (quotes, CRLF, BOM, blank lines, a quoted field over two
 * lines) and Arrow (plain and dictionary strings, int64 ids, nulls) give the same items; every item
 * is checked against the settings, all or nothing, the first bad row named; the row limit is
 * refused before rows are read.
 */
import { dictionary, float64, int32, int64, tableFromArrays, tableToIPC, utf8 } from '@uwdata/flechette'
import { describe, expect, it } from 'vitest'
import { InvalidRequestError } from '../../src/errors.js'
import {
  type FeedbackItems,
  feedbackFromJson,
  feedbackOutcomes,
  MAX_FEEDBACK_ROWS,
} from '../../src/outcomes/feedback.js'
import { feedbackFromArrow } from '../../src/outcomes/feedback-arrow.js'
import { feedbackFromCsv } from '../../src/outcomes/feedback-csv.js'
import type { OutcomeSpec } from '../../src/outcomes/spec.js'

const text = (s: string) => new TextEncoder().encode(s)
const classifier: OutcomeSpec = { task: 'classification', output: 'probs', labels: ['stay', 'churn'] }
const refusal = (f: () => unknown) => {
  try {
    f()
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidRequestError)
    return (e as Error).message
  }
  throw new Error('expected a refusal')
}
const stored = (f: FeedbackItems, spec: OutcomeSpec = classifier) =>
  feedbackOutcomes(f, spec, 5).map((o) => [o.key, o.value])

describe('feedback decoders', () => {
  const expected = [
    ['r0:req-1', 'churn'],
    ['r2:req-1', 0],
    ['r0:a,"b"', 'stay'],
  ]

  it('reads JSON, CSV and Arrow into the same outcomes', () => {
    const json = feedbackFromJson({
      outcomes: [
        { id: 'req-1', row: 0, outcome: 'churn' },
        { id: 'req-1', row: 2, outcome: 0 },
        { id: 'a,"b"', outcome: 'stay' }, // row 0 by default
      ],
    })
    expect(stored(json)).toEqual(expected)
    const csv = feedbackFromCsv(text('\ufeffid,row,outcome\r\nreq-1,0,churn\r\n\r\nreq-1,2,0\n"a,""b""",,stay'))
    expect(stored(csv)).toEqual(expected)
    const table = tableFromArrays(
      { id: ['req-1', 'req-1', 'a,"b"'], row: [0, 2, null], outcome: ['churn', '0', 'stay'] },
      { types: { id: dictionary(utf8()), row: int32(), outcome: utf8() } },
    )
    expect(stored(feedbackFromArrow(tableToIPC(table, { format: 'stream' }) as Uint8Array))).toEqual(expected)
    expect(stored(feedbackFromArrow(tableToIPC(table, { format: 'file' }) as Uint8Array))).toEqual(expected)
  })

  it('reads keys, int64 values and regressors’ numbers', () => {
    const keyed: OutcomeSpec = { task: 'regression', output: 'y', key: 'customer' }
    const table = tableFromArrays(
      { key: [7n, 2n ** 60n], outcome: [2.5, -1] },
      { types: { key: int64(), outcome: float64() }, useBigInt: true },
    )
    const ipc = tableToIPC(table, { format: 'stream' }) as Uint8Array
    expect(stored(feedbackFromArrow(ipc), keyed)).toEqual([
      ['k:7', 2.5],
      [`k:${2n ** 60n}`, -1],
    ])
    expect(stored(feedbackFromCsv(text('outcome,key\n1e3,cust-7\n"-0.5","with\nnewline"\n')), keyed)).toEqual([
      ['k:cust-7', 1000],
      ['k:with\nnewline', -0.5],
    ])
  })

  it('names the first bad row and stores nothing', () => {
    const items = feedbackFromJson({
      outcomes: [
        { id: 'ok', outcome: 1 },
        { id: 'x', row: -1, outcome: 1 },
        { id: 'y', outcome: 'nope' },
      ],
    })
    expect(refusal(() => feedbackOutcomes(items, classifier, 0))).toMatch(/^outcomes\[1\]: "row" must be an integer/)
    const bad = (outcomes: unknown[], spec: OutcomeSpec = classifier) =>
      refusal(() => feedbackOutcomes(feedbackFromJson({ outcomes }), spec, 0))
    expect(bad([{ id: 'y', outcome: 'nope' }])).toMatch(/one of the labels \(stay, churn\)/)
    expect(bad([{ id: 'y', outcome: 2 }])).toMatch(/class index below 2/)
    expect(bad([{ id: 'y', outcome: -1 }], { task: 'classification', output: 'p' })).toBe(
      'outcomes[0]: "outcome" must be a class index (an integer from 0; set "labels" in the outcome settings to send names); got -1; nothing was stored',
    )
    expect(bad([{ id: 'y', outcome: 'churn' }], { task: 'classification', output: 'p' })).toMatch(/class index/)
    expect(bad([{ id: 'y', outcome: 'x' }], { task: 'regression', output: 'p' })).toMatch(/finite number/)
    expect(bad([{ id: 'y', outcome: '0x10' }], { task: 'regression', output: 'p' })).toMatch(/finite number/)
    expect(bad([{ id: 'y', row: '1e400', outcome: 1 }])).toMatch(/"row" must be an integer/)
    expect(bad([{ id: 'y' }])).toMatch(/"outcome" is missing/)
    expect(bad([{ outcome: 1 }])).toMatch(/"id" is missing/)
    expect(bad([{ id: 7, outcome: 1 }])).toMatch(/"id" must be a string/)
    expect(bad([{ id: 'é'.repeat(129), outcome: 1 }])).toMatch(/258 bytes of UTF-8; at most 256/)
    expect(bad([{ key: 'k', outcome: 1 }])).toMatch(/join on the request id/)
    expect(bad([{ id: 'a', outcome: 1 }], { ...classifier, key: 'customer' })).toMatch(/send "key"/)
    expect(refusal(() => feedbackFromJson({ outcomes: [{ id: 'a', outcome: 1, extra: 1 }] }))).toMatch(
      /unknown member 'extra'/,
    )
    expect(refusal(() => feedbackFromJson([]))).toMatch(/\{"outcomes": \[\.\.\.\]\}/)
  })

  it('refuses malformed CSV naming the line', () => {
    expect(refusal(() => feedbackFromCsv(text('id,outcome\na,1\nb"c,1')))).toMatch(/line 3: a quote inside/)
    expect(refusal(() => feedbackFromCsv(text('id,outcome\n"a,1')))).toMatch(/line 2: a quoted field has no closing/)
    expect(refusal(() => feedbackFromCsv(text('id,outcome\n"a"x,1')))).toMatch(/line 2: text after a closing quote/)
    expect(refusal(() => feedbackFromCsv(text('id,label\na,1')))).toMatch(/unknown column 'label'/)
    expect(refusal(() => feedbackFromCsv(text('id,id\na,1')))).toMatch(/appears twice/)
    expect(refusal(() => feedbackFromCsv(text('id,row,outcome\na,1')))).toMatch(
      /line 2: 2 fields where the header has 3/,
    )
    expect(refusal(() => feedbackFromCsv(text('a,b,c,d,e\n')))).toMatch(/more than 4 fields/)
    expect(refusal(() => feedbackFromCsv(text('')))).toMatch(/empty/)
    expect(refusal(() => feedbackFromCsv(new Uint8Array([0x69, 0x64, 0x0a, 0xff])))).toMatch(/not UTF-8/)
    const csv = feedbackFromCsv(text('id,outcome\na,1\nb,x\n'))
    expect(refusal(() => feedbackOutcomes(csv, classifier, 0))).toMatch(/^the feedback \(CSV\) line 3: /)
  })

  it('refuses Arrow columns it cannot take, and more rows than the limit before reading them', () => {
    const ipc = (columns: Record<string, unknown[]>, types: Record<string, unknown>) =>
      tableToIPC(tableFromArrays(columns as never, { types: types as never }), { format: 'stream' }) as Uint8Array
    expect(refusal(() => feedbackFromArrow(ipc({ label: ['a'] }, { label: utf8() })))).toMatch(/unknown column 'label'/)
    expect(refusal(() => feedbackFromArrow(ipc({ id: [[1]] }, {})))).toMatch(
      /column 'id' is fixed_size_list<int8, 1>; expected integers, floats or utf8/,
    )
    expect(refusal(() => feedbackFromArrow(text('not arrow')))).toMatch(/Arrow/)
    const many = MAX_FEEDBACK_ROWS + 1
    const big = ipc({ outcome: new Int32Array(many) as unknown as unknown[] }, { outcome: int32() })
    expect(refusal(() => feedbackFromArrow(big))).toMatch(/has 100001 rows; at most 100000/)
    const rows = `id,outcome\n${'a,1\n'.repeat(many)}`
    expect(refusal(() => feedbackFromCsv(text(rows)))).toMatch(/more than 100000 rows/)
    const json = { outcomes: new Array(many).fill({ id: 'a', outcome: 1 }) }
    expect(refusal(() => feedbackFromJson(json))).toMatch(/has 100001 rows/)
  })
})
