/**
 * Hostile input to ground truth, retraining and tuning, each case a problem found by probing:
 * - retraining webhooks in the outcome settings are checked by the outbound policy when set (a
 *   `file:` URL, a link-local metadata address: 400, nothing stored), as the promotion rule's are;
 * - a request id or key holding a NUL or an unpaired surrogate (PostgreSQL's text refuses the
 *   one, UTF-8 cannot hold the other) is refused in feedback, and a logged row holding one is
 *   left unlabeled rather than sent to the store (where PostgreSQL failed the whole report);
 * - the join holds a bounded number of prediction values, not only rows: a wide classifier's range
 *   is cut (`truncated`) before it takes gigabytes;
 * - a tuning run whose batches would hold more input values than it may form is refused (400)
 *   before it starts; and one asked to apply its recommendation does not when the pipeline was
 *   redeployed while it measured (it would have undone a promotion, or redeployed an undeployed one).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { tensor } from '../../src/engine/tensor.js'
import { silentLogger } from '../../src/logger.js'
import { InferenceLog, type LogConfig } from '../../src/logs/inference-log.js'
import type { InferenceRecord } from '../../src/logs/record.js'
import { GraphBuilder } from '../../src/onnx/builder.js'
import { armSamples } from '../../src/outcomes/samples.js'
import { type OutcomeSpec, requestKey } from '../../src/outcomes/spec.js'
import { SqliteStore } from '../../src/store/sqlite-store.js'
import type { OutcomeStore } from '../../src/store/types.js'
import { afterEachTest, clientFor, doubler, TEST_LOG_CONFIG, testServer } from '../helpers/server.js'

/** probs = x: a two-class classifier that answers its input. */
function ident(): Uint8Array {
  const g = new GraphBuilder('ident')
  const x = g.input('x', 'float32', ['N', 2])
  const w = g.constant('w', 'float32', [2, 2], [1, 0, 0, 1])
  g.output(g.node('MatMul', [x, w]), 'float32', ['N', 2], 'probs')
  return g.toModel()
}

describe('hostile requests to the ground-truth and tuning routes', () => {
  let s: Awaited<ReturnType<typeof testServer>>
  const P = '/v1/workspaces/default/pipelines'
  beforeAll(async () => {
    s = await testServer()
    const lm = clientFor(s.app)
    await lm.uploadModel('default', 'ident', ident())
    await lm.putPipeline('default', 'churn', [{ model: 'ident' }])
    await lm.deploy('default', 'churn')
    await lm.uploadModel('default', 'wide', doubler(1024))
    await lm.putPipeline('default', 'wide', [{ model: 'wide' }])
    await lm.deploy('default', 'wide')
  })
  afterAll(() => s.shutdown())

  const send = async (method: string, path: string, body: unknown) => {
    const r = await s.app.request(`${P}/${path}`, {
      method,
      body: typeof body === 'string' ? body : JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
    })
    return { status: r.status, body: (await r.json()) as { error?: { message: string } } }
  }

  it.each([
    ['file:///etc/passwd', /webhooks\.0/],
    ['http://169.254.169.254/latest/meta-data', /169\.254\.169\.254/],
    ['http://127.0.0.1:9/hook', /127\.0\.0\.1/],
  ])('refuses the retraining webhook %s when the settings are set', async (url, says) => {
    const settings = { task: 'classification', output: 'probs', retraining: { every_s: 3600, webhooks: [url] } }
    const r = await send('PUT', 'churn/outcomes', settings)
    expect(r.status).toBe(400)
    expect(r.body.error?.message).toMatch(says)
    expect((await s.app.request(`${P}/churn/outcomes`)).status).toBe(404) // nothing stored
  })

  it('refuses feedback whose id or key holds a NUL or an unpaired surrogate, naming the row', async () => {
    expect((await send('PUT', 'churn/outcomes', { task: 'classification', output: 'probs' })).status).toBe(200)
    for (const id of ['a\\u0000b', '\\ud800x']) {
      const r = await send(
        'POST',
        'churn/feedback',
        `{"outcomes":[{"id":"ok","outcome":1},{"id":"${id}","outcome":1}]}`,
      )
      expect(r.status).toBe(400)
      expect(r.body.error?.message).toMatch(/^outcomes\[1\]: "id" holds a NUL character or an unpaired surrogate/)
    }
    const csv = await s.app.request(`${P}/churn/feedback`, {
      method: 'POST',
      body: 'id,outcome\r\n"x\u0000",1\r\n',
      headers: { 'content-type': 'text/csv' },
    })
    expect(csv.status).toBe(400)
    expect(await csv.text()).toMatch(/line 2: \\"id\\" holds a NUL/)
    // A surrogate pair (a whole character) is text like any other.
    expect((await send('POST', 'churn/feedback', '{"outcomes":[{"id":"\\ud83d\\ude00","outcome":1}]}')).status).toBe(
      200,
    )
  })

  it('refuses a tuning run whose batches would hold more input values than a run forms, before it starts', async () => {
    // 1024 values per row: 16,384 rows fill the 2^24 values a batch may hold.
    const big = { batch_sizes: [16_385], concurrency: 1024, rows_per_request: 256, budget_s: 1 }
    const r = await send('POST', 'wide/optimize', big)
    expect(r.status).toBe(400)
    expect(r.body.error?.message).toMatch(/batches of 16385 rows would hold 16778240 input values .* up to 16384/)
    const listed = await s.app.request(`${P}/wide/optimizations`)
    expect(await listed.json()).toEqual([])
  })

  it('does not apply a tuning run to a pipeline redeployed while it measured', async () => {
    const lm = clientFor(s.app)
    await lm.putPipeline('default', 'tuned', [{ model: 'ident' }])
    await lm.deploy('default', 'tuned')
    // One point of three one-second windows: the redeploy below lands while it is measured.
    const started = await lm.optimize(
      'default',
      'tuned',
      {
        backends: ['cpu'],
        batch_sizes: [1],
        queue_delays_ms: [0],
        threads: [1],
        graph_optimizations: ['all'],
        window_ms: 1000,
        max_windows: 3,
        target_p99_ms: 60_000,
        search: 'exhaustive',
      },
      { apply: true },
    )
    await lm.putPipeline('default', 'tuned', [{ model: 'ident' }]) // version 2, as a promotion makes
    await lm.deploy('default', 'tuned', { version: 2 })
    expect((await lm.optimization('default', started.id)).status).toBe('running') // the redeploy came first
    let run = await lm.optimization('default', started.id)
    while (run.status === 'running') {
      await new Promise((r) => setTimeout(r, 100))
      run = await lm.optimization('default', started.id)
    }
    expect(run.status, run.error ?? '').toBe('succeeded')
    expect(run.report?.recommendation).toBeTruthy()
    expect(run.report?.applied).toBeFalsy()
    expect(run.report?.apply_error).toBe(
      'not applied: the pipeline was redeployed with version 2 while the run measured version 1',
    )
    expect((await lm.deployment('default', 'tuned')).pipeline_version).toBe(2)
  })
})

