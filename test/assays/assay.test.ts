/**
 * Assays on real data (Seattle's daily weather, vega-datasets) and against an independent
 * computation of the documented binning and PSI: a summer against its whole year alerts, one year
 * against the next does not. Also bin modes, aggregations, outlier bins, NaN, and binning by search in the sorted sample.
 */
import { describe, expect, it } from 'vitest'
import { computeAssay, prepareBaseline, sortedBinCounts, summarizerSchema } from '../../src/assays/assay.js'
import { mulberry32, normal } from '../../src/random.js'
import { binCountsRef, independentPsi } from '../helpers/assay-reference.js'
import { freshSeed } from '../helpers/compare.js'
import { seattleWeather } from '../helpers/weather.js'

const days = seattleWeather()
const tmax = (f: (d: (typeof days)[number]) => boolean) => days.filter(f).map((d) => d.temp_max)

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
    expect(r.bins.window[0]).toBeCloseTo(
      share(w, (x) => x < 0),
      12,
    ) // values below -1 fold into the first bin
    expect(r.bins.window[1]).toBeCloseTo(
      share(w, (x) => x >= 0),
      12,
    )
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

  it('summaries of values with a large mean and a small spread keep their spread (NumPy float64 references)', async () => {
    // Sensor-like values, exact in float32. NumPy 1.24: baseline mean 10001.6625, std (ddof=1)
    // 1.145719691334277, median 10001.5625; window mean 10000.75, std 0.39528470752104744.
    // A one-pass float32 variance gives 0 for both.
    const b = [0.125, 0.5, 0.625, 1, 1.375, 1.75, 2.25, 2.375, 3, 3.625].map((d) => 1e4 + d)
    const w = [0.25, 0.5, 0.75, 1, 1.25].map((d) => 1e4 + d)
    const r = await computeAssay(prepareBaseline(b, defaults), w, defaults, { alert_threshold: 0.25 })
    expect(r.baseline_summary.mean).toBeCloseTo(10001.6625, 9)
    expect(r.baseline_summary.std).toBeCloseTo(1.145719691334277, 12)
    expect(r.baseline_summary.median).toBe(10001.5625)
    expect(r.window_summary.mean).toBeCloseTo(10000.75, 9)
    expect(r.window_summary.std).toBeCloseTo(0.39528470752104744, 12)
  })

  it('drops NaN and counts it; refuses an all-NaN baseline', async () => {
    const r = await computeAssay(prepareBaseline([1, 2, Number.NaN, 3], defaults), [1, Number.NaN, 2], defaults, {
      alert_threshold: 0.25,
    })
    expect(r.baseline_summary.nan).toBe(1)
    expect(r.window_summary).toMatchObject({ count: 2, nan: 1 })
    expect(() => prepareBaseline([Number.NaN], defaults)).toThrow(/no values/)
  })
})

describe('binning from the sorted sample', () => {
  it('equals a linear scan over the values, ties on edges, outliers and NaN included', () => {
    const rand = mulberry32(freshSeed())
    for (let trial = 0; trial < 20; trial++) {
      // Coarse values (multiples of 0.25) so many land exactly on edges.
      const values = Array.from({ length: 1 + Math.floor(rand() * 5000) }, () => Math.round((rand() * 12 - 6) * 4) / 4)
      const edges = [
        ...new Set(Array.from({ length: 2 + Math.floor(rand() * 8) }, () => Math.round((rand() * 10 - 5) * 4) / 4)),
      ].sort((a, b) => a - b)
      if (edges.length < 2) continue
      const nan = Math.floor(rand() * 3)
      const sorted = Float64Array.from(values).sort()
      expect(Array.from(sortedBinCounts(sorted, edges, nan))).toEqual(
        binCountsRef([...values, ...Array(nan).fill(Number.NaN)], edges),
      )
    }
  })
})
