/**
 * `npm run bench:report`: BENCHMARKS.md from the latest result of each suite
 * (bench/results/<suite>-latest.json), with the date, machine and device of each, a sentence on
 * what limits the numbers, and SVG plots of rows/s against batch size per backend
 * (bench/plots/engine-<model>.svg). Run the suites first; a suite without results here keeps its
 * section and goal line from the previous BENCHMARKS.md (results are not committed, and suites are
 * often run one at a time), or is listed as having none.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { esc, frame, num, PAD, W } from '../src/svg.js'
import { fmt } from './lib.js'
import { bodiesGoal, bodiesPlot, bodiesSection } from './report-bodies.js'

// biome-ignore lint/suspicious/noExplicitAny: result files are untyped JSON, read here only for display
type Json = Record<string, any>

const root = process.cwd()
/** The latest result of `suite`, from bench/results/ or (`gpu`) bench/results/gpu-host/, where bench/gpu-host.sh writes. */
const latest = (suite: string, gpu = false): Json | undefined => {
  const p = join(root, 'bench', 'results', ...(gpu ? ['gpu-host'] : []), `${suite}-latest.json`)
  return existsSync(p) ? JSON.parse(readFileSync(p, 'utf8')) : undefined
}
const table = (head: string[], rows: (string | number)[][]) =>
  [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join(
    '\n',
  )
const where = (j: Json, device?: string) =>
  `_${String(j.machine?.date ?? '')
    .slice(0, 16)
    .replace(
      'T',
      ' ',
    )} UTC; ${j.machine?.cpu ?? '?'} × ${j.machine?.cores ?? '?'} cores, ${j.machine?.memoryGiB ?? '?'} GiB, Node ${j.machine?.node ?? '?'}${device ? `; ${device}` : ''}._`

const previous = existsSync(join(root, 'BENCHMARKS.md'))
  ? readFileSync(join(root, 'BENCHMARKS.md'), 'utf8').split('\n')
  : []
/** The previous BENCHMARKS.md's section of `suite` (heading to the next heading), for a suite not run here. */
const keptSection = (suite: string): string[] => {
  const start = previous.findIndex((l) => l.startsWith(`## ${suite}:`))
  if (start < 0) return []
  const end = previous.findIndex((l, i) => i > start && l.startsWith('## '))
  const lines = previous.slice(start, end < 0 ? undefined : end)
  while (lines.at(-1) === '') lines.pop()
  return [...lines, '']
}
/** The previous goal line that starts with `prefix`, for a suite not run here. */
const keptGoal = (prefix: string): string[] => previous.filter((l) => l.startsWith(prefix))

const COLORS = ['#4c78a8', '#f58518', '#54a24b', '#e45756', '#b279a2', '#9d755d', '#72b7b2', '#bab0ac']

/** The engine suite's GPU contenders: `webgpu` (plain onnxruntime-web) and `webgpu:<path>` (captured, kernels). */
const isGpuPath = (backend: string) => backend === 'webgpu' || backend.startsWith('webgpu:')

/** Log-log lines of rows/s against batch, one per backend. */
function plot(title: string, series: Array<{ name: string; points: Array<[number, number]> }>): string {
  const all = series.flatMap((s) => s.points)
  const [x0, x1] = [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))]
  const [y0, y1] = [Math.min(...all.map((p) => p[1])), Math.max(...all.map((p) => p[1]))]
  const lx = (v: number) => Math.log10(v)
  const plotW = W - PAD.left - PAD.right - 150
  const plotH = 360 - PAD.top - PAD.bottom
  const x = (v: number) => PAD.left + ((lx(v) - lx(x0)) / (lx(x1) - lx(x0) || 1)) * plotW
  const y = (v: number) => PAD.top + plotH * (1 - (lx(v) - lx(y0 / 1.5)) / (lx(y1 * 1.5) - lx(y0 / 1.5) || 1))
  const body = [
    `<line x1="${PAD.left}" y1="${PAD.top}" x2="${PAD.left}" y2="${PAD.top + plotH}" stroke="#333"/>`,
    `<line x1="${PAD.left}" y1="${PAD.top + plotH}" x2="${PAD.left + plotW}" y2="${PAD.top + plotH}" stroke="#333"/>`,
    `<text x="${PAD.left + plotW / 2}" y="${PAD.top + plotH + 36}" text-anchor="middle">batch size (log)</text>`,
    `<text x="14" y="${PAD.top + plotH / 2}" transform="rotate(-90 14 ${PAD.top + plotH / 2})" text-anchor="middle">rows/s (log)</text>`,
  ]
  for (const b of [...new Set(all.map((p) => p[0]))]) {
    body.push(`<text x="${x(b)}" y="${PAD.top + plotH + 16}" text-anchor="middle">${b}</text>`)
  }
  for (let e = Math.floor(lx(y0 / 1.5)); e <= Math.ceil(lx(y1 * 1.5)); e++) {
    const v = 10 ** e
    if (v < y0 / 1.5 || v > y1 * 1.5) continue
    body.push(`<line x1="${PAD.left}" y1="${y(v)}" x2="${PAD.left + plotW}" y2="${y(v)}" stroke="#eee"/>`)
    body.push(`<text x="${PAD.left - 6}" y="${y(v) + 4}" text-anchor="end">${num(v)}</text>`)
  }
  series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length]
    const d = s.points.map((p, k) => `${k ? 'L' : 'M'}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' ')
    body.push(`<path d="${d}" fill="none" stroke="${c}" stroke-width="2"/>`)
    for (const p of s.points) body.push(`<circle cx="${x(p[0])}" cy="${y(p[1])}" r="3" fill="${c}"/>`)
    body.push(`<text x="${PAD.left + plotW + 12}" y="${PAD.top + 14 + i * 16}" fill="${c}">${esc(s.name)}</text>`)
  })
  return frame(title, body)
}

const out: string[] = [
  '# Benchmarks',
  '',
  'Generated by `npm run bench:report` from the latest run of each suite (`npm run bench -- <suite>`).',
  'Ratios against a baseline measured in the same run on the same machine are the headline: these',
  'machines are shared and noisy. The sections marked "gpu-host" come from `bench/gpu-host.sh` on an',
  'NVIDIA GPU host (see README.md, Benchmarks), with PyTorch on CUDA timed in the same run on the same',
  'card; the others from a small CPU-only machine with a software GPU.',
  '',
]

/** The engine suite's table and plots (bench/plots/<plotPrefix>-<model>.svg); a result of a GPU host adds each GPU path ÷ PyTorch. */
function engineSection(engine: Json, heading: string, plotPrefix: string, limits: string, card = ''): string[] {
  const lines = [heading, '', where(engine, `${card}adapter: ${engine.adapter}`), '']
  const cells = engine.cells as Json[]
  const backends = [...new Set(cells.map((c) => c.backend as string))]
  const torch = backends.find((b) => b.startsWith('PyTorch (cuda'))
  const gpuPaths = torch ? backends.filter(isGpuPath) : []
  const rows: (string | number)[][] = []
  for (const model of [...new Set(cells.map((c) => c.model as string))]) {
    for (const batch of [...new Set(cells.filter((c) => c.model === model).map((c) => c.batch as number))]) {
      const at = (b: string) => cells.find((k) => k.model === model && k.batch === batch && k.backend === b)
      const pt = torch ? at(torch) : undefined
      rows.push([
        model,
        batch,
        ...backends.map((b) => {
          const c = at(b)
          return c ? `${fmt.rate(c.rowsPerSecond)} (${(c.vsRawOrt as number).toFixed(2)}×)` : '—'
        }),
        ...gpuPaths.map((b) => {
          const gpu = at(b)
          return gpu && pt ? `${(gpu.rowsPerSecond / pt.rowsPerSecond).toFixed(2)}×` : '—'
        }),
      ])
    }
  }
  const head = ['model', 'batch', ...backends.map((b) => `${b} (vs raw ORT)`), ...gpuPaths.map((b) => `${b} ÷ PyTorch`)]
  lines.push(table(head, rows), '')
  mkdirSync(join(root, 'bench', 'plots'), { recursive: true })
  for (const model of [...new Set(cells.map((c) => c.model as string))]) {
    const series = backends
      .map((b) => ({
        name: b,
        points: cells
          .filter((c) => c.model === model && c.backend === b)
          .map((c) => [c.batch, c.rowsPerSecond] as [number, number]),
      }))
      .filter((s) => s.points.length > 0)
    const file = `${plotPrefix}-${model}.svg`
    writeFileSync(join(root, 'bench', 'plots', file), plot(`${model}: rows/s by batch size`, series))
    lines.push(`![${model}](bench/plots/${file})`)
  }
  lines.push('', `Limits: ${limits} ${(engine.notes as string[]).join('; ')}.`, '')
  return lines
}

/** The kernels suite's table: each kernel's bandwidth against a plain WGSL copy on the same adapter. */
function kernelsSection(kernels: Json, heading: string, limits: string, card = ''): string[] {
  const copy = (kernels.kernels as Json[])[0]?.gbps as number
  return [
    heading,
    '',
    where(kernels, `${card}adapter: ${kernels.adapter}`),
    '',
    table(
      ['kernel', 'GB/s', 'vs copy'],
      (kernels.kernels as Json[]).map((k) => [
        k.kernel,
        (k.gbps as number).toFixed(2),
        `${((k.gbps as number) / copy).toFixed(2)}×`,
      ]),
    ),
    '',
    `Limits: ${limits}`,
    '',
  ]
}

const engine = latest('engine')
if (engine) {
  out.push(
    ...engineSection(
      engine,
      '## engine: rows/s per backend and batch',
      'engine',
      "the `cpu` backend is onnxruntime-node itself, so its ratio to raw ORT is lastmile's own per-call overhead (tens of µs, visible only at batch 1); wasm is single-threaded; webgpu on a software adapter measures llvmpipe, not a GPU.",
    ),
  )
} else out.push(...keptSection('engine'))

const kernels = latest('kernels')
if (kernels) {
  out.push(
    ...kernelsSection(
      kernels,
      '## kernels: bandwidth against a WGSL copy',
      'on llvmpipe the "GPU" is the same two CPU cores; these ratios show the kernels run and scale, not GPU speed.',
    ),
  )
} else out.push(...keptSection('kernels'))

/** The card as nvidia-smi named it in the GPU host's run (name, driver, memory), when it did. */
const smi = join(root, 'bench', 'results', 'gpu-host', 'nvidia-smi.log')
const card = existsSync(smi) ? `card: ${readFileSync(smi, 'utf8').trim().split('\n')[0]}; ` : ''
const gpuEngine = latest('engine', true)
if (gpuEngine) {
  /** What the other GPU paths are, when the run measured them (results from before them have only `webgpu`). */
  const paths = (gpuEngine.cells as Json[]).some((c) => isGpuPath(c.backend) && c.backend !== 'webgpu')
    ? " `webgpu:captured` replays onnxruntime-web sessions captured with `enableGraphCapture`, one per batch bucket (rows padded to the bucket); `webgpu:kernels` runs lastmile's own WGSL kernels on a plan compiled from the ONNX graph; each GPU path's output matched raw ORT's within 1e-3 of its largest magnitude before it was timed."
    : ''
  out.push(
    ...engineSection(
      gpuEngine,
      '## gpu-host engine: rows/s per backend and batch on an NVIDIA GPU, against PyTorch on CUDA',
      'gpu-engine',
      `\`cpu\` and raw ORT run on the host's CPU cores; wasm is single-threaded; webgpu is onnxruntime-web's WebGPU EP on Dawn (Vulkan) with lastmile's fused pre/post kernels around it.${paths}`,
      card,
    ),
  )
} else out.push(...keptSection('gpu-host engine'))
const gpuKernels = latest('kernels', true)
if (gpuKernels) {
  out.push(
    ...kernelsSection(
      gpuKernels,
      '## gpu-host kernels: bandwidth against a WGSL copy on an NVIDIA GPU',
      "each kernel moves 53–128 MiB per dispatch; the copy is the card's practical ceiling through WebGPU.",
      card,
    ),
  )
} else out.push(...keptSection('gpu-host kernels'))
const gpuCapture = latest('capture', true)
if (gpuCapture) {
  const rows = gpuCapture.rows as Json[]
  out.push(
    "## gpu-host capture: ms per run on onnxruntime-web's WebGPU EP, with and without graph capture",
    '',
    where(gpuCapture, `${card}adapter: ${gpuCapture.adapter}`),
    '',
    table(
      ['model', 'batch', 'host in/out', 'gpu-resident', 'captured', 'captured + host copies', 'host ÷ captured'],
      rows.map((r) => [
        r.model,
        r.batch,
        fmt.ms(r.hostMs),
        fmt.ms(r.residentMs),
        r.capturedMs === undefined ? `failed: ${r.capturedFailure}` : fmt.ms(r.capturedMs),
        r.capturedHostMs === undefined ? '–' : fmt.ms(r.capturedHostMs),
        r.capturedMs === undefined ? '–' : `${((r.hostMs as number) / (r.capturedMs as number)).toFixed(2)}×`,
      ]),
    ),
    '',
    `Limits: medians of interleaved runs; "host in/out" is a plain session fed a host tensor with its output downloaded (today's \`webgpu\` path without fused steps), "gpu-resident" binds GPU buffers for input and output, "captured" replays a session created with \`enableGraphCapture\` on those buffers, and "captured + host copies" adds the upload and the read-back a request needs. Every captured run that completed matched the plain session's output on a second input (worst relative error ${Math.max(...rows.map((r) => (r.capturedError as number | undefined) ?? 0)).toExponential(1)})${rows.some((r) => r.capturedMs === undefined) ? "; a failed cell is onnxruntime-web's own error in a captured session's run, which came and went between runs on the same card (it appeared only after earlier captured sessions had been released)" : ''}.`,
    '',
  )
} else out.push(...keptSection('gpu-host capture'))