describe('the join of the log with outcomes, against hostile logged rows', () => {
  const { closes, dir } = afterEachTest()
  const T = Date.now() - 3_600_000
  const cfg: LogConfig = TEST_LOG_CONFIG
  const spec: OutcomeSpec = { task: 'classification', output: 'probs' }

  async function logged(records: Array<{ id: string; probs: number[][] }>) {
    const log = closes(await InferenceLog.open(dir(), cfg, silentLogger))
    for (const { id, probs } of records) {
      const rows = probs.length
      const width = (probs[0] as number[]).length
      const r: InferenceRecord = {
        time: T,
        workspace: 'default',
        pipeline: 'p',
        pipelineVersion: 1,
        model: 'a:1',
        rows,
        requestId: id,
        inputs: { x: tensor('float32', [rows], new Array(rows).fill(0)) },
        outputs: { probs: tensor('float32', [rows, width], probs.flat()) },
        rowModels: new Array(rows).fill('a:1'),
        checkFailures: new Int32Array(rows),
        shadow: {},
        latencyMs: 1,
      }
      log.append(r)
    }
    await log.flush()
    return log
  }

  it('leaves a row whose request id holds a NUL unlabeled, and never asks the store for its key', async () => {
    const store = closes(SqliteStore.open(dir()))
    await store.outcomes.put('default', 'p', [{ key: requestKey('good', 0), value: 1, time: T }])
    const log = await logged([
      { id: 'bad\u0000id', probs: [[0.25, 0.75]] },
      { id: 'good', probs: [[0.5, 0.5]] },
    ])
    // PostgreSQL refuses a NUL in a text parameter: the whole lookup failed (a 500) before.
    const asked: string[] = []
    const outcomes: OutcomeStore = Object.assign(Object.create(store.outcomes) as OutcomeStore, {
      get: (ws: string, p: string, keys: readonly string[]) => {
        asked.push(...keys)
        return store.outcomes.get(ws, p, keys)
      },
    })
    const s = await armSamples(log, outcomes, 'default', 'p', spec, T, T + 1)
    expect(asked).toEqual([requestKey('good', 0)])
    expect(s.rows).toBe(2)
    expect(s.arms[0]?.outcomes).toEqual(Float64Array.from([Number.NaN, 1]))
  })

  it('stops at maxValues prediction values, not only at maxRows rows, and says it stopped', async () => {
    const store = closes(SqliteStore.open(dir()))
    // Four classes per row: after three rows the join holds 12 values.
    const probs = Array.from({ length: 5 }, (_, i) => Array.from({ length: 4 }, (_, k) => (k === i % 4 ? 0.4 : 0.2)))
    const log = await logged([{ id: 'r', probs }])
    const cut = await armSamples(log, store.outcomes, 'default', 'p', spec, T, T + 1, 1000, 12)
    expect(cut).toMatchObject({ rows: 3, truncated: true })
    expect(cut.arms[0]?.predictions).toHaveLength(12)
    const whole = await armSamples(log, store.outcomes, 'default', 'p', spec, T, T + 1, 1000, 20)
    expect(whole).toMatchObject({ rows: 5, truncated: false })
  })
})
