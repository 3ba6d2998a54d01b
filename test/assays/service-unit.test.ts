/**
 * The assay service on its own (src/assays/service.ts), over an in-memory store, a scripted
 * inference log and outbound policy: what a definition stores and what it refuses (and in which
 * order), get and delete, the preview, runs over a range (windows, no-data windows, refusals),
 * stored results by range, the alert webhook's payload and retry delay, the latest score kept per
 * assay, and the timer started and stopped. Scores are hand-computed: the summarizer bins at the
 * given edges [0, 10] with outlier bins and takes the largest share difference (maxdiff), so a
 * baseline of 1, 2, 3, 4 has shares [0, 1, 0]; a window of 1, 20, 20, 20 has [0, 0.25, 0.75] and
 * scores 0.75 (alert at 0.5); 1, 2, 3, 20 scores 0.25 (warning at 0.2); 5, 6 scores 0 (ok).
 * Times are offsets from T (2023-11-14T22:13:20.000Z).
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import * as assay from '../../src/assays/assay.js'
import { AssayService } from '../../src/assays/service.js'
import { ConflictError, InvalidConfigError, NotFoundError } from '../../src/errors.js'
import type { AssayResultRecord } from '../../src/store/types.js'
import { rejection } from '../helpers/refusal.js'
import { fakeLog, fakeOutbound, limits, MemoryAssays, recordingLogger, storeOf } from './assay-fakes.js'

vi.mock('../../src/assays/assay.js', async (importOriginal) => {
  const m = await importOriginal<typeof import('../../src/assays/assay.js')>()
  return { ...m, prepareBaseline: vi.fn(m.prepareBaseline) }
})

const T = 1_700_000_000_000

const summarizer = { bin_mode: 'provided', edges: [0, 10], metric: 'maxdiff' }
const ALERT = [1, 20, 20, 20]
const WARNING = [1, 2, 3, 20]
const OK = [5, 6]

const body = (over: Record<string, unknown> = {}) => ({
  name: 'drift',
  pipeline: 'temps',
  iopath: 'in.x[0]',
  baseline: { values: [1, 2, 3, 4] },
  summarizer,
  warning_threshold: 0.2,
  alert_threshold: 0.5,
  window: { width: '1s', start: T },
  ...over,
})

interface Options {
  /** The log's values for the window starting at T + offset (none when missing). */
  windows?: Record<number, number[]>
  /** The log's values for any other query (a baseline's range). */
  baselineLog?: number[]
  answers?: Array<number | Error>
  attempts?: number
  baseDelayMs?: number
}

function harness(o: Options = {}) {
  const mem = new MemoryAssays()
  const windows = o.windows ?? {}
  const log = fakeLog((start, end) =>
    start !== undefined && end !== undefined && end - start === 1000
      ? (windows[start - T] ?? [])
      : (o.baselineLog ?? []),
  )
  const out = fakeOutbound(o.answers)
  const { logger, lines } = recordingLogger()
  const required: string[] = []
  const service = new AssayService({
    store: storeOf(mem),
    log: log.log,
    logger,
    requirePipeline: async (workspace, pipeline) => {
      required.push(`${workspace}/${pipeline}`)
      if (pipeline !== 'temps') throw new NotFoundError(`no pipeline '${pipeline}'`)
    },
    outbound: out.outbound,
    limits,
    webhookAttempts: o.attempts ?? 1,
    ...(o.baseDelayMs !== undefined ? { webhookBaseDelayMs: o.baseDelayMs } : {}),
  })
  return { mem, windows, log, out, lines, required, service }
}

async function expectRejection(p: Promise<unknown>, kind: new (...a: never[]) => Error, message: string) {
  const e = await rejection(p)
  expect(e).toBeInstanceOf(kind)
  expect(e.message).toBe(message)
}

/** `[start - T, end - T, score, status]` of each result. */
const brief = (rs: AssayResultRecord[]) => rs.map((r) => [r.windowStart - T, r.windowEnd - T, r.score, r.status])

