/** A pipeline's `slo` as written: defaults filled in the OpenSLO shape, and each mistake a clear 400. */
import { describe, expect, it } from 'vitest'
import { InvalidConfigError } from '../../src/errors.js'
import { parseSlo } from '../../src/slo/spec.js'

const refused = (raw: unknown, message: RegExp) => {
  expect(() => parseSlo(raw)).toThrow(InvalidConfigError)
  expect(() => parseSlo(raw)).toThrow(message)
}

describe('slo definitions', () => {
  it('fills in a 30-day window, the operators and the workbook burn-rate rules', () => {
    const p = parseSlo({
      objectives: [
        { name: 'fast', indicator: 'latency', value: 50, target: 0.99 },
        { name: 'up', indicator: 'availability', target: 0.999 },
        { name: 'floor', indicator: 'throughput', value: 200, target: 0.95 },
      ],
    })
    expect(p.slo.time_window).toBe('30d')
    expect(p.windowMs).toBe(30 * 86_400_000)
    expect(p.slo.objectives.map((o) => ('op' in o ? o.op : null))).toEqual(['lte', null, 'gte'])
    expect(p.slo.per_arm).toBe(false)
    expect(p.slo.alerting.webhooks).toEqual([])
    expect(p.rules.map((r) => [r.long, r.short, r.factor, r.severity])).toEqual([
      ['1h', '5m', 14.4, 'page'],
      ['6h', '30m', 6, 'page'],
      ['3d', '6h', 1, 'ticket'],
    ])
    // Kept a day past the longest window read (30 d here).
    expect(p.retentionMs).toBe(31 * 86_400_000)
  })

  it('refuses rules longer than the time window (the defaults are for 30 days) and rules that cannot fire', () => {
    const up = [{ name: 'up', indicator: 'availability', target: 0.9 }]
    refused(
      { time_window: '1d', objectives: up },
      /burn_rates\.2: its long window \(3d\) is longer than the time_window \(1d\)/,
    )
    const p = parseSlo({
      time_window: '1d',
      objectives: up,
      alerting: { burn_rates: [{ long: '1h', short: '5m', factor: 9.9, severity: 'page' }] },
    })
    expect(p.retentionMs).toBe(2 * 86_400_000) // the 1 d window + 1 d
    // Against 90%, a burn rate of 10 means every event failing: refused when given; 9.9 just fits.
    // The default rules stay as they are (their 14.4 page cannot fire at 90%, their ticket can).
    expect(parseSlo({ objectives: up }).rules.map((r) => r.factor)).toEqual([14.4, 6, 1])
    refused(
      { objectives: up, alerting: { burn_rates: [{ long: '1h', short: '5m', factor: 10, severity: 'page' }] } },
      /a burn rate of 10 against objective 'up' \(target 0\.9\) .* could never fire/,
    )
  })

  it('holds durations, names and windows to their exact forms and bounds', () => {
    const up = [{ name: 'up', indicator: 'availability', target: 0.99 }]
    refused({ time_window: 'x5m', objectives: up }, /slo\.time_window: a duration like "5m", "6h" or "30d"/)
    refused({ time_window: '5mx', objectives: up }, /a duration like/)
    refused({ objectives: [{ name: 'up', indicator: 'availability', target: 0 }] }, /target: a share above 0/)
    refused({ objectives: [{ name: `a${'b'.repeat(63)}`, indicator: 'availability', target: 0.9 }] }, /name: lowercase/)
    expect(
      parseSlo({ objectives: [{ name: `a${'b'.repeat(62)}`, indicator: 'availability', target: 0.9 }] }).slo.objectives,
    ).toHaveLength(1)
    // The operators may be written out, as OpenSLO writes them.
    const ops = parseSlo({
      objectives: [
        { name: 'fast', indicator: 'latency', op: 'lte', value: 5, target: 0.99 },
        { name: 'floor', indicator: 'throughput', op: 'gte', value: 5, target: 0.99 },
      ],
    }).slo.objectives
    expect(ops.map((o) => ('op' in o ? o.op : null))).toEqual(['lte', 'gte'])
    // The time window: 1 h and 90 d are in, a second past an hour is not a whole minute.
    expect(parseSlo({ time_window: '90d', objectives: up }).windowMs).toBe(90 * 86_400_000)
    refused({ time_window: '3601s', objectives: up }, /whole minutes/)
    const rules = (burn_rates: unknown[], time_window = '30d') => ({
      time_window,
      objectives: up,
      alerting: { burn_rates },
    })
    const rule = (long: string, short: string) => ({ long, short, factor: 2, severity: 'page' })
    expect(parseSlo(rules([rule('1h', '1m')], '1h')).rules[0]).toMatchObject({ longMs: 3_600_000, shortMs: 60_000 })
    expect(parseSlo(rules([rule('90d', '1d')], '90d')).rules[0]?.longMs).toBe(90 * 86_400_000)
    refused(rules([rule('91d', '1d')], '90d'), /windows are whole minutes from 1m to 90d/)
    refused(rules([rule('1h', '90s')]), /windows are whole minutes/)
    refused(rules([rule('2h', '1h')], '1h'), /its long window \(2h\) is longer than the time_window \(1h\)/)
    refused(rules(Array.from({ length: 7 }, () => rule('1h', '5m'))), /burn_rates: /)
    expect(parseSlo(rules(Array.from({ length: 6 }, () => rule('1h', '5m')))).rules).toHaveLength(6)
  })

  it('refuses a webhook listed twice', () => {
    const url = 'https://hooks.example.com/slo'
    refused(
      { objectives: [{ name: 'up', indicator: 'availability', target: 0.99 }], alerting: { webhooks: [url, url] } },
      /webhooks: 'https:\/\/hooks\.example\.com\/slo' is listed twice/,
    )
  })

  it('refuses what cannot be measured, naming the field', () => {
    refused({ objectives: [] }, /slo\.objectives: /)
    refused(
      { objectives: [{ name: 'a', indicator: 'availability', target: 1 }] },
      /slo\.objectives\.0\.target: .*no error budget/,
    )
    refused({ objectives: [{ name: 'a', indicator: 'availability', target: 0 }] }, /target/)
    refused({ objectives: [{ name: 'a', indicator: 'latency', target: 0.9 }] }, /slo\.objectives\.0\.value/)
    refused({ objectives: [{ name: 'a', indicator: 'errors', target: 0.9 }] }, /slo\.objectives\.0\.indicator/)
    refused({ objectives: [{ name: 'a', indicator: 'latency', op: 'gte', value: 5, target: 0.9 }] }, /op/)
    refused({ objectives: [{ name: 'A b', indicator: 'availability', target: 0.9 }] }, /name: lowercase/)
    refused(
      {
        objectives: [
          { name: 'a', indicator: 'availability', target: 0.9 },
          { name: 'a', indicator: 'latency', value: 5, target: 0.9 },
        ],
      },
      /the name 'a' is used twice/,
    )
    refused(
      { time_window: '30 days', objectives: [{ name: 'a', indicator: 'availability', target: 0.9 }] },
      /time_window/,
    )
    refused({ time_window: '30m', objectives: [{ name: 'a', indicator: 'availability', target: 0.9 }] }, /1h to 90d/)
    refused({ time_window: '91d', objectives: [{ name: 'a', indicator: 'availability', target: 0.9 }] }, /1h to 90d/)
    refused(
      { time_window: '90s', objectives: [{ name: 'a', indicator: 'availability', target: 0.9 }] },
      /whole minutes/,
    )
    refused({ objectives: [{ name: 'a', indicator: 'availability', target: 0.9 }], extra: 1 }, /slo: .*extra/i)
    refused(
      { objectives: [{ name: 'a', indicator: 'availability', target: 0.9 }], alerting: { webhooks: ['nope'] } },
      /webhooks\.0/,
    )
  })

  it('refuses burn-rate rules whose short window is not shorter, or off the minute grid', () => {
    const base = { objectives: [{ name: 'a', indicator: 'availability', target: 0.9 }] }
    const rule = (long: string, short: string) => ({
      ...base,
      alerting: { burn_rates: [{ long, short, factor: 2, severity: 'page' }] },
    })
    refused(rule('1h', '1h'), /burn_rates\.0: the short window \(1h\) must be shorter than the long one \(1h\)/)
    refused(rule('5m', '1h'), /must be shorter/)
    refused(rule('1h', '30s'), /whole minutes from 1m to 90d/)
    expect(parseSlo(rule('2h', '10m')).rules[0]).toMatchObject({ longMs: 7_200_000, shortMs: 600_000 })
  })
})
