/** The line diff the pipeline page shows between two versions' steps. */

/** A line diff of two texts (longest common subsequence): each line kept, added or removed. */
export function lineDiff(a: string, b: string): { op: ' ' | '+' | '-'; line: string }[] {
  const x = a.split('\n')
  const y = b.split('\n')
  const lcs = Array.from({ length: x.length + 1 }, () => new Array<number>(y.length + 1).fill(0))
  for (let i = x.length - 1; i >= 0; i--)
    for (let j = y.length - 1; j >= 0; j--)
      (lcs[i] as number[])[j] =
        x[i] === y[j]
          ? ((lcs[i + 1] as number[])[j + 1] as number) + 1
          : Math.max((lcs[i + 1] as number[])[j] as number, (lcs[i] as number[])[j + 1] as number)
  const out: { op: ' ' | '+' | '-'; line: string }[] = []
  let i = 0
  let j = 0
  while (i < x.length || j < y.length) {
    if (i < x.length && j < y.length && x[i] === y[j]) {
      out.push({ op: ' ', line: x[i] as string })
      i++
      j++
    } else if (
      j < y.length &&
      (i === x.length || ((lcs[i] as number[])[j + 1] as number) >= ((lcs[i + 1] as number[])[j] as number))
    ) {
      out.push({ op: '+', line: y[j] as string })
      j++
    } else {
      out.push({ op: '-', line: x[i] as string })
      i++
    }
  }
  return out
}