/** What measuring objectives costs, from bench/http's (f) pair and its in-process count. */
function sloLine(slo: Json): string {
  const runs = slo.runs ? ` (off: ${slo.runs.off.join(', ')}; on: ${slo.runs.on.join(', ')} req/s)` : ''
  return `Objectives' accounting (f): on ÷ off ${slo.onOverOff.toFixed(3)}× single-row req/s, medians of interleaved runs${runs}; counting one request costs ${slo.recordNs.toFixed(0)} ns in process, ${(100 * slo.recordShareOfRequest).toFixed(2)}% of a request at the measured rate.`
}

const http = latest('http')
if (http) {
  out.push('## http: requests through the server', '', where(http), '')
  const hello = (http.rows as Json[])[0]?.reqPerSec as number
  out.push(
    table(
      ['scenario', 'req/s', 'rows/s', 'p50 ms', 'p99 ms', 'vs hello GET'],
      (http.rows as Json[]).map((r) => [
        r.scenario,
        fmt.rate(r.reqPerSec),
        r.rowsPerSec ? fmt.rate(r.rowsPerSec) : '–',
        r.p50,
        r.p99,
        `${((r.reqPerSec as number) / hello).toFixed(2)}×`,
      ]),
    ),
    '',
  )
  out.push(
    'Limits: client (autocannon) and server share the same 2 cores; one Node process parses and answers every request.',
    '',
  )
  if (http.slo) out.push(sloLine(http.slo), '')
} else out.push(...keptSection('http'))