afterEach(() => {
  vi.useRealTimers()
  vi.mocked(assay.prepareBaseline).mockClear()
})

describe('defining an assay', () => {
  it('stores the definition with the baseline values counted, nulls as NaN, after resolving each webhook', async () => {
    const h = harness()
    const a = await h.service.define(
      'default',
      body({ baseline: { values: [1, null, 3, 4] }, webhooks: ['http://hooks.test/a', 'http://hooks.test/b'] }),
    )
    expect(h.required).toEqual(['default/temps'])
    expect(h.out.checked).toEqual(['http://hooks.test/a', 'http://hooks.test/b'])
    expect(a).toEqual({
      id: 1,
      workspace: 'default',
      pipeline: 'temps',
      name: 'drift',
      config: {
        name: 'drift',
        pipeline: 'temps',
        iopath: 'in.x[0]',
        baseline: { values: 4 },
        summarizer: {
          bin_mode: 'provided',
          num_bins: 5,
          edges: [0, 10],
          add_outlier_edges: true,
          aggregation: 'density',
          metric: 'maxdiff',
        },
        warning_threshold: 0.2,
        alert_threshold: 0.5,
        window: { width: '1s', start: T },
        webhooks: ['http://hooks.test/a', 'http://hooks.test/b'],
        active: true,
      },
      baseline: Float64Array.from([1, Number.NaN, 3, 4]),
      active: true,
      createdAt: '2024-05-01T00:00:00.000Z',
    })
  })

  it("starts the window grid at the definition's time when no start is given", async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(T + 123)
    const h = harness()
    const a = await h.service.define('default', body({ window: { width: '1s' }, active: false }))
    expect(a.config.window).toEqual({ width: '1s', start: T + 123 })
    expect(a.active).toBe(false)
  })

  it("takes a baseline's values from the log between its start and end", async () => {
    const h = harness({ baselineLog: [4, 3, 2] })
    const a = await h.service.define('default', body({ baseline: { start: '2023-11-14T22:13:20Z', end: T + 60_000 } }))
    expect(h.log.queries).toEqual([{ ws: 'default', pipeline: 'temps', iopath: 'in.x[0]', start: T, end: T + 60_000 }])
    expect(a.baseline).toEqual(Float64Array.from([4, 3, 2]))
    expect(a.config.baseline).toEqual({ start: '2023-11-14T22:13:20Z', end: T + 60_000 })
  })

  it('refuses a baseline range where the log has no values, naming the pipeline and the iopath', async () => {
    const h = harness()
    await expectRejection(
      h.service.define('default', body({ baseline: { start: T, end: T + 60_000 } })),
      InvalidConfigError,
      "the log of 'temps' has no in.x[0] values between the baseline's start and end",
    )
    expect(h.mem.rows).toEqual([])
  })

  it('refuses a definition the schema refuses, naming the field (a later webhook here)', async () => {
    const h = harness()
    await expectRejection(
      h.service.define('default', body({ webhooks: ['http://hooks.test/a', 'hooks'] })),
      InvalidConfigError,
      'assay: webhooks.1: Invalid URL',
    )
    expect(h.required).toEqual([])
  })

  it('counts the baseline values before anything else', async () => {
    const h = harness()
    await expectRejection(
      h.service.define('default', body({ name: '', baseline: { values: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11] } })),
      InvalidConfigError,
      'the assay definition carries 11 values (baseline 11); the limit is 10 (LASTMILE_ASSAY_MAX_REQUEST_VALUES)',
    )
  })

  it('refuses an unknown pipeline, a bad iopath, a narrow interval and a start that is no time', async () => {
    const h = harness()
    await expectRejection(h.service.define('default', body({ pipeline: 'q' })), NotFoundError, "no pipeline 'q'")
    await expectRejection(
      h.service.define('default', body({ iopath: 'x[0]' })),
      InvalidConfigError,
      "iopath 'x[0]' is not in.<input>[i] or out.<output>[i]",
    )
    await expectRejection(
      h.service.define('default', body({ window: { width: '1h', interval: '999ms' } })),
      InvalidConfigError,
      'window interval 999 ms is below the minimum of 1000 ms (LASTMILE_ASSAY_MIN_WINDOW_MS)',
    )
    await expectRejection(
      h.service.define('default', body({ window: { width: '1s', start: 'soon' } })),
      InvalidConfigError,
      "'soon' is not a time: use ISO 8601 (2024-05-01T00:00:00Z) or ms since the epoch (at most 8640000000000000)",
    )
    expect(h.mem.rows).toEqual([])
  })

  it('refuses more webhooks than the limit before resolving any', async () => {
    const h = harness()
    const webhooks = ['http://a.test/', 'http://b.test/', 'http://c.test/']
    await expectRejection(
      h.service.define('default', body({ webhooks })),
      InvalidConfigError,
      'the assay has 3 webhooks; at most 2 (LASTMILE_ASSAY_MAX_WEBHOOKS)',
    )
    expect(h.out.checked).toEqual([])
  })

  it('refuses a second assay of the same name in a workspace, not in another or by another name', async () => {
    const h = harness()
    await h.service.define('default', body())
    await h.service.define('default', body({ name: 'other' }))
    await expectRejection(
      h.service.define('default', body()),
      ConflictError,
      "an assay named 'drift' exists in workspace 'default'",
    )
    const elsewhere = await h.service.define('team', body())
    expect(elsewhere.workspace).toBe('team')
    expect((await h.service.list('default')).map((a) => a.name)).toEqual(['drift', 'other'])
  })
})

