/**
 * What the console computes from rows itself, kept apart from the pages so that unit tests can
 * check it: the value an assay's iopath picks, CSV of log rows, the try-it panel's first row, and
 * the per-arm figures of the promote panel.
 */
import type { TensorMeta } from '../../src/client/client.js'

export type Row = Record<string, unknown>

/** A JSON replacer: 64-bit integers past 2^53 (read exactly, as bigints) written as their digits. */
export const bigintAsText = (_: string, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)

/** The value `iopath` (`in.x[2]`, `out.y`, `[0]` implied) picks from a logged row; NaN when missing. */
export function pick(row: Row, iopath: string): number {
  const m = /^((?:in|out)\.[^[]+)((?:\[\d+\])*)$/.exec(iopath)
  if (!m) return Number.NaN
  let v: unknown = row[m[1] as string]
  const idx = [...(m[2] as string).matchAll(/\[(\d+)\]/g)].map((x) => Number(x[1]))
  for (const i of idx.length ? idx : [0]) if (Array.isArray(v)) v = v[i]
  while (Array.isArray(v)) v = v[0]
  return typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : Number.NaN
}

/** A logged row's failed checks: a count, or the list of the checks that failed. */
export function failedChecks(r: Row): number {
  const v = r.check_failures
  return Array.isArray(v) ? v.length : Number(v) || 0
}

/** A value as a CSV or table cell: JSON for lists, 64-bit integers as their digits. */
export function cell(v: unknown): string {
  if (v === null || v === undefined) return ''
  if (typeof v === 'bigint') return v.toString()
  return typeof v === 'object' ? JSON.stringify(v, bigintAsText) : String(v)
}

/** Rows as CSV (RFC 4180: fields with a comma, quote or line break are quoted, quotes doubled). */
export function toCsv(rows: Row[]): string {
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))]
  const quote = (s: string) => (/[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s)
  return [columns, ...rows.map((r) => columns.map((c) => cell(r[c])))].map((l) => l.map(quote).join(',')).join('\r\n')
}

/** One row of zeros (or empty strings) shaped like each input: the try-it panel's start. */
export function templateRow(inputs: TensorMeta[]): Record<string, unknown> {
  const row: Record<string, unknown> = {}
  for (const t of inputs) {
    const zero = t.datatype === 'BYTES' ? '' : t.datatype === 'BOOL' ? false : 0
    const dims = t.shape.slice(1).map((n) => (n > 0 ? n : 1))
    const fill = (d: number[]): unknown => (d.length === 0 ? zero : Array.from({ length: d[0] as number }, () => fill(d.slice(1))))
    row[t.name] = fill(dims)
  }
  return row
}

/** The arms of a version's first split or shadow: the champion first. */
export function armsOf(steps: Record<string, unknown>[]): { kind: 'split' | 'shadow'; arms: string[] } | undefined {
  for (const s of steps) {
    if ('random_split' in s) {
      const w = [...((s.random_split as { weights: [number, string][] }).weights ?? [])]
      return { kind: 'split', arms: w.sort((a, b) => b[0] - a[0]).map(([, m]) => m) }
    }
    if ('shadow' in s) {
      const sh = s.shadow as { champion: string; challengers: string[] }
      return { kind: 'shadow', arms: [sh.champion, ...sh.challengers] }
    }
  }
  return undefined
}

/** The first element of a logged value (a number, or a list of them); NaN when there is none. */
const first = (v: unknown): number => {
  let x = v
  while (Array.isArray(x)) x = x[0]
  return typeof x === 'number' ? x : typeof x === 'bigint' ? Number(x) : Number.NaN
}

/** The `q` quantile (0..1) of `values`, by linear interpolation between order statistics. */
export function quantile(values: number[], q: number): number {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b)
  if (v.length === 0) return Number.NaN
  const at = q * (v.length - 1)
  const lo = Math.floor(at)
  return (v[lo] as number) + ((v[Math.min(lo + 1, v.length - 1)] as number) - (v[lo] as number)) * (at - lo)
}

export interface ArmStats {
  model: string
  rows: number
  p50: number
  p99: number
  mean: number
  values: number[]
}

/**
 * Per arm: its rows (a split's rows answered by it; a shadow's every row, its outputs read from
 * `out_<model>.<output>` for a challenger), their latency and the first output's values.
 */
export function armStats(rows: Row[], kind: 'split' | 'shadow', arms: string[], output: string): ArmStats[] {
  return arms.map((arm, i) => {
    const own = kind === 'split' ? rows.filter((r) => r.model === arm) : rows
    const column = kind === 'shadow' && i > 0 ? `out_${arm.split(':')[0]}.${output}` : `out.${output}`
    const values = own.map((r) => first(r[column])).filter(Number.isFinite)
    const latency = own.map((r) => Number(r.latency_ms))
    return {
      model: arm,
      rows: own.length,
      p50: quantile(latency, 0.5),
      p99: quantile(latency, 0.99),
      mean: values.reduce((a, b) => a + b, 0) / (values.length || 1),
      values,
    }
  })
}

