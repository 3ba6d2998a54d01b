/**
 * A run's report from what the search measured: the recommendation's deploy settings name the
 * point's GPU path as `session.gpu_path` on `webgpu` (so that applying it deploys that path, not
 * `auto`) and none off it; failed points keep their GPU path and reason. The request takes
 * `gpu_paths` like `graph_optimizations`: the three paths, never `auto`, at least one.
 */
import { describe, expect, it } from 'vitest'
import type { TuningPoint } from '../../src/optimize/grid.js'
import type { PointMeasure } from '../../src/optimize/measure.js'
import { storedReport, tuningReport } from '../../src/optimize/report.js'
import { optimizeRequestSchema } from '../../src/optimize/request.js'
import type { Measured, SearchResult } from '../../src/optimize/search.js'
import { batchingSchema } from '../../src/serving/settings.js'

const measure = (rows_per_s: number, p99_ms: number): PointMeasure => ({
  rows_per_s,
  p50_ms: p99_ms / 2,
  p99_ms,
  memory_bytes: 1 << 20,
  windows: 3,
  stable: true,
})

const point = (over: Partial<TuningPoint>): TuningPoint => ({
  backend: 'webgpu',
  max_batch_size: 16,
  max_queue_delay_ms: 1,
  threads: null,
  graph_optimization: 'extended',
  gpu_path: 'captured',
  ...over,
})

const BATCHING = batchingSchema.parse({ max_batch_size: 4, max_queue_delay_ms: 5, timeout_ms: 9000 })

function report(measured: Array<Measured<PointMeasure>>, best: Measured<PointMeasure> & { result: PointMeasure }) {
  const result: SearchResult<PointMeasure> = { measured, best, truncated: false }
  return tuningReport({
    req: optimizeRequestSchema.parse({ target_p99_ms: 10 }),
    version: 3,
    gridPoints: 100,
    maxPoints: 10,
    budgetS: 60,
    seconds: 1.5,
    batching: BATCHING,
    result,
  })
}

describe('the tuning report', () => {
  const captured = { point: point({}), result: measure(5000, 8) }
  const cpu = { point: point({ backend: 'cpu', threads: 2, gpu_path: null }), result: measure(3000, 4) }
  const kernels = {
    point: point({ gpu_path: 'kernels', max_batch_size: 1 }),
    error: "lastmile's kernels do not cover this model: LSTM, at node l0",
  }

  it('recommends a webgpu point with its GPU path as session.gpu_path', () => {
    const r = report([cpu, kernels, captured], captured)
    expect(r.recommendation?.gpu_path).toBe('captured')
    expect(r.recommendation?.settings).toEqual({
      engine: 'webgpu',
      batching: { ...BATCHING, max_batch_size: 16, max_queue_delay_ms: 1 },
      session: { graph_optimization: 'extended', gpu_path: 'captured' },
    })
    expect(r.table.map((row) => [row.backend, row.gpu_path, row.meets_target])).toEqual([
      ['cpu', null, true],
      ['webgpu', 'captured', true],
    ])
    expect(r.failed).toEqual([{ ...kernels.point, error: kernels.error }])
    expect(r.measured_points).toBe(3)
  })

  it('recommends a cpu point with threads and no GPU path', () => {
    const r = report([cpu, captured], cpu)
    expect(r.recommendation?.gpu_path).toBeNull()
    expect(r.recommendation?.settings.session).toEqual({ graph_optimization: 'extended', threads: 2 })
  })
})

describe('the request', () => {
  it('takes gpu_paths: the three paths, not auto, not none, nothing else', () => {
    expect(optimizeRequestSchema.parse({}).gpu_paths).toBeUndefined()
    expect(optimizeRequestSchema.parse({ gpu_paths: ['kernels', 'ort'] }).gpu_paths).toEqual(['kernels', 'ort'])
    for (const gpu_paths of [['auto'], [], ['cuda'], 'ort']) {
      const r = optimizeRequestSchema.safeParse({ gpu_paths })
      expect(r.success, JSON.stringify(gpu_paths)).toBe(false)
      expect(r.error?.issues[0]?.path[0]).toBe('gpu_paths')
    }
  })
})

describe('a report stored before the GPU path axis', () => {
  it('reads its webgpu points as onnxruntime-web plain (ort) and the others as having no path', () => {
    const old = (backend: TuningPoint['backend']) => {
      const { gpu_path: _gone, ...p } = point({ backend })
      return { ...p, ...measure(100, 5) }
    }
    const stored = {
      ...report([], { point: point({}), result: measure(1, 1) } as never),
      table: [old('webgpu'), old('cpu')],
      failed: [{ ...point({ backend: 'wasm' }), gpu_path: undefined, error: 'x' }],
      recommendation: { ...old('webgpu'), settings: {} },
    }
    const r = storedReport(stored)
    expect(r?.table.map((row) => [row.backend, row.gpu_path])).toEqual([
      ['webgpu', 'ort'],
      ['cpu', null],
    ])
    expect(r?.failed[0]?.gpu_path).toBeNull()
    expect(r?.recommendation?.gpu_path).toBe('ort')
    expect(storedReport(null)).toBeNull()
  })
})
