/**
 * What `lastmile pipelines optimize` prints: one line per measured point (its GPU path `-` off
 * `webgpu`), the recommendation marked `*` and points missing the target `!`, then the summary,
 * the failed points (with their GPU path) and the recommended settings; a run without a report
 * prints its status and error.
 */
import { describe, expect, it } from 'vitest'
import { tuningTable } from '../../src/cli/optimize.js'
import type { Optimization, TuningRow } from '../../src/wire/optimize.js'

const row = (over: Partial<TuningRow>): TuningRow => ({
  backend: 'cpu',
  max_batch_size: 1,
  max_queue_delay_ms: 0,
  threads: 2,
  graph_optimization: 'all',
  gpu_path: null,
  rows_per_s: 1000,
  p50_ms: 1,
  p99_ms: 2,
  memory_bytes: 3 * 2 ** 20,
  windows: 3,
  stable: true,
  meets_target: true,
  ...over,
})

const run = (report: Optimization['report'], over: Partial<Optimization> = {}): Optimization => ({
  id: 'opt-1',
  workspace: 'default',
  pipeline: 'p',
  pipeline_version: 1,
  status: 'succeeded',
  measured_points: 3,
  max_points: 54,
  budget_s: 60,
  error: null,
  created_at: '2026-12-01T10:00:00.000Z',
  finished_at: '2026-12-01T10:01:00.000Z',
  report,
  ...over,
})

describe('the tuning table', () => {
  it('marks the recommendation and the points missing the target, and says what to deploy', () => {
    const best = row({ max_batch_size: 16, rows_per_s: 9876.4, p99_ms: 4.5 })
    const text = tuningTable(
      run({
        pipeline_version: 1,
        target_p99_ms: 5,
        concurrency: 16,
        rows_per_request: 1,
        rows: 'synthetic',
        search: 'quick',
        grid_points: 540,
        max_points: 54,
        measured_points: 5,
        truncated: true,
        seconds: 12.34,
        budget_s: 12,
        table: [
          row({}),
          best,
          row({ backend: 'wasm', threads: null, max_batch_size: 64, p99_ms: 7.25, meets_target: false, stable: false }),
          row({ backend: 'webgpu', threads: null, gpu_path: 'captured', max_batch_size: 16, rows_per_s: 2500 }),
        ],
        failed: [
          {
            backend: 'webgpu',
            max_batch_size: 1,
            max_queue_delay_ms: 0,
            threads: null,
            graph_optimization: 'all',
            gpu_path: 'kernels',
            error: "lastmile's kernels do not cover this model: LSTM",
          },
        ],
        recommendation: {
          ...best,
          settings: {
            engine: 'cpu',
            batching: {
              max_batch_size: 16,
              max_queue_delay_ms: 0,
              preferred_batch_sizes: [],
              max_queue_size: 65536,
              timeout_ms: 30000,
            },
            session: { threads: 2, graph_optimization: 'all' },
          },
        },
        applied: true,
      }),
    )
    const lines = text.trimEnd().split('\n')
    expect(lines[0]?.trim().split(/\s+/)).toEqual([
      'backend',
      'batch',
      'delay_ms',
      'threads',
      'graph_opt',
      'gpu_path',
      'rows/s',
      'p50_ms',
      'p99_ms',
      'mem_MiB',
      'stable',
    ])
    expect(lines[1]?.trim().split(/\s+/)).toEqual([
      'cpu',
      '1',
      '0',
      '2',
      'all',
      '-',
      '1000',
      '1.00',
      '2.00',
      '3.0',
      'yes',
    ])
    expect(lines[2]?.trim().split(/\s+/)).toEqual([
      '*',
      'cpu',
      '16',
      '0',
      '2',
      'all',
      '-',
      '9876',
      '1.00',
      '4.50',
      '3.0',
      'yes',
    ])
    expect(lines[3]?.trim().split(/\s+/)).toEqual([
      '!',
      'wasm',
      '64',
      '0',
      '-',
      'all',
      '-',
      '1000',
      '1.00',
      '7.25',
      '3.0',
      'no',
    ])
    expect(lines[4]?.trim().split(/\s+/)).toEqual([
      'webgpu',
      '16',
      '0',
      '-',
      'all',
      'captured',
      '2500',
      '1.00',
      '2.00',
      '3.0',
      'yes',
    ])
    expect(lines[5]).toBe(
      'measured 5 of 540 points (at most 54) in 12.3 s, cut short by the budget; target p99 ≤ 5 ms (! misses it)',
    )
    expect(lines[6]).toBe("failed: webgpu (kernels) batch 1: lastmile's kernels do not cover this model: LSTM")
    expect(lines[7]).toMatch(/^recommended \(\*\): \{"engine":"cpu","batching":\{"max_batch_size":16,/)
    expect(lines[7]).toMatch(/— 9876 rows\/s, p99 4\.50 ms$/)
    expect(lines[8]).toBe('applied: the pipeline was redeployed with it')
  })

  it('prints a run without a report as its status and error', () => {
    expect(tuningTable(run(null, { status: 'failed', error: 'the pipeline was undeployed' }))).toBe(
      'run opt-1: failed: the pipeline was undeployed\n',
    )
  })
})
