/**
 * The generated Prometheus rules: their text for a known objective, `promtool check rules` finds
 * nothing wrong with them (both formats' groups), and `promtool test rules` shows them firing as the
 * built-in alerts do on the same traffic: 100 events a minute, 2% failing from minute 121 against
 * 99.9% — the ticket pair (above 1× over 3 d and 6 h) first, the 1 h / 5 m page once the last hour
 * holds more than 1.44% errors (the service test finds the built-in page 44 minutes in).
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { sloRules, yaml } from '../../src/slo/rules.js'
import { parseSlo } from '../../src/slo/spec.js'

const promtool = spawnSync('promtool', ['--version']).status === 0
const required = process.env.LASTMILE_REQUIRE_TOOLS === '1'
const dir = mkdtempSync(join(tmpdir(), 'lastmile-slo-rules-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const plan = parseSlo({
  objectives: [
    { name: 'up', indicator: 'availability', target: 0.999 },
    { name: 'fast', indicator: 'latency', value: 50, target: 0.99 },
  ],
})

function needPromtool(ctx: { skip(note: string): void }) {
  if (promtool) return
  if (required) throw new Error('LASTMILE_REQUIRE_TOOLS=1 but promtool is not installed (Debian: prometheus)')
  ctx.skip('promtool is not installed: apt-get install --no-install-recommends prometheus')
}

describe('Prometheus rules for objectives', () => {
  it('records the error ratio per window and alerts on the workbook pairs', () => {
    const text = sloRules('default', 'p', plan, 'prometheus')
    expect(
      text.startsWith(
        'groups:\n  - name: "lastmile-slo/default/p/ratios"\n    rules:\n      - record: "lastmile:slo_error_ratio:rate5m"\n',
      ),
    ).toBe(true)
    expect(text).toContain(
      'expr: "1 - (sum by (workspace, pipeline, objective, arm) (rate(lastmile_slo_good_events_total{workspace=\\"default\\",pipeline=\\"p\\"}[5m])) / sum by (workspace, pipeline, objective, arm) (rate(lastmile_slo_events_total{workspace=\\"default\\",pipeline=\\"p\\"}[5m])))"',
    )
    for (const w of ['5m', '1h', '30m', '6h', '3d'])
      expect(text).toContain(`record: "lastmile:slo_error_ratio:rate${w}"`)
    expect(text).toContain(
      'expr: "(lastmile:slo_error_ratio:rate3d{workspace=\\"default\\",pipeline=\\"p\\",objective=\\"fast\\"} > (1 * (1 - 0.99)) and lastmile:slo_error_ratio:rate6h{workspace=\\"default\\",pipeline=\\"p\\",objective=\\"fast\\"} > (1 * (1 - 0.99)))"',
    )
    const operator = sloRules('default', 'Fraud.v2', plan, 'prometheus-operator')
    expect(operator.split('\n').slice(0, 4)).toEqual([
      'apiVersion: "monitoring.coreos.com/v1"',
      'kind: "PrometheusRule"',
      'metadata:',
      // printf default/Fraud.v2 | sha256sum: 1e44c2ac…
      '  name: "lastmile-slo-default-fraud-v2-1e44c2ac"',
    ])
    // Names that read alike stay apart; a trailing '.' leaves no trailing '-'.
    const name = (ws: string, p: string) => /name: "([^"]+)"/.exec(sloRules(ws, p, plan, 'prometheus-operator'))?.[1]
    expect(name('team-a', 'x')).not.toBe(name('team', 'a-x'))
    expect(name('default', 'fraud')).not.toBe(name('default', 'Fraud'))
    expect(name('default', 'p.')).toMatch(/^lastmile-slo-default-p-[0-9a-f]{8}$/)
  })

  it('writes YAML block style with JSON-quoted strings', () => {
    expect(yaml({ a: [{ b: 'x"y', c: [] }, 2], d: {}, e: null })).toBe(
      'a:\n  - b: "x\\"y"\n    c: []\n  - 2\nd: {}\ne: null\n',
    )
  })

  it('passes promtool check rules', (ctx) => {
    needPromtool(ctx)
    const file = join(dir, 'check.yaml')
    writeFileSync(file, sloRules('default', 'p', plan, 'prometheus'))
    const r = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8' })
    expect(`${r.stdout}${r.stderr}`).toContain('SUCCESS: 9 rules found') // 5 windows + 2 objectives × 2 severities
    expect(r.status).toBe(0)
  })

  it('fires under promtool test rules when the built-in alerts would', (ctx) => {
    needPromtool(ctx)
    const up = parseSlo({ objectives: [{ name: 'up', indicator: 'availability', target: 0.999 }] })
    writeFileSync(join(dir, 'rules.yaml'), sloRules('default', 'p', up, 'prometheus'))
    const series = (name: string) => `${name}{workspace="default",pipeline="p",objective="up",arm=""}`
    const labels = (severity: string) => ({ severity, workspace: 'default', pipeline: 'p', objective: 'up' })
    const annotations = (rules: string) => ({
      summary: "default/p: objective 'up' is burning its error budget too fast",
      description: `Objective up (availability, target 0.999 over 30d): the error ratio is above ${rules}.`,
    })
    const page = {
      exp_labels: labels('page'),
      exp_annotations: annotations('14.4x the budget over 1h and 5m, or 6x the budget over 6h and 30m'),
    }
    const ticket = { exp_labels: labels('ticket'), exp_annotations: annotations('1x the budget over 3d and 6h') }
    // From minute 121 on, 98 of each 100 events are good. At minute 160 the last hour holds 40
    // failing minutes, 80 bad of 6000 (1.33%, below 14.4 × 0.1%); at minute 170, 100 of 6000
    // (1.67%, above), and the last 5 minutes 2%. The 6 h and 3 d windows hold all the data: 80 of
    // 16,000 at minute 160 (0.5%), above 1 × 0.1% but below 6 × 0.1%: the ticket alone.
    const tests = {
      rule_files: ['rules.yaml'],
      evaluation_interval: '1m',
      tests: [
        {
          interval: '1m',
          input_series: [
            { series: series('lastmile_slo_events_total'), values: '0+100x300' },
            { series: series('lastmile_slo_good_events_total'), values: '0+100x120 12098+98x180' },
          ],
          alert_rule_test: [
            { eval_time: '110m', alertname: 'LastmileSloBurnRate', exp_alerts: [] },
            { eval_time: '160m', alertname: 'LastmileSloBurnRate', exp_alerts: [ticket] },
            { eval_time: '170m', alertname: 'LastmileSloBurnRate', exp_alerts: [page, ticket] },
          ],
        },
      ],
    }
    writeFileSync(join(dir, 'tests.yaml'), yaml(tests))
    const r = spawnSync('promtool', ['test', 'rules', join(dir, 'tests.yaml')], { encoding: 'utf8' })
    expect(`${r.stdout}${r.stderr}`).toContain('SUCCESS')
    expect(r.status).toBe(0)
  })
})
