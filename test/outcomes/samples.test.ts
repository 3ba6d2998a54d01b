/**
 * The join of the inference log with outcomes (armSamples): rows keyed by request id and row
 * (several rows per id, ids without outcomes, rows without an id), grouped by version and arm (a
 * split's two models, a shadow challenger's own predictions), a classifier's single P(class 1)
 * widened, labels mapped to class indices (an unknown one left unlabeled and counted), a key
 * column instead of the id, rows of the range only, and the bound on rows read. Expected values
 * are written out by hand from the records below.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { tensor } from '../../src/engine/tensor.js'
import { silentLogger } from '../../src/logger.js'
import { InferenceLog, type LogConfig } from '../../src/logs/inference-log.js'
import type { InferenceRecord } from '../../src/logs/record.js'
import { writeSegment } from '../../src/logs/segment.js'
import { armSamples } from '../../src/outcomes/samples.js'
import { columnKey, type OutcomeSpec, requestKey } from '../../src/outcomes/spec.js'
import { SqliteStore } from '../../src/store/sqlite-store.js'
import { afterEachTest, TEST_LOG_CONFIG } from '../helpers/server.js'

const T = Date.now() - 3_600_000
const cfg: LogConfig = TEST_LOG_CONFIG
const { closes, dir } = afterEachTest()

function record(over: Partial<InferenceRecord> & { probs: number[][] }): InferenceRecord {
  const { probs, ...rest } = over
  const rows = probs.length
  const width = probs[0]?.length ?? 1
  return {
    time: T,
    workspace: 'default',
    pipeline: 'p',
    pipelineVersion: 1,
    model: 'a:1',
    rows,
    inputs: { x: tensor('float32', [rows], new Array(rows).fill(0)) },
    outputs: { probs: tensor('float32', width === 1 ? [rows] : [rows, width], probs.flat()) },
    rowModels: new Array(rows).fill('a:1'),
    checkFailures: new Int32Array(rows),
    shadow: {},
    latencyMs: 1,
    ...rest,
  }
}

async function setup(records: InferenceRecord[], outcomes: Array<[string, number | string]>) {
  const store = closes(SqliteStore.open(dir()))
  const log = closes(await InferenceLog.open(dir(), cfg, silentLogger))
  for (const r of records) log.append(r)
  await log.flush()
  await store.outcomes.put(
    'default',
    'p',
    outcomes.map(([key, value]) => ({ key, value, time: T })),
  )
  return { store, log }
}

const spec: OutcomeSpec = { task: 'classification', output: 'probs', labels: ['stay', 'churn'] }
const f64 = (v: number[]) => Float64Array.from(v)

describe('armSamples', () => {
  it('joins outcomes by request id and row, per version, split arm and shadow challenger', async () => {
    const { store, log } = await setup(
      [
        record({
          requestId: 'req-1',
          probs: [
            [0.75, 0.25],
            [0.5, 0.5],
            [0.125, 0.875],
          ],
          rowModels: ['a:1', 'b:1', 'a:1'],
          shadow: { 'out_c:1.probs': tensor('float32', [3, 2], [0.25, 0.75, 0.5, 0.5, 0.625, 0.375]) },
        }),
        record({ time: T + 1, probs: [[0.875, 0.125]] }), // no id: never labeled
        record({ time: T + 2, requestId: 'req-2', probs: [[0.25, 0.75]], rowModels: ['b:1'] }),
        // A new version answering P(class 1) alone: widened to [1 − p, p] (and a new segment: the column's kind changed).
        record({ time: T + 3, requestId: 'req-3', pipelineVersion: 2, probs: [[0.25], [0.625]] }),
        record({ time: T + 10_000, requestId: 'req-late', probs: [[0.5, 0.5]] }), // past the range
      ],
      [
        [requestKey('req-1', 0), 'churn'],
        [requestKey('req-1', 2), 1],
        [requestKey('req-1', 7), 'stay'], // no such row
        [requestKey('req-2', 0), 'maybe'], // no such label
        [requestKey('req-3', 1), 'stay'],
        [requestKey('req-late', 0), 'stay'],
      ],
    )
    const s = await armSamples(log, store.outcomes, 'default', 'p', spec, T, T + 5000)
    expect(s).toMatchObject({ rows: 7, truncated: false, skipped: 0, unknown: 1 })
    const NaN_ = Number.NaN
    expect(s.arms).toEqual([
      {
        arm: 'a:1',
        version: 1,
        shadow: false,
        width: 2,
        time: f64([T, T, T + 1]),
        predictions: f64([0.75, 0.25, 0.125, 0.875, 0.875, 0.125]),
        outcomes: f64([1, 1, NaN_]),
      },
      {
        arm: 'b:1',
        version: 1,
        shadow: false,
        width: 2,
        time: f64([T, T + 2]),
        predictions: f64([0.5, 0.5, 0.25, 0.75]),
        outcomes: f64([NaN_, NaN_]),
      },
      {
        arm: 'c:1',
        version: 1,
        shadow: true,
        width: 2,
        time: f64([T, T, T]),
        predictions: f64([0.25, 0.75, 0.5, 0.5, 0.625, 0.375]),
        outcomes: f64([1, NaN_, 1]),
      },
      {
        arm: 'a:1',
        version: 2,
        shadow: false,
        width: 2,
        time: f64([T + 3, T + 3]),
        predictions: f64([0.75, 0.25, 0.375, 0.625]),
        outcomes: f64([NaN_, 0]),
      },
    ])
  })

  it('joins on a key column (strings and integers), the first value of a list row', async () => {
    const keyed = (customers: InferenceRecord['inputs']['x'], probs: number[][], time = T) =>
      record({ time, probs, inputs: { customer: customers } })
    const { store, log } = await setup(
      [
        keyed({ dtype: 'string', dims: [2], data: ['cust-7', 'cust-8'] }, [
          [0.5, 0.5],
          [0.25, 0.75],
        ]),
        // A later version keyed by an INT64 column ([N, 1]): a new segment, the same key text.
        keyed(
          tensor('int64', [2, 1], [7n, 9n]),
          [
            [0.875, 0.125],
            [0.125, 0.875],
          ],
          T + 1,
        ),
      ],
      [
        [columnKey('cust-7'), 'stay'],
        [columnKey('7'), 'churn'],
        [columnKey('9'), 0],
      ],
    )
    const s = await armSamples(log, store.outcomes, 'default', 'p', { ...spec, key: 'customer' }, T, T + 5000)
    expect(s.arms).toHaveLength(1)
    expect(s.arms[0]?.outcomes).toEqual(f64([0, Number.NaN, 1, 0]))
  })

  it('reads segments written before the log kept request ids: their rows are unlabeled', async () => {
    const store = closes(SqliteStore.open(dir()))
    const data = dir()
    const folder = join(data, 'logs', 'default', 'p')
    mkdirSync(folder, { recursive: true })
    // A segment of the columns an older lastmile wrote: no request_id, no request_row.
    await writeSegment(join(folder, `seg-1-${T}-${T}.arrow`), [
      { time: T, pipeline_version: 1, model: 'a:1', 'out.probs': [0.25, 0.75] },
    ])
    const log = closes(await InferenceLog.open(data, cfg, silentLogger))
    log.append(record({ time: T + 1, requestId: 'new', probs: [[0.5, 0.5]] }))
    await store.outcomes.put('default', 'p', [{ key: requestKey('new', 0), value: 'stay', time: T }])
    const s = await armSamples(log, store.outcomes, 'default', 'p', spec, T, T + 5000)
    expect(s.arms).toHaveLength(1)
    expect(s.arms[0]).toMatchObject({ time: f64([T, T + 1]), outcomes: f64([Number.NaN, 0]) })
  })

  it('reads at most maxRows rows of the range and says it stopped', async () => {
    const { store, log } = await setup(
      [
        record({
          requestId: 'r',
          probs: [
            [1, 0],
            [0, 1],
            [1, 0],
          ],
        }),
      ],
      [[requestKey('r', 1), 1]],
    )
    const s = await armSamples(log, store.outcomes, 'default', 'p', spec, T, T + 1, 2)
    expect(s).toMatchObject({ rows: 2, truncated: true })
    expect(s.arms[0]?.outcomes).toEqual(f64([Number.NaN, 1]))
  })

  it('joins a regressor’s values; an outcome that is no number is counted and left out', async () => {
    const { store, log } = await setup(
      [record({ requestId: 'q', probs: [[2.5], [4]] })],
      [
        [requestKey('q', 0), 3],
        [requestKey('q', 1), 'high'],
      ],
    )
    const s = await armSamples(log, store.outcomes, 'default', 'p', { task: 'regression', output: 'probs' }, T, T + 1)
    expect(s.unknown).toBe(1)
    expect(s.arms[0]).toMatchObject({ width: 1, predictions: f64([2.5, 4]), outcomes: f64([3, Number.NaN]) })
  })
})
