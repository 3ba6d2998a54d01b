/**
 * Synthetic serving landscapes for checking the search against brute force: what measuring a
 * point would give, from a seeded model of a pipeline under a closed loop of `clients` clients.
 *
 * Per backend: a batch of B rows takes (overhead + perRow·B^α) ms, scaled by the graph
 * optimization level's factor and by Amdahl's law over the threads (with a penalty past cores − 1,
 * where the server's own threads compete). Batches hold at most `clients` rows, less full without a
 * queue delay (a delay fills them, up to `clients`). Rows/s follows; p50 is Little's law over the
 * clients plus half the delay, and p99 adds a batch's time growing with log2(B) and the whole delay:
 * throughput rises with the batch and levels off, latency rises with the batch and the delay, threads
 * speed up with diminishing returns. On `webgpu` each GPU path is a model of its own: `ort` as
 * drawn for the backend; `captured` with a fraction of its overhead (no launches to record) but
 * every batch padded to its bucket (1, 4, 16, …, the point's max_batch_size: rows/s counts the
 * real rows only); `kernels` with its own overhead and per-row cost, and no gain from the graph
 * optimization level (onnxruntime does not run them). Each value carries a fixed ±1% noise per
 * point (a hash of the point and the seed), so brute force and the search see the same measures.
 */
import type { BackendName } from '../../src/engine/types.js'
import { type GraphOptimizationLevel, laneKey, pointKey, type TuningPoint } from '../../src/optimize/grid.js'
import type { PointResult } from '../../src/optimize/search.js'
import { mulberry32 } from '../../src/random.js'

interface BackendModel {
  overheadMs: number
  perRowMs: number
  alpha: number
  parallel: number
  oversubscription: number
  opt: Record<GraphOptimizationLevel, number>
  fillAtZero: number
  fillTauMs: number
  tail: number
  /** Whether batches are padded to the captured path's buckets. */
  buckets?: boolean
}

export interface Landscape {
  cores: number
  clients: number
  measure(p: TuningPoint): PointResult
}

/** The bucket a batch of `rows` rows runs in: 1, then ×4, and `maxBatch` itself last, as the captured path pads. */
function bucket(rows: number, maxBatch: number): number {
  for (let b = 1; b < maxBatch; b *= 4) if (b >= rows) return b
  return maxBatch
}

/** FNV-1a of a string, for the per-point noise. */
function fnv(s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0
  return h
}

export function landscape(seed: number, cores: number): Landscape {
  const rand = mulberry32(seed)
  const between = (lo: number, hi: number) => lo + (hi - lo) * rand()
  const clients = [8, 16, 32, 64, 128][Math.floor(rand() * 5)] as number
  const cpuRow = between(0.003, 0.06)
  const model = (overhead: [number, number], rowScale: [number, number], parallel: [number, number]): BackendModel => {
    const basic = between(0.85, 1)
    const extended = between(0.75, basic)
    return {
      overheadMs: between(...overhead),
      perRowMs: cpuRow * between(...rowScale),
      alpha: between(0.8, 1),
      parallel: between(...parallel),
      oversubscription: between(0, 0.2),
      opt: { disabled: 1, basic, extended, all: between(0.7, extended + 0.05) },
      fillAtZero: between(0.4, 0.95),
      fillTauMs: between(0.5, 5),
      tail: between(1.2, 2.2),
    }
  }
  const backends: Record<BackendName, BackendModel> = {
    cpu: model([0.03, 0.5], [1, 1], [0.3, 0.95]),
    wasm: model([0.05, 1], [1.2, 4], [0, 0]),
    webgpu: model([0.8, 4], [0.02, 0.3], [0, 0]),
  }
  const ort = backends.webgpu
  // Drawn after the backends, so the cpu, wasm and ort models of a seed are as they were before the GPU paths.
  const captured: BackendModel = {
    ...ort,
    overheadMs: ort.overheadMs * between(0.3, 1.1),
    perRowMs: ort.perRowMs * between(0.9, 1.3),
    buckets: true,
  }
  const kernels: BackendModel = {
    ...ort,
    overheadMs: ort.overheadMs * between(0.2, 1.5),
    perRowMs: ort.perRowMs * between(0.5, 2.5),
    opt: { disabled: 1, basic: 1, extended: 1, all: 1 },
  }
  const models: Record<string, BackendModel> = {
    cpu: backends.cpu,
    wasm: backends.wasm,
    [laneKey({ backend: 'webgpu', gpu_path: 'ort' })]: ort,
    [laneKey({ backend: 'webgpu', gpu_path: 'captured' })]: captured,
    [laneKey({ backend: 'webgpu', gpu_path: 'kernels' })]: kernels,
  }
  const measure = (p: TuningPoint): PointResult => {
    const m = models[laneKey(p)] as BackendModel
    const t = p.threads ?? 1
    const amdahl = 1 / (1 - m.parallel + m.parallel / t)
    const contention = 1 + m.oversubscription * Math.max(0, t - (cores - 1))
    const batchMs = (real: number) => {
      const rows = m.buckets ? bucket(Math.ceil(real), p.max_batch_size) : real
      return ((m.overheadMs + m.perRowMs * rows ** m.alpha) * m.opt[p.graph_optimization] * contention) / amdahl
    }
    const fill = m.fillAtZero + (1 - m.fillAtZero) * (1 - Math.exp(-p.max_queue_delay_ms / m.fillTauMs))
    const rows = Math.max(1, Math.min(p.max_batch_size, clients) * fill)
    const rowsPerS = (1000 * rows) / batchMs(rows)
    const p50 = (1000 * clients) / rowsPerS + p.max_queue_delay_ms / 2
    const p99 = p50 * m.tail + batchMs(rows) * (1 + 0.5 * Math.log2(p.max_batch_size)) + p.max_queue_delay_ms
    const noise = mulberry32(fnv(`${seed}|${pointKey(p)}`))
    const jitter = () => 1 + 0.02 * (noise() - 0.5)
    return { rows_per_s: rowsPerS * jitter(), p50_ms: p50 * jitter(), p99_ms: p99 * jitter() }
  }
  return { cores, clients, measure }
}
