/**
 * What starts a training-set export besides a request: an alert of an assay of the pipeline
 * (`retraining.on_assay_alert`), announced to a real local webhook receiver through the outbound
 * policy; and the schedule (`retraining.every_s`), run with an injected clock and, through the
 * server's singleton, with a short tick. Exports whose settings do not ask for them do not happen.
 */
import { existsSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { openParquet } from '../../src/jobs/io/parquet.js'
import { silentLogger } from '../../src/logger.js'
import type { TrainingSetRecord } from '../../src/outcomes/export-record.js'
import { RetrainingScheduler } from '../../src/outcomes/retraining.js'
import { type BuiltServer, buildServer } from '../../src/server/serve.js'
import { clientFor, doubler, post, testConfig } from '../helpers/server.js'
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js'

const HOUR = 3_600_000

describe('training sets started by an assay alert and by the schedule', () => {
  let s: BuiltServer
  let hook: WebhookReceiver
  /** An assay window of 3 hours around the hour the rows are logged in (whatever the minute). */
  const windowStart = Math.floor(Date.now() / HOUR) * HOUR - HOUR
  const windowEnd = windowStart + 3 * HOUR
  const list = async (pipeline: string) =>
    (await (
      await s.app.request(`/v1/workspaces/default/pipelines/${pipeline}/training-sets`)
    ).json()) as TrainingSetRecord[]

  beforeAll(async () => {
    hook = await startWebhookReceiver('/retrain')
    // The receiver is on this machine: the outbound policy must let loopback through.
    s = await buildServer(testConfig({ outbound: { allowLocal: true }, assays: { webhookAttempts: 1 } }), {
      log: silentLogger,
    })
    const lm = clientFor(s.app)
    for (const name of ['m', 'quiet']) {
      await lm.uploadModel('default', name, doubler(1))
      await lm.putPipeline('default', name, [{ model: name }])
      await lm.deploy('default', name)
      for (const [id, x] of [
        ['a', [5, 6, 7]],
        ['b', [8]],
      ] as const) {
        const res = await s.app.request(
          '/v2/models/' + name + '/infer',
          post({ id, inputs: [{ name: 'x', datatype: 'FP32', shape: [x.length, 1], data: x }] }),
        )
        expect(res.status).toBe(200)
      }
    }
    await s.deps.store.outcomes.putSpec('default', 'm', {
      task: 'regression',
      output: 'y',
      retraining: { on_assay_alert: true, window_s: 7200, labeled_only: false, webhooks: [hook.url] },
    })
    // Outcomes on, but no retraining asked for: alerts and ticks leave this one alone.
    await s.deps.store.outcomes.putSpec('default', 'quiet', { task: 'regression', output: 'y' })
  })
  afterAll(async () => {
    await s.shutdown()
    await hook.close()
  })

  it('exports the window_s before an alerting window and posts where, what and why to the webhook', async () => {
    for (const pipeline of ['m', 'quiet']) {
      const defined = await s.app.request(
        '/v1/workspaces/default/assays',
        post({
          name: `drift-${pipeline}`,
          pipeline,
          iopath: 'in.x[0]',
          baseline: { values: [-3, -2.5, -2, -1.5, -1, -0.5, 0, 0.25] },
          window: { width: '3h', start: windowStart },
          active: false,
        }),
      )
      expect(defined.status).toBe(201)
      const { id } = (await defined.json()) as { id: number }
      const run = await s.app.request(
        `/v1/workspaces/default/assays/${id}/run`,
        post({ start: windowStart, end: windowEnd }),
      )
      expect(((await run.json()) as Array<{ status: string }>).map((w) => w.status)).toEqual(['alert'])
    }
    await s.deps.assays.idle()
    await s.deps.trainingSets.idle()
    expect(await list('quiet')).toEqual([])
    const [record] = await list('m')
    expect(record).toMatchObject({
      status: 'done',
      reason: 'assay_alert',
      assay: {
        name: 'drift-m',
        window: { start: new Date(windowStart).toISOString(), end: new Date(windowEnd).toISOString() },
      },
      start: new Date(windowEnd - 7_200_000).toISOString(),
      end: new Date(windowEnd).toISOString(),
      rows: 4,
      labeled_rows: 0,
    })
    expect(hook.received).toHaveLength(1)
    const event = hook.received[0] as Record<string, unknown> & { location: { path: string; url: string } }
    expect(event).toMatchObject({
      event: 'training_set',
      workspace: 'default',
      pipeline: 'm',
      file: record?.file,
      schema: record?.schema,
      rows: 4,
      labeled_rows: 0,
      start: record?.start,
      end: record?.end,
      reason: 'assay_alert',
      assay: record?.assay,
    })
    expect(event.location.url).toBe(`/v1/workspaces/default/pipelines/m/training-sets/${record?.file}`)
    expect(existsSync(event.location.path)).toBe(true)
    const reader = await openParquet(event.location.path)
    const chunk = await reader.next(10)
    await reader.close()
    const columns = chunk?.columns ?? {}
    expect((columns['in.x'] as Float64Array[]).map((v) => Array.from(v))).toEqual([[5], [6], [7], [8]])
    expect(columns.request_id).toEqual(['a', 'a', 'a', 'b'])
  })

  it('exports on schedule once every_s has passed since the last scheduled export, across a restart of the scheduler', async () => {
    await s.deps.store.outcomes.putSpec('default', 'm', {
      task: 'regression',
      output: 'y',
      retraining: { every_s: 600, window_s: 7200, labeled_only: false },
    })
    const scheduled = async () => (await list('m')).filter((r) => r.reason === 'schedule')
    const scheduler = () =>
      new RetrainingScheduler({ store: s.deps.store, exports: s.deps.trainingSets, logger: silentLogger })
    const t0 = Date.now() + 60_000 // the rows, logged a moment ago, are in every window_s before it
    const first = scheduler()
    await first.tick(t0) // none before: one now
    await s.deps.trainingSets.idle()
    await first.tick(t0 + 599_000) // not yet
    await s.deps.trainingSets.idle()
    expect((await scheduled()).map((r) => r.created_at)).toEqual([new Date(t0).toISOString()])
    // A new scheduler (a restart, another process taking the lease) reads the last one from the exports.
    const second = scheduler()
    await second.tick(t0 + 599_000)
    await s.deps.trainingSets.idle()
    await second.tick(t0 + 600_000)
    await s.deps.trainingSets.idle()
    const done = await scheduled()
    expect(done.map((r) => r.created_at)).toEqual([new Date(t0 + 600_000).toISOString(), new Date(t0).toISOString()])
    expect(done[0]).toMatchObject({
      status: 'done',
      start: new Date(t0 + 600_000 - 7_200_000).toISOString(),
      end: new Date(t0 + 600_000).toISOString(),
      rows: 4,
    })
    expect(await list('quiet')).toEqual([])
  })

  it("runs the schedule in the server's singleton, every LASTMILE_EXPORT_TICK_MS", async () => {
    const other = await buildServer(testConfig({ exports: { tickMs: 20 } }), { log: silentLogger })
    try {
      const lm = clientFor(other.app)
      await lm.uploadModel('default', 'm', doubler(1))
      await lm.putPipeline('default', 'm', [{ model: 'm' }])
      await lm.deploy('default', 'm')
      await other.deps.store.outcomes.putSpec('default', 'm', {
        task: 'regression',
        output: 'y',
        retraining: { every_s: 3600 },
      })
      await vi.waitFor(
        async () =>
          expect((await other.deps.trainingSets.list('default', 'm')).map((r) => r.reason)).toEqual(['schedule']),
        { timeout: 20_000, interval: 50 },
      )
      await other.deps.trainingSets.idle()
    } finally {
      await other.shutdown()
    }
  })
})
