/**
 * Ground truth through a real server: OIP requests with ids (JSON and binary) are logged with
 * them; outcome settings are checked against the deployed pipeline; feedback in JSON, CSV and
 * Arrow is joined with the log (the latest outcome per row wins, a bad row refuses the whole
 * request); the metrics per window and arm equal a brute-force computation written here (pairs
 * counted for AUC, −ln p averaged for log loss, bins filled for ECE, the mean top probability for
 * CBPE's accuracy), per arm of a split; and an assay on `outcome.correct` alerts when accuracy
 * drops. Probabilities are multiples of 1/32: exact in float32, so the model answers them exactly.
 */
import { tableFromArrays, tableToIPC, utf8 } from '@uwdata/flechette'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ApiError } from '../../src/client/client.js'
import { GraphBuilder } from '../../src/onnx/builder.js'
import { clientFor, post, testServer } from '../helpers/server.js'

/** probs = x (identity), or x with its two columns swapped: the same request, another arm's answer. */
function model(swap: boolean): Uint8Array {
  const g = new GraphBuilder(swap ? 'swap' : 'ident')
  const x = g.input('x', 'float32', ['N', 2])
  const w = g.constant('w', 'float32', [2, 2], swap ? [0, 1, 1, 0] : [1, 0, 0, 1])
  g.output(g.node('MatMul', [x, w]), 'float32', ['N', 2], 'probs')
  return g.toModel()
}

/** P(class 1) of row k: odd multiples of 1/32, spread and repeating (ties included). */
const p1 = (k: number) => (((7 * k) % 16) * 2 + 1) / 32
/** The outcome of row k: class 1 for about half the rows, not in step with p1. */
const label = (k: number) => ((k * 11) % 7 < 4 ? 1 : 0)

/** Brute-force metrics of (P(class 1), class) pairs: accuracy (argmax, class 0 on ties), AUC by pairs, log loss, ECE. */
function bruteForce(rows: Array<[number, number]>) {
  const right = rows.filter(([p, y]) => (p > 0.5 ? 1 : 0) === y).length
  const pos = rows.filter(([, y]) => y === 1).map(([p]) => p)
  const neg = rows.filter(([, y]) => y === 0).map(([p]) => p)
  let wins = 0
  for (const a of pos) for (const b of neg) wins += a > b ? 1 : a === b ? 0.5 : 0
  const logLoss = rows.reduce((s, [p, y]) => s - Math.log(y === 1 ? p : 1 - p), 0) / rows.length
  const bins = Array.from({ length: 10 }, () => ({ n: 0, conf: 0, right: 0 }))
  for (const [p, y] of rows) {
    const conf = Math.max(p, 1 - p)
    const b = bins[Math.min(9, Math.floor(conf * 10))] as { n: number; conf: number; right: number }
    b.n++
    b.conf += conf
    b.right += (p > 0.5 ? 1 : 0) === y ? 1 : 0
  }
  const ece = bins.reduce(
    (s, b) => (b.n === 0 ? s : s + (b.n / rows.length) * Math.abs(b.right / b.n - b.conf / b.n)),
    0,
  )
  return { accuracy: right / rows.length, auc: wins / (pos.length * neg.length), logLoss, ece }
}