describe('getting and deleting', () => {
  it('refuses an assay that is not in the workspace', async () => {
    const h = harness()
    const a = await h.service.define('default', body())
    expect((await h.service.get('default', a.id)).name).toBe('drift')
    await expectRejection(h.service.get('default', 9), NotFoundError, "no assay 9 in workspace 'default'")
    await expectRejection(h.service.get('team', a.id), NotFoundError, "no assay 1 in workspace 'team'")
  })

  it('deletes an assay with its latest score and schedule, and refuses deleting it again', async () => {
    const h = harness({ windows: { 0: ALERT } })
    const a = await h.service.define('default', body())
    const b = await h.service.define('default', body({ name: 'kept' }))
    await h.service.tick(T + 1000)
    await h.service.idle()
    expect(h.service.latest().map((l) => l.name)).toEqual(['drift', 'kept'])
    await h.service.delete('default', a.id)
    expect(h.mem.rows.map((r) => r.id)).toEqual([b.id])
    expect(h.service.latest().map((l) => l.name)).toEqual(['kept'])
    expect(h.service.schedule(a.id)).toBeUndefined()
    expect(h.service.schedule(b.id)).toBeDefined()
    await expectRejection(h.service.delete('default', a.id), NotFoundError, "no assay 1 in workspace 'default'")
  })
})

describe('the preview', () => {
  it('scores given values, nulls counted apart', async () => {
    const h = harness()
    const r = await h.service.preview({
      baseline: { values: [1, 2, 3, 4] },
      window: { values: [1, null, 20, 20, 20] },
      summarizer,
    })
    expect(r.score).toBe(0.75)
    expect(r.status).toBe('alert')
    expect(r.window_summary.nan).toBe(1)
    expect(r.bins.window).toEqual([0, 0.25, 0.75])
  })

  it('applies the thresholds given', async () => {
    const h = harness()
    const r = await h.service.preview({
      baseline: { values: [1, 2, 3, 4] },
      window: { values: WARNING },
      summarizer,
      warning_threshold: 0.2,
      alert_threshold: 0.5,
    })
    expect([r.score, r.status]).toEqual([0.25, 'warning'])
  })

  it('counts both parts against the limit, then refuses what the schema refuses', async () => {
    const h = harness()
    await expectRejection(
      h.service.preview({ baseline: { values: [1, 2, 3, 4, 5, 6] }, window: { values: [1, 2, 3, 4, 5] } }),
      InvalidConfigError,
      'the preview carries 11 values (baseline 6 + window 5); the limit is 10 (LASTMILE_ASSAY_MAX_REQUEST_VALUES)',
    )
    await expectRejection(
      h.service.preview({ baseline: { values: [1, 2] } }),
      InvalidConfigError,
      'preview: window: Invalid input: expected object, received undefined',
    )
  })
})

