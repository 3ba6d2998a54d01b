/** Plain SVG 1.1 building blocks for the server-rendered charts (assays, explanations): no scripts. */

export const W = 720
export const H = 360
export const PAD = { left: 60, right: 20, top: 40, bottom: 70 }

export const esc = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

/** A short label for an axis value. */
export const num = (v: number) =>
  Math.abs(v) >= 1000 || (Math.abs(v) < 0.01 && v !== 0) ? v.toExponential(1) : Number(v.toPrecision(3)).toString()

/** The chart's frame: accessible `<title>`, white background, visible title, then `body`. */
export function frame(title: string, body: string[], height = H): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="sans-serif" font-size="11" role="img">`,
    `<title>${esc(title)}</title>`,
    `<rect width="${W}" height="${height}" fill="white"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${esc(title)}</text>`,
    ...body,
    '</svg>',
  ].join('\n')
}
