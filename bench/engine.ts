/**
 * bench/engine: rows/s of the fixture MLP (16→64→64→3) at batch 1, 64 and 1024 on each
 * available backend, with raw onnxruntime-node (same model, same options, called directly) as
 * the baseline in the same run: `cpu ÷ raw` is the engine's own overhead. Contenders are timed
 * interleaved, round by round, so machine noise hits them alike.
 */
import ortNode from 'onnxruntime-node'
import { loadConfig } from '../src/config.js'
import { Engine } from '../src/engine/engine.js'
import type { BackendName, ModelSession } from '../src/engine/types.js'
import { errorMessage } from '../src/errors.js'
import { mlpClassifier } from '../src/onnx/fixtures.js'
import { mulberry32 } from '../src/onnx/random.js'
import { fmt, machineInfo, printTable, type Timing, timeInterleaved, writeResults } from './lib.js'

const BATCHES = [1, 64, 1024]
const RAW = 'onnxruntime-node (raw)'

interface Cell {
  backend: string
  batch: number
  timing: Timing
  rowsPerSecond: number
}

export async function benchEngine(opts: { seconds: number }): Promise<void> {
  const fixture = mlpClassifier()
  const engine = new Engine(loadConfig({}, { logLevel: 'warn' }))
  const notes: string[] = []
  let adapter = 'none'
  try {
    const gpu = await engine.gpu()
    adapter = `${gpu.adapterInfo.description} (${gpu.adapterInfo.software ? 'software' : 'hardware'})`
  } catch (e) {
    notes.push(`webgpu skipped: ${errorMessage(e)}`)
  }
  const backends: BackendName[] = adapter === 'none' ? ['cpu', 'wasm'] : ['cpu', 'wasm', 'webgpu']
  const sessions = new Map<string, ModelSession>()
  for (const b of backends) sessions.set(b, await engine.load(fixture.bytes, { backend: b }))
  // Baseline: onnxruntime-node called directly, no lastmile in between.
  const raw = await ortNode.InferenceSession.create(fixture.bytes, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
  })

  const cells: Cell[] = []
  for (const batch of BATCHES) {
    const feeds = fixture.randomInputs(batch, mulberry32(batch))
    const x = feeds.x
    const rawFeeds = { x: new ortNode.Tensor('float32', x?.data as Float32Array, x?.dims as number[]) }
    const contenders: Record<string, () => Promise<unknown>> = { [RAW]: () => raw.run(rawFeeds) }
    for (const [b, s] of sessions) contenders[b] = () => s.run(feeds)
    const timings = await timeInterleaved(contenders, { minSeconds: opts.seconds * Object.keys(contenders).length })
    for (const [backend, timing] of Object.entries(timings)) {
      cells.push({ backend, batch, timing, rowsPerSecond: (batch * 1000) / timing.medianMs })
    }
  }
  await raw.release()
  await engine.close()

  const baseline = (batch: number) => cells.find((c) => c.backend === RAW && c.batch === batch)
  const rows: (string | number)[][] = [['backend', 'batch', 'median ms', 'p90 ms', 'rows/s', 'vs raw ORT']]
  for (const c of cells) {
    const ratio = c.rowsPerSecond / (baseline(c.batch)?.rowsPerSecond ?? Number.NaN)
    rows.push([
      c.backend,
      c.batch,
      fmt.ms(c.timing.medianMs),
      fmt.ms(c.timing.p90Ms),
      fmt.rate(c.rowsPerSecond),
      `${ratio.toFixed(2)}×`,
    ])
  }
  printTable(`engine: ${fixture.description}; GPU adapter: ${adapter}`, rows)
  for (const n of notes) process.stdout.write(`note: ${n}\n`)
  const path = await writeResults('engine', {
    suite: 'engine',
    machine: await machineInfo(),
    adapter,
    model: fixture.description,
    cells,
    notes,
  })
  process.stdout.write(`results: ${path}\n`)
}
