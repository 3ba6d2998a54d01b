/**
 * `lastmile demo`: the demo pipeline in-process, without a server: writes the demo model into the
 * data folder on first start, loads it on the configured backend and prints its answers for a
 * few example rows.
 */
import type { Config } from '../config.js'
import { Engine, type EngineStatus } from '../engine/engine.js'
import { formatShape, type HostTensor, type StringTensor } from '../engine/tensor.js'
import { createLogger } from '../logger.js'
import { FusedModel } from '../pipeline/fused.js'
import { mulberry32, uniform } from '../random.js'
import { DEMO_POST, ensureDemoModel } from '../registry/demo.js'

/** Why the engine runs where it does, in words. */
function describeBackend(backend: string, status: EngineStatus): string {
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
    const { path, created, bytes } = await ensureDemoModel(config.dataDir)
    const session = await engine.load(bytes)
    const gpu = session.backend === 'webgpu' ? await engine.gpu() : undefined
    const fused = FusedModel.create(session, { post: DEMO_POST }, gpu)
    const x: HostTensor = { dtype: 'float32', dims: [rows, 4], data: uniform(mulberry32(42), rows * 4, -2, 2) }
    const t0 = performance.now()
    const out = await fused.run({ x })
    const ms = performance.now() - t0
    const probs = out.probs as HostTensor
    const names = (out.label_name as StringTensor).data
    const spec1 = (s: { name: string; dtype: string; shape: readonly (string | number)[] }) =>
      `${s.name} ${s.dtype} ${formatShape(s.shape)}`
    const lines = [
      'lastmile demo: the demo pipeline (an MLP classifier with random weights) answering example rows',
      `  model    ${path}${created ? ' (created now)' : ''}`,
      `  backend  ${describeBackend(session.activeBackend(), await engine.status())}`,
      `  inputs   ${fused.inputs.map(spec1).join(', ')}`,
      `  outputs  ${fused.outputs.map(spec1).join(', ')}`,
      `  answered ${rows} rows in ${ms.toFixed(1)} ms (first run; includes warm-up)`,
      '',
      '  row  label    probabilities',
    ]
    for (let r = 0; r < rows; r++) {
      const p = Array.from((probs.data as Float32Array).subarray(r * 3, r * 3 + 3))
      lines.push(`  ${String(r).padStart(3)}  ${String(names[r]).padEnd(7)}  ${p.map((v) => v.toFixed(4)).join('  ')}`)
    }
    process.stdout.write(`${lines.join('\n')}\n`)
    return 0
  } finally {
    await engine.close()
  }
}
