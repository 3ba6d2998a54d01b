/**
 * bench/engine: rows/s of three models — the fixture MLP (16→64→64→3), `wideMlp`
 * (256→2048×4→16) and `resnet18Shaped` at 224×224 — on each backend and each GPU path (`webgpu` is
 * plain onnxruntime-web, `webgpu:captured` its captured sessions per batch bucket, `webgpu:kernels`
 * lastmile's own kernels), with raw onnxruntime-node (same model, same options, called directly) as
 * the baseline in the same run: `cpu ÷ raw` is the engine's own overhead. Each contender's first
 * output at each batch must agree with raw onnxruntime-node's before it is timed. Contenders are
 * timed interleaved, round by round, so machine noise hits them alike. When a Python with torch and
 * onnx is found, bench/torch/baseline.py times the same ONNX file in PyTorch (CUDA when available)
 * in a child process after the Node contenders.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import { join } from 'node:path'
import ortNode from 'onnxruntime-node'
import { loadConfig } from '../src/config.js'
import type { GpuPathChoice } from '../src/config-schema.js'
import { Engine, type LoadOptions } from '../src/engine/engine.js'
import type { BackendName, ModelSession, Outputs } from '../src/engine/types.js'
import { errorMessage } from '../src/errors.js'
import { mulberry32 } from '../src/random.js'
import type { Fixture } from '../test/fixtures/models.js'
import { type BenchOptions, fmt, machineInfo, printTable, type Timing, timeInterleaved, writeResults } from './lib.js'
import { type BenchModel, rawSession, selectModels, writeModelFiles } from './models.js'
import { findTorchPython, runTorchPeer, type TorchPython, type TorchRun } from './torch-peer.js'

const RAW = 'onnxruntime-node (raw)'
/** The engine's contenders by their `--backends` name: a backend, and on webgpu the path it runs (never `auto`'s choice). */
const CONTENDERS: Record<string, { backend: BackendName; gpuPath?: Exclude<GpuPathChoice, 'auto'> }> = {
  cpu: { backend: 'cpu' },
  wasm: { backend: 'wasm' },
  webgpu: { backend: 'webgpu', gpuPath: 'ort' },
  'webgpu:captured': { backend: 'webgpu', gpuPath: 'captured' },
  'webgpu:kernels': { backend: 'webgpu', gpuPath: 'kernels' },
}
const NAMES = Object.keys(CONTENDERS)
/** A contender's outputs agree with raw onnxruntime-node's when |a − b| ≤ this × max |raw| of each output. */
const AGREEMENT = 1e-3
/** A wasm case whose one run would take longer than this is skipped (single-threaded, it dominates the bench). */
const WASM_MAX_RUN_MS = 5000
/** Runs slower than this get no further warm-up and 5 timed runs at least instead of 10. */
const SLOW_RUN_MS = 200

interface Cell {
  model: string
  backend: string
  batch: number
  timing: Timing
  rowsPerSecond: number
  /** rows/s ÷ raw onnxruntime-node's at the same model and batch, same run. */
  vsRawOrt: number
  /** rows/s ÷ PyTorch's at the same model and batch, same run (when PyTorch ran). */
  vsTorch?: number
}

interface Skip {
  model: string
  backend: string
  batch?: number
  reason: string
}

