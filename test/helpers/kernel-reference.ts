/**
 * Float64 references for the kernels, written from their documented definitions and kept
 * deliberately naive (direct formulas, full sorts, linear scans) so they share no code or
 * algorithm with the kernels or their CPU twins.
 */

/** Softmax of one row by its definition, with the edge cases the kernels document. */
export function softmaxRowRef(row: number[]): number[] {
  if (row.some(Number.isNaN)) return row.map(() => Number.NaN)
  const pinf = row.filter((x) => x === Number.POSITIVE_INFINITY).length
  if (pinf > 0) return row.map((x) => (x === Number.POSITIVE_INFINITY ? 1 / pinf : 0))
  if (row.every((x) => x === Number.NEGATIVE_INFINITY)) return row.map(() => Number.NaN)
  // exp(x - c) / Σ exp(x - c) equals exp(x) / Σ exp(x) for any c; c = max keeps it in range.
  const c = Math.max(...row)
  const denom = row.reduce((s, x) => s + Math.exp(x - c), 0)
  return row.map((x) => Math.exp(x - c) / denom)
}

export function sigmoidRef(x: number): number {
  if (Number.isNaN(x)) return x
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x))
}

/** Indices of a row in rank order: larger first, NaN last, ties by lower index. */
export function rankOrder(row: number[]): number[] {
  const key = (v: number) => (Number.isNaN(v) ? Number.NEGATIVE_INFINITY : v)
  return row
    .map((v, i) => ({ v, i }))
    .sort((a, b) => {
      const an = Number.isNaN(a.v)
      const bn = Number.isNaN(b.v)
      if (an !== bn) return an ? 1 : -1
      return key(b.v) - key(a.v) || a.i - b.i
    })
    .map((x) => x.i)
}

/** Bilinear sample of a single-channel H×W image at real source coordinates (sy, sx). */
export function bilinearRef(
  img: (y: number, x: number) => number,
  H: number,
  W: number,
  sy: number,
  sx: number,
): number {
  const y0 = Math.floor(sy)
  const x0 = Math.floor(sx)
  const clampY = (y: number) => Math.min(Math.max(y, 0), H - 1)
  const clampX = (x: number) => Math.min(Math.max(x, 0), W - 1)
  const fy = sy - y0
  const fx = sx - x0
  return (
    img(clampY(y0), clampX(x0)) * (1 - fy) * (1 - fx) +
    img(clampY(y0), clampX(x0 + 1)) * (1 - fy) * fx +
    img(clampY(y0 + 1), clampX(x0)) * fy * (1 - fx) +
    img(clampY(y0 + 1), clampX(x0 + 1)) * fy * fx
  )
}
