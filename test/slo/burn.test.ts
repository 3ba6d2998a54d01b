/**
 * The arithmetic of objectives against the SRE workbook's own numbers ("Alerting on SLOs"): a
 * burn rate of 14.4 spends 2% of a 30-day budget in one hour; an error ratio of 2% against a
 * 99.9% objective burns at 20. Expected values are worked by hand in the comments, never with the
 * functions under test.
 */
import { describe, expect, it } from 'vitest'
import { attainment, budgetRemaining, burnRate, firing, type TimedRule } from '../../src/slo/burn.js'
import { parseSlo } from '../../src/slo/spec.js'

const H = 3_600_000
const M = 60_000

describe('attainment, budget and burn rate', () => {
  it('computes the workbook figures from good and total counts', () => {
    // 980 good of 1000: error ratio 0.02; budget 0.001; burn 0.02 / 0.001 = 20.
    expect(burnRate({ good: 980, total: 1000 }, 0.999)).toBeCloseTo(20, 9)
    expect(attainment({ good: 980, total: 1000 })).toBe(0.98)
    // 9995 of 10000 against 99.9%: 0.0005 of 0.001 spent, half the budget left.
    expect(budgetRemaining({ good: 9995, total: 10_000 }, 0.999)).toBeCloseTo(0.5, 9)
    // 9980 of 10000: 0.002 spent of 0.001, the budget overspent by itself: -1.
    expect(budgetRemaining({ good: 9980, total: 10_000 }, 0.999)).toBeCloseTo(-1, 9)
    // Against 99%: 3 bad of 400 is 0.0075 of 0.01, a quarter left, burning at 0.75.
    expect(budgetRemaining({ good: 397, total: 400 }, 0.99)).toBeCloseTo(0.25, 9)
    expect(burnRate({ good: 397, total: 400 }, 0.99)).toBeCloseTo(0.75, 9)
  })

  it('has no figures without events, and burns nothing', () => {
    expect(attainment({ good: 0, total: 0 })).toBeNull()
    expect(budgetRemaining({ good: 0, total: 0 }, 0.99)).toBeNull()
    expect(burnRate({ good: 0, total: 0 }, 0.99)).toBe(0)
    expect(burnRate({ good: 5, total: 5 }, 0.99)).toBe(0)
  })

  it('spends 2% of a 30-day budget in one hour at the first rule of the workbook', () => {
    // Hours in 30 days: 720. At burn rate b the budget lasts 720/b hours; one hour spends b/720.
    const rule = parseSlo({ objectives: [{ name: 'a', indicator: 'availability', target: 0.999 }] }).rules[0]
    expect(rule).toMatchObject({ long: '1h', short: '5m', factor: 14.4, severity: 'page', longMs: H, shortMs: 5 * M })
    expect(((rule?.factor ?? 0) * 1) / 720).toBeCloseTo(0.02, 12)
  })
})

describe('multiwindow, multi-burn-rate rules', () => {
  const rules = parseSlo({ objectives: [{ name: 'a', indicator: 'availability', target: 0.999 }] }).rules as TimedRule[]
  const burns = (b: Record<string, number>) => (ms: number) =>
    b[{ [5 * M]: '5m', [30 * M]: '30m', [H]: '1h', [6 * H]: '6h', [72 * H]: '3d' }[ms] as string] ?? 0

  it('pages when the 1 h and the 5 m burn rates are both above 14.4', () => {
    expect(firing(rules, burns({ '1h': 15, '5m': 20 }))).toEqual([
      { severity: 'page', rule: { long: '1h', short: '5m', factor: 14.4, burn_rate_long: 15, burn_rate_short: 20 } },
    ])
  })

  it('does not fire on the long window alone (recovered), nor on the short alone (a blip)', () => {
    expect(firing(rules, burns({ '1h': 15, '5m': 3 }))).toEqual([])
    expect(firing(rules, burns({ '1h': 8, '5m': 200 }))).toEqual([])
  })

  it('needs a burn rate above the factor: exactly 14.4 does not fire', () => {
    expect(firing(rules, burns({ '1h': 14.4, '5m': 14.4 }))).toEqual([])
    expect(firing(rules, burns({ '1h': 14.4, '5m': 20 }))).toEqual([])
    expect(firing(rules, burns({ '1h': 20, '5m': 14.4 }))).toEqual([])
    expect(firing(rules, burns({ '1h': 14.41, '5m': 14.41 })).map((f) => f.severity)).toEqual(['page'])
  })

  it('pages on the 6 h and 30 m pair above 6, and tickets on 3 d and 6 h above 1', () => {
    expect(firing(rules, burns({ '6h': 7, '30m': 6.5 })).map((f) => f.rule.long)).toEqual(['6h'])
    expect(firing(rules, burns({ '3d': 1.5, '6h': 1.2 }))).toEqual([
      { severity: 'ticket', rule: { long: '3d', short: '6h', factor: 1, burn_rate_long: 1.5, burn_rate_short: 1.2 } },
    ])
  })

  it('fires a page and a ticket apart, as the Prometheus rules do, naming the first rule of each', () => {
    const both = { '6h': 7, '30m': 7, '3d': 2 }
    expect(firing(rules, burns(both)).map((f) => [f.severity, f.rule.long])).toEqual([
      ['page', '6h'],
      ['ticket', '3d'],
    ])
    expect(firing([...rules].reverse(), burns(both)).map((f) => f.severity)).toEqual(['ticket', 'page'])
    // Of two page rules, the first listed is the one named.
    expect(firing(rules, burns({ '1h': 20, '5m': 20, '6h': 20, '30m': 20 })).map((f) => f.rule.long)).toEqual(['1h'])
  })
})
