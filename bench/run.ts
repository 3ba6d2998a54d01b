/**
 * `npm run bench [-- <suite>...] [-- --seconds N]`: runs the named bench suites (all by default),
 * prints a table per suite and writes JSON under bench/results/ (or `--out DIR`). The engine suite
 * also takes `--models mlp,wide,resnet`, `--backends cpu,wasm,webgpu,webgpu:captured,webgpu:kernels,torch`
 * and `--python PATH`; the capture suite `--models` and `--batches 1,64,8192`.
 */
import { parseArgs } from 'node:util'
import { type BenchOptions, setResultsDir } from './lib.js'

type Suite = (opts: BenchOptions) => Promise<void>

// Imported on use: a GPU host carries production dependencies only, without `http`'s autocannon.
const SUITES: Record<string, () => Promise<Suite>> = {
  engine: async () => (await import('./engine.js')).benchEngine,
  kernels: async () => (await import('./kernels.js')).benchKernels,
  capture: async () => (await import('./capture.js')).benchCapture,
  http: async () => (await import('./http.js')).benchHttp,
  workers: async () => (await import('./workers.js')).benchWorkers,
  bodies: async () => (await import('./bodies.js')).benchBodies,
  assays: async () => (await import('./assays.js')).benchAssays,
  jobs: async () => (await import('./jobs.js')).benchJobs,
  explain: async () => (await import('./explain.js')).benchExplain,
  console: async () => (await import('./console.js')).benchConsole,
  autoscale: async () => (await import('./autoscale.js')).benchAutoscale,
}

const { values, positionals } = parseArgs({
  options: {
    seconds: { type: 'string' },
    models: { type: 'string' },
    backends: { type: 'string' },
    batches: { type: 'string' },
    python: { type: 'string' },
    out: { type: 'string' },
  },
  allowPositionals: true,
})
const list = (v: string | undefined) => v?.split(',').filter(Boolean)
const opts: BenchOptions = {
  seconds: Number(values.seconds ?? 1),
  ...(values.models ? { models: list(values.models) } : {}),
  ...(values.backends ? { backends: list(values.backends) } : {}),
  ...(values.python ? { python: values.python } : {}),
  ...(values.batches ? { batches: parseBatches(values.batches) } : {}),
}
if (values.out) setResultsDir(values.out)
function parseBatches(v: string): number[] {
  const batches = v.split(',').map(Number)
  if (!batches.every((b) => Number.isInteger(b) && b > 0)) {
    console.error(`--batches takes positive integers separated by commas, got '${v}'`)
    process.exit(2)
  }
  return batches
}
const names = positionals.length > 0 ? positionals : Object.keys(SUITES)
const unknown = names.filter((n) => !SUITES[n])
if (unknown.length > 0) {
  console.error(`unknown bench suite(s) ${unknown.join(', ')}; available: ${Object.keys(SUITES).join(', ')}`)
  process.exit(2)
}
for (const name of names) await (await (SUITES[name] as () => Promise<Suite>)())(opts)
