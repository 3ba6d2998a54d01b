/**
 * The tuning grid: its axes, its size and its points, counted here by hand (threads only on `cpu`,
 * one null thread axis on the web backends), and the helpers that make axes.
 */
import { describe, expect, it } from 'vitest'
import {
  ascending,
  defaultThreads,
  type Grid,
  gridPoints,
  gridSize,
  pointKey,
  type TuningPoint,
  threadAxis,
} from '../../src/optimize/grid.js'

const GRID: Grid = {
  backends: ['wasm', 'cpu'],
  batchSizes: [1, 8],
  queueDelaysMs: [0, 2, 5],
  threads: [1, 3],
  graphOptimizations: ['basic', 'all'],
}

describe('the tuning grid', () => {
  it('counts 2·3·1·2 = 12 wasm points and 2·3·2·2 = 24 cpu points, and yields each once', () => {
    expect(gridSize(GRID)).toBe(36)
    const points = [...gridPoints(GRID)]
    expect(points).toHaveLength(36)
    expect(new Set(points.map(pointKey)).size).toBe(36)
    expect(points.filter((p) => p.backend === 'wasm').every((p) => p.threads === null)).toBe(true)
    expect(new Set(points.filter((p) => p.backend === 'cpu').map((p) => p.threads))).toEqual(new Set([1, 3]))
    expect(points[0]).toEqual({
      backend: 'wasm',
      max_batch_size: 1,
      max_queue_delay_ms: 0,
      threads: null,
      graph_optimization: 'basic',
    })
    expect(points[35]).toEqual({
      backend: 'cpu',
      max_batch_size: 8,
      max_queue_delay_ms: 5,
      threads: 3,
      graph_optimization: 'all',
    })
    expect(gridSize({ ...GRID, backends: ['webgpu'] })).toBe(12)
  })

  it('gives threads to cpu only', () => {
    expect(threadAxis(GRID, 'cpu')).toEqual([1, 3])
    expect(threadAxis(GRID, 'wasm')).toEqual([null])
    expect(threadAxis(GRID, 'webgpu')).toEqual([null])
  })

  it('makes axes: 1 to the cores (at least one), and values ascending without duplicates', () => {
    expect(defaultThreads(4)).toEqual([1, 2, 3, 4])
    expect(defaultThreads(1)).toEqual([1])
    expect(defaultThreads(0)).toEqual([1])
    expect(ascending([10, 2, 5, 2, 0, 10])).toEqual([0, 2, 5, 10])
    expect(ascending([])).toEqual([])
  })

  it('tells points apart by every field', () => {
    const p = [...gridPoints(GRID)][0] as TuningPoint
    const keys = new Set([
      pointKey(p),
      pointKey({ ...p, backend: 'cpu' }),
      pointKey({ ...p, max_batch_size: 2 }),
      pointKey({ ...p, max_queue_delay_ms: 1 }),
      pointKey({ ...p, threads: 2 }),
      pointKey({ ...p, graph_optimization: 'all' }),
    ])
    expect(keys.size).toBe(6)
    expect(pointKey({ ...p })).toBe(pointKey(p))
  })
})
