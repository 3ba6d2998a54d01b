/**
 * An objective's SVG chart over its time window: above, the attainment cumulated from the window's
 * start with the target dashed; below, the error budget left (the burn-down), with 0 dashed.
 * Plain SVG 1.1, no scripts, like the assay charts.
 */
import { esc, frame, num, PAD, W } from '../svg.js'
import { attainment, budgetRemaining } from './burn.js'

const PANEL = 150
const GAP = 50
const HEIGHT = PAD.top + 2 * PANEL + GAP + 40

const round = (v: number) => Math.round(v * 10) / 10

export interface ChartStep {
  /** End of the step (ms); the counts run from the window's start to here. */
  end: number
  good: number
  total: number
}

function panel(
  top: number,
  label: string,
  points: Array<[number, number]>,
  line: { value: number; name: string; color: string },
  x: (t: number) => number,
): string[] {
  const values = [line.value, ...points.map(([, v]) => v)]
  let lo = Math.min(...values)
  let hi = Math.max(...values)
  const pad = (hi - lo || Math.abs(hi) || 1) * 0.1
  lo -= pad
  hi += pad
  const y = (v: number) => round(top + PANEL * (1 - (v - lo) / (hi - lo)))
  const out = [
    `<text x="${PAD.left}" y="${top - 8}">${esc(label)}</text>`,
    `<line x1="${PAD.left}" y1="${top}" x2="${PAD.left}" y2="${top + PANEL}" stroke="#333"/>`,
    `<line x1="${PAD.left}" y1="${top + PANEL}" x2="${W - PAD.right}" y2="${top + PANEL}" stroke="#333"/>`,
  ]
  for (const v of [lo, (lo + hi) / 2, hi])
    out.push(`<text x="${PAD.left - 6}" y="${y(v) + 4}" text-anchor="end">${num(v)}</text>`)
  out.push(
    `<line x1="${PAD.left}" y1="${y(line.value)}" x2="${W - PAD.right}" y2="${y(line.value)}" stroke="${line.color}" stroke-dasharray="6 4"/>`,
    `<text x="${W - PAD.right}" y="${y(line.value) - 4}" text-anchor="end" fill="${line.color}">${esc(line.name)}</text>`,
  )
  if (points.length > 0)
    out.push(
      `<polyline fill="none" stroke="#4c78a8" stroke-width="2" points="${points.map(([t, v]) => `${x(t)},${y(v)}`).join(' ')}"/>`,
    )
  return out
}

/** The chart of one series: `steps` cumulated from the time window's start, oldest first. */
export function sloChart(title: string, target: number, steps: readonly ChartStep[]): string {
  const t0 = steps[0]?.end ?? 0
  const t1 = steps[steps.length - 1]?.end ?? 1
  const plotW = W - PAD.left - PAD.right
  const x = (t: number) => round(PAD.left + (t1 > t0 ? ((t - t0) / (t1 - t0)) * plotW : plotW / 2))
  const att: Array<[number, number]> = []
  const budget: Array<[number, number]> = []
  for (const s of steps) {
    const a = attainment(s)
    const b = budgetRemaining(s, target)
    if (a !== null) att.push([s.end, a])
    if (b !== null) budget.push([s.end, b])
  }
  const body = [
    ...panel(
      PAD.top + 10,
      'attainment since the window began',
      att,
      { value: target, name: `target ${target}`, color: '#e45756' },
      x,
    ),
    ...panel(
      PAD.top + 10 + PANEL + GAP,
      'error budget left',
      budget,
      { value: 0, name: 'budget spent', color: '#e45756' },
      x,
    ),
  ]
  const last = steps[steps.length - 1]
  const now = last && last.total > 0 ? `${num(last.good / last.total)} of ${last.total} events good` : 'no events yet'
  body.push(`<text x="${W - PAD.right}" y="${PAD.top + 2}" text-anchor="end">${esc(now)}</text>`)
  if (steps.length > 0) {
    const date = (t: number) => new Date(t).toISOString().slice(0, 16).replace('T', ' ')
    body.push(`<text x="${PAD.left}" y="${HEIGHT - 12}">${date(t0)}</text>`)
    body.push(`<text x="${W - PAD.right}" y="${HEIGHT - 12}" text-anchor="end">${date(t1)}</text>`)
  }
  return frame(title, body, HEIGHT)
}