/** What the live view's recording costs, from bench/http's in-process count. */
const liveLine = (live: Json) =>
  `Live view: recording one request and its batch costs ${live.recordNs.toFixed(0)} ns in process, ${(100 * live.recordShareOfRequest).toFixed(2)}% of a request at the measured rate.`
if (http?.live) out.push(liveLine(http.live), '')

/** A worker count as `--workers` was given, with what `auto` came to. */
const workersLabel = (r: Json) => (r.workers === 'auto' ? `auto (${r.processes})` : String(r.workers))
/**
 * bench/workers' goals from its figures: single-row ≥ 0.5× the hello-world route at every worker
 * count; single-row req/s growing with workers until the cores run out: at each count up to the
 * cores, at least 5% (more than a round's noise) over the next smaller count measured.
 */
function workersGoals(j: Json): { ratioMet: boolean; growthMet: boolean; steps: string[] } {
  const results = j.results as Json[]
  const ratioMet = results.every((r) => r.singleOverHello >= 0.5)
  const steps: string[] = []
  let growthMet = true
  for (const r of results) {
    const below = results
      .filter((b) => b.processes < r.processes)
      .reduce<Json | undefined>((a, b) => (a && a.processes >= b.processes ? a : b), undefined)
    if (!below || r.processes > j.availableParallelism) continue
    const gain = (r.single.reqPerSec as number) / (below.single.reqPerSec as number)
    if (gain < 1.05) growthMet = false
    steps.push(`${workersLabel(below)} → ${workersLabel(r)} workers ${gain.toFixed(2)}×`)
  }
  return { ratioMet, growthMet, steps }
}

