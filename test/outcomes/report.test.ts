/**
 * The outcome report's windows: rows land in the window of their time (the last one cut at the
 * range's end), a regressor's MAE, RMSE and bias per window equal a hand count, a window without
 * labeled rows has no realized metrics, predictions that are no probabilities are reported as the
 * arm's error rather than failing the report, and ranges of too many windows are refused.
 */
import { describe, expect, it } from 'vitest'
import { tensor } from '../../src/engine/tensor.js'
import { InvalidConfigError } from '../../src/errors.js'
import { silentLogger } from '../../src/logger.js'
import { InferenceLog } from '../../src/logs/inference-log.js'
import type { InferenceRecord } from '../../src/logs/record.js'
import { MAX_REPORT_WINDOWS, outcomeReport, windowCount } from '../../src/outcomes/report.js'
import { requestKey } from '../../src/outcomes/spec.js'
import { SqliteStore } from '../../src/store/sqlite-store.js'
import { afterEachTest } from '../helpers/server.js'

const { closes, dir } = afterEachTest()
const T = Math.floor((Date.now() - 3_600_000) / 60_000) * 60_000

const record = (time: number, id: string, ys: number[]): InferenceRecord => ({
  time,
  workspace: 'default',
  pipeline: 'p',
  pipelineVersion: 1,
  model: 'm:1',
  rows: ys.length,
  inputs: { x: tensor('float32', [ys.length], ys) },
  outputs: { y: tensor('float64', [ys.length], ys) },
  rowModels: ys.map(() => 'm:1'),
  checkFailures: new Int32Array(ys.length),
  shadow: {},
  latencyMs: 1,
  requestId: id,
})

async function setup(records: InferenceRecord[], outcomes: Array<[string, number]>) {
  const store = closes(SqliteStore.open(dir()))
  const log = closes(
    await InferenceLog.open(
      dir(),
      {
        sampleRate: 1,
        retentionHours: 24,
        rollBytes: 1 << 26,
        rollSeconds: 3600,
        flushMs: 60_000,
        maxBufferedRows: 1000,
        maxBufferedBytes: 1 << 26,
      },
      silentLogger,
    ),
  )
  for (const r of records) log.append(r)
  await store.outcomes.put(
    'default',
    'p',
    outcomes.map(([key, value]) => ({ key, value, time: T })),
  )
  return { store, log }
}

describe('outcomeReport', () => {
  it('cuts the range into windows and computes a regressor’s errors per window', async () => {
    const { store, log } = await setup(
      [record(T + 5_000, 'a', [1, 2, 4]), record(T + 65_000, 'b', [10]), record(T + 125_000, 'c', [3])],
      [
        [requestKey('a', 0), 2], // errors −1, +0.5, +1
        [requestKey('a', 1), 1.5],
        [requestKey('a', 2), 3],
      ],
    )
    const spec = { task: 'regression' as const, output: 'y' }
    const r = await outcomeReport(log, store.outcomes, 'default', 'p', spec, {
      start: T,
      end: T + 150_000,
      windowMs: 60_000,
    })
    expect(r.windows.map((w) => [w.start - T, w.end - T, w.arms.length])).toEqual([
      [0, 60_000, 1],
      [60_000, 120_000, 1],
      [120_000, 150_000, 1],
    ])
    const [first, second] = r.windows.map((w) => w.arms[0])
    expect(first).toMatchObject({ arm: 'm:1', rows: 3, labeled: 3, estimated: null })
    const realized = first?.realized as { mae: { value: number }; rmse: { value: number }; bias: { value: number } }
    expect(realized.mae.value).toBeCloseTo((1 + 0.5 + 1) / 3, 14)
    expect(realized.rmse.value).toBeCloseTo(Math.sqrt((1 + 0.25 + 1) / 3), 14)
    expect(realized.bias.value).toBeCloseTo((-1 + 0.5 + 1) / 3, 14)
    expect(second).toMatchObject({ rows: 1, labeled: 0, realized: null })
  })

  it('reports predictions that are no probabilities as the arm’s error', async () => {
    const { store, log } = await setup([record(T, 'a', [3])], [[requestKey('a', 0), 1]])
    const r = await outcomeReport(
      log,
      store.outcomes,
      'default',
      'p',
      { task: 'classification', output: 'y' },
      {
        start: T,
        end: T + 1000,
        windowMs: 1000,
      },
    )
    expect(r.windows[0]?.arms[0]).toMatchObject({
      realized: null,
      estimated: null,
      error: expect.stringMatching(/^output 'y': .*not in \[0, 1\]/),
    })
  })

  it('refuses an empty range, windows under a second and more windows than one report has', () => {
    expect(() => windowCount({ start: 5, end: 5, windowMs: 1000 })).toThrow(InvalidConfigError)
    expect(() => windowCount({ start: 0, end: 5000, windowMs: 10 })).toThrow(/at least 1 second/)
    expect(windowCount({ start: 0, end: MAX_REPORT_WINDOWS * 1000, windowMs: 1000 })).toBe(MAX_REPORT_WINDOWS)
    expect(() => windowCount({ start: 0, end: MAX_REPORT_WINDOWS * 1000 + 1, windowMs: 1000 })).toThrow(
      /holds 1001 windows of 1 s; at most 1000/,
    )
  })
})
