/**
 * Per-column count/min/max/sum/sum of squares of a row-major [rows, cols] matrix
 * (shaders/column-stats.wgsl), the host-side merge of its per-block partials, and the CPU twin.
 */
import type { Program } from '../gpu/program.js'
import { MAX_WORKGROUPS_PER_DIM } from '../gpu/program.js'
import { checkMatrix } from './row-kernels.js'
import { loadShader } from './shaders.js'

const WG = 256
/** f32 values per (block, column) partial: count, mean, M2, min, max, nan_count. */
export const PARTIAL_FIELDS = 6

export interface ColumnStats {
  /** Non-NaN values. */
  count: number
  nanCount: number
  min: number
  max: number
  sum: number
  sumSquares: number
  mean: number
  /** Population variance (divided by count). */
  variance: number
}

export interface ColumnStatsPlan {
  tileCols: number
  rowsPerBlock: number
  blocks: number
  tiles: number
  /** Bytes of the partials buffer. */
  partialBytes: number
}

/** Work split: a tile of up to 256 columns by a block of rows per workgroup. */
export function planColumnStats(rows: number, cols: number): ColumnStatsPlan {
  checkMatrix('column stats', rows, cols)
  const tileCols = Math.min(cols, WG)
  const rowsPerStep = Math.floor(WG / tileCols)
  // About 64 values per thread, with at most 65535 blocks.
  let rowsPerBlock = rowsPerStep * 64
  const minRows = Math.ceil(rows / MAX_WORKGROUPS_PER_DIM)
  if (rowsPerBlock < minRows) rowsPerBlock = Math.ceil(minRows / rowsPerStep) * rowsPerStep
  const blocks = Math.ceil(rows / rowsPerBlock)
  return {
    tileCols,
    rowsPerBlock,
    blocks,
    tiles: Math.ceil(cols / tileCols),
    partialBytes: blocks * cols * PARTIAL_FIELDS * 4,
  }
}

export function columnStatsProgram(a: {
  rows: number
  cols: number
  matrix: GPUBuffer
  partials: GPUBuffer
  plan: ColumnStatsPlan
}): Program {
  return {
    shader: loadShader('column-stats'),
    label: `column stats [${a.rows},${a.cols}]`,
    constants: { WG },
    uniforms: { rows: a.rows, cols: a.cols, rows_per_block: a.plan.rowsPerBlock, tile_cols: a.plan.tileCols },
    bindings: { matrix: a.matrix, partials: a.partials },
    workgroups: [a.plan.tiles, a.plan.blocks, 1],
  }
}

/** Merge the kernel's per-block partials in float64 (Chan et al.'s pairwise update). */
export function mergeColumnPartials(partials: Float32Array, blocks: number, cols: number): ColumnStats[] {
  const out: ColumnStats[] = []
  for (let c = 0; c < cols; c++) {
    let n = 0
    let mean = 0
    let m2 = 0
    let min = Number.POSITIVE_INFINITY
    let max = Number.NEGATIVE_INFINITY
    let nans = 0
    for (let b = 0; b < blocks; b++) {
      const o = (b * cols + c) * PARTIAL_FIELDS
      const nb = partials[o] as number
      nans += partials[o + 5] as number
      if (nb === 0) continue
      const d = (partials[o + 1] as number) - mean
      const nt = n + nb
      mean += (d * nb) / nt
      m2 += (partials[o + 2] as number) + (d * d * n * nb) / nt
      n = nt
      min = Math.min(min, partials[o + 3] as number)
      max = Math.max(max, partials[o + 4] as number)
    }
    out.push(finish(n, nans, min, max, mean, m2))
  }
  return out
}

function finish(n: number, nanCount: number, min: number, max: number, mean: number, m2: number): ColumnStats {
  if (n === 0) {
    return {
      count: 0,
      nanCount,
      min: Number.NaN,
      max: Number.NaN,
      sum: 0,
      sumSquares: 0,
      mean: Number.NaN,
      variance: Number.NaN,
    }
  }
  return { count: n, nanCount, min, max, sum: mean * n, sumSquares: m2 + mean * mean * n, mean, variance: m2 / n }
}

/** The same statistics on the CPU (two passes in float64). */
export function columnStatsCpu(matrix: ArrayLike<number>, rows: number, cols: number): ColumnStats[] {
  checkMatrix('column stats', rows, cols, matrix.length)
  const out: ColumnStats[] = []
  for (let c = 0; c < cols; c++) {
    let n = 0
    let sum = 0
    let nans = 0
    let min = Number.POSITIVE_INFINITY
    let max = Number.NEGATIVE_INFINITY
    for (let r = 0; r < rows; r++) {
      const x = matrix[r * cols + c] as number
      if (Number.isNaN(x)) {
        nans++
        continue
      }
      n++
      sum += x
      if (x < min) min = x
      if (x > max) max = x
    }
    const mean = sum / n
    let m2 = 0
    for (let r = 0; r < rows; r++) {
      const x = matrix[r * cols + c] as number
      if (!Number.isNaN(x)) m2 += (x - mean) * (x - mean)
    }
    out.push(finish(n, nans, min, max, mean, m2))
  }
  return out
}
