/**
 * The search space of measured tuning: for each backend, every combination of a deployment's
 * `max_batch_size`, its `max_queue_delay_ms`, and its sessions' intra-op threads (the `cpu` backend
 * only: the web backends run one host thread), GPU path (the `webgpu` backend only: how the
 * models run on the GPU) and onnxruntime graph optimization level.
 */
import { GPU_PATH_CHOICES, type GpuPathChoice } from '../config-schema.js'
import { type BackendName, GRAPH_OPTIMIZATION_LEVELS, type GraphOptimizationLevel } from '../engine/types.js'

export { GRAPH_OPTIMIZATION_LEVELS, type GraphOptimizationLevel }

/** A GPU path a point names: never `auto` (a point is measured as it would be deployed, not chosen again). */
export type GpuPath = Exclude<GpuPathChoice, 'auto'>

/** The GPU paths, in the order of `session.gpu_path`'s choices: `ort`, `captured`, `kernels`. */
export const GPU_PATHS: readonly GpuPath[] = GPU_PATH_CHOICES.filter((c): c is GpuPath => c !== 'auto')

/** One configuration to measure. `threads` is null off the `cpu` backend, `gpu_path` off `webgpu`. */
export interface TuningPoint {
  backend: BackendName
  max_batch_size: number
  max_queue_delay_ms: number
  threads: number | null
  graph_optimization: GraphOptimizationLevel
  gpu_path: GpuPath | null
}

/** The values of each axis; a point takes one of each (threads only on `cpu`, GPU paths only on `webgpu`). */
export interface Grid {
  backends: readonly BackendName[]
  /** Ascending. */
  batchSizes: readonly number[]
  /** Ascending. */
  queueDelaysMs: readonly number[]
  /** Ascending; the `cpu` backend's intra-op thread counts. */
  threads: readonly number[]
  graphOptimizations: readonly GraphOptimizationLevel[]
  /** The `webgpu` backend's GPU paths. */
  gpuPaths: readonly GpuPath[]
}

/** 1, 2, 4, …, 256: the default batch sizes. */
export const DEFAULT_BATCH_SIZES: readonly number[] = [1, 2, 4, 8, 16, 32, 64, 128, 256]
/** The default queue delays, in ms. */
export const DEFAULT_QUEUE_DELAYS_MS: readonly number[] = [0, 1, 2, 5, 10]

/** 1, 2, …, `cores`: the default thread counts. */
export function defaultThreads(cores: number): number[] {
  return Array.from({ length: Math.max(1, cores) }, (_, i) => i + 1)
}

/** Sorted ascending, duplicates dropped. */
export function ascending(values: readonly number[]): number[] {
  return [...new Set(values)].sort((a, b) => a - b)
}

/** The thread axis of `backend`: the grid's on `cpu`, [null] elsewhere. */
export function threadAxis(grid: Grid, backend: BackendName): ReadonlyArray<number | null> {
  return backend === 'cpu' ? grid.threads : [null]
}

/** The GPU path axis of `backend`: the grid's on `webgpu`, [null] elsewhere. */
export function gpuPathAxis(grid: Grid, backend: BackendName): ReadonlyArray<GpuPath | null> {
  return backend === 'webgpu' ? grid.gpuPaths : [null]
}

/** How many points `backend` has in `grid`. */
function backendSize(grid: Grid, backend: BackendName): number {
  return (
    grid.batchSizes.length *
    grid.queueDelaysMs.length *
    threadAxis(grid, backend).length *
    gpuPathAxis(grid, backend).length *
    grid.graphOptimizations.length
  )
}

/** How many points the whole grid has. */
export function gridSize(grid: Grid): number {
  return grid.backends.reduce((n, b) => n + backendSize(grid, b), 0)
}

/** Every point of the grid, backend by backend (on `webgpu`, GPU path by GPU path). */
export function* gridPoints(grid: Grid): Generator<TuningPoint> {
  for (const backend of grid.backends)
    for (const gpu_path of gpuPathAxis(grid, backend))
      for (const threads of threadAxis(grid, backend))
        for (const graph_optimization of grid.graphOptimizations)
          for (const max_batch_size of grid.batchSizes)
            for (const max_queue_delay_ms of grid.queueDelaysMs)
              yield { backend, max_batch_size, max_queue_delay_ms, threads, graph_optimization, gpu_path }
}

/** A point's identity, for memoizing its measure. */
export function pointKey(p: TuningPoint): string {
  return `${laneKey(p)}|${p.max_batch_size}|${p.max_queue_delay_ms}|${p.threads ?? '-'}|${p.graph_optimization}`
}

/**
 * A point's lane: its backend, with its GPU path on `webgpu`. The search tunes each lane as it
 * would a backend of its own (the paths load and run differently), and a lane that cannot load the
 * model is left out alone.
 */
export function laneKey(p: Pick<TuningPoint, 'backend' | 'gpu_path'>): string {
  return p.gpu_path === null ? p.backend : `${p.backend}:${p.gpu_path}`
}
