/**
 * bench/assays: values/s of a full assay (what one scheduled window costs: NaN scan, sort, window
 * summary, binning, PSI, KS, Wasserstein-1, Jensen–Shannon) over windows of 1M and 10M float32
 * values against a 1M-value baseline, and of its parts, so the cost is visible. Reference in the
 * same run: the built-in typed-array sort (what a straightforward implementation would use for the
 * exact KS and quantiles). Assays run on the CPU: once the window is sorted, binning costs
 * O(bins · log n), so a GPU histogram has nothing left to speed up (a GPU sort would).
 */

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  computeAssay,
  prepareBaseline,
  sortedBinCounts,
  summarizerSchema,
  thresholdsSchema,
} from '../src/assays/assay.js'
import { radixSort } from '../src/assays/sort.js'
import { ecdfDistances, summarize } from '../src/assays/stats.js'
import { readSegmentValues, writeSegment } from '../src/logs/segment.js'
import { mulberry32 } from '../src/random.js'
import { fmt, machineInfo, printTable, timeIt, writeResults } from './lib.js'

/** Normal(mean, sd) samples rounded to float32, as the inference log holds them. */
function normals(n: number, mean: number, sd: number, seed: number): Float64Array {
  const rand = mulberry32(seed)
  const out = new Float64Array(n)
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - rand()))
    const t = 2 * Math.PI * rand()
    out[i] = Math.fround(mean + sd * r * Math.cos(t))
    if (i + 1 < n) out[i + 1] = Math.fround(mean + sd * r * Math.sin(t))
  }
  return out
}

/**
 * Bin counts by one pass over the unsorted window, a binary search over the edges per value: what
 * binning costs without the sort the assay needs anyway ([below, bins..., above], NaN left out).
 */
function binsByPass(values: Float64Array, edges: number[]): Uint32Array {
  const bins = edges.length - 1
  const counts = new Uint32Array(bins + 2)
  const first = edges[0] as number
  const last = edges[bins] as number
  for (const x of values) {
    if (x < first) counts[0] = (counts[0] as number) + 1
    else if (x > last) counts[bins + 1] = (counts[bins + 1] as number) + 1
    else if (x <= last) {
      // (NaN fails every comparison: left out)
      let lo = 0
      let hi = bins - 1
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1
        if ((edges[mid] as number) <= x) lo = mid
        else hi = mid - 1
      }
      counts[1 + lo] = (counts[1 + lo] as number) + 1
    }
  }
  return counts
}

export async function benchAssays(opts: { seconds: number }): Promise<void> {
  const summarizer = summarizerSchema.parse({})
  const thresholds = thresholdsSchema.parse({ warning_threshold: 0.1 })
  const baseline = prepareBaseline(normals(1_000_000, 0, 1, 1), summarizer)
  const rows: (string | number)[][] = [['case', 'window', 'median ms', 'values/s', 'vs typed sort']]
  const results: Record<string, unknown>[] = []
  for (const n of [1_000_000, 10_000_000]) {
    const window = normals(n, 0.1, 1.1, 2)
    const sorted = radixSort(window)
    const timing = { minSeconds: opts.seconds, minIters: n > 1e6 ? 3 : 5, warmup: 1 }
    const cases: Record<string, () => unknown> = {
      'typed-array sort (reference)': () => Float64Array.from(window).sort(),
      'full assay': () => computeAssay(baseline, window, summarizer, thresholds),
      '  radix sort': () => radixSort(window),
      '  summary': () => summarize(sorted),
      '  bins by search in the sorted window': () => sortedBinCounts(sorted, baseline.edges, 0),
      '  KS + Wasserstein-1 (one merge)': () => ecdfDistances(baseline.sorted, sorted),
      'bins by a pass over the window (for comparison)': () => binsByPass(window, baseline.edges),
    }
    const timings: Record<string, number> = {}
    for (const [name, fn] of Object.entries(cases)) timings[name] = (await timeIt(async () => fn(), timing)).medianMs
    const ref = timings['typed-array sort (reference)'] as number
    for (const [name, ms] of Object.entries(timings)) {
      rows.push([name, fmt.rate(n), fmt.ms(ms), fmt.rate(n / (ms / 1000)), `${(ref / ms).toFixed(2)}×`])
      results.push({ case: name.trim(), window: n, medianMs: ms, valuesPerSecond: n / (ms / 1000) })
    }
  }
  // Reading a window out of the inference log: one rolled segment of 1M rows, x = 4 floats per row.
  const dir = await mkdtemp(join(tmpdir(), 'lastmile-bench-'))
  const segment = join(dir, 'seg.arrow')
  const logRows = 1_000_000
  const xs = normals(logRows * 4, 0, 1, 3)
  await writeSegment(
    segment,
    Array.from({ length: logRows }, (_, i) => ({
      time: 1.7e12 + i,
      'in.x': Array.from(xs.subarray(4 * i, 4 * i + 4)),
    })),
  )
  const read = await timeIt(() => readSegmentValues(segment, 'in.x', 2, 0, Number.POSITIVE_INFINITY), {
    minSeconds: opts.seconds,
    minIters: 5,
    warmup: 1,
  })
  await rm(dir, { recursive: true, force: true })
  rows.push([
    'log segment → values (in.x[2])',
    fmt.rate(logRows),
    fmt.ms(read.medianMs),
    fmt.rate(logRows / (read.medianMs / 1000)),
    '',
  ])
  results.push({
    case: 'log segment values',
    window: logRows,
    medianMs: read.medianMs,
    valuesPerSecond: logRows / (read.medianMs / 1000),
  })
  printTable('assays: one window against a 1M-value baseline (default summarizer: 5 quantile bins, PSI)', rows)
  const path = await writeResults('assays', { machine: await machineInfo(), baseline: 1_000_000, results })
  console.log(`\nwritten to ${path}`)
}
