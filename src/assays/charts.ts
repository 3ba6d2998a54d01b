/**
 * Server-rendered SVG charts, readable without a browser app: baseline vs window bins for one
 * result, and the score over time with the thresholds drawn. Plain SVG 1.1, no scripts.
 */
import { esc, frame, H, num, PAD, W } from '../svg.js'
import type { AssayResult } from './assay.js'

const COLORS = {
  baseline: '#4c78a8',
  window: '#f58518',
  ok: '#54a24b',
  warning: '#eeca3b',
  alert: '#e45756',
  no_data: '#999999',
}

function yAxis(max: number, scale: (v: number) => number): string[] {
  const out: string[] = [
    `<line x1="${PAD.left}" y1="${PAD.top}" x2="${PAD.left}" y2="${H - PAD.bottom}" stroke="#333"/>`,
  ]
  for (let k = 0; k <= 4; k++) {
    const v = (max * k) / 4
    const y = scale(v)
    out.push(`<line x1="${PAD.left - 4}" y1="${y}" x2="${W - PAD.right}" y2="${y}" stroke="#eee"/>`)
    out.push(`<text x="${PAD.left - 6}" y="${y + 4}" text-anchor="end">${num(v)}</text>`)
  }
  return out
}

/** Grouped bars: the baseline's and the window's value per bin. */
export function binsChart(title: string, r: Pick<AssayResult, 'bins' | 'score' | 'status'>): string {
  const { labels, baseline, window } = r.bins
  const max = Math.max(1e-12, ...baseline, ...window) * 1.1
  const plotW = W - PAD.left - PAD.right
  const plotH = H - PAD.top - PAD.bottom
  const y = (v: number) => PAD.top + plotH * (1 - v / max)
  const slot = plotW / Math.max(1, labels.length)
  const bar = Math.max(1, slot * 0.38)
  const body = yAxis(max, y)
  labels.forEach((label, i) => {
    const x0 = PAD.left + i * slot + slot * 0.1
    for (const [k, v, color] of [
      [0, baseline[i] ?? 0, COLORS.baseline],
      [1, window[i] ?? 0, COLORS.window],
    ] as const) {
      body.push(
        `<rect x="${x0 + k * bar}" y="${y(v)}" width="${bar}" height="${Math.max(0, PAD.top + plotH - y(v))}" fill="${color}"><title>${esc(label)}: ${num(v)}</title></rect>`,
      )
    }
    const lx = PAD.left + i * slot + slot / 2
    body.push(
      `<text x="${lx}" y="${H - PAD.bottom + 14}" text-anchor="end" transform="rotate(-30 ${lx} ${H - PAD.bottom + 14})">${esc(label)}</text>`,
    )
  })
  body.push(
    `<rect x="${W - 190}" y="28" width="10" height="10" fill="${COLORS.baseline}"/><text x="${W - 176}" y="37">baseline</text>`,
  )
  body.push(
    `<rect x="${W - 110}" y="28" width="10" height="10" fill="${COLORS.window}"/><text x="${W - 96}" y="37">window</text>`,
  )
  body.push(`<text x="${PAD.left}" y="37">score ${num(r.score)} (${esc(r.status)})</text>`)
  return frame(title, body)
}

export interface ScorePoint {
  time: number
  score: number
  status: string
}

/** Score per window over time, with the warning and alert thresholds as dashed lines. */
export function scoresChart(
  title: string,
  points: ScorePoint[],
  thresholds: { warning?: number | undefined; alert: number },
): string {
  const scored = points.filter((p) => Number.isFinite(p.score) && p.score >= 0)
  const max = Math.max(thresholds.alert, thresholds.warning ?? 0, ...scored.map((p) => p.score)) * 1.15 || 1
  const t0 = Math.min(...points.map((p) => p.time))
  const t1 = Math.max(...points.map((p) => p.time))
  const plotW = W - PAD.left - PAD.right
  const plotH = H - PAD.top - PAD.bottom
  const x = (t: number) => PAD.left + (t1 > t0 ? ((t - t0) / (t1 - t0)) * plotW : plotW / 2)
  const y = (v: number) => PAD.top + plotH * (1 - v / max)
  const body = yAxis(max, y)
  for (const [name, v, color] of [
    ['alert', thresholds.alert, COLORS.alert],
    ['warning', thresholds.warning, COLORS.warning],
  ] as const) {
    if (v === undefined) continue
    body.push(
      `<line x1="${PAD.left}" y1="${y(v)}" x2="${W - PAD.right}" y2="${y(v)}" stroke="${color}" stroke-dasharray="6 4"/>`,
    )
    body.push(`<text x="${W - PAD.right}" y="${y(v) - 4}" text-anchor="end" fill="${color}">${name} ${num(v)}</text>`)
  }
  if (scored.length > 1)
    body.push(
      `<polyline fill="none" stroke="#333" points="${scored.map((p) => `${x(p.time)},${y(p.score)}`).join(' ')}"/>`,
    )
  for (const p of points) {
    const v = Number.isFinite(p.score) && p.score >= 0 ? p.score : 0
    const color = COLORS[p.status as keyof typeof COLORS] ?? '#333'
    body.push(
      `<circle cx="${x(p.time)}" cy="${y(v)}" r="4" fill="${color}"><title>${new Date(p.time).toISOString()}: ${num(p.score)} (${esc(p.status)})</title></circle>`,
    )
  }
  if (points.length > 0) {
    body.push(
      `<text x="${PAD.left}" y="${H - PAD.bottom + 18}">${new Date(t0).toISOString().slice(0, 16).replace('T', ' ')}</text>`,
    )
    body.push(
      `<text x="${W - PAD.right}" y="${H - PAD.bottom + 18}" text-anchor="end">${new Date(t1).toISOString().slice(0, 16).replace('T', ' ')}</text>`,
    )
  } else body.push(`<text x="${W / 2}" y="${H / 2}" text-anchor="middle">no results yet</text>`)
  return frame(title, body)
}
