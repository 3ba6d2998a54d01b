/** Histogram of a column into given bin edges (shaders/histogram.wgsl) and its CPU twin. */
import { InvalidInputError } from '../errors.js'
import { grid, type Program } from '../gpu/program.js'
import { loadShader } from './shaders.js'

const WG = 256
const ITEMS = 16 /* values per thread */
/** The kernel's workgroup-local histogram holds 1024 bins plus underflow, overflow and NaN. */
export const MAX_BINS = 1024

export interface HistogramArgs {
  /** Values in the column. */
  count: number
  /** Element i is values[offset + i * stride] (a column of a row-major matrix). */
  stride?: number
  offset?: number
  values: GPUBuffer
  /** f32 edges, strictly increasing; bins = edges - 1. */
  edges: GPUBuffer
  numEdges: number
  /** u32 [bins + 3]: underflow, bins..., overflow, NaN. Zeroed by the program. */
  counts: GPUBuffer
}

/** Edges must be finite and strictly increasing, 2..1025 of them. */
export function checkEdges(edges: ArrayLike<number>): void {
  if (edges.length < 2 || edges.length > MAX_BINS + 1) {
    throw new InvalidInputError(`histogram: need 2..${MAX_BINS + 1} bin edges, got ${edges.length}`)
  }
  for (let i = 0; i < edges.length; i++) {
    const e = edges[i] as number
    if (!Number.isFinite(e) || (i > 0 && !(e > (edges[i - 1] as number)))) {
      throw new InvalidInputError(`histogram: edges must be finite and strictly increasing (edge ${i} is ${e})`)
    }
  }
}

export function histogramProgram(a: HistogramArgs): Program {
  if (a.numEdges < 2 || a.numEdges > MAX_BINS + 1) checkEdges({ length: a.numEdges })
  return {
    shader: loadShader('histogram'),
    label: `histogram [${a.count}] into ${a.numEdges - 1} bins`,
    constants: { WG, ITEMS },
    uniforms: { count: a.count, stride: a.stride ?? 1, offset: a.offset ?? 0, num_edges: a.numEdges },
    bindings: { values: a.values, edges: a.edges, counts: a.counts },
    clear: [a.counts],
    workgroups: grid(Math.max(1, Math.ceil(a.count / (WG * ITEMS)))),
  }
}

/** Counts with the kernel's conventions: [underflow, bins..., overflow, NaN]. */
export function histogramCpu(
  values: ArrayLike<number>,
  edges: ArrayLike<number>,
  stride = 1,
  offset = 0,
  count?: number,
): Uint32Array {
  checkEdges(edges)
  const bins = edges.length - 1
  const counts = new Uint32Array(bins + 3)
  const n = count ?? Math.floor((values.length - offset + stride - 1) / stride)
  const first = edges[0] as number
  const last = edges[bins] as number
  const bump = (slot: number) => {
    counts[slot] = (counts[slot] as number) + 1
  }
  for (let i = 0; i < n; i++) {
    const x = values[offset + i * stride] as number
    if (Number.isNaN(x)) bump(bins + 2)
    else if (x < first) bump(0)
    else if (x > last) bump(bins + 1)
    else {
      let lo = 0
      let hi = bins - 1
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1
        if ((edges[mid] as number) <= x) lo = mid
        else hi = mid - 1
      }
      bump(1 + lo)
    }
  }
  return counts
}