describe('runs over a range', () => {
  it('scores each window of the grid in the range from its start, storing each', async () => {
    const h = harness({ windows: { 500: ALERT, 1500: WARNING, 2500: OK } })
    const a = await h.service.define('default', body())
    const out = await h.service.run('default', a.id, { start: T + 500, end: '2023-11-14T22:13:23.600Z' })
    expect(brief(out)).toEqual([
      [500, 1500, 0.75, 'alert'],
      [1500, 2500, 0.25, 'warning'],
      [2500, 3500, 0, 'ok'],
    ])
    expect(brief(h.mem.stored)).toEqual(brief(out))
    expect(h.log.queries.map((q) => [q.iopath, (q.start as number) - T, (q.end as number) - T])).toEqual([
      ['in.x[0]', 500, 1500],
      ['in.x[0]', 1500, 2500],
      ['in.x[0]', 2500, 3500],
    ])
  })

  it('keeps a window without values as no data: NaN in the answer, -1 in the store, no latest score', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(T + 60_000)
    const h = harness()
    const a = await h.service.define('default', body())
    const out = await h.service.run('default', a.id, { start: T, end: T + 1000 })
    const noData = {
      assayId: a.id,
      windowStart: T,
      windowEnd: T + 1000,
      status: 'no_data',
      result: { values: 0 },
      createdAt: '2023-11-14T22:14:20.000Z',
    }
    expect(out).toEqual([{ ...noData, score: Number.NaN }])
    expect(h.mem.stored).toEqual([{ ...noData, score: -1 }])
    expect(h.service.latest()).toEqual([])
  })

  it('refuses an end not after the start, and scores nothing in a range shorter than a window', async () => {
    const h = harness()
    const a = await h.service.define('default', body())
    const message = 'run: "end" must be after "start"'
    await expectRejection(h.service.run('default', a.id, { start: T, end: T }), InvalidConfigError, message)
    await expectRejection(h.service.run('default', a.id, { start: T, end: T - 1 }), InvalidConfigError, message)
    expect(await h.service.run('default', a.id, { start: T, end: T + 999 })).toEqual([])
    expect(h.log.queries).toEqual([])
  })

  it('refuses a range of more windows than the limit before scoring any', async () => {
    const h = harness()
    const a = await h.service.define('default', body())
    expect(await h.service.run('default', a.id, { start: T, end: T + 5000 })).toHaveLength(5)
    await expectRejection(
      h.service.run('default', a.id, { start: T, end: T + 6000 }),
      InvalidConfigError,
      'this range holds 6 windows of 1000 ms every 1000 ms; one run scores at most 5 (LASTMILE_ASSAY_MAX_RUN_WINDOWS): run shorter ranges',
    )
    expect(h.log.queries).toHaveLength(5)
  })

  it('prepares the baseline once per assay, not once per window', async () => {
    const h = harness({ windows: { 0: ALERT, 1000: OK, 2000: WARNING } })
    const a = await h.service.define('default', body())
    vi.mocked(assay.prepareBaseline).mockClear()
    await h.service.run('default', a.id, { start: T, end: T + 3000 })
    await h.service.run('default', a.id, { start: T, end: T + 1000 })
    expect(assay.prepareBaseline).toHaveBeenCalledTimes(1)
  })
})