const workersJ = latest('workers')
if (workersJ) {
  const results = workersJ.results as Json[]
  const base = results[0]?.single.reqPerSec as number
  const load = workersJ.load1m as number[]
  out.push(
    '## workers: `lastmile serve --workers N` against a hello-world in N processes',
    '',
    where(workersJ),
    '',
    table(
      [
        'workers',
        'hello-world GET req/s (ceiling)',
        'p99 ms',
        '`/v2/health/live` req/s',
        'p99 ms',
        '1-row OIP req/s',
        'p99 ms',
        '1-row ÷ hello',
        '1-row ÷ health',
        '1-row vs 1 worker',
      ],
      results.map((r) => [
        workersLabel(r),
        fmt.rate(r.hello.reqPerSec),
        r.hello.p99,
        fmt.rate(r.health.reqPerSec),
        r.health.p99,
        fmt.rate(r.single.reqPerSec),
        r.single.p99,
        `${(r.singleOverHello as number).toFixed(2)}×`,
        `${(r.singleOverHealth as number).toFixed(2)}×`,
        `${((r.single.reqPerSec as number) / base).toFixed(2)}×`,
      ]),
    ),
    '',
    `Each worker count is the real command (\`lastmile serve --workers N --backend cpu\`) with bench/http's \`eager\` pipeline (the 16-feature MLP, batching on, no queue delay) deployed through the API; the ceiling is a bare Hono hello-world GET in as many processes on one port (node:cluster). autocannon (32 connections, ${workersJ.seconds} s a run) runs in the bench process; every server stays up for the whole run and the runs are interleaved over counts and routes; medians of ${workersJ.rounds} rounds (1-row req/s of each round: ${results.map((r) => `${workersLabel(r)}: ${(r.single.runs as number[]).join(' ')}`).join('; ')}).`,
    '',
    `Limits: the client (autocannon) and the servers share the same ${workersJ.availableParallelism} cores, so \`auto\` is ${workersJ.availableParallelism} workers here and a second worker competes with the client for the second core; the machine is shared (load average over 1 min ${load[0]?.toFixed(1)} at the start, ${Math.min(...load.slice(1)).toFixed(1)}–${Math.max(...load.slice(1)).toFixed(1)} after the rounds, this run's own processes included).`,
    '',
  )
} else out.push(...keptSection('workers'))

