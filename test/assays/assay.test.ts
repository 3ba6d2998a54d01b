/**
 * Assays on real data (Seattle's daily weather, vega-datasets) and against an independent
 * computation of the documented binning and PSI: a summer against its whole year alerts, one year
 * against the next does not. Also bin modes, aggregations, outlier bins, NaN, and the GPU histogram.
 */
import { describe, expect, it } from 'vitest'
import { computeAssay, prepareBaseline, summarizerSchema } from '../../src/assays/assay.js'
import { gpuHistogram } from '../../src/assays/gpu.js'
import { PSI_EPSILON } from '../../src/assays/stats.js'
import { mulberry32, normal } from '../../src/onnx/random.js'
import { freshSeed } from '../helpers/compare.js'
import { gpuTitle, probeGpu } from '../helpers/gpu.js'
import { closeTestContext, testContext } from '../helpers/kernels.js'
import { seattleWeather } from '../helpers/weather.js'

const gpu = await probeGpu()
const days = seattleWeather()
const tmax = (f: (d: (typeof days)[number]) => boolean) => days.filter(f).map((d) => d.temp_max)

/** Quantile edges, outlier bins and PSI written out from the README's definitions. */
function independentPsi(baseline: number[], window: number[], bins: number): number {
  const s = [...baseline].sort((a, b) => a - b)
  const q = (p: number) => {
    const h = (s.length - 1) * p
    const lo = Math.floor(h)
    return (s[lo] as number) + (h - lo) * ((s[Math.min(lo + 1, s.length - 1)] as number) - (s[lo] as number))
  }
  const edges = [...new Set(Array.from({ length: bins + 1 }, (_, k) => q(k / bins)))]
  const share = (v: number[]) => {
    const counts = new Array(edges.length + 1).fill(0)
    for (const x of v) {
      if (x < (edges[0] as number)) counts[0]++
      else if (x > (edges[edges.length - 1] as number)) counts[edges.length]++
      else {
        let j = 0
        while (j < edges.length - 2 && x >= (edges[j + 1] as number)) j++
        counts[j + 1]++
      }
    }
    return counts.map((c) => c / v.length)
  }
  const b = share(baseline)
  const w = share(window)
  return b.reduce((acc, bi, i) => {
    const x = Math.max(bi, PSI_EPSILON)
    const y = Math.max(w[i] as number, PSI_EPSILON)
    return acc + (y - x) * Math.log(y / x)
  }, 0)
}

const defaults = summarizerSchema.parse({})

describe('assays on Seattle weather (daily max temperature)', () => {
  const year2012 = tmax((d) => d.year === 2012)
  const baseline = prepareBaseline(year2012, defaults)

  it('a summer against its whole year alerts', async () => {
    const summer = tmax((d) => d.year === 2012 && d.month >= 6 && d.month <= 8)
    const r = await computeAssay(baseline, summer, defaults, { alert_threshold: 0.25 })
    expect(r.status).toBe('alert')
    expect(r.score).toBeCloseTo(independentPsi(year2012, summer, 5), 9)
    expect(r.ks.p_value).toBeLessThan(1e-10)
    expect(r.bins.labels).toHaveLength(7) // 5 quantile bins and two outlier bins
  })

  it('one year against the next does not', async () => {
    const year2013 = tmax((d) => d.year === 2013)
    const r = await computeAssay(baseline, year2013, defaults, { alert_threshold: 0.25, warning_threshold: 0.1 })
    expect(r.status).toBe('ok')
    expect(r.score).toBeCloseTo(independentPsi(year2012, year2013, 5), 9)
    expect(r.baseline_summary).toMatchObject({ count: 366, nan: 0 })
    expect(r.baseline_summary.edges).toHaveLength(6)
  })
})

describe('assay summarizer options', () => {
  const rand = mulberry32(freshSeed())
  const b = Array.from(normal(rand, 5000))
  const w = Array.from(normal(rand, 4000, 0.4, 1.3))

  it('equal-width and provided edges, with and without outlier bins', async () => {
    const equal = summarizerSchema.parse({ bin_mode: 'equal', num_bins: 4 })
    const pb = prepareBaseline(b, equal)
    const step = (pb.summary.max - pb.summary.min) / 4
    pb.edges.forEach((e, k) => {
      expect(e).toBeCloseTo(pb.summary.min + k * step, 9)
    })
    const provided = summarizerSchema.parse({ bin_mode: 'provided', edges: [-1, 0, 1], add_outlier_edges: false })
    const r = await computeAssay(prepareBaseline(b, provided), w, provided, { alert_threshold: 0.25 })
    expect(r.bins.labels).toEqual(['[-1, 0)', '[0, 1]'])
    const share = (v: number[], f: (x: number) => boolean) => v.filter(f).length / v.length
    expect(r.bins.window[0]).toBeCloseTo(share(w, (x) => x < 0), 12) // values below -1 fold into the first bin
    expect(r.bins.window[1]).toBeCloseTo(share(w, (x) => x >= 0), 12)
  })

  it('cumulative aggregation ends at 1; edges aggregation compares quantiles; maxdiff and sumdiff', async () => {
    const cum = summarizerSchema.parse({ aggregation: 'cumulative', metric: 'maxdiff' })
    const r = await computeAssay(prepareBaseline(b, cum), w, cum, { alert_threshold: 0.25 })
    expect(r.bins.window[r.bins.window.length - 1]).toBeCloseTo(1, 12)
    expect(r.score).toBe(Math.max(...r.bins.window.map((x, i) => Math.abs(x - (r.bins.baseline[i] as number)))))
    const edges = summarizerSchema.parse({ aggregation: 'edges', metric: 'sumdiff' })
    const e = await computeAssay(prepareBaseline(b, edges), w, edges, { alert_threshold: 0.25 })
    const ws = [...w].sort((x, y) => x - y)
    expect(e.bins.window[0]).toBe(ws[0]) // the window's 0-quantile
    expect(e.bins.window[5]).toBe(ws[ws.length - 1])
    expect(() => prepareBaseline(b, summarizerSchema.parse({ aggregation: 'edges' }))).toThrow(/"psi" compares shares/)
  })

  it('drops NaN and counts it; refuses an all-NaN baseline', async () => {
    const r = await computeAssay(prepareBaseline([1, 2, Number.NaN, 3], defaults), [1, Number.NaN, 2], defaults, { alert_threshold: 0.25 })
    expect(r.baseline_summary.nan).toBe(1)
    expect(r.window_summary).toMatchObject({ count: 2, nan: 1 })
    expect(() => prepareBaseline([Number.NaN], defaults)).toThrow(/no values/)
  })
})

describe.runIf(gpu.ok)(gpuTitle('assay histogram on the GPU', gpu), () => {
  it('equals the CPU histogram on a large window', async () => {
    const rand = mulberry32(freshSeed())
    const b = normal(rand, 20_000)
    const w = Float64Array.from(normal(rand, 300_000, 0.2), (x) => Math.fround(x))
    const baseline = prepareBaseline(b, defaults)
    const cpu = await computeAssay(baseline, w, defaults, { alert_threshold: 0.25 })
    const ctx = await testContext()
    const onGpu = await computeAssay(baseline, w, defaults, { alert_threshold: 0.25 }, gpuHistogram(() => ctx))
    // Edges go to the GPU as float32: values within float32 rounding of an edge may change bins.
    onGpu.bins.window.forEach((x, i) => {
      expect(Math.abs(x - (cpu.bins.window[i] as number))).toBeLessThan(1e-4)
    })
    expect(onGpu.score).toBeCloseTo(cpu.score, 3)
    await closeTestContext()
  })
})
