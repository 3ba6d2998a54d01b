#!/usr/bin/env node
/**
 * Mutation testing of lastmile's core with Stryker, one module at a time:
 *
 *   npm run mutate                      # every module below (slow: an hour or more on 2 cores)
 *   npm run mutate -- assays batcher    # some modules
 *   npm run mutate -- src/assays/stats.ts   # files (each run with the tests of its module)
 *
 * A run of some files merges its results into the module's report: those files' entries are
 * replaced, the others' kept, so the table shows each file's latest run. Runs of different files
 * use different sandboxes and can overlap. `MUTATE_TESTS=a.test.ts,b.test.ts` narrows the judging
 * tests of such a run (quicker: a file's own unit tests rather than every test of its module); the
 * report keeps which tests judged each file, and TESTING.md says so. A narrower judge can only
 * kill fewer mutants, so its score is a lower bound of the module's tests' score.
 *
 * Each module mutates its files and runs only the test files that exercise them (listed below),
 * so a mutant costs a few unit tests, not the whole suite. Reports go to reports/mutation/
 * (<module>.json, Stryker's mutation-testing-report schema); `node scripts/testing-report.mjs`
 * turns the latest ones into TESTING.md. Mutants judged equivalent are disabled in the source with
 * a `// Stryker disable next-line <mutator>: <why>` comment, which the report lists.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { basename, dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = dirname(dirname(fileURLToPath(import.meta.url)))

/** The modules of the core, what each mutates and which tests judge it. */
export const MODULES = {
  // The statistics and what an assay computes and sends, judged by fast unit tests …
  assays: {
    mutate: [
      'src/assays/stats.ts',
      'src/assays/assay.ts',
      'src/assays/sort.ts',
      'src/assays/time.ts',
      'src/assays/webhooks.ts',
    ],
    tests: [
      'test/assays/assay.test.ts',
      'test/assays/stats.test.ts',
      'test/assays/limits.test.ts',
      'test/assays/delivery-time.test.ts',
      'test/assays/assay-edges.test.ts',
    ],
    // Its tests take a second or two; mutants of the sort's and the series' loops run forever.
    timeoutMS: 10_000,
  },
  // … and the definitions, the scheduler and the service around them, judged by their unit tests
  // (in-memory store, log and outbound policy; fake timers). Not by the suites on a server (limits,
  // service, webhooks: seconds per mutant), which killed none of what these leave (equivalents), nor
  // by delivery-time.test.ts, which covers none of these files.
  'assays-service': {
    mutate: ['src/assays/definition.ts', 'src/assays/scheduler.ts', 'src/assays/service.ts'],
    tests: [
      'test/assays/definition-unit.test.ts',
      'test/assays/scheduler-unit.test.ts',
      'test/assays/service-unit.test.ts',
    ],
    // Its tests take seconds; mutants of the scheduler's rounds loop forever.
    timeoutMS: 10_000,
  },
  // Judged by its unit tests (test/formats/*-unit.test.ts: one per file, with hand-written bytes and
  // answers). Not by the client suites (test/clients), which start a server per file (seconds per
  // mutant: about 4 h for the module on 2 cores), nor by the fuzzers, which check that no input
  // crashes a decoder rather than what it answers, and cost more per mutant than they kill. Its
  // tests take seconds; the body pool's mutants that stop a worker answering wait out the timeout.
  formats: {
    mutate: ['src/formats/**/*.ts', '!src/formats/decode-worker.ts'],
    tests: ['test/formats/*.test.ts'],
    timeoutMS: 10_000,
  },
  // Service-level objectives: the definitions, the arithmetic, the counting, the service and the rules
  // (not the chart's drawing, which no assertion short of the picture judges).
  slo: {
    mutate: ['src/slo/*.ts', '!src/slo/chart.ts'],
    tests: ['test/slo/*.test.ts'],
    timeoutMS: 10_000,
  },
  // The live view's histograms and per-second counts, judged by their unit tests (injected clock).
  live: { mutate: ['src/live/*.ts'], tests: ['test/live/*.test.ts'], timeoutMS: 10_000 },
  // The statistics of outcomes: metrics and their intervals, the sequential test, CBPE; judged by
  // their unit tests (scikit-learn's numbers, brute force, seeded simulations: seconds in all).
  'outcomes-stats': {
    mutate: ['src/outcomes/metrics.ts', 'src/outcomes/sequential.ts', 'src/outcomes/cbpe.ts'],
    tests: ['test/outcomes/metrics.test.ts', 'test/outcomes/sequential.test.ts', 'test/outcomes/cbpe.test.ts'],
    timeoutMS: 10_000,
  },
  // The quick search over the tuning grid, judged against brute force on synthetic landscapes.
  'optimize-search': {
    mutate: ['src/optimize/search.ts', 'src/optimize/grid.ts'],
    tests: ['test/optimize/search.test.ts', 'test/optimize/grid.test.ts'],
    timeoutMS: 20_000,
  },
  // Choosing a GPU path by measurement (timings injected), and the kernel planner's folds and shapes (CPU only).
  'gpu-paths': {
    mutate: ['src/engine/gpu-paths.ts', 'src/engine/kernel-fold.ts', 'src/engine/plan-shapes.ts'],
    tests: [
      'test/engine/gpu-paths.test.ts',
      'test/engine/kernel-plan.test.ts',
      'test/engine/kernel-plan-folds.test.ts',
    ],
    timeoutMS: 20_000,
  },
  // Feedback decoding, and the rule's pieces (contests, settling a step, per-row scores), by their unit tests.
  'outcomes-join': {
    mutate: ['src/outcomes/feedback.ts', 'src/outcomes/feedback-csv.ts', 'src/outcomes/promotion-spec.ts'],
    tests: ['test/outcomes/feedback.test.ts', 'test/outcomes/promotion-rule.test.ts'],
    timeoutMS: 20_000,
  },
  pipeline: {
    mutate: ['src/pipeline/routing.ts', 'src/pipeline/expr.ts', 'src/pipeline/steps.ts'],
    tests: ['test/pipeline/*.test.ts', 'test/registry/rollouts.test.ts'],
  },
  // Its tests take seconds, and many of its mutants loop forever: a short timeout keeps those cheap.
  batcher: { mutate: ['src/serving/batcher.ts'], tests: ['test/serving/*.test.ts'], timeoutMS: 5000 },
  // The autoscaler's decisions, judged by their unit tests (an injected clock, no waiting).
  autoscaler: { mutate: ['src/serving/autoscaler.ts'], tests: ['test/serving/autoscaler.test.ts'], timeoutMS: 5000 },
  // What several processes share: leases on singleton work, and the log writers' segment ids.
  'scale-out': {
    mutate: ['src/server/singletons.ts', 'src/logs/segment-names.ts'],
    tests: ['test/server/singletons.test.ts', 'test/logs/inference-log.test.ts'],
    timeoutMS: 10_000,
  },
  // Judged by its unit tests (test/jobs/io/: one per source file, bytes laid by hand, flechette and
  // parquet-wasm as independent readers). Not by the job suites (test/jobs/*.test.ts), which run whole
  // files through a server and cost seconds per mutant.
  'jobs-io': {
    mutate: ['src/jobs/io/**/*.ts', '!src/jobs/io/parquet-worker.ts'],
    tests: ['test/jobs/io/*.test.ts'],
    timeoutMS: 10_000,
  },
  kernels: {
    mutate: cpuTwins,
    tests: [
      'test/kernels/postprocess.test.ts',
      'test/kernels/preprocess.test.ts',
      'test/kernels/cpu-twin-edges.test.ts',
      'test/kernels/gemm.test.ts',
      'test/kernels/eltwise.test.ts',
      'test/kernels/conv.test.ts',
      'test/kernels/pool.test.ts',
      'test/pipeline/post-step.test.ts',
    ],
  },
  // The objectives' buckets and alerts (sqlite-slo.ts) are judged through the objective service's tests.
  store: {
    mutate: ['src/store/**/*.ts'],
    tests: ['test/store/*.test.ts', 'test/slo/service.test.ts', 'test/slo/edges.test.ts'],
  },
  keys: {
    mutate: ['src/registry/keys.ts'],
    tests: ['test/registry/keys.test.ts', 'test/server/auth.test.ts', 'test/server/auth-matrix.test.ts'],
  },
}

