/** The assay histogram on the GPU (shaders/histogram.wgsl): one upload, one dispatch, one readback. */
import type { GpuContext } from '../gpu/context.js'
import { histogramProgram } from '../kernels/histogram.js'
import type { HistogramFn } from './assay.js'

/** A histogram function running on `ctx`'s device (values converted to f32, as the kernel reads them). */
export function gpuHistogram(ctx: () => GpuContext): HistogramFn {
  return async (values, edges) => {
    const c = ctx()
    const batch = c.batch('assay histogram')
    const counts = batch.scratch((edges.length + 2) * 4, 'counts')
    batch.dispatch(
      histogramProgram({
        count: values.length,
        values: batch.upload(Float32Array.from(values), 'values'),
        edges: batch.upload(Float32Array.from(edges), 'edges'),
        numEdges: edges.length,
        counts,
      }),
    )
    const [bytes] = await batch.read([{ buffer: counts, bytes: (edges.length + 2) * 4 }])
    return new Uint32Array(bytes as ArrayBuffer)
  }
}
