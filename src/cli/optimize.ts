/**
 * `lastmile pipelines optimize <name> [--target-p99-ms N] [--budget-s N] [--apply]`: start a tuning
 * run on the server, follow it until it ends, and print its table and recommendation.
 */
import type { LastmileClient } from '../client/client.js'
import type { Optimization, OptimizeOptions, TuningRow } from '../wire/optimize.js'

/** How often the run is asked for while it runs. */
const POLL_MS = 1000

export interface OptimizeArgs {
  targetP99Ms?: number
  budgetS?: number
  apply: boolean
}

const fixed = (x: number, digits: number) => x.toFixed(digits)

/** The table as text: one line per measured point, the recommended one marked `*`. */
export function tuningTable(run: Optimization): string {
  const report = run.report
  if (!report) return `run ${run.id}: ${run.status}${run.error ? `: ${run.error}` : ''}\n`
  const rec = report.recommendation
  const same = (r: TuningRow) =>
    rec !== null &&
    r.backend === rec.backend &&
    r.max_batch_size === rec.max_batch_size &&
    r.max_queue_delay_ms === rec.max_queue_delay_ms &&
    r.threads === rec.threads &&
    r.graph_optimization === rec.graph_optimization &&
    r.gpu_path === rec.gpu_path
  const head = [
    '',
    'backend',
    'batch',
    'delay_ms',
    'threads',
    'graph_opt',
    'gpu_path',
    'rows/s',
    'p50_ms',
    'p99_ms',
    'mem_MiB',
    'stable',
  ]
  const lines = report.table.map((r) => [
    same(r) ? '*' : r.meets_target ? '' : '!',
    r.backend,
    String(r.max_batch_size),
    String(r.max_queue_delay_ms),
    r.threads === null ? '-' : String(r.threads),
    r.graph_optimization,
    r.gpu_path ?? '-',
    fixed(r.rows_per_s, 0),
    fixed(r.p50_ms, 2),
    fixed(r.p99_ms, 2),
    fixed(r.memory_bytes / 2 ** 20, 1),
    r.stable ? 'yes' : 'no',
  ])
  const rows = [head, ...lines]
  const widths = head.map((_, i) => Math.max(...rows.map((r) => (r[i] as string).length)))
  const text = rows.map((r) => r.map((c, i) => c.padStart(widths[i] as number)).join('  ')).join('\n')
  const summary = [
    `measured ${report.measured_points} of ${report.grid_points} points (at most ${report.max_points}) in ${fixed(report.seconds, 1)} s${report.truncated ? ', cut short by the budget' : ''}; target p99 ≤ ${report.target_p99_ms} ms (! misses it)`,
    ...report.failed.map(
      (f) => `failed: ${f.backend}${f.gpu_path ? ` (${f.gpu_path})` : ''} batch ${f.max_batch_size}: ${f.error}`,
    ),
    rec
      ? `recommended (*): ${JSON.stringify(rec.settings)} — ${fixed(rec.rows_per_s, 0)} rows/s, p99 ${fixed(rec.p99_ms, 2)} ms`
      : 'no point met the target: nothing recommended',
    ...(report.applied ? ['applied: the pipeline was redeployed with it'] : []),
    ...(report.apply_error ? [`not applied: ${report.apply_error}`] : []),
  ]
  return `${text}\n${summary.join('\n')}\n`
}

/** Start a run, follow it, print it; the exit code (1 when the run failed). */
export async function optimizeCommand(lm: LastmileClient, ws: string, name: string, args: OptimizeArgs) {
  const options: OptimizeOptions = {
    ...(args.targetP99Ms !== undefined ? { target_p99_ms: args.targetP99Ms } : {}),
    ...(args.budgetS !== undefined ? { budget_s: args.budgetS } : {}),
  }
  let run = await lm.optimize(ws, name, options, { apply: args.apply })
  process.stderr.write(`tuning run ${run.id}: measuring at most ${run.max_points} points in ${run.budget_s} s\n`)
  while (run.status === 'running') {
    await new Promise((r) => setTimeout(r, POLL_MS))
    run = await lm.optimization(ws, run.id)
  }
  process.stdout.write(tuningTable(run))
  return run.status === 'succeeded' ? 0 : 1
}