export async function benchEngine(opts: BenchOptions): Promise<void> {
  const models = selectModels(opts.models ?? [])
  const wanted = new Set(opts.backends ?? [...NAMES, 'torch'])
  const unknown = [...wanted].filter((b) => b !== 'torch' && !NAMES.includes(b))
  if (unknown.length > 0) throw new Error(`unknown backend(s) ${unknown.join(', ')}; available: ${NAMES}, torch`)
  const engine = new Engine(loadConfig(process.env, { logLevel: 'warn' }))
  const notes: string[] = []
  const skipped: Skip[] = []
  let adapter = 'none'
  let softwareGpu = true
  if (NAMES.some((n) => wanted.has(n) && CONTENDERS[n]?.backend === 'webgpu')) {
    try {
      const gpu = await engine.gpu()
      softwareGpu = gpu.adapterInfo.software
      adapter = `${gpu.adapterInfo.description} (${softwareGpu ? 'software' : 'hardware'})`
      if (softwareGpu) {
        notes.push('webgpu on a software adapter runs the small MLP only: software GPUs are for correctness, not speed')
      }
    } catch (e) {
      notes.push(`webgpu skipped: ${errorMessage(e)}`)
    }
  }
  let torch: TorchPython | undefined
  const torchRuns: Record<string, TorchRun> = {}
  if (wanted.has('torch')) {
    const found = await findTorchPython(opts.python ? [opts.python] : undefined)
    if (typeof found === 'string') notes.push(`PyTorch peer skipped: ${found}`)
    else torch = found
  }

  const cells: Omit<Cell, 'vsRawOrt'>[] = []
  const described: Record<string, string> = {}
  try {
    for (const spec of models) {
      const fixture = spec.build()
      described[spec.key] = fixture.description
      const raw = await rawSession(fixture.bytes)
      const sessions = new Map<string, ModelSession>()
      for (const [b, { backend, gpuPath }] of Object.entries(CONTENDERS)) {
        const onGpu = backend === 'webgpu'
        if (!wanted.has(b) || (onGpu && adapter === 'none')) continue
        if (onGpu && softwareGpu && spec.key !== 'mlp') {
          skipped.push({ model: spec.key, backend: b, reason: 'software adapter: for correctness, not speed' })
          continue
        }
        // Each GPU path loaded for the model's largest batch: the captured path's largest bucket.
        const load: LoadOptions = onGpu ? { backend, gpuPath, maxBatch: Math.max(...spec.batches) } : { backend }
        try {
          sessions.set(b, await engine.load(fixture.bytes, load))
        } catch (e) {
          skipped.push({ model: spec.key, backend: b, reason: `load failed: ${errorMessage(e)}` })
        }
      }
      cells.push(...(await timeModel(spec, fixture, raw, sessions, opts.seconds, skipped)))
      for (const [b, s] of sessions) {
        const fallbacks = s.captureStats?.()?.fallbacks ?? 0
        if (fallbacks > 0) {
          notes.push(`${spec.key} ${b}: ${fallbacks} captured run(s) failed and were answered by a plain session`)
        }
        await s.release()
      }
      if (torch) {
        const dir = await mkdtemp(join(os.tmpdir(), 'lastmile-bench-'))
        try {
          const path = await writeModelFiles(dir, fixture, raw)
          const r = await runTorchPeer(torch, path, {
            batches: spec.batches,
            seconds: opts.seconds,
            minIters: 5,
            device: 'auto',
          })
          torchRuns[spec.key] = r
          for (const { batch, device, iterations, medianMs, p10Ms, p90Ms, rowsPerSecond } of r.timings) {
            const timing = { iterations, medianMs, p10Ms, p90Ms }
            cells.push({ model: spec.key, backend: `PyTorch (${device})`, batch, timing, rowsPerSecond })
          }
        } catch (e) {
          skipped.push({ model: spec.key, backend: 'PyTorch', reason: errorMessage(e) })
        } finally {
          await rm(dir, { recursive: true, force: true }) // up to 50 MB per model
        }
      }
      await raw.release()
    }
  } finally {
    await engine.close()
  }

  const runs = Object.entries(torchRuns)
  if (runs.length > 0) {
    const worst = runs.map(([k, r]) => `${k} ${Number(r.check.worstOverTolerance).toFixed(3)}`).join(', ')
    notes.push(
      "PyTorch is timed in its own process after each model's Node contenders, not interleaved; its output " +
        `matched onnxruntime's within ${runs[0]?.[1].check.tolerance} (worst error ÷ tolerance: ${worst})`,
    )
  }
  const results = withRatios(cells)
  printSummary(results, skipped, adapter, torch, notes)
  const path = await writeResults('engine', {
    suite: 'engine',
    machine: await machineInfo(),
    adapter,
    models: described,
    torch: torch ? { ...torch, runs: torchRuns } : null,
    cells: results,
    skipped,
    notes,
  })
  process.stdout.write(`results: ${path}\n`)
}

/** Time every batch of one model: raw onnxruntime-node and each loaded session, interleaved. */
async function timeModel(
  spec: BenchModel,
  fixture: Fixture,
  raw: ortNode.InferenceSession,
  sessions: Map<string, ModelSession>,
  seconds: number,
  skipped: Skip[],
): Promise<Omit<Cell, 'vsRawOrt'>[]> {
  const cells: Omit<Cell, 'vsRawOrt'>[] = []
  const perRowMs = new Map<string, number>()
  const inputs = raw.inputNames
  for (const batch of spec.batches) {
    const feeds = fixture.randomInputs(batch, mulberry32(batch))
    const contenders: Record<string, () => Promise<unknown>> = {}
    const rawFeeds = Object.fromEntries(
      inputs.map((n) => {
        const t = feeds[n]
        return [n, new ortNode.Tensor('float32', t?.data as Float32Array, t?.dims as number[])]
      }),
    )
    contenders[RAW] = () => raw.run(rawFeeds)
    // The untimed first run of each (compilation, allocation) is the one checked against raw ORT.
    const want = await raw.run(rawFeeds)
    for (const [b, s] of sessions) {
      const est = (perRowMs.get(b) ?? 0) * batch
      if (b === 'wasm' && est > WASM_MAX_RUN_MS) {
        const reason = `one run would take ~${(est / 1000).toFixed(1)} s (from ${fmt.ms(perRowMs.get(b) ?? 0)} ms/${spec.unit} at the previous batch) > ${WASM_MAX_RUN_MS / 1000} s`
        skipped.push({ model: spec.key, backend: b, batch, reason })
        continue
      }
      let failure: string | undefined
      try {
        failure = disagreement(await s.run(feeds), want)
      } catch (e) {
        failure = `run failed: ${errorMessage(e)}`
      }
      if (failure !== undefined) {
        skipped.push({ model: spec.key, backend: b, batch, reason: failure })
        continue
      }
      contenders[b] = () => s.run(feeds)
    }
    // One timed run each to size the loop.
    let slowest = 0
    for (const fn of Object.values(contenders)) {
      const t0 = performance.now()
      await fn()
      slowest = Math.max(slowest, performance.now() - t0)
    }
    const slow = slowest > SLOW_RUN_MS
    const timings = await timeInterleaved(contenders, {
      warmup: slow ? 0 : 2,
      minIters: slow ? 5 : 10,
      minSeconds: seconds * Object.keys(contenders).length,
    })
    for (const [backend, timing] of Object.entries(timings)) {
      perRowMs.set(backend, timing.medianMs / batch)
      cells.push({ model: spec.key, backend, batch, timing, rowsPerSecond: (batch * 1000) / timing.medianMs })
    }
  }
  return cells
}