/**
 * The CPU twins of the WGSL kernels, as Stryker line ranges: each `export function …Cpu(` up to its
 * closing brace, and row-kernels.ts's checks and ranking from `checkMatrix` on (its dispatch plan
 * above them is GPU launch geometry, which only the GPU suites can judge).
 */
function cpuTwins() {
  const rowKernels = readFileSync(join(root, 'src/kernels/row-kernels.ts'), 'utf8').split('\n')
  const from = rowKernels.findIndex((l) => l.startsWith('export function checkMatrix('))
  const out = [`src/kernels/row-kernels.ts:${from + 1}-${rowKernels.length}`]
  for (const file of [
    'argmax',
    'conv2d',
    'eltwise',
    'gemm',
    'image-preprocess',
    'pool2d',
    'sigmoid',
    'softmax',
    'tabular-preprocess',
    'topk',
  ]) {
    const path = `src/kernels/${file}.ts`
    const lines = readFileSync(join(root, path), 'utf8').split('\n')
    lines.forEach((line, i) => {
      if (!/^export function \w+Cpu\(/.test(line)) return
      const end = lines.findIndex((l, j) => j > i && l === '}')
      out.push(`${path}:${i + 1}-${end + 1}`)
    })
  }
  return out
}

function moduleOf(file) {
  const rel = relative(root, join(root, file))
  for (const [name, m] of Object.entries(MODULES)) {
    const globs = typeof m.mutate === 'function' ? m.mutate() : m.mutate
    if (globs.some((g) => !g.startsWith('!') && matches(rel, g.replace(/:\d+-\d+$/, '')))) return name
  }
  throw new Error(`${file} is in none of the modules: ${Object.keys(MODULES).join(', ')}`)
}

/** The source files module `name` mutates (its globs expanded over src/, exclusions applied). */
export function moduleFiles(name) {
  const m = MODULES[name]
  const globs = (typeof m.mutate === 'function' ? m.mutate() : m.mutate).map((g) => g.replace(/:\d+-\d+$/, ''))
  const all = readdirSync(join(root, 'src'), { recursive: true })
    .map((f) => `src/${String(f).split('\\').join('/')}`)
    .filter((f) => f.endsWith('.ts'))
  const take = globs.filter((g) => !g.startsWith('!'))
  const drop = globs.filter((g) => g.startsWith('!')).map((g) => g.slice(1))
  return all.filter((f) => take.some((g) => matches(f, g)) && !drop.some((g) => matches(f, g))).sort()
}

function matches(path, glob) {
  const re = new RegExp(
    `^${glob
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*\*\//g, '(.*/)?')
      .replace(/\*/g, '[^/]*')}$`,
  )
  return re.test(path)
}

function run(name, only) {
  const m = MODULES[name]
  const mutate = only ?? (typeof m.mutate === 'function' ? m.mutate() : m.mutate)
  const dir = join(root, 'reports', 'mutation')
  mkdirSync(dir, { recursive: true })
  // A run of some files reports beside the module's report, then merges into it (mergeReport).
  const tag = only ? `${name}.${only.map((f) => basename(f).replace(/\W/g, '_')).join('+')}` : name
  // A whole module is always judged by its own tests; some files may be judged by fewer.
  const narrowed = only ? process.env.MUTATE_TESTS : undefined
  const config = {
    $schema: '../../node_modules/@stryker-mutator/core/schema/stryker-schema.json',
    testRunner: 'vitest',
    plugins: ['@stryker-mutator/vitest-runner'],
    mutate,
    coverageAnalysis: 'perTest',
    vitest: { configFile: 'scripts/vitest.mutate.config.ts', related: false },
    reporters: ['clear-text', 'json', 'progress'],
    jsonReporter: { fileName: `reports/mutation/${tag}.json` },
    clearTextReporter: { allowColor: false, logTests: false, reportScoreTable: true, maxTestsToLog: 0 },
    concurrency: Number(process.env.MUTATE_CONCURRENCY ?? 2),
    timeoutMS: m.timeoutMS ?? 30_000,
    tempDirName: `.stryker-tmp/${tag}`,
    // Not copied into the sandbox: other modules' sandboxes (runs can overlap) and the GPU payload.
    ignorePatterns: ['/.stryker-tmp', '/.gpu-payload', '/reports'],
    cleanTempDir: 'always',
  }
  const configPath = join(dir, `${tag}.config.json`)
  writeFileSync(configPath, JSON.stringify(config, null, 2))
  console.log(`\n== mutating ${name}: ${mutate.join(' ')}\n   with ${narrowed ?? m.tests.join(' ')}`)
  const r = spawnSync('npx', ['stryker', 'run', configPath], {
    cwd: root,
    stdio: 'inherit',
    // MUTATE_TESTS set by the caller narrows the judging tests (see above).
    env: { ...process.env, MUTATE_TESTS: narrowed ?? m.tests.join(',') },
  })
  if (r.status !== 0) process.exitCode = r.status ?? 1
  else if (only) mergeReport(join(dir, `${name}.json`), join(dir, `${tag}.json`), narrowed?.split(','))
}

/**
 * Replace the files of `part` in the module's report (or start it with them); `part` is removed.
 * `judges`: the narrower tests that judged them, kept in the report's `lastmileJudges` by file.
 */
function mergeReport(whole, part, judges) {
  const add = JSON.parse(readFileSync(part, 'utf8'))
  const report = existsSync(whole) ? JSON.parse(readFileSync(whole, 'utf8')) : { ...add, files: {} }
  Object.assign(report.files, add.files)
  report.lastmileJudges ??= {}
  for (const file of Object.keys(add.files)) {
    if (judges) report.lastmileJudges[file] = judges
    else delete report.lastmileJudges[file]
  }
  writeFileSync(`${whole}.tmp`, JSON.stringify(report))
  renameSync(`${whole}.tmp`, whole)
  rmSync(part)
}

/** Run the modules or files named on the command line (all modules when none is). */
function main(args) {
  const files = args.filter((a) => a.includes('/'))
  const names = args.filter((a) => !a.includes('/'))
  for (const n of names) if (!MODULES[n]) throw new Error(`unknown module '${n}': ${Object.keys(MODULES).join(', ')}`)
  const byModule = new Map()
  for (const f of files) byModule.set(moduleOf(f), [...(byModule.get(moduleOf(f)) ?? []), f])
  for (const n of names.length || files.length ? names : Object.keys(MODULES)) run(n)
  for (const [n, only] of byModule) run(n, only)
}

// Run only as the command: scripts/testing-report.mjs imports MODULES from here.
if (process.argv[1] === fileURLToPath(import.meta.url)) main(process.argv.slice(2))