const sdk = latest('python-sdk')
if (sdk) {
  const m = sdk.machine
  out.push(
    '## python-sdk: scoring a DataFrame through the Python SDK',
    '',
    `_${String(m.date).slice(0, 16).replace('T', ' ')} UTC; ${m.cpu} × ${m.cores} cores, ${m.memoryGiB} GiB, Python ${m.python}, pandas ${m.pandas}; \`clients/python/bench/sdk_overhead.py\` against \`npm start\`'s demo pipeline._`,
    '',
    table(
      ['rows', 'SDK `infer(df)` → DataFrame', 'urllib, body serialized beforehand, `json.loads`', 'SDK ÷ plain'],
      (sdk.rows as Json[]).map((r) => [
        r.rows.toLocaleString('en'),
        `${r.sdkMs.toFixed(0)} ms`,
        `${r.plainMs.toFixed(0)} ms`,
        `${r.ratio.toFixed(3)}×`,
      ]),
    ),
    '',
    `Both send ${sdk.format} in requests of ${sdk.chunkRows.toLocaleString('en')} rows and read the same columns; medians of ${sdk.rounds} interleaved rounds. The SDK's extra time is serializing the frame (\`to_json\`) and building the answer's DataFrame (object columns of lists).`,
    '',
  )
} else out.push(...keptSection('python-sdk'))

const consoleJ = latest('console')
if (consoleJ) {
  const m = consoleJ.machine
  out.push(
    '## console: each page of the web console with a big store',
    '',
    `_${String(m.date).slice(0, 16).replace('T', ' ')} UTC; ${m.cpu} × ${m.cores} cores; Chromium (headless) against the server in the same process; \`npm run bench -- console\`._`,
    '',
    table(
      [
        'page',
        'empty store',
        `${consoleJ.versions} model versions, ${fmt.rate(consoleJ.logRows)} logged rows`,
        'big ÷ empty',
      ],
      Object.entries(consoleJ.pages as Record<string, Json>).map(([name, r]) => [
        name,
        `${r.empty.toFixed(0)} ms`,
        `${r.big.toFixed(0)} ms`,
        `${(r.big / r.empty).toFixed(2)}×`,
      ]),
    ),
    '',
    `From navigation to the page's data on screen, median of ${consoleJ.loads} loads each; the empty store is the baseline measured in the same run.`,
    '',
  )
} else out.push(...keptSection('console'))

const bodies = latest('bodies')
if (bodies) {
  mkdirSync(join(root, 'bench', 'plots'), { recursive: true })
  writeFileSync(join(root, 'bench', 'plots', 'bodies-p99.svg'), bodiesPlot(bodies))
  out.push(...bodiesSection(bodies, where(bodies)))
} else out.push(...keptSection('bodies'))

const autoscaleJ = latest('autoscale')
if (autoscaleJ) {
  const st = autoscaleJ.step as Json
  const nz = autoscaleJ.noisy as Json
  out.push(
    '## autoscale: a load step and noisy constant load on an autoscaled deployment',
    '',
    where(autoscaleJ),
    '',
    `${autoscaleJ.model}; closed-loop clients in process (the clients are the requests in flight); target 8 × 0.7 = 5.6 in flight per replica, at most 8 replicas. Load step from ${st.oneX} to ${st.eightX} clients (1× to 8× of one replica's target) with the default windows (stable 60 s, panic 6 s):`,
    '',
    table(
      ['s after the step', 'clients', 'replicas', 'answers', 'p99 ms'],
      (st.series as Json[])
        .filter((s) => s.t >= st.beforeStepS - 2)
        .map((s) => [s.t - st.beforeStepS, s.clients, s.replicas, s.answered, s.p99Ms ?? '–']),
    ),
    '',
    table(
      ['phase', 'at s', 'from → to', 'reason'],
      [
        ...(st.decisions as Json[]).map((d) => [
          'step',
          (d.atS - st.beforeStepS).toFixed(1),
          `${d.from} → ${d.to}`,
          d.reason,
        ]),
        ...(nz.decisions as Json[]).map((d) => ['noisy', d.atS.toFixed(1), `${d.from} → ${d.to}`, d.reason]),
      ],
    ),
    '',
    `Step: first decision ${st.firstDecisionAfterS} s after it, ${st.maxReplicas} replicas serving after ${st.maxReplicasServingAfterS} s, p99 ${st.steadyP99Ms} ms before it (median of the per-second p99s), under 2× that until the end of the run ${st.p99UnderTwiceSteadyAfterS === null ? 'from no second after it' : `from ${st.p99UnderTwiceSteadyAfterS} s`}, worst ${st.worstP99AfterStepMs} ms (the second a replica was being built: loading a 50 MB model holds up the event loop), ${st.lastP99Ms} ms in the last second; ${st.rowsPerSecondBefore} answers/s before, ${st.rowsPerSecondLast10s} in the last 10 s; ${st.failed} failed. Noisy constant load (${nz.meanClients} clients ± 30%, redrawn every second, ${nz.seconds} s, stable window ${nz.stableWindowS} s): ${nz.decisions} decisions, ${nz.directionChanges} changes of direction, ${nz.finalReplicas} replicas at the end, ${nz.failed} failed.`,
    '',
    `Limits: the model is CPU-bound and the machine has ${autoscaleJ.machine?.cores} cores: replicas past the cores run batches side by side but add no throughput, so the p99 after the step follows the clients, not the replicas (8× the clients on the same cores); the autoscaler's timing (decision, replicas serving) is what this measures. A replica's capacity bounded by time instead (test/serving/autoscale-deployment.test.ts) shows the p99 recovery.`,
    '',
  )
} else out.push(...keptSection('autoscale'))

