/**
 * bench/engine: rows/s of three models — the fixture MLP (16→64→64→3), `wideMlp`
 * (256→2048×4→16) and `resnet18Shaped` at 224×224 — on each backend, with raw onnxruntime-node (same
 * model, same options, called directly) as the baseline in the same run: `cpu ÷ raw` is the
 * engine's own overhead. Contenders are timed interleaved, round by round, so machine noise hits
 * them alike. When a Python with torch and onnx is found, bench/torch/baseline.py times the same
 * ONNX file in PyTorch (CUDA when available) in a child process after the Node contenders.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import { join } from 'node:path'
import ortNode from 'onnxruntime-node'
import { loadConfig } from '../src/config.js'
import { Engine } from '../src/engine/engine.js'
import type { BackendName, ModelSession } from '../src/engine/types.js'
import { errorMessage } from '../src/errors.js'
import { mulberry32 } from '../src/random.js'
import type { Fixture } from '../test/fixtures/models.js'
import { type BenchOptions, fmt, machineInfo, printTable, type Timing, timeInterleaved, writeResults } from './lib.js'
import { type BenchModel, rawSession, selectModels, writeModelFiles } from './models.js'
import { findTorchPython, runTorchPeer, type TorchPython, type TorchRun } from './torch-peer.js'

const RAW = 'onnxruntime-node (raw)'
const BACKENDS: readonly BackendName[] = ['cpu', 'wasm', 'webgpu']
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
  const wanted = new Set(opts.backends ?? [...BACKENDS, 'torch'])
  const unknown = [...wanted].filter((b) => b !== 'torch' && !BACKENDS.includes(b as BackendName))
  if (unknown.length > 0) throw new Error(`unknown backend(s) ${unknown.join(', ')}; available: ${BACKENDS}, torch`)
  const engine = new Engine(loadConfig(process.env, { logLevel: 'warn' }))
  const notes: string[] = []
  const skipped: Skip[] = []
  let adapter = 'none'
  let softwareGpu = true
  if (wanted.has('webgpu')) {
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
      for (const b of BACKENDS) {
        if (!wanted.has(b) || (b === 'webgpu' && adapter === 'none')) continue
        if (b === 'webgpu' && softwareGpu && spec.key !== 'mlp') {
          skipped.push({ model: spec.key, backend: b, reason: 'software adapter: for correctness, not speed' })
          continue
        }
        try {
          sessions.set(b, await engine.load(fixture.bytes, { backend: b }))
        } catch (e) {
          skipped.push({ model: spec.key, backend: b, reason: `load failed: ${errorMessage(e)}` })
        }
      }
      cells.push(...(await timeModel(spec, fixture, raw, sessions, opts.seconds, skipped)))
      for (const s of sessions.values()) await s.release()
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
    for (const [b, s] of sessions) {
      const est = (perRowMs.get(b) ?? 0) * batch
      if (b === 'wasm' && est > WASM_MAX_RUN_MS) {
        const reason = `one run would take ~${(est / 1000).toFixed(1)} s (from ${fmt.ms(perRowMs.get(b) ?? 0)} ms/${spec.unit} at the previous batch) > ${WASM_MAX_RUN_MS / 1000} s`
        skipped.push({ model: spec.key, backend: b, batch, reason })
        continue
      }
      contenders[b] = () => s.run(feeds)
    }
    // One untimed run each (first-run compilation, allocation), then one timed to size the loop.
    let slowest = 0
    for (const fn of Object.values(contenders)) {
      await fn()
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
