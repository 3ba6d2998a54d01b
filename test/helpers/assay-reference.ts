/** An assay's score computed from the README's definitions, independently of src/assays. */

/** The README's PSI floor for empty shares (ε = 10⁻⁴), written out: never read from src/assays. */
const PSI_FLOOR = 1e-4

/** Quantile edges, outlier bins and PSI written out from the README's definitions. */
export function independentPsi(baseline: number[], window: number[], bins: number): number {
  const s = [...baseline].sort((a, b) => a - b)
  const q = (p: number) => {
    const h = (s.length - 1) * p
    const lo = Math.floor(h)
    return (s[lo] as number) + (h - lo) * ((s[Math.min(lo + 1, s.length - 1)] as number) - (s[lo] as number))
  }
  const edges = [...new Set(Array.from({ length: bins + 1 }, (_, k) => q(k / bins)))]
  const share = (v: number[]) => {
    const counts = new Array(edges.length + 1).fill(0)
    for (const x of v) {
      if (x < (edges[0] as number)) counts[0]++
      else if (x > (edges[edges.length - 1] as number)) counts[edges.length]++
      else {
        let j = 0
        while (j < edges.length - 2 && x >= (edges[j + 1] as number)) j++
        counts[j + 1]++
      }
    }
    return counts.map((c) => c / v.length)
  }
  const b = share(baseline)
  const w = share(window)
  return b.reduce((acc, bi, i) => {
    const x = Math.max(bi, PSI_FLOOR)
    const y = Math.max(w[i] as number, PSI_FLOOR)
    return acc + (y - x) * Math.log(y / x)
  }, 0)
}

/**
 * Bin counts by a linear scan: [below edges[0], [e₀,e₁), …, [e₋₂, e₋₁] (the last bin closed),
 * above, NaN], the layout `sortedBinCounts` documents.
 */
export function binCountsRef(values: number[], edges: number[]): number[] {
  const bins = edges.length - 1
  const counts = new Array(bins + 3).fill(0)
  for (const x of values) {
    if (Number.isNaN(x)) counts[bins + 2]++
    else if (x < (edges[0] as number)) counts[0]++
    else if (x > (edges[bins] as number)) counts[bins + 1]++
    else {
      let j = 0
      while (j < bins - 1 && !(x < (edges[j + 1] as number))) j++
      counts[1 + j]++
    }
  }
  return counts
}
