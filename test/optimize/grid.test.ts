/**
 * The tuning grid: its axes, its size and its points, counted here by hand (threads only on `cpu`,
 * GPU paths only on `webgpu`, one null axis in their place elsewhere), its lanes, and the helpers
 * that make axes.
 */
import { describe, expect, it } from 'vitest'
import {
  ascending,
  defaultThreads,
  GPU_PATHS,
  type Grid,
  gpuPathAxis,
  gridPoints,
  gridSize,
  laneKey,
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
  gpuPaths: ['captured', 'kernels'],
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
      gpu_path: null,
    })
    expect(points[35]).toEqual({
      backend: 'cpu',
      max_batch_size: 8,
      max_queue_delay_ms: 5,
      threads: 3,
      graph_optimization: 'all',
      gpu_path: null,
    })
  })

  it('gives cpu and wasm points no GPU path, and webgpu points each of its paths: 2·3·1·2·2 = 24 of them', () => {
    const points = [...gridPoints(GRID)]
    expect(points.every((p) => p.gpu_path === null)).toBe(true)
    expect(gridSize({ ...GRID, backends: ['webgpu'] })).toBe(24)
    expect(gridSize({ ...GRID, backends: ['webgpu'], gpuPaths: ['ort'] })).toBe(12)
    expect(gridSize({ ...GRID, backends: ['cpu', 'webgpu'], gpuPaths: GPU_PATHS })).toBe(24 + 36)
    expect(gridSize({ ...GRID, backends: ['webgpu'], gpuPaths: [] })).toBe(0)
    const gpu = [...gridPoints({ ...GRID, backends: ['cpu', 'webgpu'] })].filter((p) => p.backend === 'webgpu')
    expect(gpu).toHaveLength(24)
    expect(gpu.every((p) => p.threads === null)).toBe(true)
    expect(gpu.filter((p) => p.gpu_path === 'captured')).toHaveLength(12)
    expect(gpu.filter((p) => p.gpu_path === 'kernels')).toHaveLength(12)
    // Path by path: the first twelve are one path's, in the grid's order.
    expect(new Set(gpu.slice(0, 12).map((p) => p.gpu_path))).toEqual(new Set(['captured']))
    expect(new Set(gpu.map(pointKey)).size).toBe(24)
  })

  it('names the three GPU paths a point may take, never auto', () => {
    expect(GPU_PATHS).toEqual(['ort', 'captured', 'kernels'])
  })

  it('gives threads to cpu only, and GPU paths to webgpu only', () => {
    expect(threadAxis(GRID, 'cpu')).toEqual([1, 3])
    expect(threadAxis(GRID, 'wasm')).toEqual([null])
    expect(threadAxis(GRID, 'webgpu')).toEqual([null])
    expect(gpuPathAxis(GRID, 'webgpu')).toEqual(['captured', 'kernels'])
    expect(gpuPathAxis(GRID, 'cpu')).toEqual([null])
    expect(gpuPathAxis(GRID, 'wasm')).toEqual([null])
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
    const gpu: TuningPoint = { ...p, backend: 'webgpu', gpu_path: 'ort' }
    const keys = new Set([
      pointKey(p),
      pointKey({ ...p, backend: 'cpu' }),
      pointKey({ ...p, max_batch_size: 2 }),
      pointKey({ ...p, max_queue_delay_ms: 1 }),
      pointKey({ ...p, threads: 2 }),
      pointKey({ ...p, graph_optimization: 'all' }),
      pointKey(gpu),
      pointKey({ ...gpu, gpu_path: 'captured' }),
      pointKey({ ...gpu, gpu_path: 'kernels' }),
    ])
    expect(keys.size).toBe(9)
    expect(pointKey({ ...p })).toBe(pointKey(p))
  })

  it('puts each backend in a lane of its own, and each GPU path of webgpu in one', () => {
    expect(laneKey({ backend: 'cpu', gpu_path: null })).toBe('cpu')
    expect(laneKey({ backend: 'wasm', gpu_path: null })).toBe('wasm')
    const gpu = GPU_PATHS.map((gpu_path) => laneKey({ backend: 'webgpu', gpu_path }))
    expect(new Set([...gpu, 'cpu', 'wasm']).size).toBe(5)
  })
})