describe('stored results', () => {
  it("lists an assay's results inside a range, the range's ends parsed", async () => {
    const h = harness({ windows: { 0: OK, 1000: OK, 2000: OK } })
    const a = await h.service.define('default', body())
    await h.service.run('default', a.id, { start: T, end: T + 3000 })
    expect(brief(await h.service.results('default', a.id))).toEqual([
      [0, 1000, 0, 'ok'],
      [1000, 2000, 0, 'ok'],
      [2000, 3000, 0, 'ok'],
    ])
    expect(brief(await h.service.results('default', a.id, String(T + 1000), '2023-11-14T22:13:22Z'))).toEqual([
      [1000, 2000, 0, 'ok'],
    ])
    expect(brief(await h.service.results('default', a.id, undefined, T + 1000))).toEqual([[0, 1000, 0, 'ok']])
    expect(h.mem.resultQueries).toEqual([
      [a.id, undefined, undefined],
      [a.id, T + 1000, T + 2000],
      [a.id, undefined, T + 1000],
    ])
    await expectRejection(h.service.results('default', 5), NotFoundError, "no assay 5 in workspace 'default'")
  })
})

describe('alerts', () => {
  it('POSTs the alert to each webhook, naming the assay, the window, the score and the thresholds', async () => {
    const h = harness({ windows: { 0: ALERT } })
    const a = await h.service.define('default', body({ webhooks: ['http://hooks.test/a', 'http://hooks.test/b'] }))
    await h.service.run('default', a.id, { start: T, end: T + 1000 })
    await h.service.idle()
    const payload =
      '{"event":"assay.alert","assay":{"id":1,"name":"drift","workspace":"default","pipeline":"temps","iopath":"in.x[0]"},' +
      '"window":{"start":"2023-11-14T22:13:20.000Z","end":"2023-11-14T22:13:21.000Z"},"score":0.75,"status":"alert",' +
      '"thresholds":{"warning":0.2,"alert":0.5}}'
    expect(h.out.sent).toEqual([
      {
        url: 'http://hooks.test/a',
        req: { method: 'POST', headers: { 'content-type': 'application/json' }, body: payload },
      },
      {
        url: 'http://hooks.test/b',
        req: { method: 'POST', headers: { 'content-type': 'application/json' }, body: payload },
      },
    ])
  })

  it('sends a warning threshold of null when none is set', async () => {
    const h = harness({ windows: { 0: ALERT } })
    const { warning_threshold: _, alert_threshold: __, ...plain } = body({ webhooks: ['http://hooks.test/a'] })
    const a = await h.service.define('default', plain)
    await h.service.run('default', a.id, { start: T, end: T + 1000 })
    await h.service.idle()
    expect(JSON.parse(h.out.sent[0]?.req.body as string)).toMatchObject({
      score: 0.75,
      thresholds: { warning: null, alert: 0.25 },
    })
  })

  it('sends nothing for a warning, an ok or an empty window', async () => {
    const h = harness({ windows: { 0: WARNING, 1000: OK } })
    const a = await h.service.define('default', body({ webhooks: ['http://hooks.test/a'] }))
    await h.service.run('default', a.id, { start: T, end: T + 3000 })
    await h.service.idle()
    expect(h.out.sent).toEqual([])
  })

  it('retries a failed delivery after 1 s unless told another delay', async () => {
    vi.useFakeTimers()
    const h = harness({ windows: { 0: ALERT }, answers: [503, 204], attempts: 2 })
    const a = await h.service.define('default', body({ webhooks: ['http://hooks.test/a'] }))
    await h.service.run('default', a.id, { start: T, end: T + 1000 })
    let idle = false
    const waiting = h.service.idle().then(() => {
      idle = true
    })
    await vi.advanceTimersByTimeAsync(999)
    expect(h.out.sent).toHaveLength(1)
    expect(idle).toBe(false) // idle waits for the delivery
    await vi.advanceTimersByTimeAsync(1)
    await waiting
    expect(h.out.sent).toHaveLength(2)
    expect(h.lines).toEqual([])
  })

  it('logs a delivery that gave up with the assay it was for', async () => {
    const h = harness({ windows: { 0: ALERT }, answers: [500] })
    await h.service.define('default', body({ name: 'first' }))
    const a = await h.service.define('default', body({ webhooks: ['http://hooks.test/a'] }))
    await h.service.run('default', a.id, { start: T, end: T + 1000 })
    await h.service.idle()
    expect(h.lines).toEqual([
      {
        level: 'error',
        msg: 'webhook failed',
        fields: { assay: 2, url: 'http://hooks.test/a', attempts: 1, error: 'HTTP 500' },
      },
    ])
  })

  it('retries after the delay given', async () => {
    vi.useFakeTimers()
    const h = harness({ windows: { 0: ALERT }, answers: [503, 204], attempts: 2, baseDelayMs: 40 })
    const a = await h.service.define('default', body({ webhooks: ['http://hooks.test/a'] }))
    await h.service.run('default', a.id, { start: T, end: T + 1000 })
    await vi.advanceTimersByTimeAsync(39)
    expect(h.out.sent).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(1)
    await h.service.idle()
    expect(h.out.sent).toHaveLength(2)
  })
})

