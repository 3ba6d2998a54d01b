/**
 * Open log segments as lastmile wrote them before the Arrow frames (`open-<n>.jsonl`, one JSON line
 * per request). A data folder from then may still hold one; the log rolls it into an Arrow segment
 * at start, so no row of it is lost.
 */
import { readFile } from 'node:fs/promises'
import type { LogRow } from './record.js'

interface Line {
  t: number
  v: number
  lat: number
  models: string[]
  checks: number[]
  cols: Record<string, { dtype: string; dims: number[]; data: unknown[] }>
}

export const LEGACY_OPEN = /^open-(\d+)\.jsonl$/

/** The rows of a legacy open segment; a torn last line (a crash mid-append) is skipped. */
export async function readLegacyRows(path: string): Promise<LogRow[]> {
  const text = await readFile(path, 'utf8').catch(() => '')
  const rows: LogRow[] = []
  for (const l of text.split('\n')) {
    if (!l) continue
    let line: Line
    try {
      line = JSON.parse(l) as Line
    } catch {
      continue
    }
    for (let r = 0; r < line.models.length; r++) {
      const row: LogRow = {
        time: line.t,
        pipeline_version: line.v,
        model: line.models[r],
        check_failures: line.checks[r] ?? 0,
        latency_ms: line.lat,
      }
      for (const [name, c] of Object.entries(line.cols)) {
        const width = c.dims.slice(1).reduce((a, b) => a * b, 1)
        row[name] = c.dims.length <= 1 ? c.data[r] : c.data.slice(r * width, (r + 1) * width)
      }
      rows.push(row)
    }
  }
  return rows
}