const simple = (
  suite: string,
  title: string,
  head: string[],
  row: (r: Json) => (string | number)[],
  limits: string,
) => {
  const j = latest(suite)
  if (!j) {
    const kept = keptSection(suite)
    out.push(...(kept.length > 0 ? kept : [`## ${suite}`, '', 'No results yet.', '']))
    return
  }
  out.push(
    `## ${suite}: ${title}`,
    '',
    where(j),
    '',
    table(head, (j.results as Json[]).map(row)),
    '',
    `Limits: ${limits}`,
    '',
  )
}
simple(
  'jobs',
  'flights-3m.parquet scored file to file',
  ['case', 'rows', 'seconds', 'rows/s', 'peak RSS MiB'],
  (r) => [
    r.case,
    fmt.rate(r.rows),
    (r.seconds as number).toFixed(2),
    fmt.rate(r.rows / r.seconds),
    (r.peakRssMiB as number).toFixed(0),
  ],
  'Parquet decoding and encoding (parquet-wasm) take most of the time; the model is a small linear regression.',
)
simple(
  'assays',
  'values/s of one assay window',
  ['case', 'window', 'median ms', 'values/s'],
  (r) => [r.case, fmt.rate(r.window), (r.medianMs as number).toFixed(1), fmt.rate(r.valuesPerSecond)],
  'the radix sort of the window (needed for exact KS, Wasserstein and quantiles) is most of the cost.',
)
simple(
  'explain',
  'KernelSHAP on the 16-feature MLP',
  ['backend', 'rows explained', 'seconds', 'model rows', 'raw ORT s for those rows'],
  (r) => [
    r.backend,
    r.rows,
    (r.seconds as number).toFixed(2),
    fmt.rate(r.modelRows),
    (r.rawOrtSeconds as number).toFixed(2),
  ],
  'building 208k perturbed rows per explained row and moving them through the pipeline costs about twice the model itself.',
)

/**
 * The GPU goals against the PyTorch (CUDA) cells of a GPU host's engine run, each judged by the
 * fastest GPU path measured at that model and batch (named when the run measured more than `webgpu`).
 */
function gpuGoal(j: Json, capture: Json | undefined): string {
  const cells = j.cells as Json[]
  const torch = (model: string, batch: number) =>
    cells.find((c) => c.model === model && c.batch === batch && String(c.backend).startsWith('PyTorch (cuda'))
  const several = new Set(cells.filter((c) => isGpuPath(c.backend)).map((c) => c.backend)).size > 1
  const on = (c: Json) => (several ? ` on ${c.backend}` : '')
  const best = (model: string, batch: number) =>
    cells
      .filter((c) => c.model === model && c.batch === batch && isGpuPath(c.backend))
      .reduce<Json | undefined>((a, c) => (a && a.rowsPerSecond >= c.rowsPerSecond ? a : c), undefined)
  const vs = (model: string, minBatch: number) => {
    const sizes = [...new Set(cells.filter((c) => c.model === model && c.batch >= minBatch).map((c) => c.batch))]
    const batches = sizes.flatMap((b) => best(model, b) ?? [])
    const ratios = batches.flatMap((c) => {
      const t = torch(model, c.batch)
      return t ? [`${(c.rowsPerSecond / t.rowsPerSecond).toFixed(2)}× at ${c.batch}${on(c)}`] : []
    })
    const met = batches.every((c) => {
      const t = torch(model, c.batch)
      return t !== undefined && c.rowsPerSecond / t.rowsPerSecond >= 0.8
    })
    return ratios.length ? `${met ? 'met' : 'not met'} (${ratios.join(', ')})` : 'not measured'
  }
  const one = best('mlp', 1)
  const ms = one ? 1000 / one.rowsPerSecond : undefined
  // The capture suite's figure, while the engine run did not measure the captured path itself.
  const inEngine = cells.some((k) => k.backend === 'webgpu:captured')
  const c = inEngine
    ? undefined
    : (capture?.rows as Json[] | undefined)?.find((r) => r.model === 'mlp' && r.batch === 1 && r.capturedHostMs)
  const captured = c
    ? `; with graph capture (the capture suite, not yet in the engine) ${(c.capturedHostMs as number).toFixed(2)} ms with the host copies a request needs, ${(c.capturedMs as number).toFixed(3)} ms GPU-resident`
    : ''
  return `- GPU goals (${card}${j.machine?.cores} CPU cores): ≥ 0.8× PyTorch CUDA for the wide MLP at batch ≥ 2048: ${vs('wide', 2048)}; for the CNN at batch ≥ 16: ${vs('resnet', 16)}; ≤ 0.5 ms per request at batch 1: ${ms === undefined ? 'not measured' : `${ms <= 0.5 ? 'met' : 'not met'} (${ms.toFixed(2)} ms per run of the small MLP on ${one?.backend}${captured})`}; ≥ 1M rows/s for jobs on the GPU: not measured (the jobs suite reads flights-3m.parquet from a development dependency that the GPU host's production-only payload does not carry).`
}

