/**
 * bench/explain: seconds for KernelSHAP (default 2·M + 2048 coalitions, 100 background rows) on
 * rows of the 16-feature fixture MLP (16→64→64→3) per backend, through the explanation service
 * of a server built in-process. Baseline in the same run: the same number of model rows run
 * straight through raw onnxruntime-node in batches of the same size — what the explanation would
 * cost if building coalitions and the regression were free.
 */
import { rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import ortNode from 'onnxruntime-node'
import { loadConfig } from '../src/config.js'
import { Engine } from '../src/engine/engine.js'
import { silentLogger } from '../src/logger.js'
import { mulberry32, uniform } from '../src/random.js'
import { buildServer } from '../src/server/serve.js'
import { mlpClassifier } from '../test/fixtures/models.js'
import { fmt, machineInfo, printTable, writeResults } from './lib.js'

const F = 16
const BATCH = 16_384

export async function benchExplain(_opts: { seconds: number }): Promise<void> {
  const model = mlpClassifier()
  const rand = mulberry32(42)
  const reference = Array.from({ length: 500 }, () => ({ x: Array.from(uniform(rand, F, -2, 2)) }))
  const allRows = Array.from({ length: 100 }, () => ({ x: Array.from(uniform(rand, F, -2, 2)) }))
  const probe = new Engine(loadConfig({}, { logLevel: 'error' }))
  const hardwareGpu = (await probe.resolveBackend('auto')) === 'webgpu'
  await probe.close()
  // wasm is single-threaded and ~10× slower than cpu: fewer rows keep the run short (stated).
  const plan: Array<{ backend: 'cpu' | 'wasm' | 'webgpu'; rows: number }> = [
    { backend: 'cpu', rows: 100 },
    { backend: 'wasm', rows: 10 },
  ]
  if (hardwareGpu) plan.push({ backend: 'webgpu', rows: 100 })
  else console.log('webgpu: skipped here (no hardware adapter; a software one is for correctness, not speed)')

  const table: (string | number)[][] = [['backend', 'rows explained', 'seconds', 'model rows/s', 'raw ORT s', 'vs raw']]
  const results: Record<string, unknown>[] = []
  const raw = await ortNode.InferenceSession.create(model.bytes, { executionProviders: ['cpu'] })
  for (const { backend, rows } of plan) {
    const dataDir = join(tmpdir(), `lastmile-bench-explain-${backend}-${process.pid}`)
    const server = await buildServer(loadConfig({}, { dataDir, backend, logLevel: 'error', server: { demo: false } }), {
      log: silentLogger,
    })
    try {
      const { registry, explain } = server.deps
      await registry.uploadModel('default', 'mlp', model.bytes)
      await registry.putPipeline('default', 'mlp', [{ model: 'mlp' }])
      await registry.deploy('default', 'mlp', { engine: backend })
      const req = explain.parse({
        method: 'kernel_shap',
        reference: { rows: reference },
        rows: allRows.slice(0, rows),
        output: 'out.probs[0]',
      })
      const { report } = await explain.explain('default', 'mlp', req)
      // The same model rows, in the same batch size, straight through onnxruntime-node.
      const evaluated = report.evaluated_rows
      const x = new ortNode.Tensor('float32', uniform(rand, BATCH * F, -2, 2), [BATCH, F])
      const t0 = performance.now()
      for (let done = 0; done < evaluated; done += BATCH) await raw.run({ x })
      const rawSeconds = (performance.now() - t0) / 1000
      table.push([
        backend,
        rows,
        report.seconds.toFixed(2),
        fmt.rate(evaluated / report.seconds),
        rawSeconds.toFixed(2),
        `${(rawSeconds / report.seconds).toFixed(2)}×`,
      ])
      results.push({ backend, rows, seconds: report.seconds, modelRows: evaluated, rawOrtSeconds: rawSeconds })
    } finally {
      await server.shutdown()
      await rm(dataDir, { recursive: true, force: true })
    }
  }
  await raw.release()
  printTable(`explain: KernelSHAP on the ${F}-feature MLP (2·M + 2048 coalitions, 100 background rows)`, table)
  const path = await writeResults('explain', { machine: await machineInfo(), results })
  console.log(`\nwritten to ${path}`)
}
