/**
 * `npm run bench [-- <suite>...] [-- --seconds N]`: runs the named bench suites (all by default),
 * prints a table per suite and writes JSON under bench/results/.
 */
import { parseArgs } from 'node:util'
import { benchAssays } from './assays.js'
import { benchEngine } from './engine.js'
import { benchHttp } from './http.js'
import { benchJobs } from './jobs.js'
import { benchKernels } from './kernels.js'

const SUITES: Record<string, (opts: { seconds: number }) => Promise<void>> = {
  engine: benchEngine,
  kernels: benchKernels,
  http: benchHttp,
  assays: benchAssays,
  jobs: benchJobs,
}

const { values, positionals } = parseArgs({ options: { seconds: { type: 'string' } }, allowPositionals: true })
const seconds = Number(values.seconds ?? 1)
const names = positionals.length > 0 ? positionals : Object.keys(SUITES)
for (const name of names) {
  const suite = SUITES[name]
  if (!suite) {
    console.error(`unknown bench suite '${name}'; available: ${Object.keys(SUITES).join(', ')}`)
    process.exit(2)
  }
  await suite({ seconds })
}