// Goals from the benchmark issue, each met or a measured gap with its cause.
const goals: string[] = ['## Goals', '']
if (engine) {
  const cpu = (engine.cells as Json[]).filter((c) => c.backend === 'cpu')
  const worst = cpu.reduce((a, c) => (c.vsRawOrt < a.vsRawOrt ? c : a))
  const met = cpu.filter((c) => c.vsRawOrt >= 0.9).map((c) => `${c.model}@${c.batch}`)
  goals.push(
    `- CPU engine within 10% of raw onnxruntime-node: met for ${met.join(', ') || 'none'}; worst ${worst.model} at batch ${worst.batch} (${worst.vsRawOrt.toFixed(2)}×): 10–30 µs per call (input validation, the session queue, output wrapping), which only the small MLP notices: its calls take 24–250 µs.`,
  )
} else goals.push(...keptGoal('- CPU engine within'))
const jobsJ = latest('jobs')
const cpuJob = (jobsJ?.results as Json[] | undefined)?.find((r) => r.backend === 'cpu')
if (cpuJob) {
  const rate = cpuJob.rows / cpuJob.seconds
  goals.push(
    `- Jobs ≥ 300k rows/s on \`cpu\` for flights-3m.parquet and ≤ 512 MiB RSS: ${rate >= 300_000 && cpuJob.peakRssMiB <= 512 ? 'met' : 'not met'} (${fmt.rate(rate)} rows/s, ${cpuJob.peakRssMiB.toFixed(0)} MiB).`,
  )
} else goals.push(...keptGoal('- Jobs ≥'))
const assaysJ = latest('assays')
const full10 = (assaysJ?.results as Json[] | undefined)?.find((r) => r.case === 'full assay' && r.window === 10_000_000)
if (full10) {
  goals.push(
    `- Assays ≥ 10M values/s on the CPU: ${full10.valuesPerSecond >= 1e7 ? 'met' : 'not met'} (${fmt.rate(full10.valuesPerSecond)} values/s on a 10M window).`,
  )
} else goals.push(...keptGoal('- Assays ≥'))
if (http) {
  const rows = http.rows as Json[]
  const find = (prefix: string) => rows.find((r) => String(r.scenario).startsWith(prefix))
  const [hello, a, eager, post, big] = [rows[0], find('(a)'), find("(a')"), find('(e)'), find('(c)')]
  if (a && hello && big) {
    const verdict = (r: Json) => {
      const ratio = (r.reqPerSec as number) / (hello.reqPerSec as number)
      return `${ratio >= 0.5 && (r.p99 as number) < 20 ? 'met' : 'not met'} (${ratio.toFixed(3)}×, p99 ${r.p99} ms)`
    }
    goals.push(
      `- HTTP single-row with batching ≥ 0.5× a hello-world route, p99 < 20 ms: with the default 2 ms queue delay ${verdict(a)}${eager ? `; with no queue delay ${verdict(eager)}` : ''}${post ? `. A bare POST that only parses the same JSON reaches ${((post.reqPerSec as number) / (hello.reqPerSec as number)).toFixed(2)}×: that is the ceiling for one process whose client shares its 2 cores` : ''}; see README "HTTP API" for the multi-process design. 1000-row requests ≥ 100k rows/s: ${(big.rowsPerSec as number) >= 100_000 ? 'met' : 'not met'} (${fmt.rate(big.rowsPerSec as number)}).`,
    )
  }
  if (http.slo)
    goals.push(
      `- Objectives' accounting under 1% of single-row throughput: ${http.slo.recordShareOfRequest < 0.01 ? 'met' : 'not met'} (${(100 * http.slo.recordShareOfRequest).toFixed(2)}% of a request's time, measured in process; through HTTP, on ÷ off ${http.slo.onOverOff.toFixed(3)}×, within the runs' spread).`,
    )
  else goals.push(...keptGoal("- Objectives' accounting"))
  if (http.live)
    goals.push(
      `- Live view's recording under 2% of a request: ${http.live.recordShareOfRequest < 0.02 ? 'met' : 'not met'} (${(100 * http.live.recordShareOfRequest).toFixed(2)}% of a single-row request's time, measured in process).`,
      ...(http.live.consoleOpenOverClosed === undefined
        ? []
        : [
            `- An open console costs under 2% of inference throughput: ${http.live.consoleOpenOverClosed >= 0.98 ? 'met' : 'not met'} (open ÷ closed ${http.live.consoleOpenOverClosed.toFixed(3)}× single-row req/s, medians of interleaved runs: ${http.live.consoleRuns.closed.join(' ')} closed, ${http.live.consoleRuns.open.join(' ')} open).`,
          ]),
    )
  else goals.push(...keptGoal("- Live view's recording"))
} else
  goals.push(
    ...keptGoal('- HTTP single-row'),
    ...keptGoal("- Objectives' accounting"),
    ...keptGoal("- Live view's recording"),
  )