describe('ground truth through the server', () => {
  let s: Awaited<ReturnType<typeof testServer>>
  let lm: ReturnType<typeof clientFor>
  const t0 = Date.now() - 1000
  beforeAll(async () => {
    s = await testServer()
    lm = clientFor(s.app)
    await lm.uploadModel('default', 'ident', model(false))
    await lm.uploadModel('default', 'swap', model(true))
  })
  afterAll(() => s.shutdown())

  const oip = (name: string, id: string, ks: number[], extra: unknown[] = []) =>
    lm.inferOip(name, {
      id,
      inputs: [
        { name: 'x', shape: [ks.length, 2], datatype: 'FP32', data: ks.flatMap((k) => [1 - p1(k), p1(k)]) },
        ...extra,
      ],
    })

  it('logs OIP ids, joins JSON, CSV and Arrow feedback, and reports the metrics a brute-force count gives', async () => {
    await lm.putPipeline('default', 'churn', [{ model: 'ident' }])
    await lm.deploy('default', 'churn')
    const refused = await lm.feedback('default', 'churn', [{ id: 'req-0', outcome: 1 }]).catch((e: ApiError) => e)
    expect(refused).toMatchObject({ status: 409, message: expect.stringMatching(/no outcome settings/) })
    const wrong = await lm
      .putOutcomeSettings('default', 'churn', { task: 'classification', output: 'prob' })
      .catch((e: ApiError) => e)
    expect(wrong).toMatchObject({ status: 400, message: expect.stringMatching(/its outputs are probs/) })
    const put = await lm.putOutcomeSettings('default', 'churn', {
      task: 'classification',
      output: 'probs',
      labels: ['stay', 'churn'],
    })
    expect(put.settings).toEqual({ task: 'classification', output: 'probs', labels: ['stay', 'churn'] })
    expect((await lm.getOutcomeSettings('default', 'churn')).settings).toEqual(put.settings)

    // Ten requests of three rows each: row j of req-i is row k = 3i + j. req-5 goes as OIP binary.
    const rowsOf = (i: number) => [3 * i, 3 * i + 1, 3 * i + 2]
    for (let i = 0; i < 10; i++) {
      if (i === 5) continue
      const answer = await oip('churn', `req-${i}`, rowsOf(i))
      expect(answer.id).toBe(`req-${i}`)
    }
    const header = JSON.stringify({
      id: 'req-5',
      inputs: [{ name: 'x', shape: [3, 2], datatype: 'FP32', parameters: { binary_data_size: 24 } }],
    })
    const data = new Float32Array(rowsOf(5).flatMap((k) => [1 - p1(k), p1(k)]))
    const binary = await s.app.request('/v2/models/churn/infer', {
      method: 'POST',
      body: Buffer.concat([Buffer.from(header), Buffer.from(data.buffer)]),
      headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) },
    })
    expect(binary.status).toBe(200)
    const long = await oip('churn', 'x'.repeat(257), [0]).catch((e: ApiError) => e)
    expect(long).toMatchObject({ status: 400, message: expect.stringMatching(/"id" has 257 bytes/) })

    const name = (k: number) => (label(k) === 1 ? 'churn' : 'stay')
    // req-0..3 in JSON (row 0 of req-0 first sent wrong, then corrected: the latest wins).
    expect(await lm.feedback('default', 'churn', [{ id: 'req-0', row: 0, outcome: 1 - label(0) }])).toEqual({
      accepted: 1,
      updated: 0,
    })
    const json = [0, 1, 2, 3].flatMap((i) => rowsOf(i).map((k, j) => ({ id: `req-${i}`, row: j, outcome: name(k) })))
    expect(await lm.feedback('default', 'churn', json)).toEqual({ accepted: 12, updated: 1 })
    // req-4..6 in CSV, class indices for some; req-7 and req-8 in Arrow; req-9 never labeled.
    const csv = [
      'row,id,outcome',
      ...[4, 5, 6].flatMap((i) => rowsOf(i).map((k, j) => `${j},req-${i},${j === 1 ? label(k) : name(k)}`)),
    ]
    const bytes = new TextEncoder().encode(csv.join('\r\n'))
    expect(await lm.feedback('default', 'churn', { bytes, type: 'text/csv' })).toEqual({ accepted: 9, updated: 0 })
    const arrowRows = [7, 8].flatMap((i) => rowsOf(i).map((k, j) => ({ id: `req-${i}`, row: j, outcome: name(k) })))
    const ipc = tableToIPC(
      tableFromArrays(
        {
          id: arrowRows.map((r) => r.id),
          row: Int32Array.from(arrowRows, (r) => r.row),
          outcome: arrowRows.map((r) => r.outcome),
        },
        { types: { id: utf8(), outcome: utf8() } },
      ),
      { format: 'stream' },
    ) as Uint8Array
    expect(await lm.feedback('default', 'churn', { bytes: ipc, type: 'application/vnd.apache.arrow.stream' })).toEqual({
      accepted: 6,
      updated: 0,
    })
    // All or nothing: a bad third row stores nothing (req-9 stays unlabeled).
    const bad = await lm
      .feedback('default', 'churn', [
        { id: 'req-9', row: 0, outcome: 'stay' },
        { id: 'req-9', row: 1, outcome: 'stay' },
        { id: 'req-9', row: 2, outcome: 'gone' },
      ])
      .catch((e: ApiError) => e)
    expect(bad).toMatchObject({
      status: 400,
      message: expect.stringMatching(/^outcomes\[2\]: "outcome" must be one of/),
    })
    const plain = await s.app.request('/v1/workspaces/default/pipelines/churn/feedback', {
      method: 'POST',
      body: 'id,outcome',
      headers: { 'content-type': 'text/plain' },
    })
    expect(plain.status).toBe(415)

    const m = await lm.outcomeMetrics('default', 'churn', { start: t0, end: Date.now() + 1000, window: 3600 })
    expect(m).toMatchObject({ task: 'classification', rows: 30, truncated: false, skipped: 0, unknown_outcomes: 0 })
    expect(m.windows).toHaveLength(1)
    const [arm] = m.windows[0]?.arms ?? []
    expect(arm).toMatchObject({ version: 1, arm: 'ident:1', shadow: false, rows: 30, labeled: 27 })
    const labeled = Array.from({ length: 27 }, (_, k): [number, number] => [p1(k), label(k)])
    const want = bruteForce(labeled)
    const realized = arm?.realized as {
      n: number
      accuracy: { value: number }
      auc: { value: number }
      log_loss: { value: number }
      calibration: { ece: number }
    }
    expect(realized.n).toBe(27)
    expect(realized.accuracy.value).toBeCloseTo(want.accuracy, 12)
    expect(realized.auc.value).toBeCloseTo(want.auc, 12)
    expect(realized.log_loss.value).toBeCloseTo(want.logLoss, 12)
    expect(realized.calibration.ece).toBeCloseTo(want.ece, 12)
    // CBPE's accuracy: the mean top-class probability over all 30 rows, labeled or not.
    const top = Array.from({ length: 30 }, (_, k) => Math.max(p1(k), 1 - p1(k)))
    expect(arm?.estimated?.accuracy).toBeCloseTo(top.reduce((a, b) => a + b, 0) / 30, 12)
  })

  it('reports each arm of a split apart, keyed by request id and row', async () => {
    await lm.putPipeline('default', 'ab', [
      {
        random_split: {
          weights: [
            [50, 'ident'],
            [50, 'swap'],
          ],
          hash_key: 'customer',
        },
      },
    ])
    await lm.deploy('default', 'ab')
    await lm.putOutcomeSettings('default', 'ab', { task: 'classification', output: 'probs' })
    const byArm = new Map<string, Array<[number, number]>>()
    const feedback: Array<Record<string, unknown>> = []
    for (let i = 0; i < 8; i++) {
      const ks = [5 * i, 5 * i + 1, 5 * i + 2, 5 * i + 3, 5 * i + 4]
      const customers = ks.map((k) => `c-${k}`)
      const answer = await oip('ab', `ab-${i}`, ks, [
        { name: 'customer', shape: [ks.length], datatype: 'BYTES', data: customers },
      ])
      const probs = answer.outputs.find((o) => o.name === 'probs')?.data as number[]
      const params = answer.parameters as { model?: string; models?: string }
      const models = params.models ? (JSON.parse(params.models) as string[]) : ks.map(() => params.model as string)
      ks.forEach((k, j) => {
        if (j === 4) return // unlabeled
        const arm = models[j] as string
        byArm.set(arm, [...(byArm.get(arm) ?? []), [probs[2 * j + 1] as number, label(k)]])
        feedback.push({ id: `ab-${i}`, row: j, outcome: label(k) })
      })
    }
    expect([...byArm.keys()].sort()).toEqual(['ident:1', 'swap:1'])
    await lm.feedback('default', 'ab', feedback)
    const m = await lm.outcomeMetrics('default', 'ab', { start: t0, end: Date.now() + 1000, window: 3600 })
    const arms = m.windows[0]?.arms ?? []
    expect(arms.map((a) => a.arm)).toEqual(['ident:1', 'swap:1'])
    for (const a of arms) {
      const rows = byArm.get(a.arm) as Array<[number, number]>
      expect(a.labeled).toBe(rows.length)
      const realized = a.realized as { accuracy: { value: number }; auc: { value: number } }
      expect(realized.accuracy.value).toBeCloseTo(bruteForce(rows).accuracy, 12)
      expect(realized.auc.value).toBeCloseTo(bruteForce(rows).auc, 12)
    }
  })

  it('runs an assay on outcome.correct that alerts when accuracy drops', async () => {
    await lm.putPipeline('default', 'drop', [{ model: 'ident' }])
    await lm.deploy('default', 'drop')
    const bad = await s.app.request(
      '/v1/workspaces/default/assays',
      post({
        name: 'x',
        pipeline: 'drop',
        iopath: 'outcome.correct',
        baseline: { values: [1] },
        window: { width: '1h' },
      }),
    )
    expect(bad.status).toBe(400)
    expect(await bad.text()).toMatch(/no outcome settings/)
    await lm.putOutcomeSettings('default', 'drop', { task: 'classification', output: 'probs' })
    const task = await s.app.request(
      '/v1/workspaces/default/assays',
      post({
        name: 'y',
        pipeline: 'drop',
        iopath: 'outcome.abs_error',
        baseline: { values: [1] },
        window: { width: '1h' },
      }),
    )
    expect(await task.text()).toMatch(/iopath 'outcome.abs_error' is for regressors/)
    const start = Date.now()
    // Two requests of 20 rows: the first answered right on every row, the second wrong on its first 12.
    const ks = Array.from({ length: 20 }, (_, k) => k)
    await oip('drop', 'good', ks)
    await oip('drop', 'bad', ks)
    await lm.feedback('default', 'drop', [
      ...ks.map((k) => ({ id: 'good', row: k, outcome: p1(k) > 0.5 ? 1 : 0 })),
      ...ks.map((k) => ({ id: 'bad', row: k, outcome: k < 12 === p1(k) > 0.5 ? 0 : 1 })),
    ])
    const summarizer = { bin_mode: 'provided', edges: [0, 0.5, 1], add_outlier_edges: false }
    const assay = await lm.createAssay('default', {
      name: 'accuracy',
      pipeline: 'drop',
      iopath: 'outcome.correct',
      baseline: { values: [1, 1, 1, 1, 1, 1, 1, 1, 1, 0] }, // 90% right
      summarizer,
      window: { width: '1h' },
      active: false,
    })
    const [window] = await lm.runAssay('default', assay.id, { start: start - 1000, end: start - 1000 + 3_600_000 })
    // 40 labeled rows, 28 right: shares [12/40, 28/40] against [0.1, 0.9].
    const w = 12 / 40
    const psi = (w - 0.1) * Math.log(w / 0.1) + (1 - w - 0.9) * Math.log((1 - w) / 0.9)
    expect(window?.status).toBe('alert')
    expect(window?.score).toBeCloseTo(psi, 12)
    const settled = await lm.createAssay('default', {
      name: 'steady',
      pipeline: 'drop',
      iopath: 'outcome.correct',
      baseline: { values: [...new Array(28).fill(1), ...new Array(12).fill(0)] },
      summarizer,
      window: { width: '1h' },
      active: false,
    })
    const [same] = await lm.runAssay('default', settled.id, { start: start - 1000, end: start - 1000 + 3_600_000 })
    expect(same).toMatchObject({ status: 'ok', score: 0 })
    // Settings deleted: the assay's windows have no values (never a failed scheduler tick).
    await lm.deleteOutcomeSettings('default', 'drop')
    const [gone] = await lm.runAssay('default', assay.id, { start: start - 1000, end: start - 1000 + 3_600_000 })
    expect(gone).toMatchObject({ status: 'no_data', score: null })
  })
})