describe('the latest score', () => {
  it('keeps the latest window: an older one or one without data does not replace it, a rescore does', async () => {
    const h = harness({ windows: { 1000: ALERT, 0: OK } })
    const a = await h.service.define('default', body())
    const latest = () => h.service.latest().map((l) => [l.name, l.windowEnd - T, l.score, l.status])
    await h.service.run('default', a.id, { start: T + 1000, end: T + 2000 })
    expect(h.service.latest()).toEqual([
      { workspace: 'default', pipeline: 'temps', name: 'drift', score: 0.75, status: 'alert', windowEnd: T + 2000 },
    ])
    await h.service.run('default', a.id, { start: T, end: T + 1000 }) // older
    expect(latest()).toEqual([['drift', 2000, 0.75, 'alert']])
    h.windows[1000] = WARNING
    await h.service.run('default', a.id, { start: T + 1000, end: T + 2000 }) // the same window again
    expect(latest()).toEqual([['drift', 2000, 0.25, 'warning']])
    await h.service.run('default', a.id, { start: T + 2000, end: T + 3000 }) // newer, no data
    expect(latest()).toEqual([['drift', 2000, 0.25, 'warning']])
    h.windows[2000] = OK
    await h.service.run('default', a.id, { start: T + 2000, end: T + 3000 })
    expect(latest()).toEqual([['drift', 3000, 0, 'ok']])
  })

  it('starts from the stored results and ticks until stopped', async () => {
    vi.useFakeTimers()
    vi.setSystemTime(T + 500)
    const h = harness({ windows: { 0: WARNING, 1000: ALERT } })
    const a = await h.service.define('default', body())
    await h.service.run('default', a.id, { start: T, end: T + 2000 })
    const restarted = harness()
    restarted.mem.rows.push(...h.mem.rows)
    restarted.mem.stored.push(...h.mem.stored)
    await restarted.service.start(1000)
    expect(restarted.service.latest()).toEqual([
      { workspace: 'default', pipeline: 'temps', name: 'drift', score: 0.75, status: 'alert', windowEnd: T + 2000 },
    ])
    const listed = restarted.mem.listCalls
    await vi.advanceTimersByTimeAsync(1000)
    await restarted.service.idle()
    expect(restarted.mem.listCalls).toBe(listed + 1)
    expect(restarted.service.schedule(a.id)).toEqual({
      next_window_start: '2023-11-14T22:13:22.000Z',
      windows_behind: 0,
      catching_up: false,
    })
    await restarted.service.stop()
    await vi.advanceTimersByTimeAsync(5000)
    expect(restarted.mem.listCalls).toBe(listed + 1)
  })
})