if (workersJ) {
  const results = workersJ.results as Json[]
  const { ratioMet, growthMet, steps } = workersGoals(workersJ)
  goals.push(
    `- Worker processes, single-row ≥ 0.5× a hello-world route in as many processes at every worker count: ${ratioMet ? 'met' : 'not met'} (${results.map((r) => `${workersLabel(r)}: ${(r.singleOverHello as number).toFixed(2)}×, p99 ${r.single.p99} ms`).join('; ')}).`,
    `- Worker processes, single-row req/s growing with workers until the cores run out (each count up to the ${workersJ.availableParallelism} cores ≥ 1.05× the next smaller one; the load generator runs on those cores too): ${growthMet ? 'met' : 'not met'} (${steps.join(', ') || 'one core: nothing to grow into'}).`,
  )
} else goals.push(...keptGoal('- Worker processes'))
if (sdk) {
  const worst = Math.max(...(sdk.rows as Json[]).map((r) => r.ratio as number))
  goals.push(
    `- Python SDK scoring a DataFrame within 10% of plain urllib sending the rows serialized beforehand: ${worst <= 1.1 ? 'met' : 'not met'} (${(sdk.rows as Json[]).map((r) => `${r.ratio.toFixed(3)}× at ${r.rows.toLocaleString('en')} rows`).join(', ')}; both pandas-records).`,
  )
} else goals.push(...keptGoal('- Python SDK'))
if (consoleJ) {
  const pages = Object.entries(consoleJ.pages as Record<string, Json>)
  const slow = pages.filter(([, r]) => r.big >= 1000)
  goals.push(
    `- Every console page under 1 s with ${consoleJ.versions} model versions and ${fmt.rate(consoleJ.logRows)} logged rows: ${slow.length ? 'not met' : 'met'} (${slow.length ? slow.map(([n, r]) => `${n}: ${r.big.toFixed(0)} ms`).join(', ') : `slowest ${Math.max(...pages.map(([, r]) => r.big as number)).toFixed(0)} ms`}).`,
  )
} else goals.push(...keptGoal('- Every console page'))
if (bodies) goals.push(bodiesGoal(bodies))
else goals.push(...keptGoal('- Health and single-row p99'))
if (autoscaleJ) {
  const st = autoscaleJ.step as Json
  const nz = autoscaleJ.noisy as Json
  const ok = (b: boolean) => (b ? 'met' : 'not met')
  goals.push(
    `- Autoscaling on a load step from 1× to 8× (${autoscaleJ.machine?.cores} cores, CPU-bound model): first decision within 6 s: ${ok(st.firstDecisionAfterS !== null && st.firstDecisionAfterS <= 6)} (${st.firstDecisionAfterS} s); new replicas serving within 20 s: ${ok(st.maxReplicasServingAfterS !== null && st.maxReplicasServingAfterS <= 20)} (${st.maxReplicas} after ${st.maxReplicasServingAfterS} s); 0 failed: ${ok(st.failed === 0 && nz.failed === 0)}; p99 under 2× steady within 30 s: ${ok(st.p99UnderTwiceSteadyAfterS !== null && st.p99UnderTwiceSteadyAfterS <= 30)}${st.p99UnderTwiceSteadyAfterS === null ? ` (${st.lastP99Ms} ms at the end against ${st.steadyP99Ms} ms before: the cores, not the replicas, bound throughput here; with a replica's capacity bounded by time the tests measure it)` : ` (${st.p99UnderTwiceSteadyAfterS} s)`}; at most one change of direction under noisy constant load: ${ok(nz.directionChanges <= 1)} (${nz.directionChanges} in ${nz.seconds} s).`,
  )
} else goals.push(...keptGoal('- Autoscaling on a load step'))
if (gpuEngine) goals.push(gpuGoal(gpuEngine, gpuCapture))
else goals.push(...keptGoal('- GPU goals'))
goals.push('')
out.splice(8, 0, ...goals)

writeFileSync(join(root, 'BENCHMARKS.md'), `${out.join('\n')}\n`)
console.log(`BENCHMARKS.md written (${out.length} lines)`)
