/**
 * One assay computation at its edges, every expected value worked out by hand: NaN dropped from
 * both samples, a constant baseline's single narrow bin, repeated quantiles merged, equal-width
 * edges and their quantile levels, provided edges refused when not increasing, each threshold at
 * its boundary, the bin labels of each aggregation, and maxdiff and sumdiff on known shares.
 */
import { describe, expect, it } from 'vitest'
import { computeAssay, prepareBaseline, summarizerSchema } from '../../src/assays/assay.js'

const summarizer = (over: Record<string, unknown> = {}) => summarizerSchema.parse(over)
const alertAt = (alert_threshold: number, warning_threshold?: number) =>
  warning_threshold === undefined ? { alert_threshold } : { alert_threshold, warning_threshold }

describe('assay computation at its edges', () => {
  it('drops NaN from both samples before any statistic, and counts it', () => {
    const s = summarizer()
    const r = computeAssay(prepareBaseline([Number.NaN, 3, 1, Number.NaN, 2], s), [Number.NaN, 5, 4], s, alertAt(0.25))
    expect(r.baseline_summary).toMatchObject({ count: 3, nan: 2, min: 1, max: 3, mean: 2, median: 2 })
    expect(r.window_summary).toMatchObject({ count: 2, nan: 1, min: 4, max: 5, mean: 4.5 })
  })

  it('gives a constant baseline one narrow bin just above its value', () => {
    const s = summarizer()
    const b = prepareBaseline([5, 5, 5, 5], s)
    expect(b.edges).toEqual([5, 5.000000005]) // 5 + max(|5|, 1)·1e-9
    expect(prepareBaseline([-0.25, -0.25], s).edges).toEqual([-0.25, -0.25 + 1e-9]) // max(0.25, 1)·1e-9
    const r = computeAssay(b, [5, 5, 6], s, alertAt(100))
    expect(r.bins.labels).toEqual(['left_outlier', '[5, 5]', 'right_outlier'])
    expect(r.bins.baseline).toEqual([0, 1, 0])
    expect(r.bins.window).toEqual([0, 2 / 3, 1 / 3])
  })

  it('merges repeated quantile edges and takes the levels from the baseline', () => {
    // [1, 1, 1, 2] in 4 quantile bins: quantiles 1, 1, 1, 1.25, 2 → edges 1, 1.25, 2. The share of
    // the baseline below each edge, over n − 1 = 3: 0, 3/3, 3/3.
    const s = summarizer({ num_bins: 4, aggregation: 'edges', metric: 'maxdiff' })
    const b = prepareBaseline([1, 2, 1, 1], s)
    expect(b.edges).toEqual([1, 1.25, 2])
    expect(b.levels).toEqual([0, 1, 1])
    const r = computeAssay(b, [10, 30, 20], s, alertAt(100))
    expect(r.bins.window).toEqual([10, 30, 30]) // the window's quantiles at levels 0, 1, 1
    expect(r.bins.labels).toEqual(['edge_0', 'edge_1', 'edge_2'])
    expect(r.score).toBe(28.75) // max(|10 − 1|, |30 − 1.25|, |30 − 2|)
  })

  it('places equal-width edges from the baseline min to max, with their quantile levels', () => {
    const s = summarizer({ bin_mode: 'equal', num_bins: 4, aggregation: 'edges', metric: 'sumdiff' })
    const b = prepareBaseline([8, 0, 1, 2, 3, 4, 5, 6, 7], s)
    expect(b.edges).toEqual([0, 2, 4, 6, 8])
    // Share below each edge over n − 1 = 8: 0/8, 2/8, 4/8, 6/8, 8/8.
    expect(b.levels).toEqual([0, 0.25, 0.5, 0.75, 1])
    const r = computeAssay(b, [18, 10, 11, 12, 13, 14, 15, 16, 17], s, alertAt(100))
    expect(r.bins.window).toEqual([10, 12, 14, 16, 18])
    expect(r.score).toBe(50) // Σ |window − edge| = 10 × 5
  })

  it('refuses provided edges that do not increase, or none', () => {
    expect(() => prepareBaseline([1, 2], summarizer({ bin_mode: 'provided', edges: [0, 1, 1] }))).toThrow(
      'provided edges must be strictly increasing',
    )
    expect(() => prepareBaseline([1, 2], summarizer({ bin_mode: 'provided', edges: [0, 2, 1] }))).toThrow(
      'provided edges must be strictly increasing',
    )
    expect(() => prepareBaseline([1, 2], summarizer({ bin_mode: 'provided' }))).toThrow(
      'bin_mode "provided" needs "edges"',
    )
  })

  describe('scores and thresholds on known shares', () => {
    // Edges 0, 1, 2 with outlier bins. Baseline shares [0, 1/2, 1/2, 0]; window [0, 1/4, 3/4, 0].
    const baseline = [0.5, 0.5, 1.5, 1.5]
    const window = [0.5, 1.5, 1.5, 1.5]
    const run = (metric: string, thresholds: ReturnType<typeof alertAt>) => {
      const s = summarizer({ bin_mode: 'provided', edges: [0, 1, 2], metric })
      return computeAssay(prepareBaseline(baseline, s), window, s, thresholds)
    }

    it('maxdiff, sumdiff and the labels', () => {
      const max = run('maxdiff', alertAt(1))
      expect(max.bins.labels).toEqual(['left_outlier', '[0, 1)', '[1, 2]', 'right_outlier'])
      expect(max.bins.baseline).toEqual([0, 0.5, 0.5, 0])
      expect(max.bins.window).toEqual([0, 0.25, 0.75, 0])
      expect(max.score).toBe(0.25)
      expect(run('sumdiff', alertAt(1)).score).toBe(0.5)
    })

    it('alerts at the alert threshold, warns at the warning threshold, else is ok', () => {
      expect(run('maxdiff', alertAt(0.25)).status).toBe('alert') // score 0.25 = threshold
      expect(run('maxdiff', alertAt(0.3, 0.25)).status).toBe('warning')
      expect(run('maxdiff', alertAt(0.3, 0.26)).status).toBe('ok')
      expect(run('maxdiff', alertAt(0.3)).status).toBe('ok')
      expect(run('maxdiff', alertAt(0.2, 0.1)).status).toBe('alert')
    })
  })

  it('shares are 0, not NaN, when a window has no finite value', () => {
    const s = summarizer({ bin_mode: 'provided', edges: [0, 1], metric: 'maxdiff' })
    const r = computeAssay(prepareBaseline([0.5, 0.7], s), [Number.NaN], s, alertAt(2))
    expect(r.bins.window).toEqual([0, 0, 0])
    expect(r.score).toBe(1)
    expect(r.window_summary).toMatchObject({ count: 0, nan: 1 })
  })
})
