/**
 * `lastmile demo`: writes the demo model into the data folder on first start, loads it on the
 * configured backend and prints its answers for a few example rows.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Config } from '../config.js'
import { Engine, type EngineStatus } from '../engine/engine.js'
import { formatShape } from '../engine/tensor.js'
import { createLogger } from '../log.js'
import { mlpClassifier } from '../onnx/fixtures.js'
import { mulberry32 } from '../onnx/random.js'

/** The demo model's file in the data folder, written on first start (atomically). */
export async function ensureDemoModel(dataDir: string): Promise<{ path: string; bytes: Uint8Array; created: boolean }> {
  const path = join(dataDir, 'models', 'demo-mlp.onnx')
  try {
    return { path, bytes: new Uint8Array(await readFile(path)), created: false }
  } catch {
    const bytes = mlpClassifier({ name: 'demo_mlp' }).bytes
    await mkdir(join(dataDir, 'models'), { recursive: true })
    await writeFile(`${path}.tmp`, bytes)
    await rename(`${path}.tmp`, path)
    return { path, bytes, created: true }
  }
}

/** Why the engine runs where it does, in words. */
export function describeBackend(backend: string, status: EngineStatus): string {
  const gpu = status.gpu
  const adapter =
    'adapter' in gpu ? `${gpu.adapter.description} (${gpu.adapter.software ? 'software' : 'hardware'})` : ''
  if (status.configured !== 'auto') return `${backend} (configured)${backend === 'webgpu' ? ` on ${adapter}` : ''}`
  if (backend === 'webgpu') return `webgpu (auto: hardware adapter ${adapter})`
  if (gpu.state === 'unavailable') return `cpu (auto: no WebGPU adapter: ${gpu.reason})`
  return `cpu (auto: the only WebGPU adapter, ${adapter}, is slower than native onnxruntime; use --backend webgpu to try it)`
}

export async function runDemo(config: Config, opts: { rows: number }): Promise<number> {
  const rows = Number.isInteger(opts.rows) && opts.rows > 0 ? opts.rows : 4
  const engine = new Engine(config, createLogger(config.logLevel))
  try {
    const model = await ensureDemoModel(config.dataDir)
    const session = await engine.load(model.bytes)
    const fixture = mlpClassifier({ name: 'demo_mlp' })
    const feeds = fixture.randomInputs(rows, mulberry32(42))
    const t0 = performance.now()
    const out = await session.run(feeds)
    const ms = performance.now() - t0
    const probs = out.probs
    if (!probs) throw new Error('the demo model returned no probs output')
    const classes = probs.dims[1] as number
    const spec = (s: { name: string; dtype: string; shape: readonly (string | number)[] }) =>
      `${s.name} ${s.dtype} ${formatShape(s.shape)}`
    const lines = [
      'lastmile demo: an MLP classifier (random weights) answering example rows',
      `  model    ${model.path}${model.created ? ' (created now)' : ''}: ${fixture.description}`,
      `  backend  ${describeBackend(session.activeBackend(), await engine.status())}`,
      `  inputs   ${session.inputs.map(spec).join(', ')}`,
      `  outputs  ${session.outputs.map(spec).join(', ')}`,
      `  answered ${rows} rows in ${ms.toFixed(1)} ms (first run; includes warm-up)`,
      '',
      '  row  class  probabilities',
    ]
    for (let r = 0; r < rows; r++) {
      const p = Array.from((probs.data as Float32Array).subarray(r * classes, (r + 1) * classes))
      const best = p.indexOf(Math.max(...p))
      lines.push(`  ${String(r).padStart(3)}  ${String(best).padStart(5)}  ${p.map((v) => v.toFixed(4)).join('  ')}`)
    }
    process.stdout.write(`${lines.join('\n')}\n`)
    return 0
  } finally {
    await engine.close()
  }
}
