/**
 * SVG charts of explanation reports: feature importances (bars with ±1 sd whiskers), partial
 * dependence with ICE curves, and one row's attributions (bars right for positive, left for negative).
 */
import { InvalidRequestError } from '../errors.js'
import { esc, frame, num, PAD, W } from '../svg.js'
import type { PartialDependence } from './global.js'
import type { ExplainReport } from './run.js'

const BAR = '#4c78a8'
const NEG = '#e45756'
const LABEL_W = 150

/** Horizontal bars from a zero line, one per label; `err` draws ±err whiskers. */
function bars(title: string, items: Array<{ label: string; value: number; err?: number }>): string {
  const rowH = 18
  const height = PAD.top + items.length * rowH + 40
  const lo = Math.min(0, ...items.map((i) => i.value - (i.err ?? 0)))
  const hi = Math.max(0, ...items.map((i) => i.value + (i.err ?? 0)))
  const span = hi - lo || 1
  const x0 = LABEL_W + 10
  const plotW = W - x0 - PAD.right
  const x = (v: number) => x0 + ((v - lo) / span) * plotW
  const body: string[] = [`<line x1="${x(0)}" y1="${PAD.top - 5}" x2="${x(0)}" y2="${height - 35}" stroke="#333"/>`]
  items.forEach((it, i) => {
    const y = PAD.top + i * rowH
    const a = Math.min(x(0), x(it.value))
    body.push(`<text x="${LABEL_W}" y="${y + 12}" text-anchor="end">${esc(it.label)}</text>`)
    body.push(
      `<rect x="${a}" y="${y + 2}" width="${Math.max(1, Math.abs(x(it.value) - x(0)))}" height="${rowH - 5}" fill="${it.value < 0 ? NEG : BAR}"><title>${esc(it.label)}: ${it.value}</title></rect>`,
    )
    if (it.err) {
      const ym = y + rowH / 2
      body.push(`<line x1="${x(it.value - it.err)}" y1="${ym}" x2="${x(it.value + it.err)}" y2="${ym}" stroke="#333"/>`)
    }
  })
  for (const v of [lo, 0, hi]) body.push(`<text x="${x(v)}" y="${height - 20}" text-anchor="middle">${num(v)}</text>`)
  return frame(title, body, height)
}

/** PDP (thick) over ICE curves (thin), against the feature's grid. */
function pdpChart(title: string, c: PartialDependence): string {
  const all = [...c.pdp, ...c.ice.flat()]
  const lo = Math.min(...all)
  const hi = Math.max(...all)
  const g0 = c.grid[0] as number
  const g1 = c.grid[c.grid.length - 1] as number
  const plotW = W - PAD.left - PAD.right
  const plotH = 360 - PAD.top - PAD.bottom
  const x = (v: number) => PAD.left + ((v - g0) / (g1 - g0 || 1)) * plotW
  const y = (v: number) => PAD.top + plotH * (1 - (v - lo) / (hi - lo || 1))
  const path = (ys: number[]) =>
    ys.map((v, i) => `${i ? 'L' : 'M'}${x(c.grid[i] as number).toFixed(1)},${y(v).toFixed(1)}`).join(' ')
  const body: string[] = [
    `<line x1="${PAD.left}" y1="${PAD.top}" x2="${PAD.left}" y2="${PAD.top + plotH}" stroke="#333"/>`,
    `<line x1="${PAD.left}" y1="${PAD.top + plotH}" x2="${PAD.left + plotW}" y2="${PAD.top + plotH}" stroke="#333"/>`,
    ...c.ice.map((curve) => `<path d="${path(curve)}" fill="none" stroke="#bbb" stroke-width="1"/>`),
    `<path d="${path(c.pdp)}" fill="none" stroke="${BAR}" stroke-width="3"/>`,
  ]
  for (const v of [lo, (lo + hi) / 2, hi])
    body.push(`<text x="${PAD.left - 6}" y="${y(v) + 4}" text-anchor="end">${num(v)}</text>`)
  for (const v of [g0, (g0 + g1) / 2, g1])
    body.push(`<text x="${x(v)}" y="${PAD.top + plotH + 16}" text-anchor="middle">${num(v)}</text>`)
  body.push(
    `<text x="${W / 2}" y="${PAD.top + plotH + 36}" text-anchor="middle">${esc(c.feature)} (PDP thick, ICE thin)</text>`,
  )
  return frame(title, body)
}

/** The chart of a report: importances, the PDP of `feature` (default the first), or the attributions of `row`. */
export function explanationChart(r: ExplainReport, opts: { row?: number; feature?: string } = {}): string {
  const title = `${r.pipeline} ${r.output}: ${r.method}`
  if (r.method === 'permutation') {
    const imp = r.importances as Array<{ feature: string; importance_mean: number; importance_std: number }>
    return bars(
      `${title} (${r.measure})`,
      imp.map((i) => ({ label: i.feature, value: i.importance_mean, err: i.importance_std })),
    )
  }
  if (r.method === 'pdp') {
    const curves = r.curves as PartialDependence[]
    const c = opts.feature === undefined ? curves[0] : curves.find((k) => k.feature === opts.feature)
    if (!c)
      throw new InvalidRequestError(
        `no curve for feature '${opts.feature}'; the report has ${curves.map((k) => k.feature).join(', ')}`,
      )
    return pdpChart(title, c)
  }
  const rows = r.rows as Array<{ row: number; prediction: number; attributions: number[] }>
  const row = rows[opts.row ?? 0]
  if (!row) throw new InvalidRequestError(`no row ${opts.row}; the report explains ${rows.length}`)
  const items = row.attributions
    .map((v, j) => ({ label: r.features[j] as string, value: v }))
    .sort((a, b) => Math.abs(b.value) - Math.abs(a.value))
  return bars(`${title}, row ${row.row}: base ${num(r.base_value as number)} → ${num(row.prediction)}`, items)
}