/**
 * Why `got` does not compute what raw onnxruntime-node did (`want`): a missing output, other dims,
 * or a value off by more than {@link AGREEMENT} × the output's largest magnitude; undefined when it agrees.
 */
function disagreement(got: Outputs, want: ortNode.InferenceSession.OnnxValueMapType): string | undefined {
  for (const [name, w] of Object.entries(want)) {
    const g = got[name]
    if (!g || g.dims.join() !== w.dims.join()) {
      return `output check: '${name}' has dims [${g?.dims.join(',') ?? 'none'}], raw ORT's [${w.dims.join(',')}]`
    }
    const a = g.data as ArrayLike<number | bigint>
    const b = w.data as ArrayLike<number | bigint>
    let scale = 0
    for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(Number(b[i])))
    let worst = 0
    let at = 0
    for (let i = 0; i < b.length; i++) {
      const [x, y] = [Number(a[i]), Number(b[i])]
      if (x === y || (Number.isNaN(x) && Number.isNaN(y))) continue
      const d = Math.abs(x - y)
      if (Number.isNaN(d)) return `output check: '${name}' is ${x} at ${i}, raw ORT's ${y}`
      if (d > worst) [worst, at] = [d, i]
    }
    if (worst > AGREEMENT * scale) {
      return `output check: '${name}' differs from raw ORT's by ${worst} at ${at} (${Number(a[at])} vs ${Number(b[at])}), over ${AGREEMENT} × max |raw| ${scale}`
    }
  }
  return undefined
}

function withRatios(cells: Omit<Cell, 'vsRawOrt'>[]): Cell[] {
  const rate = (c: { model: string; batch: number }, pred: (backend: string) => boolean) =>
    cells.find((d) => d.model === c.model && d.batch === c.batch && pred(d.backend))?.rowsPerSecond
  return cells.map((c) => {
    const torch = rate(c, (b) => b.startsWith('PyTorch'))
    return {
      ...c,
      vsRawOrt: c.rowsPerSecond / (rate(c, (b) => b === RAW) ?? Number.NaN),
      ...(torch ? { vsTorch: c.rowsPerSecond / torch } : {}),
    }
  })
}

/** One row per model and batch, one column per contender: rows/s and the ratio to raw ORT. */
function printSummary(
  cells: Cell[],
  skipped: Skip[],
  adapter: string,
  torch: TorchPython | undefined,
  notes: string[],
) {
  const backends = [...new Set(cells.map((c) => c.backend))]
  const keys = [...new Set(cells.map((c) => `${c.model}\t${c.batch}`))]
  const rows: (string | number)[][] = [['model', 'batch', ...backends]]
  for (const key of keys) {
    const [model, batch] = key.split('\t') as [string, string]
    rows.push([
      model,
      batch,
      ...backends.map((b) => {
        const c = cells.find((d) => d.model === model && String(d.batch) === batch && d.backend === b)
        if (!c) return skipped.some((s) => s.model === model && s.backend === b) ? 'skipped' : '–'
        return b === RAW ? fmt.rate(c.rowsPerSecond) : `${fmt.rate(c.rowsPerSecond)} ${c.vsRawOrt.toFixed(2)}×`
      }),
    ])
  }
  const peer = torch ? `; PyTorch ${torch.torch}` : ''
  printTable(`engine: rows/s (images/s for resnet) and × raw ORT; GPU adapter: ${adapter}${peer}`, rows)
  for (const s of skipped)
    process.stdout.write(`skipped: ${s.model} ${s.backend}${s.batch ? ` batch ${s.batch}` : ''}: ${s.reason}\n`)
  for (const n of notes) process.stdout.write(`note: ${n}\n`)
}
